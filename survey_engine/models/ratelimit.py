"""Fixed-window counters for rate limits that must hold across server processes and hosts."""
from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class RateLimitCounter(SQLModel, table=True):
    """How many limited events (e.g. failed survey-token lookups) one key (e.g. a client IP) had
    in the window starting at ``window_start`` (Unix seconds, a multiple of the window length)."""

    __tablename__ = "rate_limit_counter"
    __table_args__ = (sa.Index("ix_rate_limit_counter_window", "window_start"),)

    key: str = Field(primary_key=True, max_length=200)
    window_start: int = Field(primary_key=True, sa_type=sa.BigInteger)
    count: int = Field(default=0)
