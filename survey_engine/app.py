"""Flask application factory."""
from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, g

from survey_engine.config import Settings


def create_app(settings: Settings | None = None, test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment unless given, questionnaires validated at start.

    The app refuses to start when a questionnaire file is invalid, naming every problem.
    """
    from survey_engine.db import get_engine

    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_dir.resolve()), instance_relative_config=True,
                template_folder="web/templates", static_folder="web/static")
    secret = settings.secret_key
    if secret is None:
        if settings.production:
            raise RuntimeError("SURVEY_ENGINE_SECRET_KEY must be set when SURVEY_ENGINE_ENV=production")
        secret = secrets.token_hex(32)
        logging.getLogger(__name__).warning(
            "SURVEY_ENGINE_SECRET_KEY is not set: using a random key, so sessions end when the app restarts")
    app.config.update(
        SECRET_KEY=secret,
        SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=settings.production,
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    from survey_engine.logging_json import configure_logging

    configure_logging(settings.log_level, json_lines=settings.production)
    if settings.production:
        # Never the interactive debugger in production, whatever FLASK_DEBUG says.
        app.debug = False
    app.extensions["engine"] = get_engine(settings.database_url)
    app.extensions["autocommit_engine"] = get_engine(settings.database_url, autocommit=True)

    from survey_engine.services.survey import read_questionnaire_files

    # Fails with a DefinitionError listing file, path and reason of every problem.
    app.extensions["questionnaire_files"] = read_questionnaire_files(settings.questionnaires_dir)

    from survey_engine.web import api, errors, health, respondent, security

    security.init_app(app)
    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(respondent.bp)
    app.register_blueprint(api.bp)
    security.csrf.exempt(api.bp)
    _register_optional_blueprints(app)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()
        connection = g.pop("db_connection", None)
        if connection is not None:
            connection.close()

    return app


def _register_optional_blueprints(app: Flask) -> None:
    """Blueprints contributed by other concerns (transactions API, staff pages) register here."""
    import importlib
    import pkgutil

    import survey_engine.web as web

    core = {"api", "errors", "health", "respondent", "security", "i18n"}
    for info in sorted(pkgutil.iter_modules(web.__path__), key=lambda m: m.name):
        if info.name in core:
            continue
        module = importlib.import_module(f"{web.__name__}.{info.name}")
        bp = getattr(module, "bp", None)
        if bp is not None:
            app.register_blueprint(bp)
            if getattr(module, "CSRF_EXEMPT", False):
                from survey_engine.web.security import csrf

                csrf.exempt(bp)
