"""Customer-value service: import transactions (CSV stream or API records) idempotently, fit CLV
models on stored transactions and store per-customer values. The CLI and the JSON API call these
functions; the statistics live in ``survey_engine.clv``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import IO, Iterable, Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from survey_engine.clv.transactions import (
    CurrencyRates, ParsedChunk, RejectedRow, TransactionColumns, iter_transaction_chunks, validate_records,
    write_rejects,
)
from survey_engine.models.base import utcnow
from survey_engine.models.clv import CLVModelRecord, CustomerValue, ImportRun, Transaction

_KEY_BATCH = 500


@dataclass
class ImportSummary:
    """What an import did; ``rejects`` holds at most the first ``keep_rejects`` rejected rows."""

    run_id: int
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    reject_reasons: Counter = field(default_factory=Counter)
    rejects: list[RejectedRow] = field(default_factory=list)


def _reason_key(reason: str) -> str:
    """Group reasons by their kind (``negative amount -5`` -> ``negative amount``)."""
    for prefix in ("unparseable date", "negative amount", "unknown currency", "wrong number of fields"):
        if reason.startswith(prefix):
            return prefix
    if reason.startswith("amount ") and reason.endswith("is not a number"):
        return "amount is not a number"
    return reason


def _existing_keys(session: Session, order_ids: Iterable[str]) -> set[tuple[str, str]]:
    ids = sorted(set(order_ids))
    found: set[tuple[str, str]] = set()
    for start in range(0, len(ids), _KEY_BATCH):
        batch = ids[start:start + _KEY_BATCH]
        rows = session.execute(
            sa.select(Transaction.order_id, Transaction.line_id).where(Transaction.order_id.in_(batch))
        )
        found.update((o, l) for o, l in rows)
    return found


def _insert_rows(session: Session, rows: pd.DataFrame, run_id: int) -> tuple[int, int]:
    """Insert the chunk's rows that are new; returns (inserted, duplicates)."""
    if rows.empty:
        return 0, 0
    keys = list(zip(rows["order_id"], rows["line_id"]))
    existing = _existing_keys(session, rows["order_id"])
    seen: set[tuple[str, str]] = set()
    fresh = []
    for position, key in enumerate(keys):
        if key in existing or key in seen:
            continue
        seen.add(key)
        fresh.append(position)
    if not fresh:
        return 0, len(keys)
    new = rows.iloc[fresh]
    timestamps = pd.to_datetime(new["timestamp"]).dt.tz_localize(timezone.utc)
    records = [
        {
            "customer_external_id": c, "order_id": o, "line_id": l, "purchased_at": t.to_pydatetime(),
            "amount": float(a), "currency": cur, "original_amount": float(oa),
            "category": cat, "channel": ch, "store_or_country": st, "import_run_id": run_id,
        }
        for c, o, l, t, a, cur, oa, cat, ch, st in zip(
            new["customer_id"], new["order_id"], new["line_id"], timestamps, new["amount"], new["currency"],
            new["original_amount"], _optional(new, "category"), _optional(new, "channel"), _optional(new, "store"),
        )
    ]
    session.execute(sa.insert(Transaction), records)
    return len(records), len(keys) - len(records)


def _optional(frame: pd.DataFrame, column: str) -> list:
    return [None if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v) for v in frame[column]]


def _start_run(engine: Engine, source: str) -> int:
    with Session(engine) as session:
        run = ImportRun(source=source[:500])
        session.add(run)
        session.commit()
        return int(run.id)


def _finish_run(engine: Engine, run_id: int, summary: ImportSummary | None, *, error: str | None = None,
                reject_file: str | None = None) -> None:
    with Session(engine) as session:
        run = session.get(ImportRun, run_id)
        _record_outcome(run, summary, error=error, reject_file=reject_file)
        session.add(run)
        session.commit()


def _record_outcome(run: ImportRun, summary: ImportSummary | None, *, error: str | None = None,
                    reject_file: str | None = None) -> None:
    run.finished_at = utcnow()
    run.reject_file = reject_file
    if error is not None:
        run.status, run.error = "failed", error[:2000]
    else:
        run.status = "completed"
        run.rows_read, run.rows_loaded = summary.rows_read, summary.rows_loaded
        run.rows_duplicate, run.rows_rejected = summary.rows_duplicate, summary.rows_rejected
        run.reject_reasons = dict(summary.reject_reasons)


