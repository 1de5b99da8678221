"""CSRF protection, security headers on every response, and input limits that hold for every
route: JSON nested too deeply is invalid JSON (not a crash), ``<int:…>`` route parts stop at the
largest row id."""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from survey_engine.models.base import MAX_ROW_ID

csrf = CSRFProtect()



class RowIdConverter(IntegerConverter):
    """``<int:…>`` in routes, bounded to 0…MAX_ROW_ID."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested beyond Python's recursion limit (``[[[[…]]]]``
    within the size limit) is a ``ValueError`` like any other invalid JSON."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened without building a signing serializer when the
    request carries no session cookie (every API call, every first visit): Flask makes one for
    every request, and most never need it."""

    def open_session(self, app: Flask, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Call before registering blueprints (the converter applies to rules added afterwards)."""
    csrf.init_app(app)
    app.json = JSONProvider(app)
    app.session_interface = SessionInterface()
    app.url_map.converters["int"] = RowIdConverter

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Survey links carry their token in the path; never leak it to another site.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
