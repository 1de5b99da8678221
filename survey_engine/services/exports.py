"""CRM export of profiles: Salesforce- and HubSpot-ready CSV, generic CSV and JSON Lines, with
column mappings from a file, incremental by change cursor, limited to people whose consent
allows it.

Rows stream from the database (server-side cursor on PostgreSQL) straight into the file, so
memory does not grow with the number of profiles. The file is written next to its target and
renamed into place when complete, so a failed export leaves no half file.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from survey_engine.export.fields import EXPORT_FIELDS, PERSON_FIELDS
from survey_engine.export.mappings import Destination, choose_destination, load_mappings
from survey_engine.models.base import utcnow
from survey_engine.models.identity import Person
from survey_engine.models.profiles import ExportRun, Profile
from survey_engine.services.profiles import current_sequence
from survey_engine.services.survey import NotFound, ServiceError

STREAM_ROWS = 5000


def _utc_text(column, dialect: str, as_date: bool):
    """A timestamp column formatted by the database as ISO 8601 in UTC (``2026-06-30T09:15:00Z``, or
    ``2026-06-30``), so millions of rows need no date handling in Python."""
    if dialect == "postgresql":
        pattern = "YYYY-MM-DD" if as_date else 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
        return sa.func.to_char(sa.func.timezone("UTC", column), pattern)
    return sa.func.strftime("%Y-%m-%d" if as_date else "%Y-%m-%dT%H:%M:%SZ", sa.type_coerce(column, sa.String()))


def profile_columns(fields: Sequence[str], *, json_as_text: bool = True, dialect: str | None = None,
                    dates: Sequence[str] = ()) -> list:
    """Labelled columns for ``fields`` (golden-record fields from the person, others from the
    profile). JSON fields come as their stored text when ``json_as_text``; with ``dialect``,
    timestamps come as ISO 8601 text in UTC (dates for the fields in ``dates``)."""
    profile, person = Profile.__table__, Person.__table__
    columns = []
    for name in fields:
        column = person.c[name] if name in PERSON_FIELDS else profile.c[name]
        if EXPORT_FIELDS[name] == "json" and json_as_text:
            column = sa.cast(column, sa.Text)
        elif EXPORT_FIELDS[name] == "datetime" and dialect is not None:
            column = _utc_text(column, dialect, name in dates)
        columns.append(column.label(name))
    return columns


def profile_source():
    return Profile.__table__.outerjoin(Person.__table__, Person.__table__.c.id == Profile.__table__.c.person_id)


def consent_condition(consents: Sequence[str]):
    profile = Profile.__table__
    parts = [profile.c[f"consent_{c}"].is_(True) for c in consents]
    return sa.and_(sa.true(), *parts)


@dataclass
class ExportResult:
    run_id: int
    destination: str
    format: str
    file: str
    since: int
    next_cursor: int
    rows: int
    without_consent: int
    without_key: int


def last_cursor(session: Session, destination: str) -> int:
    """The cursor the last completed export to ``destination`` ended at (0 before any)."""
    run = session.exec(select(ExportRun).where(ExportRun.destination == destination,
                                               ExportRun.status == "completed")
                       .order_by(ExportRun.id.desc())).first()
    return int(run.next_cursor or 0) if run is not None else 0


def parse_cursor(session: Session, value: str | int | None, destination: str) -> int:
    """``None`` → 0 (everything), ``"last"`` → where the last export to the destination ended, else
    a non-negative integer printed by an earlier export."""
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().lower() == "last":
        return last_cursor(session, destination)
    try:
        cursor = int(value)
    except (TypeError, ValueError):
        raise ServiceError(f"cursor must be a number printed by an earlier export or 'last', got {value!r}",
                           field="since") from None
    if cursor < 0:
        raise ServiceError("cursor must not be negative", field="since")
    return cursor


def export_profiles(engine: Engine, *, fmt: str, out: str | Path, since: str | int | None = None,
                    destination: str | None = None, mappings: str | Path | None = None,
                    triggered_by: str = "", stream_rows: int = STREAM_ROWS) -> ExportResult:
    """Write the profiles that changed after ``since`` to ``out`` for one destination.

    Each change is exported once: the export covers change numbers in ``(since, cursor]`` where
    ``cursor`` is the last number handed out when it starts; pass the returned ``next_cursor`` as
    ``since`` next time. People without the destination's consents (or, for HubSpot, without an
    email) are counted and left out; a later change exports them when they consent.
    """
    try:
        chosen = choose_destination(load_mappings(mappings), fmt, destination)
    except ValueError as exc:
        raise ServiceError(str(exc), field="destination" if destination else "format") from None
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise ServiceError(f"folder {out.parent} does not exist", field="out")
    with Session(engine, expire_on_commit=False) as session:
        start = parse_cursor(session, since, chosen.name)
        run = ExportRun(format=fmt, destination=chosen.name, since_cursor=start, file=str(out),
                        triggered_by=triggered_by[:200])
        session.add(run)
        session.commit()
        run_id = run.id
    try:
        result = _write_export(engine, chosen, out, start, run_id, stream_rows)
    except Exception as exc:
        with Session(engine) as session:
            run = session.get(ExportRun, run_id)
            run.status, run.error, run.finished_at = "failed", f"{type(exc).__name__}: {exc}"[:2000], utcnow()
            session.add(run)
            session.commit()
        raise
    with Session(engine) as session:
        run = session.get(ExportRun, run_id)
        run.status, run.finished_at, run.next_cursor = "completed", utcnow(), result.next_cursor
        run.rows_written, run.rows_without_consent, run.rows_without_key = (
            result.rows, result.without_consent, result.without_key)
        session.add(run)
        session.commit()
    return result


def _write_export(engine: Engine, destination: Destination, out: Path, since: int, run_id: int,
                  stream_rows: int) -> ExportResult:
    from survey_engine.export.writers import ProfileWriter

    profile = Profile.__table__
    fields = [c.field for c in destination.columns]
    dates = [c.field for c in destination.columns if c.as_date]
    with engine.connect() as connection:
        cursor = current_sequence(connection)
        window = sa.and_(profile.c.change_seq > since, profile.c.change_seq <= cursor)
        allowed = consent_condition(destination.consent)
        without_consent = connection.execute(sa.select(sa.func.count()).select_from(profile)
                                             .where(window, sa.not_(allowed))).scalar()
        conditions = [window, allowed]
        without_key = 0
        if destination.key_field is not None:
            key = Person.__table__.c[destination.key_field]
            without_key = connection.execute(sa.select(sa.func.count()).select_from(profile_source())
                                             .where(window, allowed, key.is_(None))).scalar()
            conditions.append(key.is_not(None))
        # Labels must be unique: a field written twice (as a date and a timestamp) is selected twice.
        selected = [c.label(f"c{k}") for k, c in enumerate(profile_columns(
            fields, dialect=engine.dialect.name, dates=dates))]
        query = (sa.select(*selected).select_from(profile_source()).where(*conditions).order_by(profile.c.change_seq))
        handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent or ".")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                writer = ProfileWriter(destination, stream, preformatted_datetimes=True)
                result = connection.execution_options(stream_results=True, yield_per=stream_rows).execute(query)
                for partition in result.partitions():
                    writer.write_many(partition)
            os.replace(temporary, out)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
    return ExportResult(run_id, destination.name, destination.format, str(out), since, cursor, writer.rows,
                        int(without_consent), int(without_key))


def list_export_runs(session: Session, *, destination: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    query = select(ExportRun).order_by(ExportRun.id.desc()).limit(limit)
    if destination is not None:
        query = query.where(ExportRun.destination == destination)
    return [export_run_public(r) for r in session.exec(query).all()]


def export_run_public(run: ExportRun) -> dict[str, Any]:
    return {"id": run.id, "format": run.format, "destination": run.destination, "since": run.since_cursor,
            "next_cursor": run.next_cursor, "file": run.file, "status": run.status, "rows": run.rows_written,
            "without_consent": run.rows_without_consent, "without_key": run.rows_without_key,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "triggered_by": run.triggered_by, "error": run.error}


def get_export_run(session: Session, run_id: int) -> ExportRun:
    run = session.get(ExportRun, run_id)
    if run is None:
        raise NotFound(f"no export run {run_id}", field="id")
    return run
