"""One CLV analysis from transaction lines to tiers: summary, BG/NBD, Gamma-Gamma, predictions,
value tiers and (with a calibration end) the hold-out comparison. Shared by the ``clv analyse``
command and the stored-transaction service so both give identical numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from survey_engine.clv.bgnbd import BetaGeoModel
from survey_engine.clv.gamma_gamma import GammaGammaModel
from survey_engine.clv.predict import horizon_in_units, predict_customers
from survey_engine.clv.summary import calibration_holdout_summary, summary_from_transactions
from survey_engine.clv.tiers import TIERS, TierConfig, assign_value_tiers, holdout_tier_comparison, load_tier_config

#: Columns of the predictions table, in order (issue 5), followed by the extra explanatory ones.
PREDICTION_COLUMNS = (
    "customer_id", "frequency", "recency", "T", "monetary_value", "p_alive", "expected_purchases",
    "expected_average_value", "clv", "tier", "rising",
)
EXTRA_COLUMNS = (
    "lapse_risk", "upgrade_propensity", "tier_score", "past_spend_tier", "total_spend",
    "probability_of_purchase",
)


@dataclass(frozen=True)
class CLVAnalysis:
    """Result of :func:`run_clv_analysis`: a JSON-ready report, per-customer predictions and models."""

    report: dict
    predictions: pd.DataFrame
    bgnbd: BetaGeoModel
    gamma_gamma: GammaGammaModel


def _clean(value):
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def run_clv_analysis(
    transactions: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "timestamp",
    amount_col: str = "amount",
    category_col: str | None = None,
    channel_col: str | None = None,
    calibration_end=None,
    observation_end=None,
    time_unit: str = "W",
    horizon_weeks: float = 52.0,
    annual_discount_rate: float = 0.10,
    tier_config: TierConfig | None = None,
    survey_engagement: pd.Series | None = None,
    penalizer: float = 0.0,
) -> CLVAnalysis:
    """Fit BG/NBD and Gamma-Gamma on ``transactions`` and value every customer.

    Parameters
    ----------
    transactions : DataFrame
        Transaction lines with amounts in one currency.
    calibration_end : date-like, optional
        When given, the models are fitted on purchases up to this day and the report compares
        predictive tiers with past-spend tiers on the following hold-out period (up to
        ``observation_end``, by default the last purchase day).
    time_unit : {"D", "W", "M"}
        Model time unit; ``horizon_weeks`` is converted into it.
    annual_discount_rate : float
        Yearly discount rate, converted to the model unit.
    survey_engagement : Series, optional
        Engagement per customer id (e.g. completed questionnaires) for the tier score.
    penalizer : float
        L2 penaliser for both models (0 = plain maximum likelihood).
    """
    config = tier_config or load_tier_config()
    if observation_end is None:
        if date_col not in transactions.columns or transactions.empty:
            raise ValueError(f"transactions have no rows or no column {date_col!r}")
        observation_end = pd.to_datetime(transactions[date_col]).max()
    observation_end = pd.Timestamp(observation_end).normalize()
    if calibration_end is not None:
        summary = calibration_holdout_summary(
            transactions, customer_col, date_col, amount_col, calibration_end, observation_end,
            time_unit, category_col, channel_col,
        )
    else:
        summary = summary_from_transactions(
            transactions, customer_col, date_col, amount_col, observation_end, time_unit,
            category_col, channel_col,
        )
    if survey_engagement is not None:
        summary["survey_engagement"] = survey_engagement.reindex(summary.index).fillna(0.0).astype(float)

    bgnbd = BetaGeoModel(penalizer=penalizer).fit(summary)
    gamma_gamma = GammaGammaModel(penalizer=penalizer).fit(summary)
    horizon = horizon_in_units(horizon_weeks, "W", time_unit)
    predicted = predict_customers(summary, bgnbd, gamma_gamma, horizon, time_unit, annual_discount_rate)
    customers = summary.join(predicted)
    tiers, components = assign_value_tiers(customers, config)
    customers = customers.join(tiers)

    report = {
        "n_customers": int(len(summary)),
        "n_repeat_customers": int((summary["frequency"] > 0).sum()),
        "time_unit": time_unit,
        "calibration_end": None if calibration_end is None else str(pd.Timestamp(calibration_end).date()),
        "observation_end": str(observation_end.date()),
        "bgnbd": {
            **bgnbd.params_,
            "log_likelihood": bgnbd.log_likelihood_,
            "se": {k: _clean(v) for k, v in bgnbd.se_.items()},
            "n_iter": bgnbd.n_iter_,
            "penalizer": penalizer,
        },
        "gamma_gamma": {
            **gamma_gamma.params_,
            "log_likelihood": gamma_gamma.log_likelihood_,
            "se": {k: _clean(v) for k, v in gamma_gamma.se_.items()},
            "n_customers": gamma_gamma.n_customers_,
            "frequency_monetary_correlation": gamma_gamma.frequency_monetary_correlation_,
        },
        "horizon": {"weeks": horizon_weeks, "model_units": horizon},
        "annual_discount_rate": annual_discount_rate,
        "totals": {
            "expected_purchases": float(customers["expected_purchases"].sum()),
            "clv": float(customers["clv"].sum()),
        },
        "tiers": {
            "components": components,
            "counts": {t: int((customers["tier"] == t).sum()) for t in TIERS},
            "past_spend_counts": {t: int((customers["past_spend_tier"] == t).sum()) for t in TIERS},
            "rising": int(customers["rising"].sum()),
            "lapse_risk": int(customers["lapse_risk"].sum()),
        },
    }
    if calibration_end is not None:
        duration = float(summary["duration_holdout"].iloc[0])
        report["holdout"] = {
            "duration_model_units": duration,
            "actual_purchases": float(summary["frequency_holdout"].sum()),
            "predicted_purchases": float(
                bgnbd.conditional_expected_purchases(duration, summary["frequency"], summary["recency"], summary["T"]).sum()
            ),
            "comparison": holdout_tier_comparison(customers),
        }
    predictions = customers.reset_index()
    ordered = list(PREDICTION_COLUMNS) + [c for c in EXTRA_COLUMNS if c in predictions.columns]
    return CLVAnalysis(report, predictions.loc[:, ordered], bgnbd, gamma_gamma)
