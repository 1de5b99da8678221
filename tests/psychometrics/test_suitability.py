import warnings

import numpy as np
import pytest
from factor_analyzer.factor_analyzer import calculate_bartlett_sphericity, calculate_kmo

from survey_engine.psychometrics.suitability import bartlett_sphericity, kmo

from .conftest import keyed


def test_kmo_and_bartlett_agree_with_factor_analyzer(sample_3000):
    X = keyed(sample_3000).to_numpy()
    R = np.corrcoef(X.T)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        per_item_ref, overall_ref = calculate_kmo(X)
        chi2_ref, p_ref = calculate_bartlett_sphericity(X)
    overall, per_item = kmo(R)
    assert overall == pytest.approx(overall_ref, abs=1e-10)
    np.testing.assert_allclose(per_item, per_item_ref, atol=1e-10)
    chi2, df, p = bartlett_sphericity(R, len(X))
    assert chi2 == pytest.approx(chi2_ref, rel=1e-10)
    assert df == 30 * 29 // 2


def test_kmo_textbook_two_variable_and_identity_cases():
    # with independent items there is nothing to factor: Bartlett's chi2 is 0, p = 1
    chi2, df, p = bartlett_sphericity(np.eye(4), n_obs=100)
    assert chi2 == pytest.approx(0.0, abs=1e-12) and p == pytest.approx(1.0)
    # for two items the partial correlation equals the correlation, so KMO = 0.5
    R = np.array([[1.0, 0.6], [0.6, 1.0]])
    overall, per_item = kmo(R)
    assert overall == pytest.approx(0.5)
    np.testing.assert_allclose(per_item, 0.5)
