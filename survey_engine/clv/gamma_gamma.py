"""Gamma-Gamma model of average spend per transaction.

References: P. S. Fader, B. G. S. Hardie and K. L. Lee (2005), "RFM and CLV: Using Iso-Value Curves
for Customer Base Analysis", *Journal of Marketing Research* 42(4), 415-430 (section "Spend
process"), and P. S. Fader and B. G. S. Hardie (2013), "The Gamma-Gamma Model of Monetary Value"
(Hardie's note 025), whose equation numbers are used below.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from survey_engine.clv.mle import fit_log_parameters

PARAM_NAMES = ("p", "q", "gamma")


def _as_spend_arrays(X) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(X, pd.DataFrame):
        missing = [c for c in ("frequency", "monetary_value") if c not in X.columns]
        if missing:
            raise ValueError(f"summary is missing column(s) {missing}; expected frequency, monetary_value")
        x = X["frequency"].to_numpy(dtype=float)
        m = X["monetary_value"].to_numpy(dtype=float)
    else:
        arr = np.asarray(X, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"spend array must have shape (n, 2) = frequency, monetary_value; got {arr.shape}")
        x, m = arr[:, 0], arr[:, 1]
    for name, values in (("frequency", x), ("monetary_value", m)):
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise ValueError(f"{name} must be finite and >= 0 (row {int(np.flatnonzero(bad)[0])})")
    return x, m


def _loglik_and_grad(theta, x, m, weights, x_groups=None):
    """Note 025 eq. (3): ``f(m_x | p, q, gamma, x) = G(px+q)/(G(px) G(q)) gamma^q m_x^(px-1) x^(px)
    / (gamma + m_x x)^(px+q)``, summed in logs over repeat buyers, with its analytic gradient.

    Log-gamma and digamma terms depend on ``x`` only and are evaluated once per distinct ``x``
    (``x_groups = (distinct values, inverse index)``).
    """
    p, q, g = theta
    xu, inv = np.unique(x, return_inverse=True) if x_groups is None else x_groups
    inv = inv.ravel()
    pxu = p * xu
    lg_u = gammaln(pxu + q) - gammaln(pxu) - gammaln(q) + q * np.log(g) + pxu * np.log(xu)
    psi_u = digamma(pxu + q)
    dp_u = xu * (psi_u - digamma(pxu) + np.log(xu))
    dq_u = psi_u - digamma(q) + np.log(g)
    px = p * x
    log_m = np.log(m)
    gm = g + m * x
    log_gm = np.log(gm)
    terms = lg_u[inv] + (px - 1.0) * log_m - (px + q) * log_gm
    d_p = dp_u[inv] + x * (log_m - log_gm)
    d_q = dq_u[inv] - log_gm
    d_g = q / g - (px + q) / gm
    return float(terms @ weights), np.stack([d_p, d_q, d_g]) @ weights


class GammaGammaModel(BaseEstimator):
    """Gamma-Gamma spend model: each transaction's value is Gamma(p, nu), ``nu ~ Gamma(q, gamma)``.

    Fitted on repeat buyers only (``frequency > 0``) with their mean repeat-transaction value; the
    model assumes that spend is independent of purchase frequency, so the Pearson correlation of
    ``frequency`` and ``monetary_value`` among those customers is reported in
    ``frequency_monetary_correlation_`` and a warning is raised above ``max_abs_correlation``.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penaliser (see :class:`~survey_engine.clv.bgnbd.BetaGeoModel`).
    tol : float, default 1e-8
    max_iter : int, default 500
    max_abs_correlation : float, default 0.3
        Absolute frequency-spend correlation above which the independence assumption is flagged.

    Attributes
    ----------
    params_ : dict  ``{"p", "q", "gamma"}``
    se_ : dict
    log_likelihood_ : float
    n_customers_ : int  repeat buyers used in the fit
    frequency_monetary_correlation_ : float
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-8, max_iter: int = 500, max_abs_correlation: float = 0.3):
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter
        self.max_abs_correlation = max_abs_correlation

    def fit(self, X, y=None, sample_weight=None) -> "GammaGammaModel":
        """Fit on a summary with ``frequency`` (repeat purchases) and ``monetary_value`` (their mean).

        Rows with ``frequency == 0`` carry no repeat-spend information and are left out.
        """
        x, m = _as_spend_arrays(X)
        w = np.ones_like(x) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        keep = (x > 0) & (w > 0)
        if np.any(keep & (m <= 0)):
            row = int(np.flatnonzero(keep & (m <= 0))[0])
            raise ValueError(f"monetary_value must be > 0 for repeat buyers (row {row})")
        x, m, w = x[keep], m[keep], w[keep]
        if x.size < 3:
            raise ValueError(f"Gamma-Gamma needs at least 3 repeat buyers, got {x.size}")
        corr = float(np.corrcoef(x, m)[0, 1]) if np.ptp(x) > 0 and np.ptp(m) > 0 else 0.0
        if abs(corr) > self.max_abs_correlation:
            warnings.warn(
                f"frequency and monetary_value are correlated (r = {corr:.3f}); the Gamma-Gamma "
                "model assumes they are independent, so expected spend may be biased.",
                UserWarning,
                stacklevel=2,
            )
        mean_m = float(np.average(m, weights=w))
        start = np.array([1.0, 2.0, mean_m])
        groups = np.unique(x, return_inverse=True)
        result = fit_log_parameters(
            lambda theta: _loglik_and_grad(theta, x, m, w, x_groups=groups),
            start,
            n_obs=float(w.sum()),
            penalizer=float(self.penalizer),
            tol=self.tol,
            max_iter=self.max_iter,
            model_name="Gamma-Gamma",
        )
        self.params_ = dict(zip(PARAM_NAMES, map(float, result.params)))
        self.se_ = dict(zip(PARAM_NAMES, map(float, result.se)))
        self.covariance_ = result.covariance
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = int(x.size)
        self.frequency_monetary_correlation_ = corr
        return self

    def population_mean_spend(self) -> float:
        """E(M) = p gamma / (q - 1), the mean transaction value of a customer with no history."""
        check_is_fitted(self, "params_")
        p, q, g = (self.params_[k] for k in PARAM_NAMES)
        if q <= 1:
            raise ValueError(f"Gamma-Gamma q = {q:.3f} <= 1: the mean spend is infinite")
        return p * g / (q - 1.0)

    def conditional_expected_average_value(self, frequency, monetary_value) -> np.ndarray:
        """E(M | p, q, gamma, m_x, x), note 025 eq. (5) / FHL (2005) eq. (4).

        ``(q-1)/(px+q-1) * p gamma/(q-1) + px/(px+q-1) * m_x``: a weighted mean of the population
        mean and the customer's observed mean, with more weight on the latter the more repeat
        purchases there are. Customers with ``frequency == 0`` get the population mean.
        """
        population = self.population_mean_spend()
        p, q = self.params_["p"], self.params_["q"]
        x = np.asarray(frequency, dtype=float)
        m = np.where(x > 0, np.asarray(monetary_value, dtype=float), 0.0)
        weight = p * x / (p * x + q - 1.0)
        return (1.0 - weight) * population + weight * m

    def predict(self, X) -> np.ndarray:
        """Conditional expected average transaction value for each summary row."""
        x, m = _as_spend_arrays(X)
        return self.conditional_expected_average_value(x, m)
