"""Privacy requests of one person: export everything held about them as JSON, or erase it.

The person's data are found through identity resolution: the person (and the earlier persons
merged into them), their source records, the customer numbers mapped to them, the customer rows,
invitations, responses (answers, free text), archetype assignments, transactions, customer
values, cached embeddings of their answers, their profile, profile history, notes, corrections,
contacts and webhook deliveries. One list of (table, condition) serves both the export and the
erasure, so whatever is exported is what is erased.

Erasure deletes those rows in one transaction and keeps aggregates valid: fitted factor, CLV and
theme models, refresh and export runs keep their counts and parameters (they hold no personal
data). The person's answer embeddings are also removed from the exemplars kept inside fitted
archetype assigners. The erasure log records when, by whom and how many rows per table, and
nothing that identifies the person.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, select

from survey_engine.models import Customer, Invitation, Response
from survey_engine.models.archetypes import ArchetypeAssignment, EmbeddingCacheEntry
from survey_engine.models.base import utcnow
from survey_engine.models.clv import CustomerValue, Transaction
from survey_engine.models.identity import CustomerPerson, ManualDecision, Person, PersonLink, SourceRecord
from survey_engine.models.profiles import (
    AdvisorNote,
    ArchetypeCorrection,
    ContactEvent,
    DeadLetter,
    ErasureLog,
    FittedAssigner,
    Profile,
    ProfileHistory,
    WebhookDelivery,
)
from survey_engine.services.survey import ServiceError

_BATCH = 500


@dataclass
class Subject:
    """Keys of everything held about one person."""

    person_id: int
    persons: list[int]
    records: list[int]
    external_ids: list[str]
    customers: list[int]
    responses: list[int]
    embedding_keys: list[str] = field(default_factory=list)


def _in(column, values: list) -> list:
    """``column IN values`` split into batches (empty list when there are no values)."""
    return [column.in_(values[i:i + _BATCH]) for i in range(0, len(values), _BATCH)]


def _subject(session: Session, person_id: int) -> Subject:
    from survey_engine.text.embeddings import normalise_text, text_key

    persons = {person_id}
    while True:  # earlier persons merged into this one, at any depth
        more = set(session.execute(sa.select(Person.id).where(Person.merged_into_id.in_(sorted(persons)))).scalars())
        if more <= persons:
            break
        persons |= more
    persons_list = sorted(persons)
    records = sorted(session.execute(sa.select(SourceRecord.id).where(SourceRecord.person_id.in_(persons_list))).scalars())
    mapped = set(session.execute(sa.select(CustomerPerson.external_id)
                                 .where(CustomerPerson.person_id.in_(persons_list))).scalars())
    on_records = set(session.execute(sa.select(SourceRecord.external_id).where(
        SourceRecord.person_id.in_(persons_list), SourceRecord.external_id.is_not(None))).scalars())
    elsewhere = set(session.execute(sa.select(CustomerPerson.external_id).where(
        CustomerPerson.external_id.in_(sorted(on_records)), CustomerPerson.person_id.not_in(persons_list))).scalars())
    external_ids = sorted(mapped | (on_records - elsewhere))
    customers = sorted(c for condition in _in(Customer.external_id, external_ids)
                       for c in session.execute(sa.select(Customer.id).where(condition)).scalars())
    responses, texts = [], []
    for condition in _in(Response.customer_id, customers):
        for response_id, answers in session.execute(sa.select(Response.id, Response.answers).where(condition)):
            responses.append(response_id)
            texts += [normalise_text(v) for v in (answers or {}).values() if isinstance(v, str)]
    models = list(session.execute(sa.select(EmbeddingCacheEntry.model_id).distinct()).scalars())
    keys = sorted({text_key(t, m) for t in texts if t for m in models})
    return Subject(person_id, persons_list, records, external_ids, customers, sorted(responses), keys)


def _targets(subject: Subject) -> list[tuple[Any, list]]:
    """(table, conditions) of every row held about the subject, in an order that deletes
    dependents before what they reference."""
    persons, records = subject.persons, subject.records
    return [
        (DeadLetter, _in(DeadLetter.person_id, persons)),
        (WebhookDelivery, _in(WebhookDelivery.person_id, persons)),
        (ProfileHistory, _in(ProfileHistory.person_id, persons)),
        (ContactEvent, _in(ContactEvent.person_id, persons)),
        (AdvisorNote, _in(AdvisorNote.person_id, persons)),
        (ArchetypeCorrection, _in(ArchetypeCorrection.person_id, persons)),
        (Profile, _in(Profile.person_id, persons)),
        (ArchetypeAssignment, _in(ArchetypeAssignment.customer_id, subject.customers)),
        (Response, _in(Response.customer_id, subject.customers)),
        (Invitation, _in(Invitation.customer_id, subject.customers)),
        (CustomerValue, _in(CustomerValue.customer_external_id, subject.external_ids)),
        (Transaction, _in(Transaction.customer_external_id, subject.external_ids)),
        (EmbeddingCacheEntry, _in(EmbeddingCacheEntry.key, subject.embedding_keys)),
        (CustomerPerson, _in(CustomerPerson.person_id, persons) + _in(CustomerPerson.external_id, subject.external_ids)),
        (PersonLink, _in(PersonLink.person_id, persons) + _in(PersonLink.record_a_id, records)
         + _in(PersonLink.record_b_id, records)),
        (ManualDecision, _in(ManualDecision.record_a_id, records) + _in(ManualDecision.record_b_id, records)),
        (SourceRecord, _in(SourceRecord.id, records)),
        (Customer, _in(Customer.id, subject.customers)),
        (Person, _in(Person.id, persons)),
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if len(data) % 4 == 0:
            return {"float32": np.frombuffer(data, dtype="<f4").round(6).tolist()}
        return {"base64": base64.b64encode(data).decode("ascii")}
    return value


def export_person(session: Session, person_id: int) -> dict[str, Any]:
    """Everything held about the person, as JSON-ready data keyed by table name."""
    subject = _subject(session, person_id)
    out: dict[str, Any] = {"person_id": person_id, "exported_at": utcnow().isoformat(),
                           "merged_person_ids": [p for p in subject.persons if p != person_id], "tables": {}}
    for model, conditions in _targets(subject):
        table = model.__table__
        rows, seen = [], set()
        for condition in conditions:
            for row in session.execute(sa.select(table).where(condition)).mappings():
                key = tuple(row[c.name] for c in table.primary_key.columns)
                if key not in seen:
                    seen.add(key)
                    rows.append({name: _plain(value) for name, value in row.items()})
        out["tables"][table.name] = rows
    return out


def _strip_exemplars(session: Session, vectors: list[np.ndarray]) -> int:
    """Remove the person's answer embeddings from the customer exemplars of fitted assigners."""
    from survey_engine.services import profile_models

    if not vectors:
        return 0
    mine = np.vstack(vectors).astype(np.float32)
    removed = 0
    for row in session.exec(select(FittedAssigner)).all():
        with np.load(io.BytesIO(row.state), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        exemplars = arrays["exemplars_"]
        n_customer = exemplars.shape[0] - (len(row.params["prototypes"]["texts"]) if row.params.get("prototypes") else 0)
        if n_customer <= 0 or exemplars.shape[1] != mine.shape[1]:
            continue
        close = (np.abs(exemplars[:n_customer, None, :] - mine[None, :, :]).max(axis=2) < 1e-6).any(axis=1)
        if not close.any():
            continue
        keep = np.concatenate([~close, np.ones(exemplars.shape[0] - n_customer, dtype=bool)])
        for name in ("exemplars_", "exemplar_labels_", "exemplar_weights_"):
            arrays[name] = arrays[name][keep]
        row.state = profile_models._npz(arrays)
        session.add(row)
        removed += int(close.sum())
        with profile_models._lock:
            profile_models._assigners.pop(row.id, None)
    return removed


def erase_person(session: Session, person_id: int, *, requested_by: str) -> ErasureLog:
    """Delete everything held about the person (see the module docstring) and log the erasure.

    Works in the caller's session; nothing is deleted unless the caller commits.
    """
    if not requested_by or not requested_by.strip():
        raise ServiceError("say who requested the erasure (a staff name)", field="requested_by")
    subject = _subject(session, person_id)
    vectors = [np.frombuffer(v, dtype="<f4") for condition in _in(EmbeddingCacheEntry.key, subject.embedding_keys)
               for v in session.execute(sa.select(EmbeddingCacheEntry.vector).where(condition)).scalars()]
    counts = {"profile_fitted_assigner.exemplars": _strip_exemplars(session, vectors)}
    session.execute(sa.update(Person).where(Person.id.in_(subject.persons)).values(merged_into_id=None))
    for model, conditions in _targets(subject):
        deleted = 0
        for condition in conditions:
            deleted += session.execute(sa.delete(model).where(condition)).rowcount or 0
        counts[model.__table__.name] = deleted
    log_row = ErasureLog(requested_by=requested_by.strip()[:200], rows_deleted=counts)
    session.add(log_row)
    session.flush()
    return log_row
