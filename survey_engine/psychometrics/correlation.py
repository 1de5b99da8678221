"""Item correlation matrices: Pearson and polychoric, with pairwise or listwise missing data.

Both estimators accumulate sufficient statistics chunk by chunk (sums and cross-products for
Pearson, pairwise contingency tables for polychoric), so memory is O(items²) whatever the number of
respondents. Matrices that are not positive definite are smoothed and the smoothing is reported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
from scipy.special import ndtr, ndtri, owens_t

CORRELATION_TYPES = ("pearson", "polychoric", "auto")
MISSING_MODES = ("pairwise", "listwise")
#: ``auto`` picks polychoric when every item has at most this many distinct categories.
AUTO_POLYCHORIC_MAX_CATEGORIES = 7
#: Thresholds beyond this many standard deviations are treated as infinite.
_THRESHOLD_CLIP = 8.0
_RHO_BOUND = 0.9999


def _check_option(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _as_float_array(X) -> np.ndarray:
    array = np.asarray(X, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D respondents × items array, got shape {array.shape}")
    return array


@dataclass(frozen=True)
class CorrelationResult:
    """A correlation matrix with everything a report must state about how it was obtained.

    Attributes
    ----------
    matrix : ndarray of shape (n_items, n_items)
        The (smoothed, if needed) correlation matrix.
    kind : str
        ``"pearson"`` or ``"polychoric"``.
    missing : str
        ``"pairwise"`` or ``"listwise"``.
    n_obs : int
        Respondents that contributed (listwise: complete rows; pairwise: rows with any answer).
    pairwise_n : ndarray of shape (n_items, n_items)
        Respondents that answered both items of each pair.
    smoothing : dict or None
        ``None`` when the matrix was positive definite, otherwise what smoothing did.
    covariance : ndarray or None
        Pairwise/listwise covariance matrix (Pearson only), used for raw Cronbach's alpha.
    thresholds : list of ndarray or None
        Polychoric thresholds per item (finite ones only).
    """

    matrix: np.ndarray
    kind: str
    missing: str
    n_obs: int
    pairwise_n: np.ndarray
    smoothing: dict | None = None
    covariance: np.ndarray | None = None
    thresholds: list | None = field(default=None, repr=False)


class PearsonAccumulator:
    """Chunked Pearson correlation with pairwise or listwise deletion.

    For pairwise deletion every pair uses the respondents that answered both items, with means
    and variances taken over that same subset, exactly as R's ``cor(x, use = "pairwise")``.
    The per-pair sums are matrix products of the zero-filled data and its answer mask, so one
    chunk costs a few BLAS calls and the state is six ``n_items × n_items`` matrices.

    Parameters
    ----------
    n_items : int
        Number of item columns in every chunk.
    missing : {"pairwise", "listwise"}
        How missing answers are handled.
    """

    def __init__(self, n_items: int, missing: str = "pairwise"):
        _check_option("missing", missing, MISSING_MODES)
        self.n_items = n_items
        self.missing = missing
        shape = (n_items, n_items)
        self._n = np.zeros(shape)
        self._sx = np.zeros(shape)  # _sx[i, j] = sum of x_i over rows where i and j answered
        self._sxx = np.zeros(shape)
        self._sxy = np.zeros(shape)
        self._rows = 0

    def update(self, chunk) -> "PearsonAccumulator":
        X = _as_float_array(chunk)
        if X.shape[1] != self.n_items:
            raise ValueError(f"chunk has {X.shape[1]} items, expected {self.n_items}")
        if not np.isnan(X).any():
            # no missing answers: one cross-product and column sums do it
            n = float(len(X))
            sums = X.sum(axis=0)
            squares = np.einsum("ij,ij->j", X, X)
            self._rows += len(X)
            self._n += n
            self._sx += sums[:, None]
            self._sxx += squares[:, None]
            self._sxy += X.T @ X
            return self
        mask = ~np.isnan(X)
        if self.missing == "listwise":
            complete = mask.all(axis=1)
            X, mask = X[complete], mask[complete]
        self._rows += int(mask.any(axis=1).sum())
        M = mask.astype(float)
        X0 = np.where(mask, X, 0.0)
        self._n += M.T @ M
        self._sx += X0.T @ M
        self._sxx += (X0 * X0).T @ M
        self._sxy += X0.T @ X0
        return self

    def item_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation (n − 1) of each item over the respondents who answered it."""
        n = np.diag(self._n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.diag(self._sx) / n
            var = (np.diag(self._sxx) - n * mean**2) / (n - 1)
        return mean, np.sqrt(np.maximum(var, 0.0))

    def covariance(self) -> np.ndarray:
        """Pairwise (or listwise) sample covariance with denominator n − 1."""
        n = self._n
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = (self._sxy - self._sx * self._sx.T / n) / (n - 1)
        return cov

    def result(self) -> CorrelationResult:
        n = self._n
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_i = self._sx / n
            mean_j = self._sx.T / n
            cxy = self._sxy / n - mean_i * mean_j
            vx = self._sxx / n - mean_i**2
            vy = self._sxx.T / n - mean_j**2
            r = cxy / np.sqrt(vx * vy)
        r = np.clip((r + r.T) / 2.0, -1.0, 1.0)
        np.fill_diagonal(r, 1.0)
        return CorrelationResult(
            matrix=r,
            kind="pearson",
            missing=self.missing,
            n_obs=self._rows,
            pairwise_n=n.astype(np.int64),
            covariance=self.covariance(),
        )


def _category_codes(X: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """Map answers to 0..K-1 (K = len(categories)); missing becomes K."""
    k = len(categories)
    codes = np.searchsorted(categories, X)
    codes = np.where(np.isnan(X), k, codes)
    valid = np.isnan(X) | (categories[np.minimum(codes, k - 1)] == X)
    if not valid.all():
        row, col = np.argwhere(~valid)[0]
        raise ValueError(
            f"value {X[row, col]!r} in item column {col} is not one of the declared "
            f"categories {categories.tolist()}"
        )
    return codes.astype(np.int16)


class PolychoricAccumulator:
    """Chunked pairwise contingency tables for polychoric correlations.

    Each chunk adds ``np.bincount`` tables for all item pairs; the state is an
    ``n_items × n_items × K × K`` count array, independent of the number of respondents.

    Parameters
    ----------
    n_items : int
        Number of item columns in every chunk.
    categories : sequence of float
        The possible answer values (e.g. 1..7); answers outside raise ``ValueError``.
    missing : {"pairwise", "listwise"}
        How missing answers are handled.
    """

    def __init__(self, n_items: int, categories: Iterable[float], missing: str = "pairwise"):
        _check_option("missing", missing, MISSING_MODES)
        self.n_items = n_items
        self.categories = np.unique(np.asarray(list(categories), dtype=float))
        if len(self.categories) < 2:
            raise ValueError("polychoric correlations need at least two answer categories")
        self.missing = missing
        k = len(self.categories)
        self._tables = np.zeros((n_items, n_items, k, k), dtype=np.int64)
        self._marginals = np.zeros((n_items, k), dtype=np.int64)
        self._rows = 0

    def update(self, chunk) -> "PolychoricAccumulator":
        X = _as_float_array(chunk)
        if X.shape[1] != self.n_items:
            raise ValueError(f"chunk has {X.shape[1]} items, expected {self.n_items}")
        if self.missing == "listwise":
            X = X[~np.isnan(X).any(axis=1)]
        self._rows += int((~np.isnan(X)).any(axis=1).sum())
        k = len(self.categories)
        codes = _category_codes(X, self.categories)
        k1 = k + 1
        for i in range(self.n_items):
            self._marginals[i] += np.bincount(codes[:, i], minlength=k1)[:k]
            base = codes[:, i].astype(np.int32) * k1
            for j in range(i + 1, self.n_items):
                table = np.bincount(base + codes[:, j], minlength=k1 * k1).reshape(k1, k1)
                self._tables[i, j] += table[:k, :k]
        return self

    def result(self, smooth: bool = True) -> CorrelationResult:
        p = self.n_items
        thresholds = [_thresholds_from_counts(self._marginals[i]) for i in range(p)]
        pairs = [(i, j) for i in range(p) for j in range(i + 1, p)]
        tables = np.stack([self._tables[i, j] for i, j in pairs]) if pairs else np.zeros((0,))
        rho = _polychoric_pairs(
            tables,
            np.stack([thresholds[i] for i, _ in pairs]) if pairs else None,
            np.stack([thresholds[j] for _, j in pairs]) if pairs else None,
        )
        R = np.eye(p)
        pair_n = np.zeros((p, p), dtype=np.int64)
        np.fill_diagonal(pair_n, self._marginals.sum(axis=1))
        for (i, j), value, table in zip(pairs, rho, tables):
            R[i, j] = R[j, i] = value
            pair_n[i, j] = pair_n[j, i] = table.sum()
        finite = [t[np.isfinite(t)] for t in thresholds]
        return CorrelationResult(
            matrix=R, kind="polychoric", missing=self.missing, n_obs=self._rows,
            pairwise_n=pair_n, thresholds=finite,
        )


def _thresholds_from_counts(counts: np.ndarray) -> np.ndarray:
    """Thresholds τ_0 = −∞ < τ_1 < … < τ_K = +∞ from the cumulative marginal proportions.

    Categories never used by this item give coincident thresholds, which simply yield
    zero-probability cells. Infinite thresholds are clipped to ±8 (Φ(8) = 1 − 6e−16).
    """
    total = counts.sum()
    cum = np.cumsum(counts)[:-1] / max(total, 1)
    inner = ndtri(np.clip(cum, 0.0, 1.0))
    tau = np.concatenate([[-np.inf], inner, [np.inf]])
    return np.clip(tau, -_THRESHOLD_CLIP, _THRESHOLD_CLIP)


def bivariate_normal_cdf(h, k, rho):
    """Φ₂(h, k; ρ) for standard bivariate normal variables, vectorised.

    Uses Owen's T function (Owen 1956, eq. 3.1):
    Φ₂(h, k; ρ) = ½Φ(h) + ½Φ(k) − T(h, a_h) − T(k, a_k) − β, with
    a_h = (k − ρh) / (h√(1 − ρ²)), a_k = (h − ρk) / (k√(1 − ρ²)) and β = ½ when hk < 0 or
    (hk = 0 and h + k < 0), else 0.
    """
    h = np.asarray(h, dtype=float)
    k = np.asarray(k, dtype=float)
    rho = np.asarray(rho, dtype=float)
    tiny = 1e-300
    h = np.where(h == 0.0, tiny, h)
    k = np.where(k == 0.0, tiny, k)
    s = np.sqrt((1.0 - rho) * (1.0 + rho))
    a_h = (k - rho * h) / (h * s)
    a_k = (h - rho * k) / (k * s)
    beta = np.where(h * k < 0.0, 0.5, 0.0)
    return 0.5 * ndtr(h) + 0.5 * ndtr(k) - owens_t(h, a_h) - owens_t(k, a_k) - beta


def _bivariate_normal_pdf(h, k, rho):
    one_minus = (1.0 - rho) * (1.0 + rho)
    return np.exp(-(h * h - 2.0 * rho * h * k + k * k) / (2.0 * one_minus)) / (
        2.0 * np.pi * np.sqrt(one_minus)
    )


def _polychoric_pairs(tables, tau_a, tau_b, bisections: int = 6, tol: float = 1e-10) -> np.ndarray:
    """Two-step ML polychoric correlation for many pairs at once (Olsson 1979).

    With thresholds fixed from the marginals, the log-likelihood of pair table n is
    ℓ(ρ) = Σ n_ab log π_ab(ρ), π_ab = Φ₂(τ_a, τ_b) − Φ₂(τ_a−1, τ_b) − Φ₂(τ_a, τ_b−1) + Φ₂(τ_a−1, τ_b−1),
    and dΦ₂/dρ = φ₂ (the bivariate normal density), so the score is
    Σ n_ab / π_ab · (φ₂ rectangle differences). It decreases through zero at the maximum and is
    solved for all pairs simultaneously: a few bisection steps on (−0.9999, 0.9999), then the
    Illinois variant of regula falsi (superlinear, the bracket is kept) to |Δρ| < ``tol``.
    """
    if tau_a is None or len(tables) == 0:
        return np.zeros(0)
    tables = tables.astype(float)
    # grids of corner thresholds, shape (pairs, K+1, K+1)
    H = np.broadcast_to(tau_a[:, :, None], tau_a.shape + (tau_b.shape[1],))
    Kt = np.broadcast_to(tau_b[:, None, :], H.shape)
    finite = (np.abs(H) < _THRESHOLD_CLIP) & (np.abs(Kt) < _THRESHOLD_CLIP)
    used = tables > 0

    def score(rho, rows):
        r = rho[:, None, None]
        h, k = H[rows], Kt[rows]
        cdf = bivariate_normal_cdf(h, k, r)
        pdf = np.where(finite[rows], _bivariate_normal_pdf(h, k, r), 0.0)
        pi = cdf[:, 1:, 1:] - cdf[:, :-1, 1:] - cdf[:, 1:, :-1] + cdf[:, :-1, :-1]
        dpi = pdf[:, 1:, 1:] - pdf[:, :-1, 1:] - pdf[:, 1:, :-1] + pdf[:, :-1, :-1]
        pi = np.maximum(pi, 1e-300)
        return np.sum(np.where(used[rows], tables[rows] * dpi / pi, 0.0), axis=(1, 2))

    everything = np.arange(len(tables))
    lo = np.full(len(tables), -_RHO_BOUND)
    hi = np.full(len(tables), _RHO_BOUND)
    f_lo = score(lo, everything)
    f_hi = score(hi, everything)
    # no sign change: the likelihood is monotone and the estimate sits on the boundary
    at_low = f_lo <= 0.0
    at_high = f_hi >= 0.0
    for _ in range(bisections):
        mid = (lo + hi) / 2.0
        f_mid = score(mid, everything)
        up = f_mid > 0.0
        lo, f_lo = np.where(up, mid, lo), np.where(up, f_mid, f_lo)
        hi, f_hi = np.where(up, hi, mid), np.where(up, f_hi, f_mid)
    rho = (lo + hi) / 2.0
    active = ~(at_low | at_high)
    side = np.zeros(len(tables), dtype=int)  # which end was kept last time (Illinois rule)
    for _ in range(60):
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            break
        a, b, fa, fb = lo[rows], hi[rows], f_lo[rows], f_hi[rows]
        x = (a * fb - b * fa) / (fb - fa)
        x = np.where(np.isfinite(x) & (x > a) & (x < b), x, (a + b) / 2.0)
        fx = score(x, rows)
        converged = np.abs(x - rho[rows]) < tol
        rho[rows] = x
        up = fx > 0.0
        # root lies in (x, b): move lo; halve f_hi if hi was kept twice in a row
        keep_hi = up & (side[rows] == 1)
        keep_lo = ~up & (side[rows] == -1)
        lo[rows] = np.where(up, x, a)
        f_lo[rows] = np.where(up, fx, fa)
        hi[rows] = np.where(up, b, x)
        f_hi[rows] = np.where(up, np.where(keep_hi, fb / 2.0, fb), fx)
        f_lo[rows] = np.where(keep_lo, f_lo[rows] / 2.0, f_lo[rows])
        side[rows] = np.where(up, 1, -1)
        active[rows] = ~(converged | (fx == 0.0))
    rho = np.where(at_low, -_RHO_BOUND, rho)
    rho = np.where(at_high, _RHO_BOUND, rho)
    return rho


def smooth_correlation(R: np.ndarray, eig_tol: float = 1e-12) -> tuple[np.ndarray, dict | None]:
    """Make a correlation matrix positive definite by eigenvalue smoothing, as R's ``psych::cor.smooth``.

    Eigenvalues below ``eig_tol`` are set to ``100 · eig_tol``, the spectrum is rescaled to sum to
    the number of items, and the rebuilt matrix is rescaled to a unit diagonal
    (Wothke 1993, "Nonpositive definite matrices in structural modeling").

    Returns
    -------
    matrix : ndarray
        ``R`` itself when it is positive definite, otherwise the smoothed matrix.
    info : dict or None
        ``None`` when nothing was done; else the smallest eigenvalue before smoothing, how many
        eigenvalues were replaced and the largest absolute change of a correlation.
    """
    values, vectors = np.linalg.eigh(R)
    if values.min() > eig_tol:
        return R, None
    replaced = int((values < eig_tol).sum())
    fixed = np.where(values < eig_tol, 100.0 * eig_tol, values)
    fixed = fixed * len(fixed) / fixed.sum()
    S = (vectors * fixed) @ vectors.T
    d = np.sqrt(np.diag(S))
    S = S / np.outer(d, d)
    S = (S + S.T) / 2.0
    np.fill_diagonal(S, 1.0)
    info = {
        "smoothed": True,
        "min_eigenvalue_before": float(values.min()),
        "eigenvalues_replaced": replaced,
        "max_abs_change": float(np.max(np.abs(S - R))),
    }
    return S, info


def n_categories(X) -> int:
    """Largest number of distinct answer values over the item columns."""
    X = _as_float_array(X)
    return max((len(np.unique(col[~np.isnan(col)])) for col in X.T), default=0)


def resolve_kind(kind: str, X) -> str:
    """Resolve ``auto``: polychoric when every item has at most 7 categories, else Pearson."""
    _check_option("correlation", kind, CORRELATION_TYPES)
    if kind != "auto":
        return kind
    return "polychoric" if n_categories(X) <= AUTO_POLYCHORIC_MAX_CATEGORIES else "pearson"


def _chunks(X: np.ndarray, chunk_size: int):
    for start in range(0, X.shape[0], chunk_size):
        yield X[start : start + chunk_size]


def correlation_matrix(
    X,
    kind: str = "pearson",
    missing: str = "pairwise",
    categories: Iterable[float] | None = None,
    chunk_size: int = 50_000,
    smooth: bool = True,
) -> CorrelationResult:
    """Correlation matrix of a respondents × items array (NaN = missing answer).

    Parameters
    ----------
    X : array-like of shape (n_respondents, n_items)
    kind : {"pearson", "polychoric", "auto"}
    missing : {"pairwise", "listwise"}
    categories : sequence of float, optional
        Answer categories for polychoric; default: the distinct values present in ``X``.
    chunk_size : int
        Rows per accumulation step.
    smooth : bool
        Smooth a non-positive-definite result (reported in ``CorrelationResult.smoothing``).
    """
    X = _as_float_array(X)
    kind = resolve_kind(kind, X)
    _check_option("missing", missing, MISSING_MODES)
    if kind == "pearson":
        acc = PearsonAccumulator(X.shape[1], missing=missing)
    else:
        if categories is None:
            categories = np.unique(X[~np.isnan(X)])
        acc = PolychoricAccumulator(X.shape[1], categories, missing=missing)
    for chunk in _chunks(X, chunk_size):
        acc.update(chunk)
    result = acc.result()
    return finalise(result, smooth=smooth)


def finalise(result: CorrelationResult, smooth: bool = True) -> CorrelationResult:
    """Check a correlation result for undefined entries and smooth it when not positive definite."""
    R = result.matrix
    if np.isnan(R).any():
        i, j = np.argwhere(np.isnan(R))[0]
        raise ValueError(
            f"correlation between item columns {i} and {j} is undefined (an item has zero "
            "variance or the pair has fewer than two joint answers)"
        )
    if not smooth:
        return result
    S, info = smooth_correlation(R)
    if info is None:
        return result
    return CorrelationResult(
        matrix=S, kind=result.kind, missing=result.missing, n_obs=result.n_obs,
        pairwise_n=result.pairwise_n, smoothing=info, covariance=result.covariance,
        thresholds=result.thresholds,
    )
