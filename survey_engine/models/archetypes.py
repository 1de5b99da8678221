"""Archetype tables: the embedding cache (one row per distinct text and model) and the archetype
assignments of customers, each stored with the model versions that produced it."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from survey_engine.models.base import json_field, timestamp_field


class EmbeddingCacheEntry(SQLModel, table=True):
    """A sentence embedding of one normalised text by one model.

    ``key`` is ``sha256(model_id + NUL + normalised text)`` (see
    :func:`survey_engine.text.embeddings.text_key`), so no text is embedded twice by the same model;
    the text itself is not stored. ``vector`` holds ``dim`` little-endian float32 values.
    """

    __tablename__ = "embedding_cache"

    key: str = Field(primary_key=True, max_length=64)
    model_id: str = Field(max_length=200, index=True)
    dim: int
    vector: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    created_at: datetime = timestamp_field(default_now=True)


class ArchetypeAssignment(SQLModel, table=True):
    """Soft memberships of one customer (from one response) in the archetypes of one catalog.

    Every row records what produced it: the assignment run, the catalog version label
    (``<id>@v<version>+<content hash>``), the factor model record and the embedding model. A new run
    for the same questionnaire and catalog marks the previous rows ``is_current = False`` (history
    is kept).
    """

    __tablename__ = "archetype_assignment"
    __table_args__ = (
        sa.Index("ix_archetype_assignment_current", "questionnaire_id", "catalog_id", "is_current"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=36, index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    response_id: int = Field(foreign_key="response.id", index=True)
    questionnaire_id: str = Field(foreign_key="questionnaire.id", max_length=100)
    catalog_id: str = Field(max_length=100)
    catalog_version: str = Field(max_length=150)
    factor_model_id: Optional[int] = Field(default=None, foreign_key="factor_model.id")
    embedding_model_id: Optional[str] = Field(default=None, max_length=200)
    top_archetype: str = Field(max_length=100, index=True)
    top_membership: float
    memberships: dict[str, Any] = json_field()
    explanation: dict[str, Any] = json_field()
    is_current: bool = Field(default=True)
    created_at: datetime = timestamp_field(default_now=True)
