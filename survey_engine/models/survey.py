"""Tables of the respondent flow: questionnaires and their versions, customers, invitations,
responses, and staff API keys."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from survey_engine.models.base import json_field, timestamp_field, utcnow


class Questionnaire(SQLModel, table=True):
    __tablename__ = "questionnaire"

    id: str = Field(primary_key=True, max_length=100)
    title: str = Field(max_length=300)
    created_at: datetime = timestamp_field(default_now=True)


class QuestionnaireVersion(SQLModel, table=True):
    """One immutable revision of a questionnaire; a changed file makes a new row."""

    __tablename__ = "questionnaire_version"
    __table_args__ = (
        sa.UniqueConstraint("questionnaire_id", "version", name="uq_questionnaire_version"),
        sa.UniqueConstraint("questionnaire_id", "content_hash", name="uq_questionnaire_content"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    questionnaire_id: str = Field(foreign_key="questionnaire.id", index=True, max_length=100)
    version: int
    file_version: int
    content_hash: str = Field(max_length=64)
    source_file: str = Field(max_length=500)
    spec: dict[str, Any] = json_field()
    created_at: datetime = timestamp_field(default_now=True)


class Customer(SQLModel, table=True):
    __tablename__ = "customer"

    id: Optional[int] = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=100, unique=True, index=True)
    first_name: Optional[str] = Field(default=None, max_length=200)
    last_name: Optional[str] = Field(default=None, max_length=200)
    email: Optional[str] = Field(default=None, max_length=320, index=True)
    phone: Optional[str] = Field(default=None, max_length=50)
    postcode: Optional[str] = Field(default=None, max_length=30)
    country: Optional[str] = Field(default=None, max_length=2)
    preferred_language: Optional[str] = Field(default=None, max_length=10)
    consent_marketing: bool = False
    consent_profiling: bool = False
    created_at: datetime = timestamp_field(default_now=True)


class Invitation(SQLModel, table=True):
    """A tokenised invitation to answer one questionnaire version after one order.

    Only the SHA-256 of the token is stored, so a database leak does not leak live links.
    """

    __tablename__ = "invitation"
    __table_args__ = (
        sa.UniqueConstraint("customer_id", "order_id", "questionnaire_id", name="uq_invitation_order"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    order_id: str = Field(max_length=100)
    questionnaire_id: str = Field(foreign_key="questionnaire.id", max_length=100)
    questionnaire_version_id: int = Field(foreign_key="questionnaire_version.id", index=True)
    language: Optional[str] = Field(default=None, max_length=10)
    created_at: datetime = timestamp_field(default_now=True)
    expires_at: datetime = timestamp_field()
    opened_at: Optional[datetime] = timestamp_field(nullable=True)
    started_at: Optional[datetime] = timestamp_field(nullable=True)
    completed_at: Optional[datetime] = timestamp_field(nullable=True)


class Response(SQLModel, table=True):
    """The answers given through one invitation: a draft until submitted, then immutable."""

    __tablename__ = "response"

    id: Optional[int] = Field(default=None, primary_key=True)
    invitation_id: int = Field(foreign_key="invitation.id", unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    questionnaire_version_id: int = Field(foreign_key="questionnaire_version.id", index=True)
    status: str = Field(default="draft", max_length=20, index=True)
    language: str = Field(max_length=10)
    answers: dict[str, Any] = json_field()
    channel: str = Field(default="web", max_length=20)
    started_at: datetime = timestamp_field(default_now=True)
    updated_at: datetime = timestamp_field(default_now=True)
    submitted_at: Optional[datetime] = timestamp_field(nullable=True, index=True)
    duration_seconds: Optional[float] = None


class ApiKey(SQLModel, table=True):
    """A staff API key; the secret part is stored only as a SHA-256 hash."""

    __tablename__ = "api_key"

    id: Optional[int] = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=16, unique=True, index=True)
    key_hash: str = Field(max_length=64)
    role: str = Field(max_length=20)
    name: str = Field(default="", max_length=200)
    created_at: datetime = timestamp_field(default_now=True)
    last_used_at: Optional[datetime] = timestamp_field(nullable=True)
    revoked_at: Optional[datetime] = timestamp_field(nullable=True)


ROLES = ("researcher", "marketer", "admin")

__all__ = ["ApiKey", "Customer", "Invitation", "Questionnaire", "QuestionnaireVersion", "ROLES", "Response", "utcnow"]
