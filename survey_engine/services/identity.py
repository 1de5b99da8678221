"""Identity resolution on the database: import source records, resolve them into persons, record
manual merges and splits, and look persons up (from a record, a person id or a customer id).

The CLI (``survey-engine identity ...``) and the JSON API (``/api/v1/identity``) both call these
functions. Every function works inside the caller's session and never commits: the caller's
``session_scope`` (or request) commits on success, so a failure leaves nothing half-written.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlmodel import Session, select

from survey_engine.models.base import row_id, utcnow
from survey_engine.models.identity import (
    CustomerPerson,
    IdentityRun,
    ManualDecision,
    Person,
    PersonLink,
    SourceRecord,
)
from survey_engine.services.survey import Conflict, NotFound, ServiceError

#: Columns of a source-record file or API payload; ``customer_ref`` is accepted for ``external_id``.
RECORD_FIELDS = ("source", "source_record_id", "external_id", "first_name", "last_name", "email", "phone",
                 "postcode", "city", "country", "created_at")
REQUIRED_FIELDS = ("source", "source_record_id")
FIELD_ALIASES = {"customer_ref": "external_id"}
_MAX_LENGTH = {"source": 50, "source_record_id": 100, "external_id": 100, "first_name": 200, "last_name": 200,
               "email": 320, "phone": 50, "postcode": 30, "city": 200}
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_GOLDEN_FIELDS = ("first_name", "last_name", "email", "phone", "postcode", "city", "country", "external_id")


class RecordsRejected(ServiceError):
    """Some records are invalid; nothing was stored. ``problems`` maps a locator (``line 7`` or
    ``records[3]``, with the field) to the reason."""

    status = 422

    def __init__(self, problems: Mapping[str, str], source: str):
        count = len(problems)
        super().__init__(f"{source}: {count} invalid record field(s); nothing was imported.")
        self.problems = dict(problems)


# ---- import -------------------------------------------------------------------------------------

@dataclass
class ImportResult:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _parse_timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def validate_records(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Check raw records and bring them to column values; problems are keyed ``"<locator> <field>"``.

    Parameters
    ----------
    rows : iterable of (locator, mapping)
        ``locator`` names where the record came from (``"line 7"``, ``"records[3]"``).

    Returns
    -------
    records : list of dict
        Valid records with the :class:`SourceRecord` column names (``created_at`` becomes
        ``source_created_at``), and ``_where`` holding the locator.
    problems : dict
        ``{"line 7 country": "must be a two-letter ISO 3166 code, got 'Italy'"}``; empty when all
        records are valid.
    """
    records: list[dict[str, Any]] = []
    problems: dict[str, str] = {}
    first_seen: dict[tuple[str, str], str] = {}
    for where, raw in rows:
        record: dict[str, Any] = {"_where": where}
        for name, value in raw.items():
            name = FIELD_ALIASES.get(name, name)
            if name not in RECORD_FIELDS:
                problems[f"{where} {name}"] = f"unknown field; expected {', '.join(RECORD_FIELDS)}"
                continue
            if value is None or (isinstance(value, str) and not value.strip()):
                record[name] = None
                continue
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                problems[f"{where} {name}"] = "must be a string"
                continue
            text = str(value).strip()
            limit = _MAX_LENGTH.get(name)
            if limit is not None and len(text) > limit:
                problems[f"{where} {name}"] = f"must be at most {limit} characters"
                continue
            record[name] = text
        for name in REQUIRED_FIELDS:
            if record.get(name) is None and f"{where} {name}" not in problems:
                problems[f"{where} {name}"] = "is required"
        source = record.get("source")
        if source is not None:
            source = source.lower()
            record["source"] = source
            if not _SOURCE.match(source):
                problems[f"{where} source"] = "must be a lower-case system name such as crm, loyalty, ecommerce, store"
        country = record.get("country")
        if country is not None:
            if len(country) != 2 or not country.isalpha():
                problems[f"{where} country"] = f"must be a two-letter ISO 3166 code, got {country!r}"
            else:
                record["country"] = country.upper()
        created = record.pop("created_at", None)
        record["source_created_at"] = None
        if created is not None:
            try:
                record["source_created_at"] = _parse_timestamp(created)
            except ValueError:
                problems[f"{where} created_at"] = f"must be an ISO 8601 date or timestamp, got {created!r}"
        key = (record.get("source"), record.get("source_record_id"))
        if None not in key:
            if key in first_seen:
                problems[f"{where} source_record_id"] = f"{key[0]}:{key[1]} appears again (first at {first_seen[key]})"
            else:
                first_seen[key] = where
        records.append(record)
    return records, problems


