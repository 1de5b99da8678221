"""Value tiers (ultra_luxury, luxury, premium, entry) from predicted value, with the flags
``rising`` and ``lapse_risk``, an upgrade propensity, and the hold-out comparison of predictive
tiers with static past-spend tiers.

Weights and cut-offs come from a tiers file (``survey_engine/clv/tiers.yaml`` by default).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

#: Tiers from best to worst; ``entry`` is everyone not in a higher tier.
TIERS: tuple[str, ...] = ("ultra_luxury", "luxury", "premium", "entry")
#: Score components and the customer column each one is read from.
COMPONENT_COLUMNS: dict[str, str] = {
    "clv": "clv",
    "category_breadth": "category_breadth",
    "survey_engagement": "survey_engagement",
    "tenure": "tenure_days",
}
DEFAULT_TIERS_FILE = Path(__file__).with_name("tiers.yaml")


@dataclass(frozen=True)
class TierConfig:
    """Validated contents of a tiers file.

    Attributes
    ----------
    weights : dict
        Non-negative weight per score component (keys of :data:`COMPONENT_COLUMNS`).
    top_shares : dict
        Cumulative customer share for ``ultra_luxury``, ``luxury`` and ``premium``, increasing.
    past_spend_thresholds : dict or None
        Minimum total past spend per tier for the static method, or None for equal-size tiers.
    lapse_p_alive_below : float
        ``lapse_risk`` is set when P(alive) is below this value.
    """

    weights: Mapping[str, float]
    top_shares: Mapping[str, float]
    past_spend_thresholds: Mapping[str, float] | None
    lapse_p_alive_below: float


def _number(value: Any, where: str, *, low: float | None = None, high: float | None = None, open_low=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: must be a number, got {value!r}")
    if low is not None and (value < low or (open_low and value == low)):
        raise ValueError(f"{where}: must be {'>' if open_low else '>='} {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{where}: must be <= {high}, got {value}")
    return float(value)


def parse_tier_config(data: Any, source: str = "<tiers>") -> TierConfig:
    """Validate a parsed tiers mapping; every error names ``source`` and the path inside it."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping with weights, top_shares, lapse_risk")
    unknown = set(data) - {"weights", "top_shares", "past_spend_thresholds", "lapse_risk"}
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {sorted(unknown)}")
    weights = data.get("weights")
    if not isinstance(weights, dict) or not weights:
        raise ValueError(f"{source}: weights: expected a mapping of component -> weight")
    for key in weights:
        if key not in COMPONENT_COLUMNS:
            raise ValueError(f"{source}: weights.{key}: unknown component (allowed: {sorted(COMPONENT_COLUMNS)})")
    parsed_weights = {k: _number(v, f"{source}: weights.{k}", low=0.0) for k, v in weights.items()}
    if parsed_weights.get("clv", 0.0) <= 0:
        raise ValueError(f"{source}: weights.clv: must be > 0 (tiers are driven by predicted value)")

    shares = data.get("top_shares")
    tiered = TIERS[:-1]
    if not isinstance(shares, dict) or set(shares) != set(tiered):
        raise ValueError(f"{source}: top_shares: expected exactly the keys {list(tiered)}")
    parsed_shares = {k: _number(shares[k], f"{source}: top_shares.{k}", low=0.0, high=1.0, open_low=True) for k in tiered}
    values = [parsed_shares[k] for k in tiered]
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"{source}: top_shares: cumulative shares must increase from ultra_luxury to premium, got {values}")

    thresholds = data.get("past_spend_thresholds")
    parsed_thresholds = None
    if thresholds is not None:
        if not isinstance(thresholds, dict) or set(thresholds) != set(tiered):
            raise ValueError(f"{source}: past_spend_thresholds: expected exactly the keys {list(tiered)} or nothing")
        parsed_thresholds = {k: _number(thresholds[k], f"{source}: past_spend_thresholds.{k}", low=0.0) for k in tiered}
        t = [parsed_thresholds[k] for k in tiered]
        if any(b >= a for a, b in zip(t, t[1:])):
            raise ValueError(f"{source}: past_spend_thresholds: amounts must decrease from ultra_luxury to premium, got {t}")

    lapse = data.get("lapse_risk")
    if not isinstance(lapse, dict) or set(lapse) != {"p_alive_below"}:
        raise ValueError(f"{source}: lapse_risk: expected a mapping with p_alive_below")
    below = _number(lapse["p_alive_below"], f"{source}: lapse_risk.p_alive_below", low=0.0, high=1.0)
    return TierConfig(parsed_weights, parsed_shares, parsed_thresholds, below)


def load_tier_config(path: str | Path | None = None) -> TierConfig:
    """Read and validate a tiers YAML file (the packaged ``tiers.yaml`` when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_TIERS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read tiers file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from None
    return parse_tier_config(data, str(path))


def _top_positions(values: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Rank 0 = best: by ``values`` descending, ties by ``tiebreak`` descending, then input order."""
    order = np.lexsort((np.arange(values.size), -tiebreak, -values))
    positions = np.empty(values.size, dtype=np.int64)
    positions[order] = np.arange(values.size)
    return positions


def _tiers_from_positions(positions: np.ndarray, shares: Mapping[str, float]) -> np.ndarray:
    n = positions.size
    tier_index = np.full(n, len(TIERS) - 1)
    for i, name in reversed(list(enumerate(TIERS[:-1]))):
        tier_index[positions < math.ceil(shares[name] * n)] = i
    return tier_index


