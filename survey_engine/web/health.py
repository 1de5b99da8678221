"""Liveness and database health check."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from survey_engine.db import database_ok

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    ok = database_ok(current_app.extensions["engine"])
    body = {"status": "ok" if ok else "unavailable", "database": "ok" if ok else "unreachable"}
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    if not ok:
        response.headers["Retry-After"] = "5"
    return response
