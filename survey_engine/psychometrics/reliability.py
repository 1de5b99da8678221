"""Scale reliability: Cronbach's alpha (with alpha-if-item-deleted) and McDonald's omega total."""
from __future__ import annotations

import numpy as np


def cronbach_alpha(cov: np.ndarray) -> float:
    """Cronbach's (1951) alpha from an item covariance matrix.

    α = k/(k − 1) · (1 − Σ_i σ_i² / Σ_ij σ_ij), equal to Guttman's λ₃. Passing a correlation
    matrix gives the standardized alpha.
    """
    C = np.asarray(cov, dtype=float)
    k = len(C)
    if k < 2:
        raise ValueError("alpha needs at least two items")
    return float(k / (k - 1) * (1.0 - np.trace(C) / C.sum()))


def alpha_if_deleted(cov: np.ndarray) -> np.ndarray:
    """Alpha of the scale with each item left out in turn (NaN when only one item would remain)."""
    C = np.asarray(cov, dtype=float)
    k = len(C)
    out = np.full(k, np.nan)
    if k < 3:
        return out
    for i in range(k):
        keep = np.arange(k) != i
        out[i] = cronbach_alpha(C[np.ix_(keep, keep)])
    return out


def omega_total(loadings: np.ndarray, uniquenesses: np.ndarray) -> float:
    """McDonald's (1999, "Test theory: a unified treatment", eq. 6.20b) omega total for a congeneric scale.

    ω = (Σλ)² / ((Σλ)² + Σψ) with standardized one-factor loadings λ and uniquenesses ψ.
    """
    lam = np.asarray(loadings, dtype=float).ravel()
    psi = np.asarray(uniquenesses, dtype=float).ravel()
    common = lam.sum() ** 2
    return float(common / (common + psi.sum()))


def one_factor_omega(R: np.ndarray) -> float | None:
    """Omega total from a one-factor minres fit to the scale's correlation matrix.

    Returns ``None`` for fewer than three items, where a single factor is not identified.
    """
    R = np.asarray(R, dtype=float)
    if len(R) < 3:
        return None
    from survey_engine.psychometrics.efa import unrotated_loadings

    lam = unrotated_loadings(R, n_factors=1, method="minres")[:, 0]
    if lam.sum() < 0:
        lam = -lam
    return omega_total(lam, 1.0 - lam**2)


def scale_reliability(cov: np.ndarray, corr: np.ndarray, items: list[str]) -> dict:
    """Alpha (raw and standardized), alpha-if-item-deleted and omega total for one scale.

    Parameters
    ----------
    cov, corr : ndarray
        Covariance and correlation matrices of the scale's (reverse-keyed) items.
    items : list of str
        Item names, in matrix order.
    """
    result = {
        "items": list(items),
        "alpha": cronbach_alpha(cov) if len(items) >= 2 else None,
        "alpha_standardized": cronbach_alpha(corr) if len(items) >= 2 else None,
        "alpha_if_deleted": None,
        "omega": one_factor_omega(corr),
    }
    if len(items) >= 3:
        result["alpha_if_deleted"] = dict(zip(items, alpha_if_deleted(cov).tolist()))
    return result
