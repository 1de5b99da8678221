"""A person's value under the active CLV model, and value tiers that single-person updates can
compute without the rest of the population.

:func:`person_values` applies fitted BG/NBD and Gamma-Gamma parameters (no refit) to the
transactions of persons, pooled over all their customer numbers: the RFM summary, P(alive),
expected purchases and discounted CLV are exactly those of
:func:`survey_engine.clv.analysis.run_clv_analysis` for the same lines and observation end.

Tiers are population-relative (a weighted mean of percentile ranks, see
:func:`survey_engine.clv.tiers.assign_value_tiers`). :class:`TierReference` learns, in a full
refresh, what a later single-person update needs to place one person in that population: each
component's rank function, the lowest tier score of each tier and the past-spend cut-offs.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from survey_engine.clv.tiers import COMPONENT_COLUMNS, TIERS, TierConfig, assign_value_tiers

#: Columns of :func:`person_values`, in order.
VALUE_COLUMNS = (
    "frequency", "recency", "T", "monetary_value", "total_spend", "first_purchase", "last_purchase", "tenure_days",
    "category_breadth", "n_orders", "p_alive", "expected_purchases", "probability_of_purchase",
    "expected_average_value", "clv",
)


def clv_models(bgnbd_params: Mapping[str, float], gamma_gamma_params: Mapping[str, float]):
    """Fitted-model objects from stored parameters (as an active CLV model record keeps them)."""
    from survey_engine.clv.bgnbd import PARAM_NAMES as BG_PARAMS, BetaGeoModel
    from survey_engine.clv.gamma_gamma import PARAM_NAMES as GG_PARAMS, GammaGammaModel

    missing = [k for k in BG_PARAMS if k not in bgnbd_params] + [k for k in GG_PARAMS if k not in gamma_gamma_params]
    if missing:
        raise ValueError(f"CLV parameters lack {missing}")
    bgnbd, gamma_gamma = BetaGeoModel(), GammaGammaModel()
    bgnbd.params_ = {k: float(bgnbd_params[k]) for k in BG_PARAMS}
    gamma_gamma.params_ = {k: float(gamma_gamma_params[k]) for k in GG_PARAMS}
    return bgnbd, gamma_gamma


def person_values(transactions: pd.DataFrame, *, bgnbd_params: Mapping[str, float],
                  gamma_gamma_params: Mapping[str, float], as_of, time_unit: str = "W",
                  horizon_weeks: float = 52.0, annual_discount_rate: float = 0.10) -> pd.DataFrame:
    """RFM summary and CLV predictions per person from fitted parameters.

    The summary follows :func:`survey_engine.clv.summary.summary_from_transactions` (purchases
    collapsed to calendar days, ``frequency`` = repeat purchase days, ``recency`` and ``T`` from the
    first purchase day, ``monetary_value`` = mean value of the repeat days) and the predictions
    :func:`survey_engine.clv.predict.predict_customers`; both are computed here with numpy alone, so
    that valuing one person costs well under a millisecond (the tests check equality with the
    pandas implementation on the demo population).

    Parameters
    ----------
    transactions : DataFrame
        Lines with ``person_id``, ``timestamp`` (UTC), ``amount`` (reporting currency), ``category``
        and ``order_id``. Lines after ``as_of`` are ignored.
    bgnbd_params, gamma_gamma_params : mapping
        ``{r, alpha, a, b}`` and ``{p, q, gamma}`` of the active model (``alpha`` in ``time_unit``).
    as_of : date-like
        Observation end (inclusive day) at which P(alive) and the horizon start.
    time_unit, horizon_weeks, annual_discount_rate
        As the CLV model was fitted.

    Returns
    -------
    DataFrame indexed by ``person_id`` with :data:`VALUE_COLUMNS`; empty (with those columns) when
    no person has a purchase on or before ``as_of``.
    """
    from survey_engine.clv.predict import horizon_in_units, rate_per_unit
    from survey_engine.clv.summary import unit_days

    empty = pd.DataFrame(columns=list(VALUE_COLUMNS), index=pd.Index([], name="person_id"))
    if transactions.empty:
        return empty
    end = pd.Timestamp(as_of)
    if end.tzinfo is not None:
        end = end.tz_convert("UTC").tz_localize(None)
    end_day = end.normalize().value // 86_400_000_000_000
    stamps = pd.to_datetime(transactions["timestamp"], utc=True)
    day = stamps.to_numpy(dtype="datetime64[D]").astype(np.int64)
    keep = day <= end_day
    if not keep.any():
        return empty
    person = transactions["person_id"].to_numpy()[keep]
    day = day[keep]
    amount = pd.to_numeric(transactions["amount"]).to_numpy(dtype=float)[keep]
    persons, owner = np.unique(person, return_inverse=True)
    # purchase days per person, in (person, day) order
    pair, pair_of_line = np.unique(owner * (1 << 32) + (day - day.min()), return_inverse=True)
    day_amount = np.bincount(pair_of_line, weights=amount, minlength=pair.size)
    pair_owner = pair >> 32
    pair_day = (pair & ((1 << 32) - 1)) + day.min()
    starts = np.flatnonzero(np.r_[True, pair_owner[1:] != pair_owner[:-1]])
    ends = np.r_[starts[1:], pair.size] - 1
    first, last = pair_day[starts], pair_day[ends]
    n_days = ends - starts + 1
    total = np.add.reduceat(day_amount, starts)
    frequency = (n_days - 1).astype(float)
    repeat = total - day_amount[starts]
    monetary = np.where(frequency > 0, repeat / np.where(frequency > 0, frequency, 1.0), 0.0)
    per_unit = unit_days(time_unit)
    recency = (last - first) / per_unit
    age = (end_day - first) / per_unit

    def distinct_per_person(values) -> np.ndarray:
        """Distinct non-missing values per person (pandas ``nunique``)."""
        codes = pd.factorize(pd.Series(values).to_numpy()[keep])[0]  # -1 for missing
        known = codes >= 0
        width = int(codes.max()) + 1 if known.any() else 1
        pairs = np.unique(owner[known].astype(np.int64) * width + codes[known])
        return np.bincount(pairs // width, minlength=persons.size)

    bgnbd, gamma_gamma = clv_models(bgnbd_params, gamma_gamma_params)
    horizon = horizon_in_units(horizon_weeks, "W", time_unit)
    expected_value = gamma_gamma.conditional_expected_average_value(frequency, monetary)
    discounted = discounted_purchases(bgnbd, frequency, recency, age, horizon,
                                      rate_per_unit(annual_discount_rate, time_unit))
    epoch = np.datetime64("1970-01-01")
    out = pd.DataFrame({
        "frequency": frequency, "recency": recency, "T": age, "monetary_value": monetary, "total_spend": total,
        "first_purchase": pd.to_datetime(epoch + first.astype("timedelta64[D]")),
        "last_purchase": pd.to_datetime(epoch + last.astype("timedelta64[D]")),
        "tenure_days": (end_day - first).astype(float),
        "category_breadth": distinct_per_person(transactions["category"]).astype(float),
        "n_orders": distinct_per_person(transactions["order_id"]),
        "p_alive": bgnbd.probability_alive(frequency, recency, age),
        "expected_purchases": bgnbd.conditional_expected_purchases(horizon, frequency, recency, age),
        "probability_of_purchase": bgnbd.probability_of_purchase(horizon, frequency, recency, age),
        "expected_average_value": expected_value,
        "clv": expected_value * discounted,
    }, index=pd.Index(persons, name="person_id"))
    return out


def discounted_purchases(bgnbd, frequency, recency, T, horizon: float, unit_rate: float,
                         chunk: int = 20_000) -> np.ndarray:
    """Discounted expected purchases over ``horizon`` model units, as
    :func:`survey_engine.clv.predict.discounted_expected_purchases` computes them (purchases in each
    unit step discounted from the step's end), with all steps of a customer in one vectorised call
    instead of one call per step: ``sum_k [E(Y(t_k)) - E(Y(t_{k-1}))] / (1 + d)^t_k`` with
    :math:`E(Y(t) | x, t_x, T)` of Fader, Hardie & Lee (2005), eq. (10). Evaluated once per distinct
    (x, t_x, T)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    unique, inverse = np.unique(np.column_stack([x, t_x, T]), axis=0, return_inverse=True)
    steps = np.arange(1, int(np.ceil(horizon)) + 1, dtype=float)
    steps[-1] = horizon
    discount = (1.0 + unit_rate) ** steps
    out = np.empty(unique.shape[0])
    for lo in range(0, unique.shape[0], chunk):
        block = unique[lo:lo + chunk]
        cumulative = bgnbd.conditional_expected_purchases(steps[:, None], block[None, :, 0], block[None, :, 1],
                                                          block[None, :, 2])
        increments = np.diff(cumulative, axis=0, prepend=0.0)
        out[lo:lo + chunk] = (increments / discount[:, None]).sum(axis=0)
    return out[inverse.ravel()]


def _rank_table(values: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their average percentile rank (pandas ``rank(pct=True)``), thinned to
    at most ``max_points`` points (always keeping the smallest and largest)."""
    values = np.sort(np.asarray(values, dtype=float))
    n = values.size
    distinct, first, counts = np.unique(values, return_index=True, return_counts=True)
    ranks = (first + (counts + 1) / 2.0) / n
    if distinct.size > max_points:
        keep = np.unique(np.linspace(0, distinct.size - 1, max_points).round().astype(int))
        distinct, ranks = distinct[keep], ranks[keep]
    return distinct, ranks


class TierReference(BaseEstimator):
    """Value tiers of a population, and the means to tier one more person like them.

    ``fit`` tiers the population with :func:`~survey_engine.clv.tiers.assign_value_tiers` (exact
    ranks) and keeps: per score component, the percentile rank of each distinct value (thinned to
    ``max_points``; ranks between stored values are interpolated); the lowest tier score in each
    tier; and the lowest past spend in each past-spend tier. :meth:`transform` scores new rows
    against that population: a person whose data equal a fitted row gets the same score, up to the
    interpolation on thinned tables.

    Parameters
    ----------
    config : TierConfig
        Weights, top shares, past-spend thresholds and the lapse threshold (the tiers file).
    max_points : int, default 2001
        Points kept per rank table.

    Attributes
    ----------
    components_ : list of str
        Score components used (those with weight > 0 present in the data).
    rank_tables_ : dict
        ``component -> (values, ranks)`` arrays.
    score_floors_ : ndarray of shape (4,)
        Lowest tier score of ``ultra_luxury``, ``luxury``, ``premium``, ``entry`` (NaN if empty).
    spend_floors_ : ndarray of shape (4,)
        Lowest past spend of each past-spend tier (or the configured thresholds).
    tiers_ : DataFrame
        The fitted population's tiers (``assign_value_tiers`` output), index as given.
    n_ : int
    """

    def __init__(self, config: TierConfig, max_points: int = 2001):
        self.config = config
        self.max_points = max_points

    def fit(self, components: pd.DataFrame, y=None) -> "TierReference":
        """Tier ``components`` (``clv``, ``total_spend``, ``p_alive``, optional score components
        and ``probability_of_purchase``) and learn the reference."""
        if int(self.max_points) < 2:
            raise ValueError(f"max_points must be >= 2, got {self.max_points}")
        tiers, used = assign_value_tiers(components, self.config)
        self.components_ = list(used)
        self.rank_tables_ = {
            key: _rank_table(pd.to_numeric(components[COMPONENT_COLUMNS[key]], errors="coerce").fillna(0.0).to_numpy(),
                             int(self.max_points))
            for key in used
        }
        index = tiers["tier"].map({t: i for i, t in enumerate(TIERS)}).to_numpy()
        score = tiers["tier_score"].to_numpy()
        self.score_floors_ = np.array([score[index == i].min() if np.any(index == i) else np.nan
                                       for i in range(len(TIERS))])
        spend = pd.to_numeric(components["total_spend"], errors="coerce").fillna(0.0).to_numpy()
        past = tiers["past_spend_tier"].map({t: i for i, t in enumerate(TIERS)}).to_numpy()
        if self.config.past_spend_thresholds is not None:
            self.spend_floors_ = np.array([self.config.past_spend_thresholds[t] for t in TIERS[:-1]] + [0.0])
        else:
            self.spend_floors_ = np.array([spend[past == i].min() if np.any(past == i) else np.nan
                                           for i in range(len(TIERS))])
        self.tiers_ = tiers
        self.n_ = int(len(components))
        return self

    def _score(self, components: pd.DataFrame) -> np.ndarray:
        total = sum(self.config.weights[k] for k in self.components_)
        score = np.zeros(len(components))
        for key in self.components_:
            column = COMPONENT_COLUMNS[key]
            raw = components[column] if column in components else pd.Series(0.0, index=components.index)
            values = pd.to_numeric(raw, errors="coerce").fillna(0.0).to_numpy()
            table_values, table_ranks = self.rank_tables_[key]
            ranks = np.interp(values, table_values, table_ranks, left=0.0, right=1.0)
            score += self.config.weights[key] / total * ranks
        return score

    @staticmethod
    def _tier_index(values: np.ndarray, floors: np.ndarray) -> np.ndarray:
        index = np.full(values.size, len(TIERS) - 1)
        for i in reversed(range(len(TIERS) - 1)):
            if np.isfinite(floors[i]):
                index[values >= floors[i]] = i
        return index

    def transform(self, components: pd.DataFrame) -> pd.DataFrame:
        """Tier score, tier, past-spend tier, ``rising``, ``lapse_risk`` and upgrade propensity of
        each row, placed in the fitted population (same columns as ``assign_value_tiers``)."""
        check_is_fitted(self, "score_floors_")
        score = self._score(components)
        tier_idx = self._tier_index(score, self.score_floors_)
        spend = pd.to_numeric(components["total_spend"], errors="coerce").fillna(0.0).to_numpy()
        past_idx = self._tier_index(spend, self.spend_floors_)
        p_alive = components["p_alive"].to_numpy(dtype=float)
        p_buy = (components["probability_of_purchase"].to_numpy(dtype=float)
                 if "probability_of_purchase" in components else p_alive)
        lower = self.score_floors_[tier_idx]
        upper = np.where(tier_idx > 0, self.score_floors_[np.maximum(tier_idx - 1, 0)], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            progress = np.clip((score - lower) / (upper - lower), 0.0, 1.0)
        progress = np.where(np.isfinite(progress), progress, 0.0)
        tiers = np.array(TIERS, dtype=object)
        return pd.DataFrame({
            "tier_score": score,
            "tier": tiers[tier_idx],
            "past_spend_tier": tiers[past_idx],
            "rising": tier_idx < past_idx,
            "lapse_risk": p_alive < self.config.lapse_p_alive_below,
            "upgrade_propensity": np.where(tier_idx == 0, 0.0, p_buy * progress),
        }, index=components.index)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready learned state (the config is stored by the caller)."""
        check_is_fitted(self, "score_floors_")

        def floats(values) -> list:
            return [None if not np.isfinite(v) else float(v) for v in values]

        return {"components": self.components_, "n": self.n_,
                "rank_tables": {k: [floats(v), floats(r)] for k, (v, r) in self.rank_tables_.items()},
                "score_floors": floats(self.score_floors_), "spend_floors": floats(self.spend_floors_)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], config: TierConfig) -> "TierReference":
        """Rebuild a fitted reference from :meth:`to_dict` output."""

        def array(values) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values], dtype=float)

        reference = cls(config)
        reference.components_ = list(data["components"])
        reference.n_ = int(data["n"])
        reference.rank_tables_ = {k: (array(v), array(r)) for k, (v, r) in data["rank_tables"].items()}
        reference.score_floors_ = array(data["score_floors"])
        reference.spend_floors_ = array(data["spend_floors"])
        return reference


def tier_config_from_options(options: Mapping[str, Any]) -> TierConfig:
    """The tiers configuration a CLV model record was fitted with (its ``options["tiers"]``)."""
    tiers = options.get("tiers") or {}
    if not tiers:
        from survey_engine.clv.tiers import load_tier_config

        return load_tier_config()
    return TierConfig(weights=dict(tiers["weights"]), top_shares=dict(tiers["top_shares"]),
                      past_spend_thresholds=None if tiers.get("past_spend_thresholds") is None
                      else dict(tiers["past_spend_thresholds"]),
                      lapse_p_alive_below=float(tiers["lapse_p_alive_below"]))
