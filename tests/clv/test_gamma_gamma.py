"""Gamma-Gamma spend model against Fader, Hardie & Lee (2005) / Fader & Hardie (2013) on CDNOW."""
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from survey_engine.clv.gamma_gamma import GammaGammaModel


def test_estimates_match_the_published_values(cdnow_gamma_gamma, published):
    ref = published["gamma_gamma"]
    assert cdnow_gamma_gamma.n_customers_ == ref["n_repeat_customers"]
    for name, value in ref["params"].items():
        assert round(cdnow_gamma_gamma.params_[name], ref["params_decimals"]) == value, name
    assert cdnow_gamma_gamma.log_likelihood_ == pytest.approx(ref["log_likelihood"], abs=ref["log_likelihood_atol"])


def test_standard_errors_match_reference_output(cdnow_published_summary, published):
    # the summary file rounds zbar to cents, which moves gamma to 15.4477 (the raw transactions give 15.4435)
    model = GammaGammaModel().fit(cdnow_published_summary)
    for name, value in published["gamma_gamma"]["lifetimes_params"].items():
        assert model.params_[name] == pytest.approx(value, rel=1e-4), name
    for name, se in published["gamma_gamma"]["lifetimes_se"].items():
        assert model.se_[name] == pytest.approx(se, rel=2e-3), name


def test_conditional_expected_average_value_matches_the_spreadsheet(cdnow_gamma_gamma, cdnow_published_summary, published):
    ref = published["gamma_gamma"]["first_ten_expected_average_value"]
    first = cdnow_published_summary.head(10)
    values = cdnow_gamma_gamma.conditional_expected_average_value(first["frequency"], first["monetary_value"])
    np.testing.assert_allclose(values, ref["values"], atol=ref["atol"])
    # no repeat purchase: the population mean p * gamma / (q - 1)
    p = cdnow_gamma_gamma.params_
    assert values[2] == pytest.approx(p["p"] * p["gamma"] / (p["q"] - 1))


def test_independence_check_reports_the_correlation(cdnow_gamma_gamma):
    # Pearson correlation of frequency and mean repeat spend among the 946 repeat buyers
    assert cdnow_gamma_gamma.frequency_monetary_correlation_ == pytest.approx(0.1139, abs=5e-4)


def test_correlated_spend_and_frequency_raise_a_warning():
    rng = np.random.default_rng(5)
    x = rng.integers(1, 20, 400).astype(float)
    m = 10 * x + rng.gamma(2.0, 5.0, 400)
    with pytest.warns(UserWarning, match="correlated"):
        model = GammaGammaModel().fit(pd.DataFrame({"frequency": x, "monetary_value": m}))
    assert model.frequency_monetary_correlation_ > 0.9


def test_parameters_are_recovered_from_the_generating_process():
    rng = np.random.default_rng(11)
    true = {"p": 6.0, "q": 4.0, "gamma": 15.0}
    n = 20_000
    x = rng.integers(1, 8, n).astype(float)
    nu = rng.gamma(true["q"], 1.0 / true["gamma"], n)
    # mean of x Gamma(p, nu) transactions = Gamma(p x, rate nu x)
    m = rng.gamma(true["p"] * x, 1.0 / (nu * x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = GammaGammaModel().fit(pd.DataFrame({"frequency": x, "monetary_value": m}))
    for name, value in true.items():
        assert abs(model.params_[name] - value) < 3 * model.se_[name], (name, model.params_[name])


def test_non_repeat_buyers_are_left_out_and_bad_values_named():
    frame = pd.DataFrame({"frequency": [0, 1, 2, 3, 4], "monetary_value": [0, 10, 12, 9, 11.0]})
    assert GammaGammaModel().fit(frame).n_customers_ == 4
    with pytest.raises(ValueError, match="monetary_value must be > 0 for repeat buyers \\(row 1\\)"):
        GammaGammaModel().fit(frame.assign(monetary_value=[0, 0, 12, 9, 11.0]))
    with pytest.raises(ValueError, match="at least 3 repeat buyers"):
        GammaGammaModel().fit(frame.head(3))
    with pytest.raises(ValueError, match="monetary_value must be finite"):
        GammaGammaModel().fit(frame.assign(monetary_value=[0, -1, 12, 9, 11.0]))


def test_estimator_contract(cdnow_calibration):
    model = GammaGammaModel(max_abs_correlation=0.5)
    assert clone(model).get_params()["max_abs_correlation"] == 0.5
    assert model.fit(cdnow_calibration) is model
    np.testing.assert_allclose(model.predict(cdnow_calibration),
                               model.conditional_expected_average_value(cdnow_calibration["frequency"],
                                                                        cdnow_calibration["monetary_value"]))
