"""Tables of combined client profiles: one profile per resolved person, the history of its
assignments, advisor notes and archetype corrections, contacts, CRM export runs, webhook
subscriptions and deliveries (with a dead-letter table), fitted archetype assigners kept for
scoring new responses, the free-text theme model, refresh runs and the erasure log.

Profiles carry a change sequence number (``change_seq``) drawn from ``profile_sequence``; the
number only grows, so an export or a webhook consumer can ask for "everything after N".
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from survey_engine.models.base import json_field, timestamp_field


class ProfileSequence(SQLModel, table=True):
    """A named counter; ``profiles`` numbers profile changes. Writers take the row lock while they
    allocate, so numbers become visible in the order they were handed out."""

    __tablename__ = "profile_sequence"

    name: str = Field(primary_key=True, max_length=50)
    value: int = Field(default=0, sa_column=sa.Column(sa.BigInteger(), nullable=False, server_default="0"))


class Profile(SQLModel, table=True):
    """The combined profile of one person: value, archetypes, factors, themes, consent, contact
    policy and the next best action, with the model versions behind them. The reasons of an
    archetype are those of the assignment ``model_versions`` names (read, not copied)."""

    __tablename__ = "profile"

    person_id: int = Field(primary_key=True, foreign_key="identity_person.id", sa_column_kwargs={"autoincrement": False})
    customer_id: Optional[str] = Field(default=None, max_length=100)  # main CRM number of the person
    customer_ids: list[str] = json_field(default_factory=list)
    # value (CLV model applied to the person's transactions from all their customer numbers)
    value_tier: Optional[str] = Field(default=None, max_length=20, index=True)
    past_spend_tier: Optional[str] = Field(default=None, max_length=20)
    tier_score: Optional[float] = None
    clv: Optional[float] = None
    p_alive: Optional[float] = None
    expected_purchases: Optional[float] = None
    expected_average_value: Optional[float] = None
    total_spend: Optional[float] = None
    n_orders: Optional[int] = None
    category_breadth: Optional[int] = None
    first_purchase_at: Optional[datetime] = timestamp_field(nullable=True)
    last_purchase_at: Optional[datetime] = timestamp_field(nullable=True)
    rising: bool = False
    lapse_risk: bool = False
    upgrade_propensity: Optional[float] = None
    # archetypes (model assignment, or an advisor's correction, which takes precedence)
    style_archetype: Optional[str] = Field(default=None, max_length=100, index=True)
    style_membership: Optional[float] = None
    style_source: Optional[str] = Field(default=None, max_length=20)  # model | advisor
    style_memberships: dict[str, Any] = json_field()
    relationship_style: Optional[str] = Field(default=None, max_length=100, index=True)
    relationship_membership: Optional[float] = None
    relationship_source: Optional[str] = Field(default=None, max_length=20)
    relationship_memberships: dict[str, Any] = json_field()
    # survey
    factor_scores: dict[str, Any] = json_field()
    themes: list[Any] = json_field(default_factory=list)
    themes_text: Optional[str] = Field(default=None, max_length=500)
    response_id: Optional[int] = None
    last_survey_at: Optional[datetime] = timestamp_field(nullable=True)
    surveys_completed: int = 0
    # consent and contact policy
    consent_marketing: bool = False
    consent_profiling: bool = False
    contact_cap: int = 0
    contact_month: Optional[str] = Field(default=None, max_length=7)
    contacts_used: int = 0
    contacts_remaining: int = 0
    preferred_channel: Optional[str] = Field(default=None, max_length=50)
    next_best_action: Optional[str] = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    model_versions: dict[str, Any] = json_field()
    created_at: datetime = timestamp_field(default_now=True)
    updated_at: datetime = timestamp_field(default_now=True)
    change_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False, unique=True, index=True))


class ProfileHistory(SQLModel, table=True):
    """One change of a person's assignments (value tier, flags, style archetype, relationship
    style), with the values before and after and the model versions that produced the new ones."""

    __tablename__ = "profile_history"
    __table_args__ = (sa.Index("ix_profile_history_person_at", "person_id", "changed_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = Field(index=True)
    change_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    changed_at: datetime = timestamp_field(index=True)
    source: str = Field(max_length=30)  # refresh | response | transactions | correction | contact
    changes: dict[str, Any] = json_field()  # field -> [before, after]
    value_tier: Optional[str] = Field(default=None, max_length=20)
    style_archetype: Optional[str] = Field(default=None, max_length=100)
    relationship_style: Optional[str] = Field(default=None, max_length=100)
    rising: bool = False
    lapse_risk: bool = False
    p_alive: Optional[float] = None
    clv: Optional[float] = None
    total_spend: Optional[float] = None
    model_versions: dict[str, Any] = json_field()


class ContactEvent(SQLModel, table=True):
    """An outreach to a client (counted against the monthly contact cap)."""

    __tablename__ = "profile_contact"
    __table_args__ = (sa.Index("ix_profile_contact_person_at", "person_id", "occurred_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="identity_person.id")
    channel: str = Field(max_length=50)
    occurred_at: datetime = timestamp_field()
    note: Optional[str] = Field(default=None, max_length=1000)
    recorded_by: str = Field(max_length=200)


class AdvisorNote(SQLModel, table=True):
    """A client advisor's note on a profile."""

    __tablename__ = "profile_note"

    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="identity_person.id", index=True)
    author: str = Field(max_length=200)
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    created_at: datetime = timestamp_field(default_now=True)


