"""Production settings for gunicorn: ``gunicorn -c survey_engine/gunicorn_conf.py wsgi:app``.

- Workers: ``WEB_CONCURRENCY`` or 2 x CPU cores + 1, each with ``GUNICORN_THREADS`` (default 4)
  threads (``gthread``: keep-alive connections, and a worker keeps serving while one thread waits
  on the database).
- The app is loaded once in the master (``preload_app``) so a broken questionnaire or setting
  stops the start with one clear message; every worker then drops the database connections it
  inherited (``post_fork``), so no two processes ever share a socket.
- The master refuses to start on a database whose schema is behind the code: run
  ``survey-engine init-db`` first. A database that cannot be reached at start is only logged: the
  app answers 503 with ``Retry-After`` until it is back.
- Access log and error log are JSON lines (stdout and stderr), with the request id; survey tokens
  in paths are redacted, because a token is the respondent's credential.

Command-line options override these values (e.g. ``-b 0.0.0.0:8000 -w 8``).
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import sys
from datetime import datetime, timezone

from gunicorn.glogging import Logger

bind = ["127.0.0.1:8000"]
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
preload_app = True
# A request that takes longer than this is a bug or a stuck database call: the worker is replaced.
timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so slow leaks (in any library) cannot accumulate.
max_requests = 10_000
max_requests_jitter = 1_000
# Heartbeat files on a RAM disk: a worker is never killed because a disk stalled.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Only a proxy on this machine may set X-Forwarded-* (see SURVEY_ENGINE_PROXY_HOPS).
forwarded_allow_ips = "127.0.0.1,::1"
limit_request_line = 4094
limit_request_fields = 100
accesslog = "-"
errorlog = "-"
loglevel = "info"
# gunicorn's control socket is one fixed path per user: off, so several servers can run side by side.
control_socket_disable = True

_TOKEN_IN_PATH = re.compile(r"^(/s/)[^/?]+")


def redact_path(path: str) -> str:
    """The request path with a survey token replaced by ``<token>``."""
    return _TOKEN_IN_PATH.sub(r"\1<token>", path or "")


class JsonLogger(Logger):
    """gunicorn's logger writing one JSON object per line (access and error logs)."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        from survey_engine.logging_json import JsonFormatter

        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = dict((k.lower(), v) for k, v in (resp.headers or []))
        entry = {
            "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "type": "access",
            "remote_addr": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": redact_path(environ.get("PATH_INFO", "")),
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "request_id": headers.get("x-request-id"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
            "pid": os.getpid(),
        }
        try:
            self.access_log.info(json.dumps(entry, ensure_ascii=False))
        except Exception:  # noqa: BLE001 - logging must never break a response
            self.exception("could not write the access log line")


logger_class = JsonLogger


def on_starting(server) -> None:
    """Refuse to start on a database whose schema is not at the code's migration head."""
    from sqlalchemy import create_engine, pool

    from survey_engine.config import Settings
    from survey_engine.db import current_revision

    settings = Settings.from_env()
    if not settings.production:
        server.log.warning("SURVEY_ENGINE_ENV is not 'production': secure cookies and HSTS are off")
    engine = create_engine(settings.database_url, poolclass=pool.NullPool)
    try:
        current = current_revision(engine)
    except Exception as exc:  # noqa: BLE001 - unreachable database: serve 503s until it is back
        server.log.warning("database not reachable at start (%s); serving 503 until it is",
                           exc.__class__.__name__)
        return
    finally:
        engine.dispose()
    head = _migration_head()
    if current != head:
        server.log.error("database schema is at %s but the code needs %s: run `survey-engine init-db` "
                         "before starting the server", current or "nothing (empty database)", head)
        sys.exit(4)


def _migration_head() -> str:
    from alembic.script import ScriptDirectory

    from survey_engine.db import MIGRATIONS_DIR

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def post_fork(server, worker) -> None:
    """Drop pooled connections inherited from the master; the worker opens its own."""
    try:
        app = server.app.wsgi()
    except Exception:  # noqa: BLE001 - the app failed to load; gunicorn reports that itself
        return
    for name in ("engine", "autocommit_engine"):
        engine = getattr(app, "extensions", {}).get(name)
        if engine is not None:
            engine.dispose(close=False)
    logging.getLogger("survey_engine").debug("worker %s ready", worker.pid)
