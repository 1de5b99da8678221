"""The end-to-end analysis shared by the CLI and the service, on CDNOW."""
import numpy as np
import pandas as pd
import pytest

from survey_engine.clv.analysis import PREDICTION_COLUMNS, run_clv_analysis
from survey_engine.clv.tiers import TIERS


@pytest.fixture(scope="module")
def analysis(cdnow_transactions):
    return run_clv_analysis(cdnow_transactions, customer_col="customer", date_col="date", amount_col="amount",
                            calibration_end="1997-09-30", horizon_weeks=39)


def test_report_reproduces_the_published_parameters(analysis, published):
    report = analysis.report
    assert report["n_customers"] == 2357 and report["n_repeat_customers"] == 946
    assert report["observation_end"] == "1998-06-30" and report["calibration_end"] == "1997-09-30"
    for name, value in published["bgnbd"]["params"].items():
        assert round(report["bgnbd"][name], 3) == value
    assert round(report["bgnbd"]["log_likelihood"], 1) == published["bgnbd"]["log_likelihood"]
    assert set(report["bgnbd"]["se"]) == {"r", "alpha", "a", "b"}
    for name, value in published["gamma_gamma"]["params"].items():
        assert round(report["gamma_gamma"][name], 2) == value


def test_holdout_section(analysis, cdnow_calibration):
    holdout = analysis.report["holdout"]
    assert holdout["duration_model_units"] == pytest.approx(39.0)  # 1997-10-01 .. 1998-06-30 = 273 days
    assert holdout["actual_purchases"] == cdnow_calibration["frequency_holdout"].sum()
    assert holdout["predicted_purchases"] == pytest.approx(analysis.predictions["expected_purchases"].sum())
    comparison = holdout["comparison"]
    assert comparison["total_holdout_revenue"] == pytest.approx(cdnow_calibration["revenue_holdout"].sum())
    level = comparison["levels"]["ultra_luxury"]
    assert level["predictive"]["n_placed"] == level["past_spend"]["n_placed"] == 48  # ceil(2% of 2357)
    for method in ("predictive", "past_spend"):
        assert 0 <= level[method]["share_of_actual_top_placed"] <= 1
    # the top predictive tier is recomputable from the predictions table
    preds = analysis.predictions.set_index("customer_id")
    top = preds.index[preds["tier"] == "ultra_luxury"]
    revenue = cdnow_calibration["revenue_holdout"]
    assert level["predictive"]["share_of_holdout_revenue"] == pytest.approx(revenue[top].sum() / revenue.sum())


def test_predictions_table(analysis):
    preds = analysis.predictions
    assert list(preds.columns[: len(PREDICTION_COLUMNS)]) == list(PREDICTION_COLUMNS)
    assert len(preds) == 2357
    assert set(preds["tier"]) == set(TIERS)
    assert preds["rising"].dtype == bool
    assert analysis.report["tiers"]["counts"] == {t: int((preds["tier"] == t).sum()) for t in TIERS}


def test_survey_engagement_enters_the_tier_score(cdnow_transactions):
    engagement = pd.Series(np.arange(1, 2358) % 3, index=np.arange(1, 2358), dtype=float)
    result = run_clv_analysis(cdnow_transactions, customer_col="customer", date_col="date", amount_col="amount",
                              survey_engagement=engagement)
    assert result.report["tiers"]["components"] == ["clv", "survey_engagement", "tenure"]
    assert "holdout" not in result.report
    assert result.report["observation_end"] == "1998-06-30"