class ArchetypeCorrection(SQLModel, table=True):
    """An advisor's corrected archetype for a person in one catalog. The latest correction per
    person and catalog is shown on the profile (it takes precedence over the model) and is a
    label in the next archetype fit."""

    __tablename__ = "profile_archetype_correction"

    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="identity_person.id", index=True)
    catalog_id: str = Field(max_length=100)
    archetype_id: str = Field(max_length=100)
    previous_archetype: Optional[str] = Field(default=None, max_length=100)
    reason: Optional[str] = Field(default=None, max_length=1000)
    author: str = Field(max_length=200)
    created_at: datetime = timestamp_field(default_now=True)
    used_in_run: Optional[str] = Field(default=None, max_length=36)  # archetype assignment run that used it


class FittedAssigner(SQLModel, table=True):
    """The fitted archetype assigner of one catalog in one assignment run, kept so that a new
    response is assigned with the same model at once (no refit). ``state`` is an ``.npz`` archive of
    the learned arrays (no pickle); ``params`` the estimator parameters and scalars."""

    __tablename__ = "profile_fitted_assigner"
    __table_args__ = (sa.UniqueConstraint("run_id", "catalog_id", name="uq_profile_fitted_assigner"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=36, index=True)
    questionnaire_id: str = Field(max_length=100)
    catalog_id: str = Field(max_length=100)
    catalog_version: str = Field(max_length=150)
    factor_model_id: Optional[int] = Field(default=None, foreign_key="factor_model.id")
    embedding_model_id: Optional[str] = Field(default=None, max_length=200)
    text_items: list[str] = json_field(default_factory=list)
    params: dict[str, Any] = json_field()
    state: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    n_customers: int = 0
    created_at: datetime = timestamp_field(default_now=True)


class ThemeModel(SQLModel, table=True):
    """Themes of free-text answers: centroids of clustered answer embeddings and their
    distinctive terms (c-TF-IDF). Only aggregate terms are kept, never an answer."""

    __tablename__ = "profile_theme_model"

    id: Optional[int] = Field(default=None, primary_key=True)
    embedding_model_id: str = Field(max_length=200)
    text_items: list[str] = json_field(default_factory=list)
    themes: list[Any] = json_field(default_factory=list)  # [{id, title, terms, size}]
    centroids: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    dim: int
    n_answers: int
    created_at: datetime = timestamp_field(default_now=True)


class ProfileRefresh(SQLModel, table=True):
    """One refresh of profiles (all persons, or the persons touched by a response or an import).

    A full refresh stores ``reference``: the tier score distribution, cut-offs and observation end
    that single-person updates use until the next full refresh."""

    __tablename__ = "profile_refresh"

    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # full | persons
    source: str = Field(max_length=30)
    status: str = Field(default="running", max_length=20)  # running | completed | failed
    started_at: datetime = timestamp_field(default_now=True)
    finished_at: Optional[datetime] = timestamp_field(nullable=True)
    as_of: Optional[datetime] = timestamp_field(nullable=True)
    n_persons: int = 0
    n_changed: int = 0
    n_history: int = 0
    n_deliveries: int = 0
    model_versions: dict[str, Any] = json_field()
    reference: dict[str, Any] = json_field()
    error: Optional[str] = Field(default=None, max_length=2000)


class ExportRun(SQLModel, table=True):
    """One CRM export: format, destination, cursor range and what was written."""

    __tablename__ = "profile_export_run"

    id: Optional[int] = Field(default=None, primary_key=True)
    format: str = Field(max_length=20)
    destination: str = Field(max_length=100, index=True)
    since_cursor: int = Field(default=0, sa_column=sa.Column(sa.BigInteger(), nullable=False))
    next_cursor: Optional[int] = Field(default=None, sa_column=sa.Column(sa.BigInteger(), nullable=True))
    file: Optional[str] = Field(default=None, max_length=1000)
    status: str = Field(default="running", max_length=20)
    rows_written: int = 0
    rows_without_consent: int = 0
    rows_without_key: int = 0
    started_at: datetime = timestamp_field(default_now=True)
    finished_at: Optional[datetime] = timestamp_field(nullable=True)
    triggered_by: str = Field(default="", max_length=200)
    error: Optional[str] = Field(default=None, max_length=2000)


class WebhookSubscription(SQLModel, table=True):
    """A subscriber receiving profile changes as signed JSON."""

    __tablename__ = "webhook_subscription"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    url: str = Field(max_length=1000)
    secret: str = Field(max_length=200)
    fields: list[str] = json_field(default_factory=list)
    consent: list[str] = json_field(default_factory=list)  # consents a person needs to be sent
    active: bool = True
    max_attempts: int = 6
    timeout_seconds: float = 10.0
    created_at: datetime = timestamp_field(default_now=True)


class WebhookDelivery(SQLModel, table=True):
    """One profile change to send to one subscriber, with its retry state."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="webhook_subscription.id", index=True)
    person_id: Optional[int] = Field(default=None, index=True)
    change_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    event: str = Field(default="profile.changed", max_length=50)
    payload: dict[str, Any] = json_field()
    status: str = Field(default="pending", max_length=20)  # pending | delivered | dead
    attempts: int = 0
    next_attempt_at: datetime = timestamp_field(default_now=True)
    last_status_code: Optional[int] = None
    last_error: Optional[str] = Field(default=None, max_length=1000)
    created_at: datetime = timestamp_field(default_now=True)
    delivered_at: Optional[datetime] = timestamp_field(nullable=True)


class DeadLetter(SQLModel, table=True):
    """A delivery that failed its last attempt; ``webhooks replay`` sends it again."""

    __tablename__ = "webhook_dead_letter"

    id: Optional[int] = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    subscription_id: int = Field(foreign_key="webhook_subscription.id", index=True)
    person_id: Optional[int] = Field(default=None, index=True)
    attempts: int
    last_error: Optional[str] = Field(default=None, max_length=1000)
    failed_at: datetime = timestamp_field(default_now=True)
    replayed_at: Optional[datetime] = timestamp_field(nullable=True)


class ErasureLog(SQLModel, table=True):
    """That an erasure happened, when, by whom (a staff name) and how many rows each table lost.
    Nothing here identifies the person erased."""

    __tablename__ = "privacy_erasure_log"

    id: Optional[int] = Field(default=None, primary_key=True)
    erased_at: datetime = timestamp_field(default_now=True)
    requested_by: str = Field(max_length=200)
    rows_deleted: dict[str, Any] = json_field()


__all__ = [
    "AdvisorNote", "ArchetypeCorrection", "ContactEvent", "DeadLetter", "ErasureLog", "ExportRun", "FittedAssigner",
    "Profile", "ProfileHistory", "ProfileRefresh", "ProfileSequence", "ThemeModel", "WebhookDelivery",
    "WebhookSubscription",
]
