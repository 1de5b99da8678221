"""Flask blueprints and the per-request database session."""
from __future__ import annotations

from typing import Callable, TypeVar

import sqlalchemy as sa
from flask import current_app, g
from sqlmodel import Session

T = TypeVar("T")


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
        g.db_connection = current_app.extensions["autocommit_engine"].connect()
    return g.db_connection


def first_read(read: Callable[[sa.Connection], T]) -> T:
    """Run ``read``, the request's first and read-only use of ``get_connection()``. A pooled
    connection found dead there (the database restarted since it was last used) has invalidated
    the pool; nothing was done yet, so the read runs once more on a fresh connection, as
    ``pool_pre_ping`` would have arranged, without a ping on every request."""
    try:
        return read(get_connection())
    except sa.exc.DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        g.pop("db_connection").close()
        return read(get_connection())


def settings():
    return current_app.config["SETTINGS"]
