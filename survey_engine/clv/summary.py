"""Shape transaction lines into per-customer RFM summaries (and a calibration/hold-out split).

Conventions follow the BG/NBD literature and the *lifetimes* package: purchases are collapsed to
calendar days (several orders on one day count as one purchase whose value is their sum), the
first purchase day starts the customer's clock, ``frequency`` counts the *repeat* purchase days,
``recency`` is the time from the first to the last purchase day and ``T`` the time from the first
purchase day to the end of observation, all in the chosen time unit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Days per model time unit. ``M`` is an average calendar month (365.25 / 12 days).
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0}


def unit_days(time_unit: str) -> float:
    """Length of ``time_unit`` in days; raises ``ValueError`` naming the allowed units."""
    try:
        return TIME_UNITS[time_unit]
    except KeyError:
        raise ValueError(f"time_unit must be one of {sorted(TIME_UNITS)}, got {time_unit!r}") from None


def _to_days(values: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values
    else:  # strings in several layouts (date only, date and time) are all accepted
        dates = pd.to_datetime(values, format="mixed", errors="coerce")
    if dates.isna().any():
        row = dates.index[dates.isna()][0]
        raise ValueError(f"{column}: value {values.loc[row]!r} (row {row}) is not a date")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    return dates.dt.normalize()


def _to_day(value, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a date") from None
    if ts is pd.NaT:
        raise ValueError(f"{name}: a date is required")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()


def _daily(df: pd.DataFrame, customer_col: str, date_col: str, amount_col: str) -> pd.DataFrame:
    for col in (customer_col, date_col, amount_col):
        if col not in df.columns:
            raise ValueError(f"transactions have no column {col!r} (columns: {list(df.columns)})")
    if df[customer_col].isna().any():
        row = df.index[df[customer_col].isna()][0]
        raise ValueError(f"{customer_col}: missing customer id (row {row})")
    amount = pd.to_numeric(df[amount_col], errors="coerce")
    if amount.isna().any() or (amount < 0).any():
        row = df.index[amount.isna() | (amount < 0)][0]
        raise ValueError(f"{amount_col}: value {df[amount_col].loc[row]!r} (row {row}) is not a non-negative number")
    frame = pd.DataFrame(
        {"customer_id": df[customer_col].to_numpy(), "day": _to_days(df[date_col], date_col).to_numpy(), "amount": amount.to_numpy(dtype=float)}
    )
    return frame


def _rfm(daily: pd.DataFrame, observation_end: pd.Timestamp, days_per_unit: float) -> pd.DataFrame:
    """Per-customer RFM from (customer_id, day, amount) lines already limited to the window."""
    per_day = daily.groupby(["customer_id", "day"], sort=True, observed=True)["amount"].sum().reset_index()
    grouped = per_day.groupby("customer_id", sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    n_days = grouped["day"].size()
    total = grouped["amount"].sum()
    first_amount = grouped["amount"].first()  # per_day is sorted by day within customer
    frequency = (n_days - 1).astype(float)
    repeat_total = total - first_amount
    monetary = np.where(frequency > 0, repeat_total / frequency.where(frequency > 0, 1.0), 0.0)
    out = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last - first).dt.days / days_per_unit,
            "T": (observation_end - first).dt.days / days_per_unit,
            "monetary_value": monetary,
            "total_spend": total,
            "first_purchase": first,
            "last_purchase": last,
            "tenure_days": (observation_end - first).dt.days.astype(float),
        }
    )
    out.index.name = "customer_id"
    return out


def summary_from_transactions(
    df: pd.DataFrame,
    customer_col: str,
    date_col: str,
    amount_col: str,
    observation_end=None,
    time_unit: str = "W",
    category_col: str | None = None,
    channel_col: str | None = None,
) -> pd.DataFrame:
    """Per-customer RFM summary of transaction lines up to ``observation_end``.

    Parameters
    ----------
    df : DataFrame
        One row per transaction line.
    customer_col, date_col, amount_col : str
        Column names of the customer id, the purchase timestamp and the (reporting currency) amount.
    observation_end : date-like, optional
        Last day observed (inclusive); defaults to the last purchase day in ``df``. Lines after it
        are ignored.
    time_unit : {"D", "W", "M"}
        Unit of ``recency`` and ``T`` (days, weeks = 7 days, months = 365.25/12 days).
    category_col, channel_col : str, optional
        When given, ``category_breadth`` (distinct categories bought) and the channel mix
        (``n_channels`` and one ``channel_share_<channel>`` column: share of the customer's lines
        per channel) are added.

    Returns
    -------
    DataFrame indexed by ``customer_id`` with ``frequency`` (repeat purchase days), ``recency``,
    ``T``, ``monetary_value`` (mean value of the repeat purchase days, 0 without repeats),
    ``total_spend`` (all purchases, first included), ``first_purchase``, ``last_purchase``,
    ``tenure_days`` and the optional breadth and channel columns.
    """
    days_per_unit = unit_days(time_unit)
    daily = _daily(df, customer_col, date_col, amount_col)
    if daily.empty:
        raise ValueError("no transactions to summarise")
    end = daily["day"].max() if observation_end is None else _to_day(observation_end, "observation_end")
    keep = (daily["day"] <= end).to_numpy()
    if not keep.any():
        raise ValueError(f"no transactions on or before observation_end {end.date()}")
    out = _rfm(daily[keep], end, days_per_unit)
    lines = df.loc[keep]
    customers = lines[customer_col].to_numpy()
    if category_col is not None:
        if category_col not in df.columns:
            raise ValueError(f"transactions have no column {category_col!r}")
        breadth = pd.Series(lines[category_col].to_numpy()).groupby(customers).nunique()
        out["category_breadth"] = breadth.reindex(out.index).fillna(0).astype(float)
    if channel_col is not None:
        if channel_col not in df.columns:
            raise ValueError(f"transactions have no column {channel_col!r}")
        channels = pd.Series(lines[channel_col].fillna("unknown").astype(str).to_numpy())
        mix = pd.crosstab(customers, channels.to_numpy(), normalize="index")
        mix = mix.reindex(out.index).fillna(0.0)
        out["n_channels"] = (mix > 0).sum(axis=1).astype(float)
        for name in mix.columns:
            out[f"channel_share_{name}"] = mix[name].to_numpy()
    return out


def calibration_holdout_summary(
    df: pd.DataFrame,
    customer_col: str,
    date_col: str,
    amount_col: str,
    calibration_end,
    observation_end=None,
    time_unit: str = "W",
    category_col: str | None = None,
    channel_col: str | None = None,
) -> pd.DataFrame:
    """Calibration-period summary plus what each calibration customer did in the hold-out period.

    The calibration summary (see :func:`summary_from_transactions`) covers customers whose first
    purchase is on or before ``calibration_end``. Hold-out columns cover
    ``(calibration_end, observation_end]``: ``frequency_holdout`` (purchase days),
    ``revenue_holdout`` (total amount) and ``duration_holdout`` (length in ``time_unit``).
    """
    days_per_unit = unit_days(time_unit)
    cal_end = _to_day(calibration_end, "calibration_end")
    daily = _daily(df, customer_col, date_col, amount_col)
    obs_end = daily["day"].max() if observation_end is None else _to_day(observation_end, "observation_end")
    if obs_end <= cal_end:
        raise ValueError(
            f"calibration_end {cal_end.date()} must be before the end of observation {obs_end.date()}"
        )
    cal_mask = (daily["day"] <= cal_end).to_numpy()
    summary = summary_from_transactions(
        df.loc[cal_mask], customer_col, date_col, amount_col, cal_end, time_unit, category_col, channel_col
    )
    hold = daily[(~cal_mask) & (daily["day"] <= obs_end).to_numpy()]
    hold = hold[hold["customer_id"].isin(summary.index)]
    grouped = hold.groupby("customer_id")
    summary["frequency_holdout"] = grouped["day"].nunique().reindex(summary.index).fillna(0).astype(float)
    summary["revenue_holdout"] = grouped["amount"].sum().reindex(summary.index).fillna(0.0)
    summary["duration_holdout"] = (obs_end - cal_end).days / days_per_unit
    return summary
