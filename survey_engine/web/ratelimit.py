"""Rate limit on survey-token guessing: each client IP may fail ``COUNT`` token lookups per window
of ``SECONDS`` (``SURVEY_ENGINE_TOKEN_LOOKUP_LIMIT``, default 30/600); past that, every request
that looks a token up answers 429 with ``Retry-After`` until the window ends, valid tokens
included, so a blocked client learns nothing from further guesses.

The counters live in the database (table ``rate_limit_counter``, a fixed-window counter upserted
atomically), so the limit holds across all gunicorn workers and hosts sharing the database, with
no extra service for the SQLite quick start. A request pays one indexed read on its own
connection; only failed lookups write. Behind a reverse proxy set ``SURVEY_ENGINE_PROXY_HOPS`` so
the client IP is taken from ``X-Forwarded-For`` (never trust that header otherwise).
"""
from __future__ import annotations

import logging
import random
import time

import sqlalchemy as sa
from flask import Blueprint, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from survey_engine.models.ratelimit import RateLimitCounter
from survey_engine.web import first_read, settings
from survey_engine.web.errors import error_response

log = logging.getLogger(__name__)

bp = Blueprint("ratelimit", __name__)

#: Endpoints that look an invitation up by the token in the request.
TOKEN_ENDPOINTS = frozenset({"respondent.show", "respondent.submit", "respondent.thanks", "api.submit_response"})
#: Windows older than this are deleted now and then.
KEEP_SECONDS = 86_400

_counters = RateLimitCounter.__table__
_READ = sa.select(_counters.c.count).where(_counters.c.key == sa.bindparam("key"),
                                           _counters.c.window_start == sa.bindparam("window_start"))


@bp.record_once
def _trust_proxies(state) -> None:
    hops = state.app.config["SETTINGS"].proxy_hops
    if hops > 0:
        state.app.wsgi_app = ProxyFix(state.app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def client_key() -> str:
    return f"token-lookup:{request.remote_addr or 'unknown'}"


def current_window(seconds: int, now: float | None = None) -> int:
    now = time.time() if now is None else now
    return int(now // seconds) * seconds


def failures(connection, key: str, window_start: int) -> int:
    return connection.execute(_READ, {"key": key, "window_start": window_start}).scalar() or 0


def record_failure(engine, key: str, window_start: int) -> int:
    """Add one failure to ``key``'s window atomically (an upsert) and return the new count."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(_counters).values(key=key, window_start=window_start, count=1)
    statement = statement.on_conflict_do_update(index_elements=[_counters.c.key, _counters.c.window_start],
                                                set_={"count": _counters.c.count + 1}).returning(_counters.c.count)
    with engine.begin() as connection:
        count = connection.execute(statement).scalar_one()
        if random.random() < 0.01:
            connection.execute(sa.delete(_counters).where(_counters.c.window_start < window_start - KEEP_SECONDS))
    return count


#: Token endpoints that read the client's count themselves, in the query that looks the token
#: up (one round trip instead of two), and call ``refusal`` with it before using the result.
COUNTED_BY_VIEW = frozenset({"api.submit_response"})


def window_now() -> int:
    """Start of the current rate-limit window."""
    return current_window(settings().token_lookup_limit[1])


def refusal(failed: int, window: int):
    """The 429 response for a client with ``failed`` lookups in ``window``, or None below the limit."""
    limit, seconds = settings().token_lookup_limit
    if failed < limit:
        return None
    retry_after = max(1, window + seconds - int(time.time()))
    return error_response(429, "Too many invalid survey links from your address; please try again later.",
                          headers={"Retry-After": str(retry_after)})


@bp.before_app_request
def _refuse_blocked_clients():
    if request.endpoint not in TOKEN_ENDPOINTS or request.endpoint in COUNTED_BY_VIEW:
        return None
    window = window_now()
    return refusal(first_read(lambda connection: failures(connection, client_key(), window)), window)


@bp.after_app_request
def _count_failed_lookups(response):
    if request.endpoint in TOKEN_ENDPOINTS and response.status_code == 404:
        limit, seconds = settings().token_lookup_limit
        try:
            count = record_failure(current_app.extensions["engine"], client_key(), current_window(seconds))
        except SQLAlchemyError as exc:  # the database failed after the lookup: the 404 still stands
            log.error("could not count a failed survey-link lookup: %s", exc.__class__.__name__)
            return response
        if count == limit:
            log.warning("survey-link lookups blocked for %s after %d failures", request.remote_addr, count)
    return response
