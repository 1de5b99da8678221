"""Flask blueprints and the per-request database session."""
from __future__ import annotations

from flask import current_app, g
from sqlmodel import Session


def get_session() -> Session:
    """The database session of the current request, closed at teardown."""
    if "db_session" not in g:
        g.db_session = Session(current_app.extensions["engine"], expire_on_commit=False)
    return g.db_session


def settings():
    return current_app.config["SETTINGS"]
