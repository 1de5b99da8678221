"""Shared fixtures for identity resolution: a seeded demo population of source records with truth."""
from __future__ import annotations

import pytest

from tests.identity.records import demo_records

DEMO_CUSTOMERS = 3000


@pytest.fixture(scope="session")
def demo():
    records, truth, hard_negatives = demo_records(DEMO_CUSTOMERS, seed=20240611)
    return {"records": records, "truth": truth, "hard_negatives": hard_negatives}


@pytest.fixture(scope="session")
def demo_resolution(demo):
    from survey_engine.identity.linking import IdentityResolver

    resolver = IdentityResolver()
    return resolver, resolver.fit_predict(demo["records"])
