"""How many factors? Horn's parallel analysis on the chosen correlation type, plus scree data."""
from __future__ import annotations

import numpy as np

from survey_engine.psychometrics.correlation import CorrelationResult, correlation_matrix


def reduced_eigenvalues(R: np.ndarray) -> np.ndarray:
    """Eigenvalues (descending) of R with squared multiple correlations on the diagonal.

    SMC_j = 1 − 1/(R⁻¹)_jj, the common-factor version of the scree used by ``psych::fa.parallel``.
    """
    reduced = np.array(R, dtype=float, copy=True)
    smc = 1.0 - 1.0 / np.diag(np.linalg.pinv(reduced))
    np.fill_diagonal(reduced, smc)
    return np.sort(np.linalg.eigvalsh(reduced))[::-1]


def parallel_analysis(
    X,
    kind: str = "pearson",
    missing: str = "pairwise",
    observed: CorrelationResult | None = None,
    n_iter: int = 20,
    quantile: float = 0.95,
    max_rows: int = 20_000,
    random_state: int = 0,
) -> dict:
    """Horn's (1965) parallel analysis with resampled data of the same type.

    Each iteration permutes every item column independently, which keeps each item's answer
    distribution (and missingness) but removes all association, then computes the same kind of
    correlation as the analysis. The suggested number of factors is the number of leading
    observed reduced-matrix eigenvalues that exceed the ``quantile`` of the resampled ones
    (Glorfeld 1995 uses the 95th percentile, which avoids the mean's tendency to over-extract).

    Parameters
    ----------
    X : ndarray (n_respondents, n_items)
        Item answers (reverse keyed), NaN = missing.
    kind : {"pearson", "polychoric"}
        Correlation type, already resolved from ``auto``.
    observed : CorrelationResult, optional
        The observed correlation, if already computed.
    max_rows : int
        Resampled data sets use at most this many rows (a random subset), to bound the cost
        of polychoric resampling on very large samples; fewer rows make the null eigenvalues
        more spread out, so the suggestion can only become more conservative.

    Returns
    -------
    dict with ``suggested_factors``, ``eigenvalues`` (observed reduced-matrix eigenvalues),
    ``simulated`` (the quantile of resampled ones), ``simulated_mean``, ``component_eigenvalues``
    (scree of the full correlation matrix), ``n_iter``, ``quantile`` and ``resampled_rows``.
    """
    X = np.asarray(X, dtype=float)
    if observed is None:
        observed = correlation_matrix(X, kind=kind, missing=missing)
    R = observed.matrix
    observed_fa = reduced_eigenvalues(R)
    observed_pc = np.sort(np.linalg.eigvalsh(R))[::-1]
    rng = np.random.default_rng(random_state)
    rows = min(len(X), max_rows)
    categories = np.unique(X[~np.isnan(X)]) if kind == "polychoric" else None
    simulated = np.empty((n_iter, X.shape[1]))
    for it in range(n_iter):
        sample = X[rng.choice(len(X), size=rows, replace=False)] if rows < len(X) else X
        permuted = np.column_stack([rng.permutation(col) for col in sample.T])
        result = correlation_matrix(permuted, kind=kind, missing=missing, categories=categories)
        simulated[it] = reduced_eigenvalues(result.matrix)
    threshold = np.quantile(simulated, quantile, axis=0)
    above = observed_fa > threshold
    suggested = int(np.argmin(above)) if not above.all() else len(above)
    return {
        "suggested_factors": max(suggested, 1),
        "eigenvalues": observed_fa.tolist(),
        "simulated": threshold.tolist(),
        "simulated_mean": simulated.mean(axis=0).tolist(),
        "component_eigenvalues": observed_pc.tolist(),
        "n_iter": n_iter,
        "quantile": quantile,
        "resampled_rows": rows,
    }
