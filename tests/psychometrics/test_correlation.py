import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import multivariate_normal

from survey_engine.psychometrics.correlation import (
    PearsonAccumulator,
    PolychoricAccumulator,
    _thresholds_from_counts,
    bivariate_normal_cdf,
    correlation_matrix,
    resolve_kind,
    smooth_correlation,
)

from .conftest import keyed, latent_item_correlation, simulate


def test_bivariate_normal_cdf_matches_scipy_and_closed_form():
    rng = np.random.default_rng(3)
    for h, k, r in zip(rng.normal(0, 1.5, 40), rng.normal(0, 1.5, 40), rng.uniform(-0.97, 0.97, 40)):
        expected = multivariate_normal(cov=[[1, r], [r, 1]]).cdf([h, k])
        assert bivariate_normal_cdf(h, k, r) == pytest.approx(expected, abs=1e-7)
    # Sheppard: Φ₂(0, 0; ρ) = 1/4 + asin(ρ)/(2π)
    for r in (-0.9, -0.3, 0.0, 0.5, 0.95):
        assert bivariate_normal_cdf(0.0, 0.0, r) == pytest.approx(0.25 + np.arcsin(r) / (2 * np.pi), abs=1e-12)


def test_pairwise_pearson_equals_pandas_and_is_chunk_invariant():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    X[rng.random(X.shape) < 0.1] = np.nan
    expected = pd.DataFrame(X).corr().to_numpy()  # pandas uses pairwise-complete observations
    for chunk in (500, 97, 1):
        result = correlation_matrix(X, "pearson", "pairwise", chunk_size=chunk, smooth=False)
        np.testing.assert_allclose(result.matrix, expected, atol=1e-12)
    n_both = (~np.isnan(X[:, 0]) & ~np.isnan(X[:, 1])).sum()
    assert result.pairwise_n[0, 1] == n_both
    np.testing.assert_allclose(result.covariance, pd.DataFrame(X).cov().to_numpy(), atol=1e-10)
    # this pairwise matrix happens not to be positive definite: the default smooths and says so
    smoothed = correlation_matrix(X, "pearson", "pairwise")
    assert np.linalg.eigvalsh(expected).min() < 0
    assert smoothed.smoothing["smoothed"] and np.linalg.eigvalsh(smoothed.matrix).min() > 0


def test_listwise_pearson_uses_complete_rows_only():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    complete = X[~np.isnan(X).any(axis=1)]
    result = correlation_matrix(X, "pearson", "listwise", chunk_size=50)
    np.testing.assert_allclose(result.matrix, np.corrcoef(complete.T), atol=1e-12)
    assert result.n_obs == len(complete)


def test_polychoric_recovers_generating_latent_correlations():
    X = keyed(simulate(20_000, seed=5)).to_numpy()
    result = correlation_matrix(X, "polychoric", categories=range(1, 8))
    truth = latent_item_correlation()
    errors = np.abs(result.matrix - truth)[np.triu_indices(30, 1)]
    assert errors.max() <= 0.03
    assert errors.mean() <= 0.01
    # Pearson on the 7-point answers is attenuated; polychoric is not
    pearson = correlation_matrix(X, "pearson").matrix
    assert np.abs(pearson - truth)[np.triu_indices(30, 1)].mean() > errors.mean()


def test_polychoric_is_the_maximum_likelihood_estimate_of_each_table():
    X = keyed(simulate(1500, seed=8)).to_numpy()[:, :5]
    acc = PolychoricAccumulator(5, range(1, 8)).update(X)
    result = acc.result()
    tau = [_thresholds_from_counts(acc._marginals[i]) for i in range(5)]
    for i, j in [(0, 1), (0, 4), (2, 3)]:
        table = acc._tables[i, j]

        def negloglik(r):
            cdf = bivariate_normal_cdf(tau[i][:, None], tau[j][None, :], r)
            pi = cdf[1:, 1:] - cdf[:-1, 1:] - cdf[1:, :-1] + cdf[:-1, :-1]
            return -np.sum(table * np.log(np.maximum(pi, 1e-300)))

        best = minimize_scalar(negloglik, bounds=(-0.999, 0.999), method="bounded",
                               options={"xatol": 1e-10})
        assert result.matrix[i, j] == pytest.approx(best.x, abs=1e-6)


def test_polychoric_chunked_equals_one_pass_and_handles_missing():
    X = keyed(simulate(4000, seed=2)).to_numpy()[:, :8]
    X[np.random.default_rng(4).random(X.shape) < 0.05] = np.nan
    one = correlation_matrix(X, "polychoric", chunk_size=len(X)).matrix
    chunked = correlation_matrix(X, "polychoric", chunk_size=333).matrix
    np.testing.assert_allclose(one, chunked, atol=1e-9)
    listwise = correlation_matrix(X, "polychoric", "listwise")
    assert listwise.n_obs == (~np.isnan(X).any(axis=1)).sum()


def test_accumulator_state_does_not_grow_with_respondents():
    rng = np.random.default_rng(0)
    acc = PearsonAccumulator(5)
    poly = PolychoricAccumulator(5, range(1, 8))
    sizes = []
    for _ in range(3):
        chunk = rng.integers(1, 8, size=(10_000, 5)).astype(float)
        acc.update(chunk)
        poly.update(chunk)
        sizes.append(sum(v.nbytes for v in vars(acc).values() if isinstance(v, np.ndarray))
                     + poly._tables.nbytes + poly._marginals.nbytes)
    assert sizes[0] == sizes[-1]
    assert acc.result().n_obs == 30_000


def test_non_positive_definite_matrix_is_smoothed_and_reported():
    R = np.array([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]])
    assert np.linalg.eigvalsh(R).min() < 0
    S, info = smooth_correlation(R)
    assert np.linalg.eigvalsh(S).min() > 0
    np.testing.assert_allclose(np.diag(S), 1.0)
    np.testing.assert_allclose(S, S.T)
    assert info["smoothed"] and info["eigenvalues_replaced"] == 1
    assert info["min_eigenvalue_before"] == pytest.approx(np.linalg.eigvalsh(R).min())
    assert info["max_abs_change"] == pytest.approx(np.abs(S - R).max())
    same, none = smooth_correlation(np.eye(3))
    assert none is None and same is not None


def test_auto_picks_polychoric_for_at_most_seven_categories():
    likert = np.tile(np.arange(1, 8, dtype=float), (3, 1)).T
    assert resolve_kind("auto", likert) == "polychoric"
    continuous = np.random.default_rng(0).normal(size=(50, 3))
    assert resolve_kind("auto", continuous) == "pearson"
    with pytest.raises(ValueError, match="correlation must be one of"):
        resolve_kind("spearman", likert)


def test_values_outside_declared_categories_are_rejected():
    with pytest.raises(ValueError, match="not one of the declared categories"):
        correlation_matrix(np.array([[1.0, 2.0], [3.0, 9.0], [2.0, 2.0]]), "polychoric", categories=range(1, 8))


def test_zero_variance_item_makes_correlation_undefined_with_a_clear_error():
    X = np.column_stack([np.ones(20), np.arange(20.0), np.arange(20.0) % 3])
    with pytest.raises(ValueError, match="item columns 0 and 1 is undefined"):
        correlation_matrix(X, "pearson")
