"""A person's value from stored CLV parameters (no refit) and tiers placed against a stored reference."""
import math

import numpy as np
import pandas as pd
import pytest

from survey_engine.clv.analysis import run_clv_analysis
from survey_engine.clv.tiers import TierConfig, assign_value_tiers, load_tier_config
from survey_engine.demo.population import generate_population
from survey_engine.profiling.value import TierReference, person_values, tier_config_from_options

PARAMS = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
GG = {"p": 6.0, "q": 4.0, "gamma": 15.0}


def lines(rows):
    return pd.DataFrame(rows, columns=["person_id", "order_id", "timestamp", "amount", "category"])


def test_hand_worked_person_with_two_customer_numbers_pooled():
    # person 1: three purchase days a week apart; person 2: two customer numbers (already mapped to
    # one person id by the caller) buying on the same day and a week later.
    frame = lines([
        (1, "A1", "2024-01-01T10:00:00Z", 100.0, "watches"),
        (1, "A2", "2024-01-08T10:00:00Z", 200.0, "shoes"),
        (1, "A3", "2024-01-15T18:00:00Z", 300.0, "shoes"),
        (2, "B1", "2024-01-22T09:00:00Z", 50.0, "jewellery"),
        (2, "B2", "2024-01-22T17:00:00Z", 70.0, "jewellery"),
        (2, "B3", "2024-01-29T11:00:00Z", 80.0, "fragrance_beauty"),
        (2, "B4", "2024-02-20T11:00:00Z", 999.0, "watches"),  # after the observation end: ignored
        (3, "C1", "2024-01-29T23:59:00Z", 10.0, None),  # category unknown: not counted in the breadth
    ])
    values = person_values(frame, bgnbd_params=PARAMS, gamma_gamma_params=GG, as_of="2024-01-29", time_unit="W")
    one, two = values.loc[1], values.loc[2]
    assert (one["frequency"], one["recency"], one["T"]) == (2.0, 2.0, 4.0)
    assert (one["monetary_value"], one["total_spend"], one["n_orders"], one["category_breadth"]) == (250.0, 600.0, 3, 2)
    # BG/NBD P(alive) (Fader, Hardie & Lee 2005, note 004 eq. A.14) and Gamma-Gamma E(M) by hand
    r, alpha, a, b = PARAMS.values()
    assert one["p_alive"] == pytest.approx(1 / (1 + a / (b + 2 - 1) * ((alpha + 4) / (alpha + 2)) ** (r + 2)), rel=1e-12)
    assert one["expected_average_value"] == pytest.approx(3 / 15 * 30 + 12 / 15 * 250, rel=1e-12)
    assert (two["frequency"], two["recency"], two["T"], two["n_orders"]) == (1.0, 1.0, 1.0, 3)
    assert (two["monetary_value"], two["total_spend"], two["category_breadth"]) == (80.0, 200.0, 2)
    three = values.loc[3]
    assert (three["frequency"], three["T"], three["category_breadth"], three["n_orders"], three["p_alive"]) == (
        0.0, 0.0, 0.0, 1, 1.0)


def test_equals_the_clv_analysis_for_the_same_lines():
    population = generate_population(400, seed=21)
    transactions = population.transactions.rename(columns={"customer_id": "person_id"})
    analysis = run_clv_analysis(population.transactions, category_col="category", channel_col="channel")
    report = analysis.report
    values = person_values(
        transactions, bgnbd_params={k: report["bgnbd"][k] for k in ("r", "alpha", "a", "b")},
        gamma_gamma_params={k: report["gamma_gamma"][k] for k in ("p", "q", "gamma")},
        as_of=report["observation_end"])
    expected = analysis.predictions.set_index("customer_id")
    for column in ("frequency", "recency", "T", "p_alive", "expected_purchases", "expected_average_value", "clv"):
        np.testing.assert_allclose(values[column].to_numpy(dtype=float),
                                   expected.loc[values.index, column].to_numpy(dtype=float), rtol=1e-10, atol=1e-12)


def population_components(n=3000, seed=5):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "clv": rng.lognormal(7, 1.2, n), "total_spend": rng.lognormal(7, 1.0, n), "p_alive": rng.uniform(0, 1, n),
        "probability_of_purchase": rng.uniform(0, 1, n), "category_breadth": rng.integers(1, 6, n).astype(float),
        "survey_engagement": rng.integers(0, 3, n).astype(float), "tenure_days": rng.integers(1, 1200, n).astype(float),
    }, index=pd.Index(np.arange(n) + 1, name="person_id"))


def test_reference_places_people_like_the_population_tiering():
    components = population_components()
    reference = TierReference(load_tier_config()).fit(components)
    exact, _ = assign_value_tiers(components, load_tier_config())
    placed = reference.transform(components)
    assert (placed["tier"] == exact["tier"]).mean() >= 0.995
    assert (placed["past_spend_tier"] == exact["past_spend_tier"]).mean() >= 0.995
    assert np.abs(placed["tier_score"] - exact["tier_score"]).max() < 1e-3
    assert (placed["rising"] == exact["rising"]).mean() >= 0.99
    assert (placed["lapse_risk"] == exact["lapse_risk"]).all()
    same_tier = placed["tier"] == exact["tier"]
    gap = np.abs(placed["upgrade_propensity"] - exact["upgrade_propensity"])[same_tier]
    assert np.quantile(gap, 0.99) < 0.005
    assert exact["tier"].value_counts().to_dict() == {"entry": 2100, "premium": 600, "luxury": 240, "ultra_luxury": 60}


def test_reference_round_trips_and_places_extremes():
    config = TierConfig(weights={"clv": 1.0}, top_shares={"ultra_luxury": 0.1, "luxury": 0.3, "premium": 0.6},
                        past_spend_thresholds=None, lapse_p_alive_below=0.4)
    components = pd.DataFrame({"clv": np.arange(1, 101, dtype=float), "total_spend": np.arange(1, 101, dtype=float),
                               "p_alive": np.full(100, 0.9)})
    reference = TierReference(config).fit(components)
    rebuilt = TierReference.from_dict(reference.to_dict(), config)
    new = pd.DataFrame({"clv": [1000.0, 0.5, 50.0, 95.5], "total_spend": [0.0, 500.0, 50.0, 95.0],
                        "p_alive": [0.3, 0.9, 0.9, 0.9]})
    placed = rebuilt.transform(new)
    pd.testing.assert_frame_equal(placed, reference.transform(new))
    assert list(placed["tier"]) == ["ultra_luxury", "entry", "premium", "ultra_luxury"]
    assert list(placed["past_spend_tier"]) == ["entry", "ultra_luxury", "premium", "ultra_luxury"]
    assert placed["tier_score"].iloc[2] == pytest.approx(0.50)  # rank of 50 among 1..100, pandas' pct rank
    assert list(placed["rising"]) == [True, False, False, False] and list(placed["lapse_risk"]) == [True, False, False, False]


def test_tier_config_from_model_options():
    config = load_tier_config()
    options = {"tiers": {"weights": dict(config.weights), "top_shares": dict(config.top_shares),
                         "past_spend_thresholds": None, "lapse_p_alive_below": config.lapse_p_alive_below}}
    assert tier_config_from_options(options) == config
    assert tier_config_from_options({}) == config
    assert math.isclose(config.lapse_p_alive_below, 0.5)
