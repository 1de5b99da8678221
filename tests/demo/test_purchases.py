"""Purchase histories: BG/NBD-shaped, luxury-scale, rising clients planted, streaming in chunks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln, gammaln

from survey_engine.clv import BetaGeoModel, summary_from_transactions
from survey_engine.demo import world
from survey_engine.demo.purchases import (
    DEFAULT_PURCHASE_PARAMS, FX_FROM_EUR, STORES, TRANSACTION_COLUMNS, iter_transactions,
    simulate_histories)


def test_transaction_table_shape_and_ranges(population):
    tx = population.transactions
    assert tuple(tx.columns) == TRANSACTION_COLUMNS
    assert (tx["amount"] > 0).all()
    assert tx["timestamp"].min() >= pd.Timestamp(population.start)
    assert tx["timestamp"].max() < pd.Timestamp(population.end) + pd.Timedelta(days=1)
    assert set(tx["currency"]) == set(FX_FROM_EUR)
    assert set(tx["category"]) == set(world.CATEGORIES)
    assert set(tx["channel"]) == set(world.TRANSACTION_CHANNELS)
    assert not tx.duplicated(["order_id", "line_id"]).any()
    assert tx.groupby("order_id")["customer_id"].nunique().eq(1).all()
    assert set(tx["customer_id"]) == set(population.customers["customer_id"])  # everyone bought once
    store = tx["channel"] == "store"
    assert tx.loc[store, "store_or_country"].isin([s for v in STORES.values() for s in v]).all()
    assert tx.loc[~store, "store_or_country"].isin(list(STORES)).all()
    first = tx.groupby("customer_id")["timestamp"].min()
    created = population.customers.set_index("customer_id")["created_at"]
    assert (first >= created.loc[first.index]).all()
    eur = tx.loc[tx["currency"] == "EUR"].groupby("order_id")["amount"].sum()
    assert 300 < eur.median() < 5000 and eur.max() > 10_000  # hundreds to tens of thousands


def test_value_is_tied_to_relationship_style_and_rising_clients_accelerate(population):
    truth = population.truth.customers.set_index("customer_id")
    by_style = truth.groupby("relationship_style")["mean_order_value_eur"].mean()
    assert by_style["status_exclusivity"] > 1.5 * by_style["digital_community"]
    rising = truth[truth["is_rising"]]
    assert 0.03 < truth["is_rising"].mean() < 0.07
    assert rising["alive_at_end"].all()
    tx = population.transactions.merge(rising[["rising_since"]], left_on="customer_id", right_index=True)
    late = tx["timestamp"] >= tx["rising_since"]
    weeks_before = ((tx["rising_since"] - pd.Timestamp(population.start)).dt.days / 7).groupby(tx["customer_id"]).first()
    weeks_after = ((pd.Timestamp(population.end) - tx["rising_since"]).dt.days / 7).groupby(tx["customer_id"]).first()
    spend = tx.groupby([tx["customer_id"], late])["amount"].sum().unstack(fill_value=0.0)
    rate_before = (spend[False] / weeks_before).median()
    rate_after = (spend[True] / weeks_after).median()
    assert rate_after > 3 * rate_before


def test_histories_follow_the_generating_process():
    rng = np.random.default_rng(11)
    n, horizon = 20_000, 3 * 365.0
    h = simulate_histories(rng, np.zeros(n), horizon)
    p = DEFAULT_PURCHASE_PARAMS
    assert h.rate_per_week.mean() == pytest.approx(p.r / p.alpha, rel=0.05)
    assert h.dropout_probability.mean() == pytest.approx(p.a / (p.a + p.b), rel=0.05)
    assert np.median(h.mean_order_value_eur) == pytest.approx(p.p * p.gamma / (p.q - 1), rel=0.25)
    counts = np.bincount(h.customer, minlength=n)
    assert counts.min() == 1  # the first purchase
    # Repeat purchases in (0, t] follow the BG/NBD distribution, eq. (8) of Fader, Hardie & Lee
    # (2005); each observed share lies within 4 binomial standard errors of it.
    expected = _bgnbd_pmf(np.arange(6), horizon / 7.0, p.r, p.alpha, p.a, p.b)
    observed = np.bincount(counts - 1, minlength=6)[:6] / n
    np.testing.assert_array_less(np.abs(observed - expected), 4 * np.sqrt(expected * (1 - expected) / n))
    # a customer can drop out only right after a repeat purchase, never after the first one
    assert counts[~h.alive_at_end].min() >= 2
    assert (np.diff(h.day)[np.diff(h.customer) == 0] >= 0).all()


def _bgnbd_pmf(x: np.ndarray, t: float, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """P(X(t) = x), eq. (8) of Fader, Hardie & Lee (2005)."""
    log_nb = (gammaln(r + x) - gammaln(r) - gammaln(x + 1)
              + r * np.log(alpha / (alpha + t)) + x * np.log(t / (alpha + t)))
    first = np.exp(betaln(a, b + x) - betaln(a, b) + log_nb)
    below_x = np.concatenate([[0.0], np.cumsum(np.exp(log_nb))[:-1]])  # sum over j < x of NB(j)
    second = np.where(x > 0, np.exp(betaln(a + 1, np.maximum(b + x - 1, 1e-12)) - betaln(a, b)), 0.0)
    return first + second * (1.0 - below_x)


def test_stream_recovers_the_generating_bgnbd_parameters():
    # Fitting the BG/NBD on the stream's RFM summary recovers r, alpha, a, b. The bound is three
    # standard errors plus 3% of the value: the summary collapses purchases on one calendar day
    # into one (the lifetimes convention), which drops ~0.7% of the repeat purchases, mostly of
    # the heaviest buyers, and moves alpha up by ~2% (r by ~1%) against a fit on exact times.
    p = DEFAULT_PURCHASE_PARAMS
    summary = pd.concat([
        summary_from_transactions(chunk, "customer_id", "timestamp", "amount", observation_end="2025-06-30")
        for chunk in iter_transactions(100_000, seed=3, chunk_size=50_000)])
    model = BetaGeoModel().fit(summary)
    for name in ("r", "alpha", "a", "b"):
        truth = getattr(p, name)
        assert abs(model.params_[name] - truth) <= 3 * model.se_[name] + 0.03 * truth, (
            name, model.params_[name], model.se_[name])


def test_stream_is_chunked_reproducible_and_covers_every_customer():
    chunks = list(iter_transactions(2_500, seed=4, chunk_size=1_000))
    assert len(chunks) == 3
    assert [c["customer_id"].nunique() for c in chunks] == [1000, 1000, 500]
    ids = [set(c["customer_id"]) for c in chunks]
    assert not ids[0] & ids[1] and not ids[1] & ids[2]
    assert all(tuple(c.columns) == TRANSACTION_COLUMNS for c in chunks)
    assert isinstance(chunks[0]["category"].dtype, pd.CategoricalDtype)
    orders = pd.concat([c["order_id"] for c in chunks])
    assert orders.drop_duplicates().size == pd.concat(chunks)[["order_id"]].drop_duplicates().shape[0]
    assert pd.concat(chunks).duplicated(["order_id", "line_id"]).sum() == 0
    again = next(iter_transactions(2_500, seed=4, chunk_size=1_000))
    pd.testing.assert_frame_equal(chunks[0], again)
    other = next(iter_transactions(2_500, seed=5, chunk_size=1_000))
    assert not chunks[0]["amount"].equals(other["amount"])
    with pytest.raises(ValueError, match="chunk_size"):
        next(iter_transactions(10, chunk_size=0))


def test_stream_generator_is_lazy():
    stream = iter_transactions(1_000_000, seed=0, chunk_size=2_000)
    first = next(stream)  # a million customers, but only one chunk is ever built
    assert first["customer_id"].nunique() == 2_000
    assert first["customer_id"].iloc[0] == "C0000001"
