"""Shared fixtures for identity resolution: a seeded demo population of source records with truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

DEMO_CUSTOMERS = 3000


def demo_records(n_customers: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Source records of ``n_customers`` demo customers (``customer_ref`` as ``external_id``),
    the record → customer truth table and the planted hard-negative customer pairs."""
    from survey_engine.demo.people import generate_customers, generate_source_records

    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.uniform(0, 1000, n_customers), unit="D")
    customers, hard_negatives = generate_customers(n_customers, rng, created.to_numpy().astype("datetime64[s]"))
    records, truth = generate_source_records(customers, rng, pd.Timestamp("2025-06-30 23:59:59"))
    return records.rename(columns={"customer_ref": "external_id"}), truth, hard_negatives


@pytest.fixture(scope="session")
def demo():
    records, truth, hard_negatives = demo_records(DEMO_CUSTOMERS, seed=20240611)
    return {"records": records, "truth": truth, "hard_negatives": hard_negatives}


@pytest.fixture(scope="session")
def demo_resolution(demo):
    from survey_engine.identity.linking import IdentityResolver

    resolver = IdentityResolver()
    return resolver, resolver.fit_predict(demo["records"])
