"""Tables of the customer-value concern: transaction lines, import runs, fitted CLV models
(immutable and versioned, one active) and the per-customer values each model produced."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, SQLModel

from survey_engine.models.base import json_field, timestamp_field


class ImportRun(SQLModel, table=True):
    """One load of transactions (a CSV file or an API request) and what became of its rows."""

    __tablename__ = "clv_import_run"

    id: Optional[int] = Field(default=None, primary_key=True)
    source: str = Field(max_length=500)
    status: str = Field(default="running", max_length=20)  # running | completed | failed
    started_at: datetime = timestamp_field(default_now=True)
    finished_at: Optional[datetime] = timestamp_field(nullable=True)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    reject_reasons: dict[str, Any] = json_field()  # message prefix -> count
    reject_file: Optional[str] = Field(default=None, max_length=500)
    error: Optional[str] = Field(default=None, max_length=2000)


class Transaction(SQLModel, table=True):
    """A transaction line; (order_id, line_id) is unique, so importing a file twice adds nothing.

    ``amount`` is in the reporting currency; ``original_amount`` and ``currency`` keep the source.
    ``customer_external_id`` is the source system's customer id (identity resolution links it to
    people).
    """

    __tablename__ = "clv_transaction"
    __table_args__ = (sa.UniqueConstraint("order_id", "line_id", name="uq_clv_transaction_order_line"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    customer_external_id: str = Field(max_length=100, index=True)
    order_id: str = Field(max_length=100)
    line_id: str = Field(max_length=100)
    purchased_at: datetime = timestamp_field(index=True)
    amount: float
    currency: str = Field(max_length=3)
    original_amount: float
    category: Optional[str] = Field(default=None, max_length=100)
    channel: Optional[str] = Field(default=None, max_length=50)
    store_or_country: Optional[str] = Field(default=None, max_length=100)
    import_run_id: Optional[int] = Field(default=None, foreign_key="clv_import_run.id", index=True)


class CLVModelRecord(SQLModel, table=True):
    """A fitted BG/NBD + Gamma-Gamma model: immutable once written (only ``is_active`` may change),
    versioned, and at most one active at a time (partial unique index)."""

    __tablename__ = "clv_model"
    __table_args__ = (
        sa.Index("uq_clv_model_one_active", "is_active", unique=True,
                 sqlite_where=sa.text("is_active = 1"), postgresql_where=sa.text("is_active")),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    version: int = Field(unique=True)
    created_at: datetime = timestamp_field(default_now=True)
    kind: str = Field(default="production", max_length=20)  # production | validation (hold-out fit)
    is_active: bool = False
    params: dict[str, Any] = json_field()  # {"bgnbd": {r, alpha, a, b}, "gamma_gamma": {p, q, gamma}}
    standard_errors: dict[str, Any] = json_field()
    log_likelihood: dict[str, Any] = json_field()  # {"bgnbd": ..., "gamma_gamma": ...}
    options: dict[str, Any] = json_field()  # time unit, calibration/observation ends, horizon, rates, tiers
    data: dict[str, Any] = json_field()  # which data: transaction count, last id, period
    report: dict[str, Any] = json_field()  # the analysis report (tiers, hold-out comparison)
    n_customers: int = 0


class CustomerValue(SQLModel, table=True):
    """Predictions, tier and flags of one customer under one CLV model."""

    __tablename__ = "clv_customer_value"
    __table_args__ = (sa.UniqueConstraint("model_id", "customer_external_id", name="uq_clv_customer_value"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    model_id: int = Field(foreign_key="clv_model.id", index=True)
    customer_external_id: str = Field(max_length=100, index=True)
    frequency: float
    recency: float
    age: float  # T: time since the first purchase, in the model's time unit
    monetary_value: float
    total_spend: float
    p_alive: float
    expected_purchases: float
    probability_of_purchase: float
    expected_average_value: float
    clv: float
    tier_score: float
    tier: str = Field(max_length=20, index=True)
    past_spend_tier: str = Field(max_length=20)
    rising: bool = False
    lapse_risk: bool = False
    upgrade_propensity: float = 0.0


_MUTABLE_MODEL_COLUMNS = {"is_active"}


@event.listens_for(OrmSession, "before_flush")
def _clv_models_are_immutable(session, _context, _instances) -> None:
    for obj in session.dirty:
        if isinstance(obj, CLVModelRecord):
            changed = {attr.key for attr in sa.inspect(obj).attrs if attr.history.has_changes()}
            if changed - _MUTABLE_MODEL_COLUMNS:
                raise ValueError(f"CLV model {obj.version} is immutable; cannot change {sorted(changed - _MUTABLE_MODEL_COLUMNS)}")


__all__ = ["CLVModelRecord", "CustomerValue", "ImportRun", "Transaction"]