def _absorb(summary: ImportSummary, chunk: ParsedChunk, inserted: int, duplicates: int, keep_rejects: int) -> None:
    summary.rows_read += len(chunk.rows) + len(chunk.rejects)
    summary.rows_loaded += inserted
    summary.rows_duplicate += duplicates
    summary.rows_rejected += len(chunk.rejects)
    for rej in chunk.rejects:
        for _, message in rej.problems:
            summary.reject_reasons[_reason_key(message)] += 1
    room = keep_rejects - len(summary.rejects)
    if room > 0:
        summary.rejects.extend(chunk.rejects[:room])


def import_transactions_csv(
    engine: Engine,
    source: str | Path | IO[str],
    columns: TransactionColumns,
    rates: CurrencyRates,
    *,
    rejects_to: str | Path | None = None,
    chunk_size: int = 20_000,
    date_format: str | None = None,
    default_currency: str | None = None,
    keep_rejects: int = 100,
) -> ImportSummary:
    """Stream a transaction CSV into the database.

    Rows are parsed and inserted chunk by chunk (memory is bounded by ``chunk_size``, not the file
    size) inside one database transaction, so a failure leaves nothing half-written. Lines whose
    (order_id, line_id) is already stored, or repeated in the file, are counted as duplicates and
    skipped: importing the same file twice adds nothing. Bad rows are counted by reason, written to
    ``rejects_to`` (line, reason, raw fields) and the first ``keep_rejects`` returned. An
    :class:`~survey_engine.models.clv.ImportRun` records the outcome, also when the import fails.

    ``columns`` must name ``order_id`` and ``line_id`` (they make the import idempotent).
    """
    if columns.order_id is None or columns.line_id is None:
        raise ValueError("an import needs --order-col and --line-col: (order id, line id) identifies a line")
    run_id = _start_run(engine, f"csv:{source}" if not hasattr(source, "read") else "csv:<stream>")
    summary = ImportSummary(run_id)
    reject_handle = open(rejects_to, "w", newline="", encoding="utf-8") if rejects_to is not None else None
    try:
        if reject_handle is not None:
            write_rejects([], reject_handle, header=True)
        with Session(engine) as session, session.begin():
            for chunk in iter_transaction_chunks(source, columns, rates, chunk_size=chunk_size,
                                                 date_format=date_format, default_currency=default_currency):
                inserted, duplicates = _insert_rows(session, chunk.rows, run_id)
                _absorb(summary, chunk, inserted, duplicates, keep_rejects)
                if reject_handle is not None and chunk.rejects:
                    write_rejects(chunk.rejects, reject_handle, header=False)
    except Exception as exc:
        _finish_run(engine, run_id, None, error=f"{type(exc).__name__}: {exc}",
                    reject_file=None if rejects_to is None else str(rejects_to))
        raise
    finally:
        if reject_handle is not None:
            reject_handle.close()
    _finish_run(engine, run_id, summary, reject_file=None if rejects_to is None else str(rejects_to))
    # The persons these lines belong to get their profiles updated at once (profiles build on this module).
    from survey_engine.services.profiles import on_transactions_imported

    on_transactions_imported(engine, run_id)
    return summary


