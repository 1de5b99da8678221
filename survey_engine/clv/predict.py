"""Per-customer predictions from fitted BG/NBD and Gamma-Gamma models: expected purchases over a
horizon, P(alive), expected average order value and discounted customer lifetime value.

Time units are explicit everywhere: a horizon is converted into the model's time unit (12 months in
a weekly model is 365.25/7 = 52.18 weeks) and an annual discount rate into the equivalent rate per
model unit, ``(1 + annual) ** (unit_days / 365.25) - 1``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from survey_engine.clv.bgnbd import BetaGeoModel, _as_summary_arrays
from survey_engine.clv.gamma_gamma import GammaGammaModel
from survey_engine.clv.summary import unit_days

DAYS_PER_YEAR = 365.25
#: Units a horizon can be given in, in days.
HORIZON_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": DAYS_PER_YEAR / 12.0, "Y": DAYS_PER_YEAR}


def horizon_in_units(horizon: float, horizon_unit: str, time_unit: str) -> float:
    """Express ``horizon`` (in ``horizon_unit``: D, W, M or Y) in the model's ``time_unit``.

    >>> round(horizon_in_units(12, "M", "W"), 2)
    52.18
    """
    if horizon_unit not in HORIZON_UNITS:
        raise ValueError(f"horizon unit must be one of {sorted(HORIZON_UNITS)}, got {horizon_unit!r}")
    if not np.isfinite(horizon) or horizon <= 0:
        raise ValueError(f"horizon must be positive, got {horizon}")
    return horizon * HORIZON_UNITS[horizon_unit] / unit_days(time_unit)


def rate_per_unit(annual_rate: float, time_unit: str) -> float:
    """Discount rate per model time unit equivalent to ``annual_rate`` compounded yearly."""
    if not np.isfinite(annual_rate) or annual_rate <= -1:
        raise ValueError(f"annual discount rate must be > -1, got {annual_rate}")
    return (1.0 + annual_rate) ** (unit_days(time_unit) / DAYS_PER_YEAR) - 1.0


def discounted_expected_purchases(
    model: BetaGeoModel, frequency, recency, T, horizon: float, unit_rate: float
) -> np.ndarray:
    """Sum over unit steps of the expected purchases in each step, discounted to the present.

    ``sum_k [E(Y(t_k) | .) - E(Y(t_{k-1}) | .)] / (1 + d)^t_k`` with ``t_k = min(k, horizon)``,
    ``k = 1, ..., ceil(horizon)`` and ``d`` the rate per model unit (purchases in a step are
    discounted from the step's end, as in *lifetimes*). Evaluated once per distinct (x, t_x, T).
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    stacked = np.column_stack([x, t_x, T])
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    ux, ut, uT = unique[:, 0], unique[:, 1], unique[:, 2]
    steps = np.arange(1, int(np.ceil(horizon)) + 1, dtype=float)
    steps[-1] = horizon
    total = np.zeros(ux.size)
    previous = np.zeros(ux.size)
    for t_k in steps:
        current = model.conditional_expected_purchases(t_k, ux, ut, uT)
        total += (current - previous) / (1.0 + unit_rate) ** t_k
        previous = current
    return total[inverse.ravel()]


def predict_customers(
    summary: pd.DataFrame,
    bgnbd: BetaGeoModel,
    gamma_gamma: GammaGammaModel,
    horizon: float,
    time_unit: str = "W",
    annual_discount_rate: float = 0.10,
) -> pd.DataFrame:
    """Predictions for each customer of ``summary`` over ``horizon`` model time units.

    Returns
    -------
    DataFrame (same index) with ``p_alive``, ``expected_purchases`` (undiscounted, in the horizon),
    ``probability_of_purchase`` (at least one purchase in the horizon), ``expected_average_value``
    (Gamma-Gamma conditional mean) and ``clv`` (expected average value times the discounted
    expected purchases; the margin is taken as the full order value).
    """
    if horizon <= 0:
        raise ValueError(f"horizon must be positive, got {horizon}")
    x, t_x, T = _as_summary_arrays(summary)
    d = rate_per_unit(annual_discount_rate, time_unit)
    value = gamma_gamma.predict(summary)
    discounted = discounted_expected_purchases(bgnbd, x, t_x, T, horizon, d)
    return pd.DataFrame(
        {
            "p_alive": bgnbd.probability_alive(x, t_x, T),
            "expected_purchases": bgnbd.conditional_expected_purchases(horizon, x, t_x, T),
            "probability_of_purchase": bgnbd.probability_of_purchase(horizon, x, t_x, T),
            "expected_average_value": value,
            "clv": value * discounted,
        },
        index=summary.index,
    )
