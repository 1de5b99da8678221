"""Database engine, sessions and migrations: SQLite file by default, PostgreSQL via DATABASE_URL."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

_engines: dict[tuple[str, bool], Engine] = {}
_lock = threading.Lock()
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, autocommit: bool = False) -> Engine:
    """Create an engine for ``url`` with the settings each backend needs."""
    parsed = make_url(url)
    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if not autocommit:
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    # The hot paths' engine: a ping only after idleness (one round trip less per request); its
    # users retry their first, read-only statement once after a disconnect (see web.first_read).
    engine = create_engine(url, pool_size=5, max_overflow=10, **options)
    _ping_idle_connections(engine)
    return engine


#: A pooled connection idle for longer than this is pinged before use (PostgreSQL).
IDLE_PING_SECONDS = 10.0


def _ping_idle_connections(engine: Engine) -> None:
    """``pool_pre_ping``, but only for connections that sat idle in the pool: a server restart or
    a dropped socket is found before a request uses the connection, while under load (every
    connection reused within seconds) no request pays the extra round trip. A connection that
    fails anyway is a disconnect error: SQLAlchemy invalidates the whole pool, so every other
    connection opened before is replaced at its next checkout."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:
        if record is not None:
            record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("checked_in_at")  # None: connected just now
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure means: not usable
            # The pool discards this connection and checks out another (up to three tries).
            raise DisconnectionError(f"stale pooled connection: {exc.__class__.__name__}") from exc


def get_engine(url: str | None = None, *, autocommit: bool = False) -> Engine:
    """The process-wide engine for ``url`` (default: ``DATABASE_URL`` from the environment).

    ``autocommit=True`` gives a second engine on the same database, with its own pool, whose
    connections run each statement in its own transaction: for hot paths that read, or write in
    a single statement (or manage BEGIN/COMMIT themselves), with no isolation level switched on
    every checkout and back on every return."""
    if url is None:
        from survey_engine.config import Settings

        url = Settings.from_env().database_url
    with _lock:
        engine = _engines.get((url, autocommit))
        if engine is None:
            engine = _engines[(url, autocommit)] = make_engine(url, autocommit=autocommit)
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = Session(engine or get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def database_ok(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` (``init-db`` calls this)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
