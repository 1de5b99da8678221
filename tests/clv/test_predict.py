"""Predictions: horizons and discount rates in the model's unit, discounted CLV."""
import numpy as np
import pytest

from survey_engine.clv.bgnbd import BetaGeoModel
from survey_engine.clv.predict import (
    discounted_expected_purchases, horizon_in_units, predict_customers, rate_per_unit,
)
from survey_engine.clv.summary import calibration_holdout_summary


def test_twelve_months_in_a_weekly_model_is_52_weeks():
    assert horizon_in_units(12, "M", "W") == pytest.approx(365.25 / 7)  # 52.18 weeks
    assert round(horizon_in_units(12, "M", "W")) == 52
    assert horizon_in_units(52, "W", "D") == 364
    assert horizon_in_units(1, "Y", "M") == pytest.approx(12)
    with pytest.raises(ValueError, match="horizon unit must be one of"):
        horizon_in_units(1, "Q", "W")
    with pytest.raises(ValueError, match="horizon must be positive"):
        horizon_in_units(0, "W", "W")


def test_annual_discount_rate_is_converted_to_the_model_unit():
    weekly = rate_per_unit(0.10, "W")
    assert (1 + weekly) ** (365.25 / 7) == pytest.approx(1.10)
    assert rate_per_unit(0.10, "D") == pytest.approx(1.10 ** (1 / 365.25) - 1)
    with pytest.raises(ValueError, match="annual discount rate"):
        rate_per_unit(-1.5, "W")


def test_discounting_sums_step_increments(cdnow_bgnbd):
    x, t_x, T = np.array([0.0, 2.0]), np.array([0.0, 30.43]), np.array([38.86, 38.86])
    undiscounted = discounted_expected_purchases(cdnow_bgnbd, x, t_x, T, 39.0, 0.0)
    np.testing.assert_allclose(undiscounted, cdnow_bgnbd.conditional_expected_purchases(39.0, x, t_x, T))
    d = 0.01
    steps = np.arange(1, 40, dtype=float)
    e = np.array([cdnow_bgnbd.conditional_expected_purchases(s, x, t_x, T) for s in np.r_[0.0, steps]])
    manual = ((e[1:] - e[:-1]) / (1 + d) ** steps[:, None]).sum(axis=0)
    np.testing.assert_allclose(discounted_expected_purchases(cdnow_bgnbd, x, t_x, T, 39.0, d), manual)
    # fractional horizon: the last step ends at the horizon
    part = discounted_expected_purchases(cdnow_bgnbd, x, t_x, T, 2.5, 0.0)
    np.testing.assert_allclose(part, cdnow_bgnbd.conditional_expected_purchases(2.5, x, t_x, T))


def test_predictions_are_the_same_in_days_and_weeks(cdnow_transactions, cdnow_calibration, cdnow_bgnbd, cdnow_gamma_gamma):
    daily = calibration_holdout_summary(cdnow_transactions, "customer", "date", "amount", "1997-09-30",
                                        "1998-06-30", time_unit="D")
    model_d = BetaGeoModel().fit(daily)
    # only the rate's scale depends on the unit: alpha(days) = 7 alpha(weeks)
    assert model_d.params_["alpha"] == pytest.approx(7 * cdnow_bgnbd.params_["alpha"], rel=1e-4)
    for name in ("r", "a", "b"):
        assert model_d.params_[name] == pytest.approx(cdnow_bgnbd.params_[name], rel=1e-4)
    weekly = predict_customers(cdnow_calibration, cdnow_bgnbd, cdnow_gamma_gamma,
                               horizon_in_units(12, "M", "W"), "W", 0.0)
    in_days = predict_customers(daily, model_d, cdnow_gamma_gamma, horizon_in_units(12, "M", "D"), "D", 0.0)
    np.testing.assert_allclose(in_days["expected_purchases"], weekly["expected_purchases"], rtol=1e-3)
    np.testing.assert_allclose(in_days["clv"], weekly["clv"], rtol=1e-3)
    # using "12" as if it were weeks would badly understate a year
    wrong = predict_customers(cdnow_calibration, cdnow_bgnbd, cdnow_gamma_gamma, 12, "W", 0.0)
    assert wrong["expected_purchases"].sum() < 0.4 * weekly["expected_purchases"].sum()


def test_predict_customers_columns_and_values(cdnow_calibration, cdnow_bgnbd, cdnow_gamma_gamma):
    out = predict_customers(cdnow_calibration, cdnow_bgnbd, cdnow_gamma_gamma, 52.0, "W", 0.10)
    assert list(out.columns) == ["p_alive", "expected_purchases", "probability_of_purchase",
                                 "expected_average_value", "clv"]
    row = out.loc[1]  # x=2, t_x=30.43, T=38.86
    assert row["expected_average_value"] == pytest.approx(24.65, abs=0.01)
    undiscounted = predict_customers(cdnow_calibration, cdnow_bgnbd, cdnow_gamma_gamma, 52.0, "W", 0.0)
    assert undiscounted.loc[1, "clv"] == pytest.approx(row["expected_average_value"] * row["expected_purchases"])
    assert (out["clv"] < undiscounted["clv"] + 1e-12).all() and (out["clv"] > 0.9 * undiscounted["clv"]).all()
    assert ((out["p_alive"] > 0) & (out["p_alive"] <= 1)).all()
    assert (out["probability_of_purchase"] <= out["p_alive"] + 1e-12).all()
