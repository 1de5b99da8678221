"""Pairwise precision/recall counted from cluster sizes equals counting the pairs one by one."""
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from survey_engine.identity.evaluation import pairwise_scores


def test_hand_counted_example():
    # truth: {a, b, c}, {d, e}, {f}; predicted: {a, b}, {c, d, e}, {f}
    ids = list("abcdef")
    truth = pd.Series([1, 1, 1, 2, 2, 3], index=ids)
    predicted = pd.Series([10, 10, 20, 20, 20, 30], index=ids)
    scores = pairwise_scores(predicted, truth)
    # predicted pairs ab, cd, ce, de (4); true pairs ab, ac, bc, de (4); both: ab, de
    assert scores["predicted_pairs"] == 4 and scores["true_pairs"] == 4 and scores["true_positive_pairs"] == 2
    assert scores["precision"] == pytest.approx(0.5) and scores["recall"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx(0.5)


def test_matches_brute_force_on_random_partitions():
    rng = np.random.default_rng(7)
    ids = [f"r{i}" for i in range(60)]
    truth = pd.Series(rng.integers(0, 15, 60), index=ids)
    predicted = pd.Series(rng.integers(0, 12, 60), index=ids)
    pairs_true = {p for p in combinations(ids, 2) if truth[p[0]] == truth[p[1]]}
    pairs_pred = {p for p in combinations(ids, 2) if predicted[p[0]] == predicted[p[1]]}
    scores = pairwise_scores(predicted, truth)
    assert scores["precision"] == pytest.approx(len(pairs_true & pairs_pred) / len(pairs_pred))
    assert scores["recall"] == pytest.approx(len(pairs_true & pairs_pred) / len(pairs_true))


def test_singletons_only_and_mismatched_records():
    ids = list("xyz")
    assert pairwise_scores(pd.Series([1, 2, 3], index=ids), pd.Series([1, 2, 3], index=ids))["precision"] == 1.0
    with pytest.raises(ValueError, match="same records"):
        pairwise_scores(pd.Series([1], index=["x"]), pd.Series([1], index=["y"]))