def read_record_csv(stream: IO[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """Rows of a source-record CSV as ``("line N", row)``, N being the row's first line in the file."""
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    unknown = [c for c in header if FIELD_ALIASES.get(c, c) not in RECORD_FIELDS]
    missing = [c for c in REQUIRED_FIELDS if c not in header]
    if unknown or missing or not header:
        details = []
        if missing or not header:
            details.append(f"missing column(s) {', '.join(missing or REQUIRED_FIELDS)}")
        if unknown:
            details.append(f"unknown column(s) {', '.join(unknown)}")
        raise RecordsRejected({"line 1 header": "; ".join(details) + f" (columns: {', '.join(RECORD_FIELDS)})"},
                              "header")
    start = reader.line_num + 1
    for row in reader:
        if None in row:
            yield f"line {start}", {**{k: v for k, v in row.items() if k is not None},
                                    "_extra": ",".join(row[None])}
        else:
            yield f"line {start}", row
        start = reader.line_num + 1


def import_records(session: Session, records: Sequence[dict[str, Any]], *, source: str) -> ImportResult:
    """Insert new records and update changed ones (matched on ``(source, source_record_id)``).

    ``records`` come from :func:`validate_records` with no problems. Persons are not touched: run
    :func:`resolve_persons` afterwards to link the new records.
    """
    result = ImportResult(read=len(records))
    if not records:
        return result
    columns = [c for c in RECORD_FIELDS if c != "created_at"] + ["source_created_at"]
    existing: dict[tuple[str, str], SourceRecord] = {}
    sources = sorted({r["source"] for r in records})
    wanted = {(r["source"], r["source_record_id"]) for r in records}
    for row in session.execute(select(SourceRecord).where(SourceRecord.source.in_(sources))).scalars():
        if (row.source, row.source_record_id) in wanted:
            existing[(row.source, row.source_record_id)] = row
    now = utcnow()
    inserts, updates = [], []
    for record in records:
        values = {c: record.get(c) for c in columns}
        current = existing.get((record["source"], record["source_record_id"]))
        if current is None:
            inserts.append({**values, "imported_at": now, "updated_at": now})
        elif any(getattr(current, c) != values[c] for c in columns):
            updates.append({"id": current.id, **values, "updated_at": now})
        else:
            result.unchanged += 1
    if inserts:
        session.execute(sa.insert(SourceRecord), inserts)
    if updates:
        session.execute(sa.update(SourceRecord), updates)
    result.inserted, result.updated = len(inserts), len(updates)
    session.flush()
    return result


def import_csv(session: Session, path: Path | str | IO[str]) -> ImportResult:
    """Validate a whole CSV file of source records, then import it; any invalid row refuses all.

    Raises
    ------
    RecordsRejected
        With every problem keyed by line number and field.
    """
    if isinstance(path, (str, Path)):
        name = str(path)
        try:
            with open(path, encoding="utf-8-sig", newline="") as stream:
                records, problems = _validated_csv(stream, name)
        except FileNotFoundError:
            raise NotFound(f"{name}: no such file", field="csv") from None
        except UnicodeDecodeError as exc:
            raise ServiceError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})", field="csv") from None
    else:
        name = getattr(path, "name", "<stream>")
        records, problems = _validated_csv(path, name)
    if problems:
        raise RecordsRejected(problems, name)
    return import_records(session, records, source=name)


