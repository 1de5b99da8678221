import numpy as np
import pytest

from survey_engine.psychometrics.correlation import correlation_matrix
from survey_engine.psychometrics.reliability import (
    alpha_if_deleted,
    cronbach_alpha,
    omega_total,
    one_factor_omega,
    scale_reliability,
)

from .conftest import BFI_ITEMS


def test_alpha_matches_the_textbook_variance_formula():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 1)) + rng.normal(size=(400, 5)) * [0.5, 1, 1.5, 1, 2]
    k = X.shape[1]
    textbook = k / (k - 1) * (1 - X.var(axis=0, ddof=1).sum() / X.sum(axis=1).var(ddof=1))
    assert cronbach_alpha(np.cov(X.T)) == pytest.approx(textbook, abs=1e-12)
    dropped = alpha_if_deleted(np.cov(X.T))
    for i in range(k):
        rest = np.delete(X, i, axis=1)
        expected = (k - 1) / (k - 2) * (1 - rest.var(axis=0, ddof=1).sum() / rest.sum(axis=1).var(ddof=1))
        assert dropped[i] == pytest.approx(expected, abs=1e-12)


def test_standardized_alpha_is_the_spearman_brown_of_the_mean_correlation():
    R = np.full((4, 4), 0.3)
    np.fill_diagonal(R, 1.0)
    assert cronbach_alpha(R) == pytest.approx(4 * 0.3 / (1 + 3 * 0.3))


def test_omega_total_textbook_and_one_factor_fit():
    lam = np.array([0.8, 0.7, 0.6, 0.5])
    expected = lam.sum() ** 2 / (lam.sum() ** 2 + (1 - lam**2).sum())
    assert omega_total(lam, 1 - lam**2) == pytest.approx(expected)
    R = np.outer(lam, lam)
    np.fill_diagonal(R, 1.0)
    assert one_factor_omega(R) == pytest.approx(expected, abs=1e-4)
    # for tau-equivalent items omega equals alpha
    R_tau = np.full((4, 4), 0.49)
    np.fill_diagonal(R_tau, 1.0)
    assert one_factor_omega(R_tau) == pytest.approx(cronbach_alpha(R_tau), abs=1e-4)
    assert one_factor_omega(R[:2, :2]) is None


def test_bfi_alpha_matches_psych_printout(bfi, bfi_reference):
    ref = bfi_reference["alpha_all_25"]
    X = bfi[BFI_ITEMS].to_numpy(dtype=float)
    result = correlation_matrix(X, "pearson", "pairwise", smooth=False)
    half = 0.005 + 1e-9
    assert cronbach_alpha(result.covariance) == pytest.approx(ref["raw"]["raw_alpha"], abs=half)
    assert cronbach_alpha(result.matrix) == pytest.approx(ref["raw"]["std_alpha"], abs=half)
    dropped = dict(zip(BFI_ITEMS, alpha_if_deleted(result.covariance)))
    for item, value in ref["raw"]["alpha_if_deleted"].items():
        assert dropped[item] == pytest.approx(value, abs=half), item
    signs = np.array([-1.0 if item in ref["check_keys"]["reversed"] else 1.0 for item in BFI_ITEMS])
    D = np.outer(signs, signs)
    keyed = scale_reliability(result.covariance * D, result.matrix * D, BFI_ITEMS)
    assert keyed["alpha"] == pytest.approx(ref["check_keys"]["raw_alpha"], abs=half)
    assert keyed["alpha_standardized"] == pytest.approx(ref["check_keys"]["std_alpha"], abs=half)
    for item, value in ref["check_keys"]["alpha_if_deleted"].items():
        assert keyed["alpha_if_deleted"][item] == pytest.approx(value, abs=half), item
