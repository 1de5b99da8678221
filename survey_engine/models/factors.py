"""Fitted factor models: immutable, versioned records with one active model per questionnaire."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, SQLModel

from survey_engine.models.base import json_field, timestamp_field

FIT_STATUSES = ("fitted", "failed")


class FactorModelRecord(SQLModel, table=True):
    """One factor-analysis fit of one questionnaire version's stored responses.

    ``results`` holds the full report and the model state needed to score new responses
    (``FactorModel.to_dict``). A record never changes after it is written, except ``is_active``;
    at most one record per questionnaire is active (a partial unique index enforces it), and a
    failed fit is stored with ``status="failed"`` and is never active.
    """

    __tablename__ = "factor_model"
    __table_args__ = (
        sa.Index("uq_factor_model_active", "questionnaire_id", unique=True,
                 sqlite_where=sa.text("is_active"), postgresql_where=sa.text("is_active")),
        sa.CheckConstraint("status IN ('fitted', 'failed')", name="ck_factor_model_status"),
        sa.CheckConstraint("NOT (is_active AND status <> 'fitted')", name="ck_factor_model_active_fitted"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    questionnaire_id: str = Field(foreign_key="questionnaire.id", index=True, max_length=100)
    questionnaire_version_id: int = Field(foreign_key="questionnaire_version.id", index=True)
    questionnaire_version: int
    status: str = Field(max_length=20)
    is_active: bool = Field(default=False)
    n_responses: int = 0
    n_respondents: int = 0
    first_response_id: Optional[int] = None
    last_response_id: Optional[int] = None
    data_hash: str = Field(default="", max_length=64)
    options: dict[str, Any] = json_field()
    results: dict[str, Any] = json_field()
    error: Optional[str] = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    created_at: datetime = timestamp_field(default_now=True)


@event.listens_for(OrmSession, "before_flush")
def _records_are_immutable(session, flush_context, instances) -> None:
    for obj in session.dirty:
        if not isinstance(obj, FactorModelRecord) or not session.is_modified(obj):
            continue
        state = sa.inspect(obj)
        changed = [attr.key for attr in state.attrs if attr.history.has_changes() and attr.key != "is_active"]
        if changed:
            raise ValueError(f"factor model {obj.id} is immutable; attempted to change {', '.join(changed)}")
    for obj in session.deleted:
        if isinstance(obj, FactorModelRecord):
            raise ValueError(f"factor model {obj.id} is immutable and cannot be deleted")
