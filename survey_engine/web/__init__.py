"""Flask blueprints and the per-request database session."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, g
from sqlmodel import Session


def get_session() -> Session:
    """The database session of the current request, closed at teardown."""
    if "db_session" not in g:
        g.db_session = Session(current_app.extensions["engine"], expire_on_commit=False)
    return g.db_session


def get_connection() -> sa.Connection:
    """A Core connection of the current request in autocommit mode (each statement commits on
    its own), closed at teardown: for the hot paths that read, or write in one statement, with
    no ORM session and no BEGIN/COMMIT round trips."""
    if "db_connection" not in g:
        g.db_connection = current_app.extensions["engine"].connect().execution_options(
            isolation_level="AUTOCOMMIT")
    return g.db_connection


def settings():
    return current_app.config["SETTINGS"]
