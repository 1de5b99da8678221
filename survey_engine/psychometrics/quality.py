"""Data-quality gates applied before fitting, with every exclusion counted by reason."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

#: Exclusion reasons, in the order they are reported.
REASONS = ("failed_attention_check", "straight_lining", "too_fast", "too_many_missing")


@dataclass(frozen=True)
class QualityGates:
    """Rules that exclude a respondent from factor analysis.

    Parameters
    ----------
    attention_checks : mapping of str to float
        Attention-check item → expected answer; any other answer (or none) fails.
    straight_lining_min_items : int
        Flag respondents who gave the identical raw answer to every item, if they answered at
        least this many items (before reverse keying, so a straight-liner cannot hide behind
        reversed items). 0 disables the gate.
    min_seconds : float, optional
        Completion faster than this many seconds is implausible.
    min_median_fraction : float, optional
        Completion faster than this fraction of the median completion time is implausible
        (the usual "speeder" rule; e.g. 0.33).
    max_missing_share : float
        Respondents missing more than this share of the items are excluded.
    """

    attention_checks: Mapping[str, float] = field(default_factory=dict)
    straight_lining_min_items: int = 10
    min_seconds: float | None = None
    min_median_fraction: float | None = 0.33
    max_missing_share: float = 0.5


@dataclass(frozen=True)
class QualityResult:
    """Which respondents were kept and why the others were excluded."""

    keep: np.ndarray
    reasons: pd.DataFrame  # one boolean column per reason

    @property
    def n_total(self) -> int:
        return int(len(self.keep))

    @property
    def n_excluded(self) -> int:
        return int((~self.keep).sum())

    def summary(self) -> dict:
        """Counts per reason (a respondent may have several) and totals."""
        return {
            "n_total": self.n_total,
            "n_excluded": self.n_excluded,
            "n_kept": int(self.keep.sum()),
            "by_reason": {reason: int(self.reasons[reason].sum()) for reason in REASONS},
        }


def apply_quality_gates(
    raw_items: pd.DataFrame,
    gates: QualityGates = QualityGates(),
    attention: pd.DataFrame | None = None,
    durations: np.ndarray | pd.Series | None = None,
) -> QualityResult:
    """Evaluate the gates for each respondent.

    Parameters
    ----------
    raw_items : DataFrame
        Item answers as given (not reverse keyed); NaN = unanswered.
    gates : QualityGates
    attention : DataFrame, optional
        Columns named like ``gates.attention_checks``.
    durations : array-like of float, optional
        Completion time in seconds per respondent (NaN = unknown, never flagged).
    """
    n = len(raw_items)
    values = raw_items.to_numpy(dtype=float)
    answered = ~np.isnan(values)
    n_answered = answered.sum(axis=1)
    reasons = pd.DataFrame(False, index=raw_items.index, columns=list(REASONS))

    if gates.attention_checks:
        if attention is None:
            raise ValueError(
                "attention checks configured but no attention answers given: "
                + ", ".join(gates.attention_checks)
            )
        failed = np.zeros(n, dtype=bool)
        for item, expected in gates.attention_checks.items():
            if item not in attention.columns:
                raise ValueError(f"attention-check column {item!r} not found")
            answers = pd.to_numeric(attention[item], errors="coerce").to_numpy(dtype=float)
            failed |= ~(answers == float(expected))
        reasons["failed_attention_check"] = failed

    if gates.straight_lining_min_items:
        with np.errstate(invalid="ignore"):
            spread = np.nanmax(values, axis=1) - np.nanmin(values, axis=1) if values.size else np.zeros(n)
        reasons["straight_lining"] = (n_answered >= gates.straight_lining_min_items) & (spread == 0)

    if durations is not None:
        seconds = np.asarray(durations, dtype=float)
        if len(seconds) != n:
            raise ValueError(f"{len(seconds)} durations for {n} respondents")
        fast = np.zeros(n, dtype=bool)
        with np.errstate(invalid="ignore"):
            if gates.min_seconds is not None:
                fast |= seconds < gates.min_seconds
            if gates.min_median_fraction is not None and np.isfinite(seconds).any():
                fast |= seconds < gates.min_median_fraction * np.nanmedian(seconds)
        reasons["too_fast"] = fast

    share_missing = 1.0 - n_answered / max(values.shape[1], 1)
    reasons["too_many_missing"] = share_missing > gates.max_missing_share
    keep = ~reasons.to_numpy().any(axis=1)
    return QualityResult(keep=keep, reasons=reasons)
