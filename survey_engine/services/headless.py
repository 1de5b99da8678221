"""Headless submission through the JSON API: the hot path under load.

``survey.submit_response`` serves every case (drafts, the respondent's form, retries) through the
ORM. A headless submit of an invitation without a draft needs much less, and it is the request a
post-purchase campaign sends by the thousand, so it has this path on the request's Core connection
in autocommit mode, with SQL written once per backend (run through ``exec_driver_sql`` on
PostgreSQL, so SQLAlchemy still detects a lost connection and invalidates the pool; on the driver
connection itself on SQLite, with driver errors raised as SQLAlchemy's):

1. one read: the invitation behind the token, the person its customer is resolved to, and the
   client's failed-lookup count of the current rate-limit window;
2. one atomic write. On PostgreSQL it is a single statement, the claim of the invitation and the
   insert of the response in one data-modifying CTE, which commits alone with no BEGIN/COMMIT
   round trips; on SQLite it is BEGIN IMMEDIATE, claim, insert, COMMIT.

Exactly once holds as on the ORM path: the claim is conditional (``completed_at IS NULL``) and
``response.invitation_id`` is unique. Values are converted by the column types' own bind and
result processors, so rows written here are byte for byte what the ORM writes. Anything unusual
(a draft, or one saved concurrently) returns None and the caller uses ``survey.submit_response``.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from survey_engine.models import Customer, Invitation, Response
from survey_engine.models.base import utcnow
from survey_engine.models.identity import CustomerPerson
from survey_engine.models.ratelimit import RateLimitCounter
from survey_engine.services.survey import Gone, NotFound, SubmitOutcome, hash_token


@dataclass(frozen=True)
class InvitationRow:
    """What the headless submit needs of an invitation."""

    id: int
    customer_id: int
    questionnaire_version_id: int
    language: str | None
    expires_at: datetime
    opened_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    #: The person the customer is resolved to (their profile follows a submission), or None.
    person_id: int | None


@dataclass(frozen=True)
class Lookup:
    #: Failed token lookups of the client in the current window (rate limit).
    failures: int
    #: The invitation, or None for an unknown token.
    invitation: InvitationRow | None


_COLUMNS = ("id", "customer_id", "questionnaire_version_id", "language", "expires_at", "opened_at",
            "started_at", "completed_at")
_TIMESTAMPS = ("expires_at", "opened_at", "started_at", "completed_at")
_RESPONSE_COLUMNS = ("invitation_id", "customer_id", "questionnaire_version_id", "status", "language", "answers",
                     "channel", "started_at", "updated_at", "submitted_at", "duration_seconds")


def _sql(dialect_name: str) -> dict[str, str]:
    """The statements, with the driver's parameter markers (``%(x)s`` for psycopg, ``:x`` for sqlite3)."""

    def p(name: str) -> str:
        return f"%({name})s" if dialect_name == "postgresql" else f":{name}"

    invitation, response, customer = Invitation.__tablename__, Response.__tablename__, Customer.__tablename__
    counters, links = RateLimitCounter.__tablename__, CustomerPerson.__tablename__
    columns = ", ".join(f"i.{name}" for name in _COLUMNS)
    values = (f"{p('customer_id')}, {p('questionnaire_version_id')}, 'submitted', {p('language')}, "
              f"{p('answers')}, {p('channel')}, {p('started_at')}, {p('now')}, {p('now')}, {p('duration_seconds')}")
    claim = (f"UPDATE {invitation} SET completed_at = {p('now')}, started_at = COALESCE(started_at, {p('now')}) "
             f"WHERE id = {p('invitation_id')} AND completed_at IS NULL")
    return {
        "lookup": (
            f"SELECT (SELECT c.count FROM {counters} c WHERE c.key = {p('counter_key')} "
            f"AND c.window_start = {p('window_start')}), {columns}, "
            f"(SELECT l.person_id FROM {links} l JOIN {customer} cu ON cu.external_id = l.external_id "
            f"WHERE cu.id = i.customer_id) "
            f"FROM (SELECT 1 AS one) AS one LEFT JOIN {invitation} i ON i.token_hash = {p('token_hash')}"),
        "stored": (f"SELECT id, submitted_at FROM {response} "
                   f"WHERE invitation_id = {p('invitation_id')} AND status = 'submitted'"),
        "claim": claim,
        "claim_and_insert": (
            f"WITH claimed AS ({claim} RETURNING id) "
            f"INSERT INTO {response} ({', '.join(_RESPONSE_COLUMNS)}) SELECT id, {values} FROM claimed "
            f"RETURNING id"),
        "insert": (f"INSERT INTO {response} ({', '.join(_RESPONSE_COLUMNS)}) "
                   f"VALUES ({p('invitation_id')}, {values})"),
    }


