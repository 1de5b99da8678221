"""Staff accounts for the web app: email, hashed password, role, lock-out state."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from survey_engine.models.base import timestamp_field


class StaffUser(SQLModel, table=True):
    """A person who signs in to the staff pages.

    ``password_hash`` is a werkzeug hash string (``scrypt:…`` by default), never the password.
    ``failed_attempts`` counts consecutive failed sign-ins; reaching the limit sets
    ``locked_until``, and a successful sign-in resets both. ``email`` is stored lower-cased.
    """

    __tablename__ = "staff_user"
    __table_args__ = (
        sa.CheckConstraint("role IN ('researcher', 'marketer', 'admin')", name="ck_staff_user_role"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(max_length=500)
    role: str = Field(max_length=20)
    is_active: bool = Field(default=True)
    failed_attempts: int = Field(default=0)
    locked_until: Optional[datetime] = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field(default_now=True)
    last_login_at: Optional[datetime] = timestamp_field(nullable=True)


__all__ = ["StaffUser"]
