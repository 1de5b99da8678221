"""The hot paths' autocommit engine on PostgreSQL: pooled connections are pinged only after
idleness, a dead connection invalidates the pool, and a request's first read survives a
database restart by running once more on a fresh connection."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from survey_engine import db

PID = "SELECT pg_backend_pid()"


@pytest.fixture
def pg_url(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("connection loss is a PostgreSQL matter (SQLite is a file in the process)")
    return db_url


def _kill(url: str, pid: int) -> None:
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        assert connection.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})").scalar() is True
    admin.dispose()
    time.sleep(0.2)


def test_an_idle_dead_connection_is_replaced_at_checkout(pg_url, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.05)
    engine = db.make_engine(pg_url, autocommit=True)
    try:
        with engine.connect() as connection:
            first = connection.exec_driver_sql(PID).scalar()
        _kill(pg_url, first)  # and more than IDLE_PING_SECONDS pass
        with engine.connect() as connection:
            assert connection.exec_driver_sql(PID).scalar() != first
    finally:
        engine.dispose()


def test_a_recently_used_connection_is_not_pinged_and_a_dead_one_invalidates_the_pool(pg_url, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)
    engine = db.make_engine(pg_url, autocommit=True)
    try:
        pings = []
        monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(connection) or True)
        with engine.connect() as a, engine.connect() as b:
            pid_a, pid_b = a.exec_driver_sql(PID).scalar(), b.exec_driver_sql(PID).scalar()
        _kill(pg_url, pid_a)
        _kill(pg_url, pid_b)
        with pytest.raises(sa.exc.OperationalError) as failure:
            with engine.connect() as connection:
                connection.exec_driver_sql(PID).scalar()
        assert failure.value.connection_invalidated
        with engine.connect() as connection:  # the other dead connection was discarded too
            assert connection.exec_driver_sql(PID).scalar() not in (pid_a, pid_b)
        assert pings == []
    finally:
        engine.dispose()


def test_first_read_runs_again_on_a_fresh_connection_after_a_disconnect(pg_url, app, monkeypatch):
    from survey_engine.web import first_read, get_connection

    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)
    app.extensions["autocommit_engine"].dispose()  # one connection in the pool: the one used below
    with app.test_request_context():
        first = get_connection().exec_driver_sql(PID).scalar()
    with app.test_request_context():  # the next request gets the same pooled connection...
        assert get_connection().exec_driver_sql(PID).scalar() == first
    _kill(pg_url, first)  # ...which dies while idle in the pool
    calls = []

    def read(connection):
        calls.append(connection)
        return connection.exec_driver_sql(PID).scalar()

    with app.test_request_context():
        assert first_read(read) != first
        assert len(calls) == 2 and get_connection() is calls[1]
    with app.test_request_context(), pytest.raises(sa.exc.ProgrammingError):
        first_read(lambda connection: connection.exec_driver_sql("SELECT no_such_column FROM invitation"))