class _Driver:
    """SQL and value converters of one dialect."""

    def __init__(self, dialect: sa.Dialect):
        self.postgresql = dialect.name == "postgresql"
        self.sql = _sql(dialect.name)
        timestamp = Invitation.__table__.c.expires_at.type.dialect_impl(dialect)
        answers = Response.__table__.c.answers.type.dialect_impl(dialect)
        identity = lambda value: value  # noqa: E731
        self.timestamp_in: Callable = timestamp.bind_processor(dialect) or identity
        self.timestamp_out: Callable = timestamp.result_processor(dialect, None) or identity
        self.answers_in: Callable = answers.bind_processor(dialect) or identity

    def run(self, connection: sa.Connection, sql: str, params: dict[str, Any] | None = None):
        """Execute ``sql`` and return the cursor (``fetchone``, ``rowcount``, ``lastrowid``).

        PostgreSQL: through ``exec_driver_sql``, so a lost connection is detected and the pool
        invalidated. SQLite (a file in this process, nothing to lose): on the driver connection
        itself, without SQLAlchemy's per-statement bookkeeping; driver errors are raised as
        SQLAlchemy's (IntegrityError, OperationalError ...), as ``Connection.execute`` raises them.
        """
        if self.postgresql:
            return connection.exec_driver_sql(sql, params or {})
        try:
            return connection.connection.driver_connection.execute(sql, params or {})
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(sql, params, exc, sqlite3.Error, dialect=connection.dialect) from exc


_drivers: dict[str, _Driver] = {}


def _driver(connection: sa.Connection) -> _Driver:
    driver = _drivers.get(connection.dialect.name)
    if driver is None:
        driver = _drivers[connection.dialect.name] = _Driver(connection.dialect)
    return driver


def lookup(connection: sa.Connection, token: str, *, counter_key: str, window_start: int) -> Lookup:
    """The invitation behind ``token`` and the failed-lookup count of ``counter_key`` in the window
    starting at ``window_start``, in one query. An unusable token (empty, over 200 characters)
    reads only the count."""
    driver = _driver(connection)
    token_hash = hash_token(token) if token and len(token) <= 200 else ""
    row = driver.run(connection, driver.sql["lookup"], {
        "counter_key": counter_key, "window_start": window_start, "token_hash": token_hash}).fetchone()
    failures, values, person_id = row[0] or 0, list(row[1:-1]), row[-1]
    if values[0] is None:
        return Lookup(failures, None)
    for index, name in enumerate(_COLUMNS):
        if name in _TIMESTAMPS:
            values[index] = driver.timestamp_out(values[index])
    return Lookup(failures, InvitationRow(*values, person_id))


def check_usable(invitation: InvitationRow | None, *, now: datetime | None = None) -> InvitationRow:
    """NotFound for an unknown token, Gone for an expired link (a completed one stays usable: a
    replay is answered with the stored submission)."""
    if invitation is None:
        raise NotFound("This survey link is not valid.")
    if invitation.completed_at is None and invitation.expires_at <= (now or utcnow()):
        raise Gone("This survey link has expired.")
    return invitation


def stored_submission(connection: sa.Connection, invitation_id: int) -> tuple[int, datetime] | None:
    """Id and time of the submitted response of an invitation, if there is one."""
    driver = _driver(connection)
    row = driver.run(connection, driver.sql["stored"], {"invitation_id": invitation_id}).fetchone()
    return (row[0], driver.timestamp_out(row[1])) if row is not None else None


