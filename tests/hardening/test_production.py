"""The documented production start, for real: gunicorn with several workers on a free port against
the test database (PostgreSQL when TEST_DATABASE_URL is set), JSON logs, no debug mode."""
from __future__ import annotations

import json

import pytest
from sqlmodel import select

from survey_engine.models import Response
from tests.hardening.servers import Gunicorn, request
from tests.helpers import complete_answers, invite


def _json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"log line is not JSON: {line!r}")
    return parsed


def test_gunicorn_serves_health_and_a_submission(production_env, session, loaded_questionnaires, tmp_path):
    submitted, opened = invite(session, customer="P1", order="O1"), invite(session, customer="P2", order="O2")
    server = Gunicorn(production_env, workers=3, log_dir=tmp_path)
    with server:
        status, headers, body = request(server.port, "GET", "/healthz")
        assert (status, body) == (200, {"status": "ok", "database": "ok"})
        assert headers["X-Request-ID"]

        status, headers, body = request(server.port, "POST", "/api/v1/responses",
                                        {"token": submitted.token, "answers": complete_answers()},
                                        headers={"X-Request-ID": "client-chosen-id-42"})
        assert status == 200, body
        assert body["ok"] is True and body["status"] == "submitted"
        assert headers["X-Request-ID"] == "client-chosen-id-42"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]

        status, headers, page = request(server.port, "GET", f"/s/{opened.token}")
        assert status == 200 and b"<form" in page
        # A forged request id with a newline is replaced, so it cannot split a log line.
        status, headers, _ = request(server.port, "GET", "/healthz", headers={"X-Request-ID": "x\" y"})
        assert headers["X-Request-ID"] != "x\" y" and len(headers["X-Request-ID"]) == 32
    assert server.process.returncode == 0, server.logs()

    stored = session.exec(select(Response).where(Response.invitation_id == submitted.invitation.id)).one()
    assert stored.status == "submitted" and stored.id == body["response_id"]
    assert stored.answers["category"] == "jewellery"

    access = [entry for entry in _json_lines(server.stdout_path.read_text()) if entry.get("type") == "access"]
    errors = _json_lines(server.stderr_path.read_text())
    assert {entry["path"] for entry in access} >= {"/healthz", "/api/v1/responses", "/s/<token>"}
    assert any(entry["request_id"] == "client-chosen-id-42" and entry["status"] == 200 for entry in access)
    assert all(entry["duration_ms"] >= 0 and entry["method"] in {"GET", "POST"} for entry in access)
    assert {entry["level"] for entry in errors} <= {"DEBUG", "INFO", "WARNING"}, errors
    assert any("Booting worker" in entry["message"] for entry in errors)
    # Survey tokens are credentials: they never reach a log.
    logs = server.logs()
    assert submitted.token not in logs and opened.token not in logs


def test_production_app_never_runs_in_debug_mode(settings, monkeypatch):
    from dataclasses import replace

    from survey_engine.app import create_app

    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app(replace(settings, env="production"))
    assert app.debug is False and app.config["SESSION_COOKIE_SECURE"] is True


def test_production_app_logs_json_lines_with_the_request_id(capsys):
    import logging

    from survey_engine.logging_json import json_handler

    handler = json_handler()
    logger = logging.getLogger("survey_engine.test")
    logger.addHandler(handler)
    try:
        logger.warning("payment of %s failed", "€12", extra={"customer": "C1"})
    finally:
        logger.removeHandler(handler)
    line = json.loads(capsys.readouterr().err.strip())
    assert line["message"] == "payment of €12 failed" and line["customer"] == "C1"
    assert line["level"] == "WARNING" and line["request_id"] is None


def test_gunicorn_refuses_to_start_on_an_unmigrated_database(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "SURVEY_ENGINE_ENV": "production",
           "SURVEY_ENGINE_SECRET_KEY": "s" * 40, "SURVEY_ENGINE_INSTANCE_DIR": str(tmp_path)}
    server = Gunicorn(env, workers=1, log_dir=tmp_path)
    assert server.run_to_exit() == 4
    assert "run `survey-engine init-db` before starting the server" in server.logs()


def test_gunicorn_starts_while_the_database_is_down_and_answers_503(tmp_path):
    env = {"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/nothing?connect_timeout=1",
           "SURVEY_ENGINE_ENV": "production", "SURVEY_ENGINE_SECRET_KEY": "s" * 40,
           "SURVEY_ENGINE_INSTANCE_DIR": str(tmp_path)}
    with Gunicorn(env, workers=1, log_dir=tmp_path) as server:
        status, headers, body = request(server.port, "GET", "/healthz")
        assert status == 503 and headers["Retry-After"] and body["database"] == "unreachable"
        status, headers, body = request(server.port, "POST", "/api/v1/responses",
                                        {"token": "t" * 43, "answers": {}})
        assert status == 503 and headers["Retry-After"] == "5" and body["ok"] is False
    assert "database not reachable at start" in server.logs()


def test_readme_production_block_is_the_start_tested_here():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    assert "SURVEY_ENGINE_ENV=production" in block and "SURVEY_ENGINE_SECRET_KEY=" in block
    assert "postgresql+psycopg://" in block
    assert block.index("survey-engine init-db") < block.index("gunicorn -c survey_engine/gunicorn_conf.py")
    assert "wsgi:app" in block
