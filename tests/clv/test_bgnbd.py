"""BG/NBD against Fader, Hardie & Lee (2005) on CDNOW and against its own generating process."""
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from survey_engine.clv.bgnbd import BetaGeoModel, log_likelihood_terms, sample_bgnbd_summary

PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def test_estimates_match_the_paper_from_raw_transactions(cdnow_bgnbd, published):
    ref = published["bgnbd"]
    for name, value in ref["params"].items():
        assert round(cdnow_bgnbd.params_[name], ref["params_decimals"]) == value, name
    assert round(cdnow_bgnbd.log_likelihood_, ref["log_likelihood_decimals"]) == ref["log_likelihood"]
    assert cdnow_bgnbd.n_customers_ == 2357


def test_estimates_match_the_paper_from_the_published_summary(cdnow_published_summary, published):
    model = BetaGeoModel().fit(cdnow_published_summary)
    for name, value in published["bgnbd"]["params"].items():
        assert round(model.params_[name], 3) == value, name
    assert round(model.log_likelihood_, 1) == published["bgnbd"]["log_likelihood"]
    # standard errors: reference output of lifetimes 0.11.3 BetaGeoFitter.summary on the same file
    for name, se in published["bgnbd"]["lifetimes_se"].items():
        assert model.se_[name] == pytest.approx(se, rel=2e-3), name


def test_conditional_expectation_of_the_paper_customer(cdnow_bgnbd, published):
    ref = published["conditional_expectation"]
    c = ref["customer"]
    value = cdnow_bgnbd.conditional_expected_purchases(ref["t"], c["frequency"], c["recency"], c["T"])
    assert round(float(value), ref["decimals"]) == ref["expected"]


def test_unconditional_expectation_matches_the_excel_sheet(cdnow_bgnbd, published):
    ref = published["unconditional_expectation"]
    np.testing.assert_allclose(cdnow_bgnbd.expected_purchases(ref["t"]), ref["expected"], atol=ref["atol"])


def test_fit_on_unique_rows_with_counts_equals_fit_on_all_rows(cdnow_calibration, cdnow_bgnbd):
    rows = cdnow_calibration[["frequency", "recency", "T"]]
    unique = rows.value_counts().reset_index()
    assert len(unique) < len(rows) / 2
    weighted = BetaGeoModel().fit(unique[["frequency", "recency", "T"]], sample_weight=unique["count"])
    assert weighted.log_likelihood_ == pytest.approx(cdnow_bgnbd.log_likelihood_, abs=1e-6)
    for name in PAPER:
        assert weighted.params_[name] == pytest.approx(cdnow_bgnbd.params_[name], rel=1e-5)
    total = log_likelihood_terms(list(cdnow_bgnbd.params_.values()), rows["frequency"], rows["recency"], rows["T"]).sum()
    assert total == pytest.approx(cdnow_bgnbd.log_likelihood_, abs=1e-8)


@pytest.fixture(scope="module")
def simulated():
    """200,000 customers from the generating process with the paper's parameters, 39 + 39 weeks."""
    return sample_bgnbd_summary(200_000, PAPER, 39.0, np.random.default_rng(20240501), holdout=39.0)


def _known_model() -> BetaGeoModel:
    model = BetaGeoModel()
    model.params_ = dict(PAPER)
    return model


def test_expected_purchases_equal_the_simulated_mean(simulated):
    # eq. (9) at t = 39 against the mean of 200,000 draws (sd of the mean ~ 0.006)
    assert simulated["frequency"].mean() == pytest.approx(_known_model().expected_purchases(39.0), abs=0.02)


def test_p_alive_is_calibrated_against_the_true_state(simulated):
    model = _known_model()
    p = model.probability_alive(simulated["frequency"], simulated["recency"], simulated["T"])
    assert np.all(p[simulated["frequency"] == 0] == 1.0)
    for x in (1, 2, 5):
        group = simulated["frequency"] == x
        assert simulated["alive"][group].mean() == pytest.approx(p[group].mean(), abs=0.015), x
    recent = (simulated["frequency"] > 0) & (simulated["recency"] > 30)
    stale = (simulated["frequency"] > 0) & (simulated["recency"] < 10)
    assert p[recent].mean() > p[stale].mean() + 0.3


def test_conditional_predictions_match_the_simulated_holdout(simulated):
    model = _known_model()
    x, t_x, T = simulated["frequency"], simulated["recency"], simulated["T"]
    expected = model.conditional_expected_purchases(39.0, x, t_x, T)
    buy = model.probability_of_purchase(39.0, x, t_x, T)
    for group in (x == 0, x == 2, x >= 5):
        assert simulated["frequency_holdout"][group].mean() == pytest.approx(expected[group].mean(), rel=0.03)
        assert (simulated["frequency_holdout"][group] > 0).mean() == pytest.approx(buy[group].mean(), abs=0.015)


def test_parameters_are_recovered_from_simulated_data(simulated):
    model = BetaGeoModel().fit(simulated)
    for name, value in PAPER.items():
        # within 3 standard errors of the truth
        assert abs(model.params_[name] - value) < 3 * model.se_[name], (name, model.params_[name], model.se_[name])


def test_estimator_contract():
    model = BetaGeoModel(penalizer=0.01, max_iter=50)
    assert clone(model).get_params() == {"penalizer": 0.01, "tol": 1e-8, "max_iter": 50}
    with pytest.raises(NotFittedError):
        model.probability_alive(1, 1, 2)
    data = sample_bgnbd_summary(500, PAPER, 30.0, np.random.default_rng(3))
    assert model.fit(data) is model
    assert not hasattr(BetaGeoModel(), "params_")
    np.testing.assert_allclose(model.predict(data, 10.0),
                               model.conditional_expected_purchases(10.0, data["frequency"], data["recency"], data["T"]))


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"frequency": [1.0], "recency": [5.0], "T": [3.0]}), "recency is larger than T"),
        (pd.DataFrame({"frequency": [-1.0], "recency": [0.0], "T": [3.0]}), "frequency is negative"),
        (pd.DataFrame({"frequency": [1.5], "recency": [1.0], "T": [3.0]}), "whole number"),
        (pd.DataFrame({"frequency": [1.0], "recency": [1.0], "T": [0.0]}), "T .* must be positive"),
        (pd.DataFrame({"frequency": [1.0], "recency": [np.nan], "T": [2.0]}), "recency has a missing"),
        (pd.DataFrame({"frequency": [1.0], "recency": [1.0]}), "missing column"),
    ],
)
def test_invalid_summaries_name_the_column(frame, message):
    with pytest.raises(ValueError, match=message):
        BetaGeoModel().fit(frame)


def test_penalizer_shrinks_the_parameters(cdnow_calibration, cdnow_bgnbd):
    shrunk = BetaGeoModel(penalizer=0.1).fit(cdnow_calibration)
    assert sum(shrunk.params_.values()) < sum(cdnow_bgnbd.params_.values())
    assert shrunk.log_likelihood_ < cdnow_bgnbd.log_likelihood_
    with pytest.raises(ValueError, match="penalizer must be >= 0"):
        BetaGeoModel(penalizer=-1).fit(cdnow_calibration)
