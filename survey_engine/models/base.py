"""Column types and helpers shared by every table module."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def timestamp_field(*, nullable: bool = False, index: bool = False, default_now: bool = False) -> Any:
    kwargs: dict[str, Any] = {}
    if default_now:
        kwargs["default_factory"] = utcnow
    elif nullable:
        kwargs["default"] = None
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index), **kwargs)


def json_field(*, nullable: bool = False, default_factory=dict) -> Any:
    return Field(default_factory=default_factory, sa_column=sa.Column(sa.JSON(), nullable=nullable))