def submit(connection: sa.Connection, invitation: InvitationRow, answers: dict[str, Any], *, language: str,
           channel: str = "api") -> SubmitOutcome | None:
    """Store already validated ``answers`` as the submission of ``invitation``, atomically.

    ``connection`` must be in autocommit mode (no transaction open). Returns ``submitted``, or
    ``already_submitted`` with the stored id and time when the invitation was claimed before, or
    None when this path does not apply: the invitation may have a draft, or one was saved
    concurrently. Nothing is written then, and the caller uses ``survey.submit_response``.
    """
    driver = _driver(connection)
    if invitation.completed_at is None and invitation.started_at is not None:
        return None  # a draft may exist: the ORM path merges it
    if invitation.completed_at is None:
        now = utcnow()
        started = invitation.opened_at or now
        params = {"invitation_id": invitation.id, "customer_id": invitation.customer_id,
                  "questionnaire_version_id": invitation.questionnaire_version_id, "language": language,
                  "answers": driver.answers_in(answers), "channel": channel,
                  "started_at": driver.timestamp_in(started), "now": driver.timestamp_in(now),
                  "duration_seconds": max((now - started).total_seconds(), 0.0)}
        try:
            if driver.postgresql:
                row = driver.run(connection, driver.sql["claim_and_insert"], params).fetchone()
                response_id = row[0] if row is not None else None
            else:
                response_id = _claim_and_insert_sqlite(connection, driver, params)
        except IntegrityError:
            return None  # a draft was saved meanwhile; the statement wrote nothing
        if response_id is not None:
            return SubmitOutcome("submitted", answers=answers, response_id=response_id, submitted_at=now)
    stored = stored_submission(connection, invitation.id)
    if stored is None:
        return None
    return SubmitOutcome("already_submitted", response_id=stored[0], submitted_at=stored[1])


class _WriterQueue:
    """Serialises the headless writers of one SQLite database across threads and processes.

    SQLite lets one writer in at a time; the others poll with growing sleeps (the busy handler:
    1, 2, 5, 10 ... 100 ms), so under load the lock is often free while every waiter sleeps. Here
    waiters queue on a thread lock and then on ``flock`` of ``<database>-writers``, both of which
    wake the next waiter as soon as the lock is released. Other writers (the ORM, commands) do not
    take it and still meet the database's own lock, so correctness never depends on it.
    """

    def __init__(self, path: str):
        self.path = path
        self.thread_lock = threading.Lock()
        self.pid = os.getpid()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self.thread_lock:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self.fd, fcntl.LOCK_UN)


_queues: dict[str, _WriterQueue] = {}
_queues_lock = threading.Lock()


def _writer_turn(connection: sa.Connection):
    """The queue of the connection's SQLite file (per process: a forked worker opens its own
    descriptor, since ``flock`` is held by the open file), or no queue for in-memory databases."""
    database = connection.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return nullcontext()
    with _queues_lock:
        queue = _queues.get(database)
        if queue is None or queue.pid != os.getpid():
            queue = _queues[database] = _WriterQueue(f"{os.path.abspath(database)}-writers")
    return queue.turn()


def _claim_and_insert_sqlite(connection: sa.Connection, driver: _Driver, params: dict[str, Any]) -> int | None:
    with _writer_turn(connection):
        return _claim_and_insert_sqlite_locked(connection, driver, params)


def _claim_and_insert_sqlite_locked(connection: sa.Connection, driver: _Driver, params: dict[str, Any]) -> int | None:
    # BEGIN IMMEDIATE takes the write lock first: the claim and the insert cannot interleave with
    # another writer's, and the transaction never has to upgrade a read lock.
    driver.run(connection, "BEGIN IMMEDIATE")
    try:
        if driver.run(connection, driver.sql["claim"], params).rowcount != 1:
            driver.run(connection, "ROLLBACK")
            return None
        response_id = driver.run(connection, driver.sql["insert"], params).lastrowid
        driver.run(connection, "COMMIT")
    except BaseException:
        try:
            driver.run(connection, "ROLLBACK")
        except sa.exc.DBAPIError:
            pass  # no transaction left to roll back, or the connection failed; the original error says why
        raise
    return response_id
