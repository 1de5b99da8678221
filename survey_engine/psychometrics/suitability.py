"""Is a correlation matrix worth factoring? Kaiser–Meyer–Olkin adequacy and Bartlett's sphericity test."""
from __future__ import annotations

import numpy as np
from scipy.stats import chi2 as _chi2


def kmo(R: np.ndarray) -> tuple[float, np.ndarray]:
    """Kaiser–Meyer–Olkin measure of sampling adequacy, overall and per item.

    With partial correlations q_ij = −(R⁻¹)_ij / √((R⁻¹)_ii (R⁻¹)_jj) (Kaiser 1970, "A second
    generation little jiffy", Psychometrika 35),
    MSA_j = Σ_{i≠j} r_ij² / (Σ_{i≠j} r_ij² + Σ_{i≠j} q_ij²) and the overall KMO uses the sums over
    all off-diagonal pairs.

    Returns
    -------
    overall : float
    per_item : ndarray of shape (n_items,)
    """
    R = np.asarray(R, dtype=float)
    inv = np.linalg.pinv(R)
    d = np.sqrt(np.diag(inv))
    partial = -inv / np.outer(d, d)
    off = ~np.eye(len(R), dtype=bool)
    r2 = np.where(off, R**2, 0.0)
    q2 = np.where(off, partial**2, 0.0)
    per_item = r2.sum(axis=0) / (r2.sum(axis=0) + q2.sum(axis=0))
    overall = r2.sum() / (r2.sum() + q2.sum())
    return float(overall), per_item


def bartlett_sphericity(R: np.ndarray, n_obs: int) -> tuple[float, int, float]:
    """Bartlett's (1951) test that the population correlation matrix is the identity.

    χ² = −(n − 1 − (2p + 5)/6) · ln|R|, with p(p − 1)/2 degrees of freedom.

    Returns
    -------
    chi2, df, p_value
    """
    R = np.asarray(R, dtype=float)
    p = len(R)
    sign, logdet = np.linalg.slogdet(R)
    if sign <= 0:
        raise ValueError("Bartlett's test needs a positive definite correlation matrix")
    statistic = -(n_obs - 1 - (2 * p + 5) / 6.0) * logdet
    df = p * (p - 1) // 2
    return float(statistic), int(df), float(_chi2.sf(statistic, df))