def assign_value_tiers(customers: pd.DataFrame, config: TierConfig) -> tuple[pd.DataFrame, list[str]]:
    """Tier every customer from a tier score and flag rising and lapsing clients.

    Parameters
    ----------
    customers : DataFrame
        One row per customer with ``clv``, ``total_spend`` (past spend) and ``p_alive``; optional
        ``category_breadth``, ``survey_engagement``, ``tenure_days`` (score components; missing
        values count as 0) and ``probability_of_purchase`` (for the upgrade propensity).
    config : TierConfig

    Returns
    -------
    (DataFrame, list of str)
        Columns ``tier_score`` (weighted mean of percentile ranks, in (0, 1]), ``tier``,
        ``past_spend_tier``, ``rising`` (predicted tier above the past-spend tier), ``lapse_risk``
        (P(alive) below the configured value) and ``upgrade_propensity`` (in [0, 1]: the chance of a
        purchase in the horizon times how far the score has come from the bottom of the current
        tier towards the next tier's lowest score; 0 in the top tier), and the components used.
    """
    missing = [c for c in ("clv", "total_spend", "p_alive") if c not in customers.columns]
    if missing:
        raise ValueError(f"customers lack column(s) {missing} needed for value tiers")
    if customers.empty:
        raise ValueError("no customers to tier")
    used = [k for k, w in config.weights.items() if w > 0 and COMPONENT_COLUMNS[k] in customers.columns]
    total_weight = sum(config.weights[k] for k in used)
    score = np.zeros(len(customers))
    for key in used:
        values = pd.to_numeric(customers[COMPONENT_COLUMNS[key]], errors="coerce").fillna(0.0)
        score += config.weights[key] / total_weight * values.rank(method="average", pct=True).to_numpy()
    clv = customers["clv"].to_numpy(dtype=float)
    tier_idx = _tiers_from_positions(_top_positions(score, clv), config.top_shares)

    spend = customers["total_spend"].to_numpy(dtype=float)
    if config.past_spend_thresholds is None:
        past_idx = _tiers_from_positions(_top_positions(spend, np.zeros_like(spend)), config.top_shares)
    else:
        past_idx = np.full(spend.size, len(TIERS) - 1)
        for i, name in reversed(list(enumerate(TIERS[:-1]))):
            past_idx[spend >= config.past_spend_thresholds[name]] = i

    p_alive = customers["p_alive"].to_numpy(dtype=float)
    p_buy = customers["probability_of_purchase"].to_numpy(dtype=float) if "probability_of_purchase" in customers else p_alive
    floor = np.array([score[tier_idx == i].min() if np.any(tier_idx == i) else np.nan for i in range(len(TIERS))])
    lower = floor[tier_idx]
    upper = np.where(tier_idx > 0, floor[np.maximum(tier_idx - 1, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        progress = np.clip((score - lower) / (upper - lower), 0.0, 1.0)
    progress = np.where(np.isfinite(progress), progress, 0.0)
    upgrade = np.where(tier_idx == 0, 0.0, p_buy * progress)

    tiers = np.array(TIERS, dtype=object)
    out = pd.DataFrame(
        {
            "tier_score": score,
            "tier": tiers[tier_idx],
            "past_spend_tier": tiers[past_idx],
            "rising": tier_idx < past_idx,
            "lapse_risk": p_alive < config.lapse_p_alive_below,
            "upgrade_propensity": upgrade,
        },
        index=customers.index,
    )
    return out, used


def holdout_tier_comparison(customers: pd.DataFrame) -> dict:
    """Compare predictive tiers with past-spend tiers against what happened in the hold-out period.

    For each cumulative level (ultra_luxury; ultra_luxury + luxury; + premium) the customers who
    turn out to be top in the hold-out are the ``n`` highest hold-out spenders (``n`` = size of the
    predictive tiers at that level; only customers who spent, ties broken by input order). For each
    method it reports the share of those customers it had placed at that level
    (``share_of_actual_top_placed``) and the share of all hold-out revenue brought by the customers
    it placed there (``share_of_holdout_revenue``).

    Parameters
    ----------
    customers : DataFrame with ``tier``, ``past_spend_tier``, ``rising`` and ``revenue_holdout``.
    """
    missing = [c for c in ("tier", "past_spend_tier", "rising", "revenue_holdout") if c not in customers]
    if missing:
        raise ValueError(f"customers lack column(s) {missing} needed for the hold-out comparison")
    revenue = customers["revenue_holdout"].to_numpy(dtype=float)
    total = float(revenue.sum())
    rank = {name: i for i, name in enumerate(TIERS)}
    predicted = customers["tier"].map(rank).to_numpy()
    past = customers["past_spend_tier"].map(rank).to_numpy()
    positions = _top_positions(revenue, np.zeros_like(revenue))
    levels = {}
    for i, name in enumerate(TIERS[:-1]):
        placed = predicted <= i
        n_top = int(placed.sum())
        actual = (positions < n_top) & (revenue > 0)
        n_actual = int(actual.sum())
        level = {"n_actual_top": n_actual}
        for method, in_level in (("predictive", placed), ("past_spend", past <= i)):
            level[method] = {
                "n_placed": int(in_level.sum()),
                "share_of_actual_top_placed": float((in_level & actual).sum() / n_actual) if n_actual else None,
                "share_of_holdout_revenue": float(revenue[in_level].sum() / total) if total > 0 else None,
            }
        levels["+".join(TIERS[: i + 1])] = level
    rising = customers["rising"].to_numpy(dtype=bool)
    # rising clients against the other customers of the same past-spend tiers
    peers = np.isin(past, np.unique(past[rising])) & ~rising
    return {
        "total_holdout_revenue": total,
        "levels": levels,
        "rising": {
            "n": int(rising.sum()),
            "mean_holdout_revenue": float(revenue[rising].mean()) if rising.any() else None,
            "mean_holdout_revenue_same_past_tier_not_rising": float(revenue[peers].mean()) if peers.any() else None,
        },
    }