class InvalidRecords(ValueError):
    """Posted records with problems; ``errors`` maps ``transactions[i].field`` to the message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(f"{len(errors)} invalid field(s) in the posted transactions")
        self.errors = errors


def _valid_records(records: list[Mapping], rates: CurrencyRates) -> ParsedChunk:
    """Validated rows of ``records``, or :class:`InvalidRecords` naming every bad field."""
    errors: dict[str, str] = {}
    parsed = validate_records(records, rates)
    field_key = {"customer": "customer_id", "date": "timestamp", "amount": "amount", "currency": "currency",
                 "order_id": "order_id", "line_id": "line_id"}
    for rej in parsed.rejects:
        for fld, message in rej.problems:
            errors.setdefault(f"transactions[{rej.line - 1}].{field_key.get(fld, fld)}", message)
    if errors:
        raise InvalidRecords(errors)
    return parsed


def import_transaction_records(
    engine: Engine, records: list[Mapping], rates: CurrencyRates, *, source: str = "api"
) -> ImportSummary:
    """Store transaction records posted to the API: all of them or, when any is invalid, none.

    Every record needs ``order_id`` and ``line_id``; already-stored lines count as duplicates.

    Raises
    ------
    InvalidRecords
        With one entry per bad field, keyed ``transactions[<0-based index>].<key>``.
    """
    parsed = _valid_records(records, rates)
    run_id = _start_run(engine, source)
    summary = ImportSummary(run_id)
    try:
        with Session(engine) as session, session.begin():
            inserted, duplicates = _insert_rows(session, parsed.rows, run_id)
    except Exception as exc:
        _finish_run(engine, run_id, None, error=f"{type(exc).__name__}: {exc}")
        raise
    _absorb(summary, parsed, inserted, duplicates, 0)
    _finish_run(engine, run_id, summary)
    # The persons these lines belong to get their profiles updated at once (profiles build on this module).
    from survey_engine.services.profiles import on_transactions_imported

    on_transactions_imported(engine, run_id)
    return summary


def store_demo_transactions(session: Session, population) -> str:
    """Store a demo population's transactions (``survey-engine demo``) inside the caller's session.

    The lines go through the API import's path: every one is validated and converted into the
    reporting currency of the currency-rates table (:func:`validate_records`), lines already
    stored are skipped as duplicates, and an :class:`ImportRun` (source ``demo:seed <seed>``)
    records the outcome. Returns a one-line summary.
    """
    from survey_engine.clv.transactions import load_currency_rates

    rates = load_currency_rates()
    lines = population.transactions.rename(columns={"store_or_country": "store"})
    parsed = _valid_records(lines.to_dict(orient="records"), rates)
    run = ImportRun(source=f"demo:seed {population.seed}")
    session.add(run)
    session.flush()
    summary = ImportSummary(int(run.id))
    inserted, duplicates = _insert_rows(session, parsed.rows, run.id)
    _absorb(summary, parsed, inserted, duplicates, 0)
    _record_outcome(run, summary)
    session.add(run)
    session.flush()
    return (f"{summary.rows_loaded} transaction lines stored ({summary.rows_duplicate} already present), "
            f"amounts in {rates.reporting_currency}")


def stored_transactions(session: Session) -> pd.DataFrame:
    """All stored lines as a frame (customer_id, timestamp (naive UTC), amount, category, channel)."""
    query = sa.select(
        Transaction.customer_external_id.label("customer_id"), Transaction.purchased_at.label("timestamp"),
        Transaction.amount, Transaction.category, Transaction.channel,
    )
    rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "category", "channel"])
    if not frame.empty:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_localize(None)
    return frame


def survey_engagement(session: Session) -> pd.Series:
    """Submitted questionnaire responses per customer external id (relationship depth)."""
    from survey_engine.models import Customer, Response

    rows = session.execute(
        sa.select(Customer.external_id, sa.func.count(Response.id))
        .join(Response, Response.customer_id == Customer.id)
        .where(Response.submitted_at.is_not(None))
        .group_by(Customer.external_id)
    ).all()
    return pd.Series({external: float(count) for external, count in rows}, dtype=float)


def fit_clv_model(engine: Engine, **options) -> CLVModelRecord:
    """Fit and store a CLV model in a database transaction of its own.

    ``options`` are those of :func:`fit_clv_model_in_session`; a failed fit writes nothing.
    """
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return fit_clv_model_in_session(session, **options)


def fit_clv_model_in_session(
    session: Session,
    *,
    calibration_end=None,
    observation_end=None,
    time_unit: str = "W",
    horizon_weeks: float = 52.0,
    annual_discount_rate: float = 0.10,
    penalizer: float = 0.0,
    tier_config=None,
    tiers_source: str | None = None,
) -> CLVModelRecord:
    """Fit BG/NBD + Gamma-Gamma on the stored transactions and store the model and customer values,
    inside the caller's session (which commits or rolls back).

    Without ``calibration_end`` the new model becomes the active one (kind ``production``). With it,
    the fit uses purchases up to that day and its record (kind ``validation``) carries the hold-out
    comparison of predictive and past-spend tiers; it is stored but does not replace the active
    model. A failed fit (no data, non-convergence) raises before anything is written.
    """
    from survey_engine.clv.analysis import run_clv_analysis
    from survey_engine.clv.tiers import load_tier_config

    config = tier_config or load_tier_config()
    transactions = stored_transactions(session)
    engagement = survey_engagement(session)
    last_id = session.execute(sa.select(sa.func.max(Transaction.id))).scalar()
    if transactions.empty:
        raise ValueError("no stored transactions to fit: import some with `survey-engine clv import` first")
    result = run_clv_analysis(
        transactions, category_col="category", channel_col="channel", calibration_end=calibration_end,
        observation_end=observation_end, time_unit=time_unit, horizon_weeks=horizon_weeks,
        annual_discount_rate=annual_discount_rate, tier_config=config,
        survey_engagement=engagement if not engagement.empty else None, penalizer=penalizer,
    )
    report = result.report
    production = calibration_end is None
    version = (session.execute(sa.select(sa.func.max(CLVModelRecord.version))).scalar() or 0) + 1
    if production:
        for old in session.exec(select(CLVModelRecord).where(CLVModelRecord.is_active == True)):  # noqa: E712
            old.is_active = False
            session.add(old)
        session.flush()
    record = CLVModelRecord(
        version=version,
        kind="production" if production else "validation",
        is_active=production,
        params={"bgnbd": {k: report["bgnbd"][k] for k in ("r", "alpha", "a", "b")},
                "gamma_gamma": {k: report["gamma_gamma"][k] for k in ("p", "q", "gamma")}},
        standard_errors={"bgnbd": report["bgnbd"]["se"], "gamma_gamma": report["gamma_gamma"]["se"]},
        log_likelihood={"bgnbd": report["bgnbd"]["log_likelihood"],
                        "gamma_gamma": report["gamma_gamma"]["log_likelihood"]},
        options={"time_unit": time_unit, "calibration_end": report["calibration_end"],
                 "observation_end": report["observation_end"], "horizon_weeks": horizon_weeks,
                 "annual_discount_rate": annual_discount_rate, "penalizer": penalizer,
                 "tiers": {"source": tiers_source or "packaged tiers.yaml", "weights": dict(config.weights),
                           "top_shares": dict(config.top_shares),
                           "past_spend_thresholds": None if config.past_spend_thresholds is None
                           else dict(config.past_spend_thresholds),
                           "lapse_p_alive_below": config.lapse_p_alive_below}},
        data={"n_transactions": int(len(transactions)), "last_transaction_id": last_id,
              "first_purchase": str(transactions["timestamp"].min().date()),
              "last_purchase": str(transactions["timestamp"].max().date())},
        report=report,
        n_customers=report["n_customers"],
    )
    session.add(record)
    session.flush()
    preds = result.predictions
    values = [
        {
            "model_id": record.id, "customer_external_id": str(row.customer_id), "frequency": row.frequency,
            "recency": row.recency, "age": row.T, "monetary_value": row.monetary_value,
            "total_spend": row.total_spend, "p_alive": row.p_alive, "expected_purchases": row.expected_purchases,
            "probability_of_purchase": row.probability_of_purchase,
            "expected_average_value": row.expected_average_value, "clv": row.clv, "tier_score": row.tier_score,
            "tier": row.tier, "past_spend_tier": row.past_spend_tier, "rising": bool(row.rising),
            "lapse_risk": bool(row.lapse_risk), "upgrade_propensity": row.upgrade_propensity,
        }
        for row in preds.itertuples(index=False)
    ]
    for start in range(0, len(values), 5000):
        session.execute(sa.insert(CustomerValue), values[start:start + 5000])
    return record


def fit_demo_clv_model(session: Session, population) -> str:
    """Fit the active CLV model on a demo population's stored transactions (``survey-engine demo``),
    observed up to the last day of its window; returns a one-line summary."""
    record = fit_clv_model_in_session(session, observation_end=population.end)
    bg = record.params["bgnbd"]
    tiers = ", ".join(f"{k} {v}" for k, v in record.report["tiers"]["counts"].items())
    return (f"CLV model version {record.version} (active) on {record.n_customers} customers: BG/NBD "
            f"r={bg['r']:.3f} alpha={bg['alpha']:.2f} a={bg['a']:.3f} b={bg['b']:.3f}; tiers {tiers}")


def active_model(session: Session) -> CLVModelRecord | None:
    return session.exec(select(CLVModelRecord).where(CLVModelRecord.is_active == True)).first()  # noqa: E712
