"""CDNOW 1/10 sample fixtures (data files shipped inside the `lifetimes` package of the test extra,
read directly: lifetimes itself is never imported here) and the published reference values."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
import yaml

DATA = Path(__file__).parent / "data"


def _lifetimes_datasets() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.submodule_search_locations, "install the test extra (lifetimes==0.11.3)"
    return Path(list(spec.submodule_search_locations)[0]) / "datasets"


@pytest.fixture(scope="session")
def published() -> dict:
    return yaml.safe_load((DATA / "published_values.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def cdnow_raw_path() -> Path:
    return _lifetimes_datasets() / "CDNOW_sample.txt"


@pytest.fixture(scope="session")
def cdnow_transactions(cdnow_raw_path) -> pd.DataFrame:
    """CDNOW_sample.txt: master id, sample id (1..2357), date YYYYMMDD, number of CDs, dollar value."""
    df = pd.read_csv(cdnow_raw_path, sep=r"\s+", header=None, dtype=str,
                     names=["master_id", "customer", "date", "cds", "amount"])
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    df["amount"] = df["amount"].astype(float)
    df["customer"] = df["customer"].astype(int)
    return df


@pytest.fixture(scope="session")
def cdnow_published_summary() -> pd.DataFrame:
    """cdnow_customers_summary_with_transactions.csv: ID, x, t_x, T (weeks), zbar (mean repeat spend)."""
    df = pd.read_csv(_lifetimes_datasets() / "cdnow_customers_summary_with_transactions.csv").set_index("ID")
    return df.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


@pytest.fixture(scope="session")
def cdnow_csv(cdnow_raw_path, tmp_path_factory) -> Path:
    """The raw CDNOW sample converted to a CSV with a header, as a user would export it."""
    df = pd.read_csv(cdnow_raw_path, sep=r"\s+", header=None, dtype=str,
                     names=["master_id", "customer", "date", "cds", "amount"])
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def cdnow_calibration(cdnow_transactions) -> pd.DataFrame:
    from survey_engine.clv.summary import calibration_holdout_summary

    return calibration_holdout_summary(cdnow_transactions, "customer", "date", "amount",
                                       calibration_end="1997-09-30", observation_end="1998-06-30")


@pytest.fixture(scope="session")
def cdnow_bgnbd(cdnow_calibration):
    from survey_engine.clv.bgnbd import BetaGeoModel

    return BetaGeoModel().fit(cdnow_calibration)


@pytest.fixture(scope="session")
def cdnow_gamma_gamma(cdnow_calibration):
    from survey_engine.clv.gamma_gamma import GammaGammaModel

    return GammaGammaModel().fit(cdnow_calibration)
