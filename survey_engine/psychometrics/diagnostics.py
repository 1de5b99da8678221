"""Warnings a researcher can act on, about the data and about a fitted factor model.

(Named ``diagnostics`` rather than ``warnings`` so it never shadows the standard library module.)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Respondents per item below which factor solutions are unstable (a common rule of thumb;
#: MacCallum et al. 1999 show the need grows as communalities fall).
MIN_RESPONDENTS_PER_ITEM = 10
MIN_RESPONDENTS = 100
#: Absolute loading that counts as "loading on" a factor.
SALIENT_LOADING = 0.3
#: Correlation above which two items are reported as near-duplicates.
DUPLICATE_CORRELATION = 0.95


def _warning(code: str, message: str, items: list[str] | None = None) -> dict:
    return {"code": code, "message": message, "items": items or []}


def zero_variance_items(frame: pd.DataFrame) -> list[str]:
    """Items with fewer than two distinct answers."""
    return [str(c) for c in frame.columns if frame[c].dropna().nunique() < 2]


def data_warnings(frame: pd.DataFrame, R: np.ndarray | None = None) -> list[dict]:
    """Sample-size, zero-variance and duplicate-item warnings for a (quality-gated) item matrix."""
    out = []
    n, p = frame.shape
    needed = max(MIN_RESPONDENTS, MIN_RESPONDENTS_PER_ITEM * p)
    if n < needed:
        out.append(_warning(
            "too_few_respondents",
            f"{n} respondents for {p} items; at least {needed} ({MIN_RESPONDENTS_PER_ITEM} per item, "
            f"minimum {MIN_RESPONDENTS}) are advisable for a stable factor solution",
        ))
    constant = zero_variance_items(frame)
    if constant:
        out.append(_warning(
            "zero_variance_items",
            f"item(s) with no variation were left out of the analysis: {', '.join(constant)}",
            constant,
        ))
    columns = [str(c) for c in frame.columns]
    identical = []
    values = frame.to_numpy(dtype=float)
    for i in range(p):
        for j in range(i + 1, p):
            both = ~np.isnan(values[:, i]) & ~np.isnan(values[:, j])
            if both.sum() > 1 and np.array_equal(values[both, i], values[both, j]):
                identical.append((columns[i], columns[j]))
    if R is not None and len(R) == p:
        for i in range(p):
            for j in range(i + 1, p):
                pair = (columns[i], columns[j])
                if abs(R[i, j]) >= DUPLICATE_CORRELATION and pair not in identical:
                    identical.append(pair)
    if identical:
        names = sorted({name for pair in identical for name in pair})
        out.append(_warning(
            "duplicate_items",
            "items that duplicate each other (identical answers or |r| ≥ "
            f"{DUPLICATE_CORRELATION}): " + "; ".join(f"{a} & {b}" for a, b in identical),
            names,
        ))
    return out


def model_warnings(loadings: np.ndarray, communalities: np.ndarray, items: list[str],
                   labels: list[str]) -> list[dict]:
    """Heywood cases, items that load on no factor, and cross-loading items."""
    out = []
    heywood = [items[i] for i in np.flatnonzero(communalities >= 0.995)]
    if heywood:
        out.append(_warning(
            "heywood_cases",
            "communality at or above 1 (Heywood case) — the solution is improper; try fewer "
            f"factors or another method: {', '.join(heywood)}",
            heywood,
        ))
    salient = np.abs(loadings) >= SALIENT_LOADING
    nothing = [items[i] for i in np.flatnonzero(~salient.any(axis=1))]
    if nothing:
        out.append(_warning(
            "items_loading_on_nothing",
            f"no loading of |λ| ≥ {SALIENT_LOADING} on any factor: {', '.join(nothing)}",
            nothing,
        ))
    cross = []
    for i in np.flatnonzero(salient.sum(axis=1) >= 2):
        factors = [f"{labels[j]} {loadings[i, j]:+.2f}" for j in np.flatnonzero(salient[i])]
        cross.append((items[i], factors))
    if cross:
        out.append(_warning(
            "cross_loadings",
            f"items loading |λ| ≥ {SALIENT_LOADING} on more than one factor: "
            + "; ".join(f"{item} ({', '.join(f)})" for item, f in cross),
            [item for item, _ in cross],
        ))
    return out
