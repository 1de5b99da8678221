"""generate_population: reproducible, complete, and with the truth kept out of the product tables."""
from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from survey_engine.demo import DemoPopulation, generate_population, world
from survey_engine.demo.population import CUSTOMER_COLUMNS, LATENT_COLUMNS

PRODUCT_TABLES = ("customers", "source_records", "responses", "transactions")
TRUTH_ONLY = {"style_archetype", "relationship_style", "quality", "is_rising", "rising_since",
              "purchase_rate_per_week", "dropout_probability", "mean_order_value_eur", "alive_at_end",
              *LATENT_COLUMNS}


def test_same_seed_same_tables_different_seed_different_tables():
    a, b = generate_population(200, seed=5), generate_population(200, seed=5)
    c = generate_population(200, seed=6)
    for name in PRODUCT_TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
        assert not getattr(a, name).equals(getattr(c, name)), name
    for name in ("customers", "records", "hard_negatives"):
        pd.testing.assert_frame_equal(getattr(a.truth, name), getattr(b.truth, name))


def test_parts_draw_from_independent_streams():
    """Changing the survey share leaves people and purchases untouched."""
    a = generate_population(200, seed=5)
    b = generate_population(200, seed=5, response_rate=0.5)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    assert len(b.responses) == 100


def test_customer_table_columns_and_dtypes(population):
    customers = population.customers
    assert tuple(customers.columns) == CUSTOMER_COLUMNS
    assert customers["consent_marketing"].dtype == bool and customers["consent_profiling"].dtype == bool
    assert customers["created_at"].dtype == "datetime64[s]"
    assert population.transactions["timestamp"].dtype == "datetime64[s]"
    assert population.transactions["amount"].dtype == np.float64
    assert population.responses["submitted_at"].dtype == "datetime64[s]"
    assert customers["created_at"].between(pd.Timestamp(population.start), pd.Timestamp(population.end)).all()


def test_truth_is_kept_apart(population):
    assert isinstance(population, DemoPopulation)
    for name in PRODUCT_TABLES:
        columns = set(getattr(population, name).columns)
        assert not columns & TRUTH_ONLY, name
    truth = population.truth.customers
    assert truth["customer_id"].tolist() == population.customers["customer_id"].tolist()
    assert "truth=" not in repr(population)
    assert [f.name for f in fields(population)][:4] == list(PRODUCT_TABLES)


def test_class_balance_follows_the_world_shares(population):
    truth = population.truth.customers
    for column, shares in (("style_archetype", world.STYLE_SHARES),
                           ("relationship_style", world.RELATIONSHIP_SHARES)):
        observed = truth[column].value_counts(normalize=True)
        assert set(observed.index) == set(shares)
        for name, share in shares.items():
            assert observed[name] == pytest.approx(share, abs=0.04), (column, name)


def test_latent_scores_are_profile_means_plus_within_group_spread(population):
    truth = population.truth.customers
    latent = truth[list(LATENT_COLUMNS)].to_numpy()
    style = truth["style_archetype"].map(world.STYLE_ARCHETYPES.index).to_numpy()
    relationship = truth["relationship_style"].map(world.RELATIONSHIP_STYLES.index).to_numpy()
    residual = latent - world.latent_means(style, relationship)
    assert np.abs(residual.mean(axis=0)).max() < 0.06
    assert residual.std(axis=0) == pytest.approx(np.full(8, world.WITHIN_GROUP_SD), rel=0.08)
    within = np.corrcoef(residual.T)
    assert np.abs(within - world.LATENT_CORRELATION).max() < 0.1


def test_duplicate_pairs_cover_planted_copies(population):
    pairs = population.truth.duplicate_pairs()
    sizes = population.truth.records.groupby("customer_id").size()
    assert len(pairs) == int((sizes * (sizes - 1) // 2).sum()) > len(population.customers)
    negatives = population.truth.hard_negatives
    owner = population.truth.records.groupby("customer_id")["source_record_id"].first()
    for a, b in negatives[["customer_id_a", "customer_id_b"]].head(20).itertuples(index=False):
        assert tuple(sorted((owner[a], owner[b]))) not in pairs


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="n_customers"):
        generate_population(0)
    with pytest.raises(ValueError, match="response_rate"):
        generate_population(10, response_rate=1.5)
    with pytest.raises(ValueError, match="quality_rates"):
        generate_population(10, quality_rates={"sleepy": 0.1})
