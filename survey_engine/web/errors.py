"""One error shape: JSON ``{ok, status, error, errors}`` for API clients, an HTML page for browsers."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from survey_engine.services.survey import ServiceError

log = logging.getLogger(__name__)


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, message: str, errors: dict | None = None, headers: dict | None = None):
    if wants_json():
        response = jsonify({"ok": False, "status": status, "error": message, "errors": errors or {}})
    else:
        response = render_template("error.html", status=status, message=message, errors=errors or {})
    if isinstance(response, str):
        from flask import make_response

        response = make_response(response)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        errors = {exc.field: exc.message} if exc.field else {}
        return error_response(exc.status, exc.message, errors)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return error_response(400, "The form expired or was not sent from this site; reload the page and try again.",
                              {"csrf_token": exc.description})

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        messages = {413: f"Request body too large (limit {app.config['MAX_CONTENT_LENGTH']} bytes)."}
        return error_response(exc.code or 500, messages.get(exc.code, exc.description or exc.name))

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_down(exc):
        log.error("database unavailable: %s", exc.__class__.__name__)
        _rollback()
        return error_response(503, "The service is temporarily unavailable; please try again shortly.",
                              headers={"Retry-After": "5"})

    @app.errorhandler(DataError)
    def _unstorable_value(exc: DataError):
        # Input that passed validation but that the database refuses (PostgreSQL: a NUL character
        # in text, a number out of range) is the client's error, not ours.
        log.warning("the database refused a value from the request: %s", exc.orig.__class__.__name__)
        _rollback()
        return error_response(400, "A value in the request cannot be stored (for example a NUL character "
                                   "or a number out of range).")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        _rollback()
        return error_response(500, "Internal error.")


def _rollback() -> None:
    from flask import g

    session = g.get("db_session")
    if session is not None:
        try:
            session.rollback()
        except Exception:
            pass
