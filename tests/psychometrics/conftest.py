"""Shared fixtures: samples from the demo world's generating factor model and the bfi reference data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from survey_engine.demo.world import generating_model, ordinal_answers

DATA = Path(__file__).parent / "data"
BFI_ITEMS = [f"{trait}{i}" for trait in "ACENO" for i in range(1, 6)]


def simulate(n: int, seed: int) -> pd.DataFrame:
    """Raw 7-point answers of n respondents drawn from the generating model (η ~ N(0, Φ))."""
    model = generating_model()
    rng = np.random.default_rng(seed)
    latent = rng.multivariate_normal(np.zeros(len(model.constructs)), model.factor_correlation, size=n)
    return pd.DataFrame(ordinal_answers(latent, model, rng).astype(float), columns=list(model.items))


def keyed(raw: pd.DataFrame) -> pd.DataFrame:
    model = generating_model()
    out = raw.copy()
    for item, rev in zip(model.items, model.reverse):
        if rev:
            out[item] = 8 - out[item]
    return out


def latent_item_correlation() -> np.ndarray:
    """Λ Φ Λᵀ with unit diagonal, for reverse-keyed items (|loadings|)."""
    model = generating_model()
    lam = np.abs(model.loadings)
    R = lam @ model.factor_correlation @ lam.T
    np.fill_diagonal(R, 1.0)
    return R


@pytest.fixture(scope="session")
def world():
    return generating_model()


@pytest.fixture(scope="session")
def sample_3000() -> pd.DataFrame:
    return simulate(3000, seed=11)


@pytest.fixture(scope="session")
def bfi() -> pd.DataFrame:
    return pd.read_csv(DATA / "bfi.csv")


@pytest.fixture(scope="session")
def bfi_reference() -> dict:
    return json.loads((DATA / "bfi_psych_reference.json").read_text())
