"""Tables of identity resolution: source records as received, the persons they resolve to (golden
records), the links that joined them, manual merge/split decisions, resolution runs, and the map
from customer external ids (CRM numbers used by invitations and transactions) to persons."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from survey_engine.models.base import json_field, timestamp_field


class IdentityRun(SQLModel, table=True):
    """One full resolution: its parameters, the fitted linkage model and what it produced."""

    __tablename__ = "identity_run"

    id: Optional[int] = Field(default=None, primary_key=True)
    started_at: datetime = timestamp_field(default_now=True)
    finished_at: Optional[datetime] = timestamp_field(nullable=True)
    triggered_by: str = Field(default="", max_length=200)
    parameters: dict[str, Any] = json_field()  # IdentityResolver parameters
    model: dict[str, Any] = json_field()  # prior, match weights per comparison level
    n_records: int = 0
    n_persons: int = 0
    n_links: int = 0
    n_rejected_links: int = 0
    n_constraints: int = 0


class Person(SQLModel, table=True):
    """A resolved person and their golden record. Ids are kept across runs: a rerun gives each
    cluster the id of the earlier person most of its records belonged to; a person whose records
    all went elsewhere is retired (``retired_at``, ``merged_into_id``), never deleted."""

    __tablename__ = "identity_person"

    id: Optional[int] = Field(default=None, primary_key=True)
    first_name: Optional[str] = Field(default=None, max_length=200)
    last_name: Optional[str] = Field(default=None, max_length=200)
    email: Optional[str] = Field(default=None, max_length=320, index=True)
    phone: Optional[str] = Field(default=None, max_length=50)
    postcode: Optional[str] = Field(default=None, max_length=30)
    city: Optional[str] = Field(default=None, max_length=200)
    country: Optional[str] = Field(default=None, max_length=2)
    external_id: Optional[str] = Field(default=None, max_length=100)
    sources: list[str] = json_field(default_factory=list)
    n_records: int = 0
    first_seen: Optional[datetime] = timestamp_field(nullable=True)
    last_seen: Optional[datetime] = timestamp_field(nullable=True)
    provenance: dict[str, Any] = json_field()  # golden field -> source record id it came from
    created_at: datetime = timestamp_field(default_now=True)
    updated_at: datetime = timestamp_field(default_now=True)
    retired_at: Optional[datetime] = timestamp_field(nullable=True)
    merged_into_id: Optional[int] = Field(default=None, foreign_key="identity_person.id")
    run_id: Optional[int] = Field(default=None, foreign_key="identity_run.id")


class SourceRecord(SQLModel, table=True):
    """A customer record exactly as one source system sent it; ``(source, source_record_id)`` is
    unique, so a re-import updates the record instead of adding a copy."""

    __tablename__ = "identity_source_record"
    __table_args__ = (
        sa.UniqueConstraint("source", "source_record_id", name="uq_identity_source_record"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    source: str = Field(max_length=50)
    source_record_id: str = Field(max_length=100, index=True)
    external_id: Optional[str] = Field(default=None, max_length=100, index=True)
    first_name: Optional[str] = Field(default=None, max_length=200)
    last_name: Optional[str] = Field(default=None, max_length=200)
    email: Optional[str] = Field(default=None, max_length=320)
    phone: Optional[str] = Field(default=None, max_length=50)
    postcode: Optional[str] = Field(default=None, max_length=30)
    city: Optional[str] = Field(default=None, max_length=200)
    country: Optional[str] = Field(default=None, max_length=2)
    source_created_at: Optional[datetime] = timestamp_field(nullable=True)
    imported_at: datetime = timestamp_field(default_now=True)
    updated_at: datetime = timestamp_field(default_now=True)
    person_id: Optional[int] = Field(default=None, foreign_key="identity_person.id", index=True)


class PersonLink(SQLModel, table=True):
    """Evidence that two records are one person: the rule that linked them and its score
    (1 for identifiers and manual merges, the match probability for the fuzzy rule)."""

    __tablename__ = "identity_person_link"

    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="identity_person.id", index=True)
    record_a_id: int = Field(foreign_key="identity_source_record.id", index=True)
    record_b_id: int = Field(foreign_key="identity_source_record.id", index=True)
    rule: str = Field(max_length=20)
    score: float
    detail: Optional[str] = Field(default=None, max_length=300)
    run_id: Optional[int] = Field(default=None, foreign_key="identity_run.id")
    created_at: datetime = timestamp_field(default_now=True)


class ManualDecision(SQLModel, table=True):
    """A merge or split made by a person, applied before every rule in each later run.

    ``pairs`` are the record-id pairs the decision imposes (must-links for a merge, cannot-links
    for a split); ``lifted`` the earlier opposite constraints it overrides (a later decision wins).
    """

    __tablename__ = "identity_manual_decision"

    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)  # merge | split
    record_a_id: int = Field(foreign_key="identity_source_record.id", index=True)
    record_b_id: Optional[int] = Field(default=None, foreign_key="identity_source_record.id")
    person_ids: list[int] = json_field(default_factory=list)  # persons involved at decision time
    pairs: list[list[int]] = json_field(default_factory=list)
    lifted: list[list[int]] = json_field(default_factory=list)
    decided_by: str = Field(max_length=200)
    decided_at: datetime = timestamp_field(default_now=True)
    reason: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))


class CustomerPerson(SQLModel, table=True):
    """Which person a customer external id (the CRM number on invitations and transactions)
    belongs to, so surveys and transactions attach to the resolved person."""

    __tablename__ = "identity_customer_person"

    external_id: str = Field(primary_key=True, max_length=100)
    person_id: int = Field(foreign_key="identity_person.id", index=True)
    source_record_id: int = Field(foreign_key="identity_source_record.id")
    updated_at: datetime = timestamp_field(default_now=True)


__all__ = ["CustomerPerson", "IdentityRun", "ManualDecision", "Person", "PersonLink", "SourceRecord"]
