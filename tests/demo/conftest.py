"""Shared demo-population fixtures: one seeded population per test session (about a second)."""
from __future__ import annotations

import pytest

from survey_engine.demo import DemoPopulation, generate_population

POPULATION_SIZE = 1500
POPULATION_SEED = 7


@pytest.fixture(scope="session")
def population() -> DemoPopulation:
    return generate_population(POPULATION_SIZE, seed=POPULATION_SEED)
