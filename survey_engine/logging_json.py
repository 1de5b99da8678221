"""Structured logging for production: one JSON object per line, with the request id of the
request being served (set by :mod:`survey_engine.web.request_id`)."""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

#: Attributes every ``LogRecord`` has; anything else on a record came from ``extra=`` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


def current_request_id() -> str | None:
    """The id of the Flask request being handled in this thread, or None outside a request."""
    try:
        from flask import g, has_request_context
    except ImportError:  # pragma: no cover - flask is a dependency
        return None
    if not has_request_context():
        return None
    return g.get("request_id")


class RequestIdFilter(logging.Filter):
    """Put the current request id on every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", ...extra, "exc_info"}`` on one line.

    Values that JSON cannot hold are written with ``str``; a message never spans lines, so log
    shippers can split on newlines.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def json_handler(stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(level: str = "INFO", *, json_lines: bool = False) -> None:
    """Configure the root logger once: JSON lines in production, plain text in development.

    When the root logger already has handlers (a WSGI server such as gunicorn configured it with
    :data:`survey_engine.gunicorn_conf.logconfig_dict`), only the level is set, so the server's
    choice of format wins.
    """
    root = logging.getLogger()
    root.setLevel(level)
    if root.handlers:
        return
    if json_lines:
        root.addHandler(json_handler())
    else:
        logging.basicConfig(level=level)
