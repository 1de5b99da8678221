"""RFM summaries: same-day orders count once, units, hold-out split, and the published CDNOW summary."""
import numpy as np
import pandas as pd
import pytest

from survey_engine.clv.summary import calibration_holdout_summary, summary_from_transactions, unit_days

LINES = pd.DataFrame(
    {
        "cust": ["A", "A", "A", "A", "A", "B", "A"],
        "when": ["2024-01-01 09:00", "2024-01-01 17:30", "2024-01-08", "2024-01-15", "2024-01-15",
                 "2024-01-10", "2024-02-01"],
        "eur": [10.0, 20.0, 30.0, 5.0, 5.0, 99.0, 1000.0],
        "cat": ["watches", "watches", "jewellery", "shoes", None, "shoes", "shoes"],
        "chan": ["boutique", "website", "boutique", "app", "app", "website", "app"],
    }
)


def test_same_day_orders_count_once_and_monetary_value_is_the_mean_repeat_day():
    s = summary_from_transactions(LINES, "cust", "when", "eur", observation_end="2024-01-22")
    a = s.loc["A"]
    assert a["frequency"] == 2  # days 8 and 15 repeat the first day; the 2024-02-01 line is after the end
    assert a["recency"] == pytest.approx(2.0)  # 14 days
    assert a["T"] == pytest.approx(3.0)  # 21 days
    assert a["monetary_value"] == pytest.approx((30.0 + 10.0) / 2)
    assert a["total_spend"] == pytest.approx(70.0)
    assert a["tenure_days"] == 21
    b = s.loc["B"]
    assert (b["frequency"], b["recency"], b["monetary_value"]) == (0, 0, 0)
    assert b["T"] == pytest.approx(12 / 7)


@pytest.mark.parametrize("unit, days", [("D", 1.0), ("W", 7.0), ("M", 365.25 / 12)])
def test_time_units_scale_recency_and_T(unit, days):
    s = summary_from_transactions(LINES, "cust", "when", "eur", observation_end="2024-01-22", time_unit=unit)
    assert s.loc["A", "recency"] == pytest.approx(14 / days)
    assert s.loc["A", "T"] == pytest.approx(21 / days)
    assert unit_days(unit) == days


def test_category_breadth_and_channel_mix():
    s = summary_from_transactions(LINES, "cust", "when", "eur", observation_end="2024-01-22",
                                  category_col="cat", channel_col="chan")
    assert s.loc["A", "category_breadth"] == 3  # watches, jewellery, shoes (missing ignored)
    assert s.loc["A", "n_channels"] == 3
    assert s.loc["A", "channel_share_boutique"] == pytest.approx(2 / 5)
    assert s.loc["A", "channel_share_app"] == pytest.approx(2 / 5)
    assert s.loc["B", "channel_share_website"] == 1.0


def test_default_observation_end_is_the_last_purchase_day():
    s = summary_from_transactions(LINES, "cust", "when", "eur")
    assert s.loc["A", "frequency"] == 3
    assert s.loc["A", "T"] == pytest.approx(31 / 7)


def test_holdout_split_counts_days_and_revenue_after_calibration():
    s = calibration_holdout_summary(LINES, "cust", "when", "eur", calibration_end="2024-01-08",
                                    observation_end="2024-02-05")
    assert s.loc["A", "frequency"] == 1
    assert s.loc["A", "frequency_holdout"] == 2  # 15 January (two orders) and 1 February
    assert s.loc["A", "revenue_holdout"] == pytest.approx(1010.0)
    assert s.loc["A", "duration_holdout"] == pytest.approx(28 / 7)
    assert "B" not in s.index  # first purchase after the calibration end


@pytest.mark.parametrize(
    "change, message",
    [
        ({"eur": [-1.0] + [1.0] * 6}, "eur"),
        ({"cust": [None] + ["A"] * 6}, "missing customer id"),
        ({"when": ["not a date"] + ["2024-01-02"] * 6}, "not a date"),
    ],
)
def test_bad_input_names_the_column(change, message):
    with pytest.raises(ValueError, match=message):
        summary_from_transactions(LINES.assign(**change), "cust", "when", "eur")


def test_unknown_time_unit_and_column_are_rejected():
    with pytest.raises(ValueError, match="time_unit must be one of"):
        summary_from_transactions(LINES, "cust", "when", "eur", time_unit="Q")
    with pytest.raises(ValueError, match="no column 'amount'"):
        summary_from_transactions(LINES, "cust", "when", "amount")
    with pytest.raises(ValueError, match="calibration_end 2024-03-01 must be before"):
        calibration_holdout_summary(LINES, "cust", "when", "eur", calibration_end="2024-03-01")


def test_cdnow_summary_reproduces_the_published_summary(cdnow_calibration, cdnow_published_summary):
    ours = cdnow_calibration.reindex(cdnow_published_summary.index)
    assert len(cdnow_calibration) == 2357
    np.testing.assert_array_equal(ours["frequency"], cdnow_published_summary["frequency"])
    np.testing.assert_allclose(ours["recency"], cdnow_published_summary["recency"], atol=0.005)
    np.testing.assert_allclose(ours["T"], cdnow_published_summary["T"], atol=0.005)
    np.testing.assert_allclose(ours["monetary_value"], cdnow_published_summary["monetary_value"], atol=0.0051)
    assert (ours["frequency"] > 0).sum() == 946