def _validated_csv(stream: IO[str], name: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows = []
    extra: dict[str, str] = {}
    try:
        for where, row in read_record_csv(stream):
            if "_extra" in row:
                extra[f"{where} row"] = f"has more values than the header has columns ({row.pop('_extra')!r})"
            rows.append((where, row))
    except RecordsRejected as exc:
        raise RecordsRejected(exc.problems, name) from None
    records, problems = validate_records(rows)
    return records, {**extra, **problems}


def store_demo_source_records(session: Session, population) -> str:
    """Import a demo population's source-system records (``survey-engine demo``) exactly as a
    record file would be validated and imported, then resolve them into persons.

    Returns a one-line summary. Invalid records raise :class:`RecordsRejected` (nothing stored).
    """
    import pandas as pd

    rows = []
    for position, raw in enumerate(population.source_records.to_dict(orient="records")):
        record = {}
        for name, value in raw.items():
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                record[name] = None
            elif isinstance(value, (pd.Timestamp, datetime)):
                record[name] = value.isoformat()
            else:
                record[name] = value
        rows.append((f"records[{position}]", record))
    records, problems = validate_records(rows)
    if problems:
        raise RecordsRejected(problems, "demo source records")
    imported = import_records(session, records, source="demo")
    run = resolve_persons(session, triggered_by="survey-engine demo")
    return (f"{imported.inserted} source records stored ({imported.unchanged} unchanged), resolved into "
            f"{run.persons} persons")


# ---- constraints from manual decisions ----------------------------------------------------------

def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def active_constraints(session: Session) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Must-link and cannot-link record-id pairs in force, replaying decisions in order (a later
    decision lifts the earlier opposite constraints it recorded in ``lifted``)."""
    must: set[tuple[int, int]] = set()
    cannot: set[tuple[int, int]] = set()
    for decision in session.execute(select(ManualDecision).order_by(ManualDecision.id)).scalars():
        target, other = (must, cannot) if decision.kind == "merge" else (cannot, must)
        for a, b in decision.lifted:
            other.discard(_pair(a, b))
        for a, b in decision.pairs:
            target.add(_pair(a, b))
    return must, cannot


# ---- resolution ---------------------------------------------------------------------------------

@dataclass
class RunSummary:
    run_id: int
    records: int
    persons: int
    new_persons: int
    retired_persons: int
    links_by_rule: dict[str, int] = field(default_factory=dict)
    rejected_links: int = 0
    constraints: int = 0
    skipped_blocks: int = 0


def _records_frame(rows: Sequence[SourceRecord]):
    import pandas as pd

    return pd.DataFrame({
        "source_record_id": [str(r.id) for r in rows],
        "source": [r.source for r in rows],
        "external_id": [r.external_id for r in rows],
        "first_name": [r.first_name for r in rows],
        "last_name": [r.last_name for r in rows],
        "email": [r.email for r in rows],
        "phone": [r.phone for r in rows],
        "postcode": [r.postcode for r in rows],
        "city": [r.city for r in rows],
        "country": [r.country for r in rows],
        "created_at": pd.to_datetime([r.source_created_at or r.imported_at for r in rows], utc=True),
    })


def _golden_values(row: Mapping[str, Any]) -> dict[str, Any]:
    import pandas as pd

    def when(value):
        return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()

    provenance = {k: int(v) for k, v in (row.get("provenance") or {}).items()}
    return {**{f: row.get(f) for f in _GOLDEN_FIELDS}, "sources": list(row["sources"]),
            "n_records": int(row["n_records"]), "first_seen": when(row["first_seen"]),
            "last_seen": when(row["last_seen"]), "provenance": provenance}


def resolve_persons(session: Session, *, threshold: float = 0.9, triggered_by: str = "") -> RunSummary:
    """Resolve every source record into persons and store the result.

    Manual decisions are applied before any rule. Person ids are kept: each new cluster takes the
    id of the earlier person that most of its records belonged to (largest overlaps first); other
    clusters become new persons, and earlier persons left without records are retired with
    ``merged_into_id`` pointing to where most of their records went.
    """
    from survey_engine.identity.linking import IdentityResolver

    rows = list(session.execute(select(SourceRecord).order_by(SourceRecord.id)).scalars())
    if not rows:
        raise ServiceError("There are no source records to resolve; import some first "
                           "(survey-engine identity import --csv FILE).")
    known = {r.id for r in rows}
    must, cannot = active_constraints(session)
    must = {p for p in must if p[0] in known and p[1] in known}
    cannot = {p for p in cannot if p[0] in known and p[1] in known}
    resolver = IdentityResolver(threshold=threshold)
    frame = _records_frame(rows)
    try:
        resolution = resolver.fit_predict(frame, must_link=[(str(a), str(b)) for a, b in sorted(must)],
                                          cannot_link=[(str(a), str(b)) for a, b in sorted(cannot)])
    except ValueError as exc:
        raise Conflict(f"the manual decisions cannot all hold: {exc}") from None

    run = IdentityRun(triggered_by=triggered_by, parameters={k: (list(v) if isinstance(v, tuple) else v)
                                                             for k, v in resolver.get_params().items()},
                      model={"prior": resolver.prior_,
                             "match_weights": resolver.match_weights_.to_dict(orient="records")},
                      n_records=len(rows), n_constraints=len(must) + len(cannot))
    session.add(run)
    session.flush()

    labels = resolution.membership["person_id"].to_numpy()
    record_ids = [r.id for r in rows]
    previous = [r.person_id for r in rows]
    person_of_label, retired_into = _stable_person_ids(labels, previous)
    now = utcnow()

    persons = resolution.persons
    updates, inserts, insert_labels = [], [], []
    for golden in persons.to_dict(orient="records"):
        label = int(golden["person_id"])
        values = _golden_values(golden)
        if label in person_of_label:
            updates.append({"id": person_of_label[label], **values, "updated_at": now, "retired_at": None,
                            "merged_into_id": None, "run_id": run.id})
        else:
            inserts.append({**values, "created_at": now, "updated_at": now, "run_id": run.id})
            insert_labels.append(label)
    if updates:
        session.execute(sa.update(Person), updates)
    if inserts:
        created = session.execute(sa.insert(Person).returning(Person.id, sort_by_parameter_order=True), inserts)
        person_of_label.update(zip(insert_labels, created.scalars()))
    retire = [{"id": old, "retired_at": now, "merged_into_id": person_of_label[label], "n_records": 0,
               "updated_at": now, "run_id": run.id} for old, label in retired_into.items()]
    if retire:
        session.execute(sa.update(Person), retire)

    person_ids = [person_of_label[int(l)] for l in labels]
    changed = [{"id": rid, "person_id": pid} for rid, pid, old in zip(record_ids, person_ids, previous) if pid != old]
    if changed:
        session.execute(sa.update(SourceRecord), changed)

    session.execute(sa.delete(PersonLink))
    person_of_record = dict(zip(record_ids, person_ids))
    links = resolution.links
    link_rows = [{"person_id": person_of_record[int(a)], "record_a_id": int(a), "record_b_id": int(b), "rule": rule,
                  "score": float(score), "detail": detail if isinstance(detail, str) else None, "run_id": run.id,
                  "created_at": now}
                 for a, b, rule, score, detail in zip(links["record_a"], links["record_b"], links["rule"],
                                                      links["score"], links["detail"])]
    if link_rows:
        session.execute(sa.insert(PersonLink), link_rows)
    _rebuild_customer_map(session, rows, person_of_record)

    run.n_persons = len(persons)
    run.n_links = len(link_rows)
    run.n_rejected_links = len(resolution.rejected)
    run.finished_at = utcnow()
    session.add(run)
    session.flush()
    return RunSummary(run_id=run.id, records=len(rows), persons=len(persons), new_persons=len(inserts),
                      retired_persons=len(retire), links_by_rule=links["rule"].value_counts().to_dict(),
                      rejected_links=len(resolution.rejected), constraints=len(must) + len(cannot),
                      skipped_blocks=len(resolution.skipped_blocks))


def _stable_person_ids(labels, previous: Sequence[int | None]) -> tuple[dict[int, int], dict[int, int]]:
    """Map new cluster labels to earlier person ids by largest overlap; earlier persons not kept
    map to the label that received most of their records."""
    overlap: dict[tuple[int, int], int] = {}
    for label, old in zip(labels, previous):
        if old is not None:
            key = (int(label), int(old))
            overlap[key] = overlap.get(key, 0) + 1
    ranked = sorted(overlap.items(), key=lambda item: (-item[1], item[0][1], item[0][0]))
    person_of_label: dict[int, int] = {}
    kept: set[int] = set()
    for (label, old), _ in ranked:
        if label not in person_of_label and old not in kept:
            person_of_label[label] = old
            kept.add(old)
    retired_into: dict[int, int] = {}
    for (label, old), _ in ranked:
        if old not in kept and old not in retired_into:
            retired_into[old] = label
    return person_of_label, retired_into


def _rebuild_customer_map(session: Session, rows: Sequence[SourceRecord], person_of_record: Mapping[int, int],
                          external_ids: set[str] | None = None) -> None:
    """Point each external id at the person of its most trusted record (crm first, then oldest)."""
    from survey_engine.identity.linking import DEFAULT_SOURCE_PRIORITY

    rank = {s: k for k, s in enumerate(DEFAULT_SOURCE_PRIORITY)}
    best: dict[str, SourceRecord] = {}
    for record in rows:
        if record.external_id is None or (external_ids is not None and record.external_id not in external_ids):
            continue
        current = best.get(record.external_id)
        key = (rank.get(record.source, len(rank)), record.id)
        if current is None or key < (rank.get(current.source, len(rank)), current.id):
            best[record.external_id] = record
    statement = sa.delete(CustomerPerson)
    if external_ids is not None:
        statement = statement.where(CustomerPerson.external_id.in_(sorted(external_ids)))
    session.execute(statement)
    now = utcnow()
    mapped = [{"external_id": ext, "person_id": person_of_record[r.id], "source_record_id": r.id, "updated_at": now}
              for ext, r in sorted(best.items()) if person_of_record.get(r.id) is not None]
    if mapped:
        session.execute(sa.insert(CustomerPerson), mapped)


# ---- lookups ------------------------------------------------------------------------------------

def find_record(session: Session, ref: str | int) -> SourceRecord:
    """A source record from ``SOURCE:ID`` (e.g. ``store:POS000123``) or a bare source record id
    that only one source uses."""
    text = str(ref).strip()
    source, sep, rest = text.partition(":")
    if sep:
        record = session.execute(select(SourceRecord).where(SourceRecord.source == source.lower(),
                                                            SourceRecord.source_record_id == rest)).scalar_one_or_none()
        if record is None:
            raise NotFound(f"no source record {text!r}", field="record")
        return record
    found = list(session.execute(select(SourceRecord).where(SourceRecord.source_record_id == text)).scalars())
    if not found:
        raise NotFound(f"no source record {text!r}", field="record")
    if len(found) > 1:
        options = ", ".join(f"{r.source}:{r.source_record_id}" for r in found)
        raise ServiceError(f"{text!r} exists in several sources; write one of {options}", field="record")
    return found[0]


def find_person(session: Session, person_id: int, *, follow: bool = True) -> Person:
    """The person with this id; a retired one is followed to the person it merged into."""
    person = session.get(Person, int(person_id))
    if person is None:
        raise NotFound(f"no person {person_id}", field="person")
    seen = {person.id}
    while follow and person.retired_at is not None and person.merged_into_id is not None:
        person = session.get(Person, person.merged_into_id)
        if person.id in seen:
            break
        seen.add(person.id)
    return person


def person_for_customer(session: Session, external_id: str) -> Person | None:
    """The resolved person of a customer external id (CRM number), or ``None`` when unknown."""
    row = session.get(CustomerPerson, external_id)
    return None if row is None else find_person(session, row.person_id)


def _resolve_ref(session: Session, ref: str | int, name: str) -> tuple[Person, SourceRecord]:
    """A person and one of its records from a person id (digits) or a record reference."""
    text = str(ref).strip()
    if text.isascii() and text.isdigit():  # "²".isdigit() is true but int() refuses it
        person = session.get(Person, row_id(text)) if row_id(text) is not None else None
        if person is None:
            raise NotFound(f"{name}: no person {text}", field=name)
        if person.retired_at is not None:
            raise Conflict(f"{name}: person {text} was retired"
                           + (f" (merged into {person.merged_into_id})" if person.merged_into_id else ""), field=name)
        record = session.execute(select(SourceRecord).where(SourceRecord.person_id == person.id)
                                 .order_by(SourceRecord.id).limit(1)).scalar_one_or_none()
        if record is None:
            raise Conflict(f"{name}: person {text} has no records", field=name)
        return person, record
    try:
        record = find_record(session, text)
    except ServiceError as exc:
        raise type(exc)(f"{name}: {exc.message}", field=name) from None
    if record.person_id is None:
        raise Conflict(f"{name}: record {text!r} has not been resolved yet; run `survey-engine identity resolve`",
                       field=name)
    return session.get(Person, record.person_id), record


def _members(session: Session, person_id: int) -> list[SourceRecord]:
    return list(session.execute(select(SourceRecord).where(SourceRecord.person_id == person_id)
                                .order_by(SourceRecord.id)).scalars())


def _refresh_golden(session: Session, person: Person, members: Sequence[SourceRecord]) -> None:
    from survey_engine.identity.linking import golden_records
    from survey_engine.identity.normalise import normalise_records

    import numpy as np

    golden = golden_records(normalise_records(_records_frame(members)), np.zeros(len(members), dtype=np.int64))
    for name, value in _golden_values(golden.iloc[0].to_dict()).items():
        setattr(person, name, value)
    person.updated_at = utcnow()
    session.add(person)


# ---- manual decisions ---------------------------------------------------------------------------

def merge(session: Session, a: str | int, b: str | int, *, reason: str, decided_by: str) -> Person:
    """Make two persons one (each given as a person id or a record reference) and record why.

    The merge is a must-link between a record of each side, applied before any rule in every
    later run. Earlier splits that kept the two sides apart are lifted (the later decision wins).
    The second person's records move to the first; the second is retired, merged into the first.
    """
    if not reason or not reason.strip():
        raise ServiceError("a reason is required for a manual merge", field="reason")
    person_a, record_a = _resolve_ref(session, a, "a")
    person_b, record_b = _resolve_ref(session, b, "b")
    if person_a.id == person_b.id:
        raise Conflict(f"{a} and {b} are already the same person ({person_a.id})")
    members_a, members_b = _members(session, person_a.id), _members(session, person_b.id)
    ids_a, ids_b = {r.id for r in members_a}, {r.id for r in members_b}
    _, cannot = active_constraints(session)
    lifted = sorted(p for p in cannot if (p[0] in ids_a and p[1] in ids_b) or (p[0] in ids_b and p[1] in ids_a))
    decision = ManualDecision(kind="merge", record_a_id=record_a.id, record_b_id=record_b.id,
                              person_ids=[person_a.id, person_b.id], pairs=[list(_pair(record_a.id, record_b.id))],
                              lifted=[list(p) for p in lifted], decided_by=decided_by, reason=reason.strip())
    session.add(decision)
    now = utcnow()
    session.execute(sa.update(SourceRecord).where(SourceRecord.person_id == person_b.id)
                    .values(person_id=person_a.id, updated_at=now))
    session.execute(sa.update(PersonLink).where(PersonLink.person_id == person_b.id).values(person_id=person_a.id))
    session.execute(sa.update(CustomerPerson).where(CustomerPerson.person_id == person_b.id)
                    .values(person_id=person_a.id, updated_at=now))
    session.add(PersonLink(person_id=person_a.id, record_a_id=min(record_a.id, record_b.id),
                           record_b_id=max(record_a.id, record_b.id), rule="manual", score=1.0,
                           detail=f"merge: {reason.strip()}"[:300]))
    person_b.retired_at, person_b.merged_into_id, person_b.n_records, person_b.updated_at = now, person_a.id, 0, now
    session.add(person_b)
    session.flush()
    _refresh_golden(session, person_a, members_a + members_b)
    session.flush()
    return person_a


def split(session: Session, record_ref: str | int, *, reason: str, decided_by: str) -> Person:
    """Take one record out of its person and record why; returns the person the record is now in.

    The split is a cannot-link between the record and every other record of its person, applied
    in every later run; earlier merges that tied the record in are lifted. The rest of the person
    is re-clustered at once from its stored links (records that were held together only through
    the split record fall apart accordingly); the largest part keeps the person id.
    """
    from survey_engine.identity.linking import RULE_PRIORITY
    from survey_engine.identity.unionfind import UnionFind

    if not reason or not reason.strip():
        raise ServiceError("a reason is required for a manual split", field="reason")
    record = find_record(session, record_ref)
    if record.person_id is None:
        raise Conflict(f"record {record_ref!r} has not been resolved yet; run `survey-engine identity resolve`",
                       field="record")
    person = session.get(Person, record.person_id)
    members = _members(session, person.id)
    if len(members) == 1:
        raise Conflict(f"record {record_ref!r} is already the only record of person {person.id}", field="record")
    others = [m.id for m in members if m.id != record.id]
    must, cannot = active_constraints(session)
    lifted = sorted(p for p in must if record.id in p)
    decision = ManualDecision(kind="split", record_a_id=record.id, person_ids=[person.id],
                              pairs=[list(_pair(record.id, o)) for o in others], lifted=[list(p) for p in lifted],
                              decided_by=decided_by, reason=reason.strip())
    session.add(decision)
    session.flush()

    must, cannot = active_constraints(session)
    index = {m.id: k for k, m in enumerate(members)}
    links = list(session.execute(select(PersonLink).where(PersonLink.person_id == person.id)).scalars())
    uf = UnionFind(len(members), cannot_link=[(index[a], index[b]) for a, b in cannot if a in index and b in index])
    for a, b in sorted(p for p in must if p[0] in index and p[1] in index):
        uf.union(index[a], index[b])
    kept_links = []
    for link in sorted(links, key=lambda l: (RULE_PRIORITY.get(l.rule, 99), -l.score, l.id)):
        if uf.union(index[link.record_a_id], index[link.record_b_id]) or uf.connected(
                index[link.record_a_id], index[link.record_b_id]):
            kept_links.append(link)
        else:
            session.delete(link)
    labels = uf.labels()
    groups: dict[int, list[SourceRecord]] = {}
    for member, label in zip(members, labels):
        groups.setdefault(int(label), []).append(member)
    # the largest part keeps the id (ties: the part holding the oldest record)
    ordered = sorted(groups.values(), key=lambda g: (-len(g), g[0].id))
    now = utcnow()
    person_of_record: dict[int, int] = {}
    for k, group in enumerate(ordered):
        target = person if k == 0 else Person(created_at=now, updated_at=now)
        if k:
            session.add(target)
            session.flush()
        for member in group:
            member.person_id, member.updated_at = target.id, now
            person_of_record[member.id] = target.id
            session.add(member)
        _refresh_golden(session, target, group)
    for link in kept_links:
        link.person_id = person_of_record[link.record_a_id]
        session.add(link)
    external = {m.external_id for m in members if m.external_id}
    if external:
        rows = list(session.execute(select(SourceRecord).where(SourceRecord.external_id.in_(sorted(external)))).scalars())
        _rebuild_customer_map(session, rows, {r.id: r.person_id for r in rows}, external_ids=external)
    session.flush()
    return session.get(Person, person_of_record[record.id])


# ---- presentation -------------------------------------------------------------------------------

def record_public(record: SourceRecord) -> dict[str, Any]:
    return {"id": record.id, "ref": f"{record.source}:{record.source_record_id}", "source": record.source,
            "source_record_id": record.source_record_id, "external_id": record.external_id,
            "first_name": record.first_name, "last_name": record.last_name, "email": record.email,
            "phone": record.phone, "postcode": record.postcode, "city": record.city, "country": record.country,
            "created_at": record.source_created_at.isoformat() if record.source_created_at else None,
            "person_id": record.person_id}


def person_public(session: Session, person: Person) -> dict[str, Any]:
    """Everything about a person: golden record, records, links, manual decisions, customer ids."""
    members = _members(session, person.id)
    refs = {m.id: f"{m.source}:{m.source_record_id}" for m in members}
    links = list(session.execute(select(PersonLink).where(PersonLink.person_id == person.id)
                                 .order_by(PersonLink.id)).scalars())
    ids = sorted(refs)
    decisions = list(session.execute(
        select(ManualDecision).where(sa.or_(ManualDecision.record_a_id.in_(ids), ManualDecision.record_b_id.in_(ids)))
        .order_by(ManualDecision.id)).scalars()) if ids else []
    customers = sorted(session.execute(select(CustomerPerson.external_id)
                                       .where(CustomerPerson.person_id == person.id)).scalars())

    def ref(record_id: int) -> str:
        if record_id in refs:
            return refs[record_id]
        other = session.get(SourceRecord, record_id)
        return f"{other.source}:{other.source_record_id}" if other else str(record_id)

    return {
        "id": person.id,
        "golden": {f: getattr(person, f) for f in _GOLDEN_FIELDS},
        "sources": person.sources, "n_records": len(members),
        "first_seen": person.first_seen.isoformat() if person.first_seen else None,
        "last_seen": person.last_seen.isoformat() if person.last_seen else None,
        "provenance": {k: ref(v) for k, v in (person.provenance or {}).items()},
        "retired_at": person.retired_at.isoformat() if person.retired_at else None,
        "merged_into": person.merged_into_id,
        "customer_ids": customers,
        "records": [record_public(m) for m in members],
        "links": [{"a": ref(l.record_a_id), "b": ref(l.record_b_id), "rule": l.rule, "score": round(l.score, 6),
                   "detail": l.detail} for l in links],
        "decisions": [{"id": d.id, "kind": d.kind, "a": ref(d.record_a_id),
                       "b": ref(d.record_b_id) if d.record_b_id else None, "by": d.decided_by,
                       "at": d.decided_at.isoformat(), "reason": d.reason} for d in decisions],
    }
