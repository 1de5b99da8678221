import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from scipy.optimize import linear_sum_assignment

from survey_engine.psychometrics.correlation import correlation_matrix
from survey_engine.psychometrics.efa import FactorModel, fit_indices, order_and_sign, unrotated_loadings

from .conftest import BFI_ITEMS, keyed


def tucker_congruence(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """φ_jk = Σ a_ij b_ik / √(Σ a_ij² Σ b_ik²) (Tucker 1951) for all column pairs."""
    return (A.T @ B) / np.sqrt(np.outer((A**2).sum(0), (B**2).sum(0)))


@pytest.mark.parametrize("correlation", ["pearson", "polychoric"])
def test_recovers_the_generating_loadings(world, sample_3000, correlation):
    X = keyed(sample_3000)
    model = FactorModel(n_factors=8, correlation=correlation).fit(X)
    truth = np.abs(world.loadings)
    phi = tucker_congruence(model.loadings_, truth)
    rows, cols = linear_sum_assignment(-np.abs(phi))
    congruence = phi[rows, cols]
    assert congruence.min() >= 0.98, congruence
    # stable sign: every recovered factor points the way of its construct
    assert (congruence > 0).all()
    # factor correlations in the same order as the loadings' columns
    order = np.empty(8, dtype=int)
    order[cols] = rows
    recovered = model.phi_[np.ix_(order, order)]
    assert np.abs(recovered - world.factor_correlation).max() < 0.08


def test_oblique_communalities_include_factor_correlations(sample_3000):
    X = keyed(sample_3000)
    model = FactorModel(n_factors=8, rotation="oblimin", correlation="pearson").fit(X)
    L, phi = model.loadings_, model.phi_
    np.testing.assert_allclose(model.communalities_, np.diag(L @ phi @ L.T), atol=1e-12)
    # rotation does not change the model: h² equals the unrotated row sums of squares
    unrotated = unrotated_loadings(model.correlation_, 8, "minres")
    np.testing.assert_allclose(model.communalities_, (unrotated**2).sum(axis=1), atol=1e-6)
    np.testing.assert_allclose(L @ phi @ L.T, unrotated @ unrotated.T, atol=1e-6)
    # the row sum of squared pattern loadings (what factor_analyzer reports) is wrong here
    assert np.abs((L**2).sum(axis=1) - model.communalities_).max() > 0.02
    np.testing.assert_allclose(model.uniquenesses_, 1 - model.communalities_)


@pytest.mark.parametrize("rotation", ["promax", "varimax", "quartimin", "geomin_obl", "none"])
def test_every_rotation_reproduces_the_same_common_variance(sample_3000, rotation):
    X = keyed(sample_3000).iloc[:, :12]
    model = FactorModel(n_factors=3, rotation=rotation).fit(X)
    reference = FactorModel(n_factors=3, rotation="none").fit(X)
    np.testing.assert_allclose(model.communalities_, reference.communalities_, atol=1e-5)
    if rotation in ("varimax", "none"):
        np.testing.assert_allclose(model.phi_, np.eye(3))


def test_order_and_sign_follow_variance_and_loading_sums():
    L = np.array([[0.1, -0.8], [0.2, -0.7], [0.6, 0.1], [0.5, 0.0]])
    phi = np.array([[1.0, 0.3], [0.3, 1.0]])
    L2, phi2 = order_and_sign(L, phi)
    np.testing.assert_allclose(L2[:, 0], [0.8, 0.7, -0.1, 0.0])  # larger factor first, flipped
    np.testing.assert_allclose(phi2, [[1.0, -0.3], [-0.3, 1.0]])  # Φ follows the columns
    np.testing.assert_allclose(L2 @ phi2 @ L2.T, L @ phi @ L.T)


def test_refits_are_comparable_under_row_shuffling(sample_3000):
    X = keyed(sample_3000)
    a = FactorModel(n_factors=8).fit(X)
    b = FactorModel(n_factors=8).fit(X.sample(frac=1.0, random_state=3))
    np.testing.assert_allclose(a.loadings_, b.loadings_, atol=1e-4)
    np.testing.assert_allclose(a.phi_, b.phi_, atol=1e-4)


def test_bfi_matches_psych_fa_printout(bfi, bfi_reference):
    ref = bfi_reference["fa_5_minres_oblimin"]
    model = FactorModel(n_factors=5, method="minres", rotation="oblimin", correlation="pearson",
                        missing="pairwise").fit(bfi[BFI_ITEMS])
    half = 0.005 + 1e-9  # printed to two decimals
    for i, item in enumerate(BFI_ITEMS):
        np.testing.assert_allclose(model.loadings_[i], ref["loadings"][item], atol=half, err_msg=item)
        assert model.communalities_[i] == pytest.approx(ref["h2"][item], abs=half), item
        assert model.uniquenesses_[i] == pytest.approx(ref["u2"][item], abs=half), item
    for item, (column, value) in ref["loadings_3dp"]["values"].items():
        assert model.loadings_[BFI_ITEMS.index(item), column] == pytest.approx(value, abs=0.0005 + 1e-9), item
    np.testing.assert_allclose(model.phi_, ref["factor_correlations"], atol=half)
    np.testing.assert_allclose(model.variance_["ss_loadings"], ref["ss_loadings"], atol=half)
    fit = model.fit_indices_
    assert fit["rmsr"] == pytest.approx(ref["fit"]["rmsr"], abs=half)
    assert fit["dof"] == ref["fit"]["dof"] and fit["null_dof"] == ref["fit"]["null_dof"]
    assert fit["null_chi2"] == pytest.approx(ref["fit"]["null_chi2"], abs=0.005)
    assert fit["chi2"] == pytest.approx(ref["fit"]["chi2"], abs=0.005)
    assert fit["tli"] == pytest.approx(ref["fit"]["tli"], abs=0.0005)
    assert fit["rmsea"] == pytest.approx(ref["fit"]["rmsea"], abs=0.0005)
    assert fit["bic"] == pytest.approx(ref["fit"]["bic"], abs=0.005)


def test_fit_indices_of_a_perfect_model():
    L = np.array([[0.8], [0.7], [0.6], [0.5]])
    R = L @ L.T
    np.fill_diagonal(R, 1.0)
    fit = fit_indices(R, L, np.eye(1), n_obs=500)
    assert fit["rmsr"] == pytest.approx(0.0, abs=1e-12)
    assert fit["chi2"] == pytest.approx(0.0, abs=1e-9)
    assert fit["rmsea"] == 0.0 and fit["dof"] == 2
    assert fit["bic"] == pytest.approx(-2 * np.log(500))


def test_scores_online_equal_batch_and_textbook_weights(sample_3000):
    X = keyed(sample_3000)
    for method in ("regression", "bartlett"):
        model = FactorModel(n_factors=8, scores=method).fit(X)
        batch = model.transform(X.iloc[:50])
        for i in range(50):
            online = model.score_one(X.iloc[i].to_dict())
            np.testing.assert_allclose(online, batch[i], atol=1e-12)
        Z = (X.to_numpy() - X.mean().to_numpy()) / X.std(ddof=1).to_numpy()
        L, phi, psi = model.loadings_, model.phi_, np.diag(model.uniquenesses_)
        if method == "regression":
            W = np.linalg.inv(model.correlation_) @ L @ phi  # Thurstone
        else:
            W = np.linalg.inv(psi) @ L @ np.linalg.inv(L.T @ np.linalg.inv(psi) @ L)  # Bartlett
        np.testing.assert_allclose(model.transform(X), Z @ W, atol=1e-9)


def test_partial_answers_are_scored_from_the_answered_items(sample_3000):
    X = keyed(sample_3000)
    model = FactorModel(n_factors=8).fit(X)
    answers = X.iloc[0].to_dict()
    answered = [item for item in model.items_ if item not in ("ch1", "es2", "su4")]
    partial = {item: answers[item] for item in answered}
    idx = [model.items_.index(item) for item in answered]
    z = (np.array([answers[i] for i in answered]) - model.means_[idx]) / model.scales_[idx]
    R = model.correlation_[np.ix_(idx, idx)]
    expected = z @ np.linalg.solve(R, model.loadings_[idx] @ model.phi_)
    np.testing.assert_allclose(model.score_one(partial), expected, atol=1e-12)
    row = X.iloc[[0]].copy()
    row[["ch1", "es2", "su4"]] = np.nan
    np.testing.assert_allclose(model.transform(row)[0], expected, atol=1e-12)
    assert np.isnan(model.score_one({})).all()


def test_state_round_trip_scores_identically(sample_3000):
    X = keyed(sample_3000)
    model = FactorModel(n_factors=8, rotation="promax").fit(X)
    import json

    clone = FactorModel.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_allclose(clone.transform(X.iloc[:20]), model.transform(X.iloc[:20]), atol=1e-12)


def test_invalid_options_name_the_parameter(sample_3000):
    with pytest.raises(ValueError, match="rotation must be one of"):
        FactorModel(n_factors=2, rotation="spin").fit(keyed(sample_3000))
    with pytest.raises(ValueError, match="n_factors .* must be smaller"):
        FactorModel(n_factors=30).fit(keyed(sample_3000))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FactorModel().transform(np.zeros((1, 3)))


def test_factor_analyzer_compatibility_with_installed_scikit_learn():
    """factor_analyzer 0.5.1 calls check_array(force_all_finite=...), removed in scikit-learn 1.8.

    This guards the pin in pyproject (scikit-learn < 1.8) and that our narrow filter keeps the
    FutureWarning out of users' output while the fit itself works.
    """
    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    assert (major, minor) < (1, 8), sklearn.__version__
    R = np.array([[1.0, 0.5, 0.4], [0.5, 1.0, 0.3], [0.4, 0.3, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loadings = unrotated_loadings(R, 1, "minres")
    assert loadings.shape == (3, 1)
    # a one-factor model of three items is just identified: λ_i λ_j = r_ij
    lam = np.abs(loadings[:, 0])
    assert lam[0] * lam[1] == pytest.approx(0.5, abs=1e-4)
    assert lam[0] * lam[2] == pytest.approx(0.4, abs=1e-4)
