"""Seeded demo source records for identity tests (pure, service, CLI and API tests share them)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def demo_records(n_customers: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Source records of ``n_customers`` demo customers (``customer_ref`` as ``external_id``),
    the record → customer truth table and the planted hard-negative customer pairs."""
    from survey_engine.demo.people import generate_customers, generate_source_records

    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.uniform(0, 1000, n_customers), unit="D")
    customers, hard_negatives = generate_customers(n_customers, rng, created.to_numpy().astype("datetime64[s]"))
    records, truth = generate_source_records(customers, rng, pd.Timestamp("2025-06-30 23:59:59"))
    return records.rename(columns={"customer_ref": "external_id"}), truth, hard_negatives


def write_csv(records: pd.DataFrame, path: Path) -> Path:
    """The records as a source-record CSV file (ISO timestamps, empty cells for missing values)."""
    out = records.copy()
    out["created_at"] = pd.to_datetime(out["created_at"]).dt.strftime("%Y-%m-%dT%H:%M:%S")
    out.to_csv(path, index=False)
    return path
