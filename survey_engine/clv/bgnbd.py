"""BG/NBD model of repeat purchasing and drop-out (Fader, Hardie & Lee 2005).

Reference: P. S. Fader, B. G. S. Hardie and K. L. Lee (2005), "'Counting Your Customers' the Easy
Way: An Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275-284, and the
derivations note "Implementing the BG/NBD Model for Customer Base Analysis in Excel" (Hardie's
note 004). Equation numbers below refer to the paper.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, hyp2f1
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from survey_engine.clv.mle import fit_log_parameters

PARAM_NAMES = ("r", "alpha", "a", "b")
SUMMARY_COLUMNS = ("frequency", "recency", "T")


def _as_summary_arrays(X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split a summary (DataFrame with frequency, recency, T, or an (n, 3) array) and validate it."""
    if isinstance(X, pd.DataFrame):
        missing = [c for c in SUMMARY_COLUMNS if c not in X.columns]
        if missing:
            raise ValueError(f"summary is missing column(s) {missing}; expected {list(SUMMARY_COLUMNS)}")
        arr = X.loc[:, list(SUMMARY_COLUMNS)].to_numpy(dtype=float)
    else:
        arr = np.asarray(X, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise ValueError(f"summary array must have shape (n, 3) = frequency, recency, T; got {arr.shape}")
    x, t_x, T = arr[:, 0], arr[:, 1], arr[:, 2]
    _check_summary(x, t_x, T)
    return x, t_x, T


def _check_summary(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    def first_bad(mask: np.ndarray) -> int:
        return int(np.flatnonzero(mask)[0])

    if x.size == 0:
        raise ValueError("summary is empty: no customers to fit")
    for name, values in (("frequency", x), ("recency", t_x), ("T", T)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"{name} has a missing or non-finite value (row {first_bad(bad)})")
    checks = (
        (x < 0, "frequency is negative"),
        (x != np.round(x), "frequency is not a whole number of repeat purchases"),
        (t_x < 0, "recency is negative"),
        (T <= 0, "T (customer age) must be positive"),
        (t_x > T * (1 + 1e-9), "recency is larger than T"),
    )
    for mask, message in checks:
        if mask.any():
            raise ValueError(f"{message} (row {first_bad(mask)})")


def compress_summary(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Collapse identical (x, t_x, T) rows into unique rows with summed weights.

    The likelihood is a sum of per-customer terms that depend only on (x, t_x, T), so fitting on
    the unique rows weighted by their counts gives exactly the same estimates, much faster.
    """
    stacked = np.column_stack([x, t_x, T])
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=weights, minlength=unique.shape[0])
    return unique[:, 0], unique[:, 1], unique[:, 2], counts


def log_likelihood_terms(params, x, t_x, T) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood, eq. (6) of Fader, Hardie & Lee (2005).

    ``L = B(a, b+x)/B(a, b) * G(r+x) a^r / (G(r) (alpha+T)^(r+x))
        + 1{x>0} B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``,
    evaluated in logs as ``A1 + A2 + log(exp(A3) + 1{x>0} exp(A4))`` for numerical stability.
    """
    r, alpha, a, b = (float(p) for p in params)
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    return _loglik_and_grad(np.array([r, alpha, a, b]), x, t_x, T, None, want_grad=False)[0]


def _loglik_and_grad(theta, x, t_x, T, weights, want_grad=True, x_groups=None):
    """Log-likelihood terms (or their weighted sum) and analytic gradient in (r, alpha, a, b).

    Functions of ``x`` alone (log-gamma and digamma terms) are evaluated once per distinct ``x``
    (``x_groups = (distinct values, inverse index)``) and gathered, as purchase counts take few values.
    """
    r, alpha, a, b = theta
    xu, inv = np.unique(x, return_inverse=True) if x_groups is None else x_groups
    inv = inv.ravel()
    repeat_u = xu > 0
    bx1_u = np.where(repeat_u, b + xu - 1.0, 1.0)
    a12_u = (gammaln(r + xu) - gammaln(r) + r * np.log(alpha)
             + gammaln(a + b) + gammaln(b + xu) - gammaln(b) - gammaln(a + b + xu))
    log_a_bx1_u = np.where(repeat_u, np.log(a) - np.log(bx1_u), -np.inf)
    rx = r + x
    ln_at, ln_atx = np.log(alpha + T), np.log(alpha + t_x)
    a3 = -rx * ln_at
    a4 = log_a_bx1_u[inv] - rx * ln_atx
    mix = np.logaddexp(a3, a4)
    terms = a12_u[inv] + mix
    if not want_grad:
        return terms, None
    w3 = np.exp(a3 - mix)
    w4 = 1.0 - w3
    psi_ab = digamma(a + b)
    psi_abx_u = digamma(a + b + xu)
    dr_u = digamma(r + xu) - digamma(r) + np.log(alpha)
    da_u = psi_ab - psi_abx_u
    db_u = psi_ab + digamma(b + xu) - digamma(b) - psi_abx_u
    d_r = dr_u[inv] - w3 * ln_at - w4 * ln_atx
    d_alpha = r / alpha - w3 * rx / (alpha + T) - w4 * rx / (alpha + t_x)
    d_a = da_u[inv] + w4 / a
    d_b = db_u[inv] - w4 / bx1_u[inv]
    grads = np.stack([d_r, d_alpha, d_a, d_b])
    if weights is None:
        return terms, grads
    return float(terms @ weights), grads @ weights


class BetaGeoModel(BaseEstimator):
    """BG/NBD model (beta-geometric / negative binomial distribution), fitted by maximum likelihood.

    While alive, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; after
    each purchase they drop out with probability ``p ~ Beta(a, b)``.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penaliser on the parameters (objective ``-LL/n + penalizer * sum(theta**2)``, as in
        *lifetimes*). Use a small value (0.001-0.01) when a fit does not converge; it biases the
        estimates towards zero, so leave it at 0 to reproduce published maximum-likelihood values.
    tol : float, default 1e-8
        Gradient tolerance of the optimiser (per-customer objective).
    max_iter : int, default 500
        Optimiser iteration limit; exceeding it raises :class:`~survey_engine.clv.mle.ConvergenceError`.

    Attributes
    ----------
    params_ : dict
        ``{"r", "alpha", "a", "b"}`` estimates; ``alpha`` is in the summary's time unit.
    se_ : dict
        Standard errors from the inverse observed information.
    covariance_ : ndarray of shape (4, 4)
    log_likelihood_ : float
        Unpenalised log-likelihood at the estimates (eq. 6 summed over customers).
    n_customers_ : float
        Total weight of customers fitted.
    n_unique_ : int
        Number of distinct (frequency, recency, T) rows the likelihood was evaluated on.
    n_iter_ : int
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-8, max_iter: int = 500):
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y=None, sample_weight=None) -> "BetaGeoModel":
        """Fit on an RFM summary.

        Parameters
        ----------
        X : DataFrame with columns ``frequency``, ``recency``, ``T`` or array of shape (n, 3)
            Repeat purchases, time of the last purchase and age, measured from each customer's
            first purchase, in one time unit (see :func:`survey_engine.clv.summary.summary_from_transactions`).
        y : ignored
        sample_weight : array of shape (n,), optional
            Number of customers each row stands for.
        """
        if self.penalizer < 0:
            raise ValueError(f"penalizer must be >= 0, got {self.penalizer}")
        x, t_x, T = _as_summary_arrays(X)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if weights is not None and (weights.shape != x.shape or np.any(weights < 0)):
            raise ValueError("sample_weight must be non-negative with one value per summary row")
        ux, ut, uT, w = compress_summary(x, t_x, T, weights)
        start = np.array([1.0, max(float(np.average(uT, weights=w)), 1e-3), 1.0, 3.0])
        groups = np.unique(ux, return_inverse=True)
        result = fit_log_parameters(
            lambda theta: _loglik_and_grad(theta, ux, ut, uT, w, x_groups=groups),
            start,
            n_obs=float(w.sum()),
            penalizer=float(self.penalizer),
            tol=self.tol,
            max_iter=self.max_iter,
            model_name="BG/NBD",
        )
        self.params_ = dict(zip(PARAM_NAMES, map(float, result.params)))
        self.se_ = dict(zip(PARAM_NAMES, map(float, result.se)))
        self.covariance_ = result.covariance
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = float(w.sum())
        self.n_unique_ = int(ux.size)
        self.n_iter_ = result.n_iter
        return self

    def _params(self) -> tuple[float, float, float, float]:
        check_is_fitted(self, "params_")
        return tuple(self.params_[k] for k in PARAM_NAMES)

    def expected_purchases(self, t) -> np.ndarray:
        """Expected repeat purchases of a new customer in (0, t], eq. (9).

        ``E[X(t)] = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]``.
        """
        r, alpha, a, b = self._params()
        t = np.asarray(t, dtype=float)
        hyp = hyp2f1(r, b, a + b - 1.0, t / (alpha + t))
        return (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)) ** r * hyp)

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(alive at T | x, t_x, T), eq. (A.14) of the paper's appendix / note 004.

        ``1 / (1 + 1{x>0} a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``; 1 for customers with no
        repeat purchase (in the BG/NBD drop-out can only happen right after a purchase).
        """
        r, alpha, a, b = self._params()
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (frequency, recency, T)))
        return 1.0 / (1.0 + self._odds_dead(x, t_x, T, r, alpha, a, b))

    @staticmethod
    def _odds_dead(x, t_x, T, r, alpha, a, b):
        repeat = x > 0
        bx1 = np.where(repeat, b + x - 1.0, 1.0)
        log_odds = np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return np.where(repeat, np.exp(log_odds), 0.0)

    def conditional_expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Expected purchases in (T, T+t] for a customer with history (x, t_x, T), eq. (10).

        ``E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)
        2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))] / (1 + 1{x>0} a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``.
        """
        r, alpha, a, b = self._params()
        t, x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, frequency, recency, T)))
        hyp = hyp2f1(r + x, b + x, a + b + x - 1.0, t / (alpha + T + t))
        numerator = (a + b + x - 1.0) / (a - 1.0) * (1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        return numerator / (1.0 + self._odds_dead(x, t_x, T, r, alpha, a, b))

    def probability_of_purchase(self, t, frequency, recency, T) -> np.ndarray:
        """P(at least one purchase in (T, T+t] | x, t_x, T).

        Given alive at T the customer cannot drop out before their next purchase, and the posterior
        of lambda given the history and being alive is Gamma(r+x, alpha+T), so
        ``P(none) = (1 - P(alive)) + P(alive) ((alpha+T)/(alpha+T+t))^(r+x)``.
        """
        r, alpha, a, b = self._params()
        t, x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, frequency, recency, T)))
        p_alive = self.probability_alive(x, t_x, T)
        return p_alive * (1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x))

    def predict(self, X, t: float) -> np.ndarray:
        """Conditional expected purchases in the next ``t`` time units for each summary row."""
        x, t_x, T = _as_summary_arrays(X)
        return self.conditional_expected_purchases(t, x, t_x, T)


def sample_bgnbd_summary(
    n_customers: int, params: dict, T, rng: np.random.Generator, holdout: float = 0.0
) -> pd.DataFrame:
    """Draw customers from the BG/NBD generative process (for tests and benchmarks).

    Each customer gets ``lambda ~ Gamma(r, scale=1/alpha)`` and ``p ~ Beta(a, b)`` and is alive at
    the first purchase (time 0); purchases follow a Poisson process and after each repeat purchase
    the customer drops out with probability ``p``, so the number of repeat purchases made before
    dropping out is geometric on 1, 2, ... Simulation is vectorised over customers.

    Returns
    -------
    DataFrame with ``frequency``, ``recency``, ``T`` (observation up to ``T``), ``alive``
    (still active at ``T``) and, when ``holdout > 0``, ``frequency_holdout``: repeat purchases in
    ``(T, T + holdout]``.
    """
    r, alpha, a, b = (params[k] for k in PARAM_NAMES)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()
    end = T + holdout
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    p = rng.beta(a, b, n_customers)
    max_purchases = rng.geometric(p)
    frequency = np.zeros(n_customers)
    recency = np.zeros(n_customers)
    later = np.zeros(n_customers)
    made = np.zeros(n_customers, dtype=np.int64)
    clock = np.zeros(n_customers)
    active = np.ones(n_customers, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        clock[idx] += rng.exponential(1.0 / lam[idx])
        inside = clock[idx] <= end[idx]
        hit = idx[inside]
        in_calibration = clock[hit] <= T[hit]
        cal, hold = hit[in_calibration], hit[~in_calibration]
        frequency[cal] += 1
        recency[cal] = clock[cal]
        later[hold] += 1
        made[hit] += 1
        active[idx[~inside]] = False
        active[hit] = made[hit] < max_purchases[hit]
    out = pd.DataFrame({"frequency": frequency, "recency": recency, "T": T, "alive": frequency < max_purchases})
    if holdout > 0:
        out["frequency_holdout"] = later
    return out
