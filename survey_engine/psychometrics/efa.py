"""Exploratory factor analysis: a scikit-learn-style ``FactorModel`` around factor_analyzer.

factor_analyzer extracts the unrotated loadings (minres, ml) from a correlation matrix and rotates
them. Everything that must be right for oblique rotations is computed here: communalities
h² = diag(ΛΦΛᵀ), the factor correlation matrix Φ kept in step with the reordered and re-signed
columns, variance explained, fit indices, and scoring weights so that one new response is scored
without refitting.
"""
from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from survey_engine.psychometrics.correlation import (
    CORRELATION_TYPES,
    MISSING_MODES,
    CorrelationResult,
    PearsonAccumulator,
    correlation_matrix,
    finalise,
    resolve_kind,
)

METHODS = ("minres", "ml", "principal")
ORTHOGONAL_ROTATIONS = ("varimax", "quartimax", "equamax", "oblimax", "geomin_ort")
OBLIQUE_ROTATIONS = ("oblimin", "promax", "quartimin", "geomin_obl")
ROTATIONS = OBLIQUE_ROTATIONS + ORTHOGONAL_ROTATIONS + ("none",)
SCORE_METHODS = ("regression", "bartlett")
CHUNK_ROWS = 50_000
#: A communality at or above this is reported as a Heywood case.
HEYWOOD_COMMUNALITY = 0.995


def _check_option(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def unrotated_loadings(R: np.ndarray, n_factors: int, method: str = "minres") -> np.ndarray:
    """Unrotated loadings of ``n_factors`` factors extracted from correlation matrix ``R``.

    ``minres`` and ``ml`` are factor_analyzer's estimators run on the matrix itself
    (``is_corr_matrix=True``). ``principal`` is the principal-components solution
    Λ = V_k diag(√λ_k) of ``R`` (as R's ``psych::principal``); factor_analyzer's own
    ``principal`` needs raw data and would treat a correlation matrix as observations.
    """
    _check_option("method", method, METHODS)
    R = np.asarray(R, dtype=float)
    if method == "principal":
        values, vectors = np.linalg.eigh(R)
        top = np.argsort(values)[::-1][:n_factors]
        return vectors[:, top] * np.sqrt(np.maximum(values[top], 0.0))
    from factor_analyzer import FactorAnalyzer

    analyzer = FactorAnalyzer(n_factors=n_factors, rotation=None, method=method, is_corr_matrix=True)
    with warnings.catch_warnings():
        # factor_analyzer 0.5.1 passes check_array(force_all_finite=...), renamed in scikit-learn
        # 1.6 and removed in 1.8 (pyproject pins <1.8); the warning is about their call, not ours.
        warnings.filterwarnings("ignore", message=".*force_all_finite.*", category=FutureWarning)
        analyzer.fit(R)
    return np.asarray(analyzer.loadings_, dtype=float)


def rotate(loadings: np.ndarray, rotation: str) -> tuple[np.ndarray, np.ndarray]:
    """Rotate loadings; returns the rotated pattern matrix and the factor correlations Φ.

    Orthogonal rotations (and ``none``) have Φ = I.
    """
    _check_option("rotation", rotation, ROTATIONS)
    k = loadings.shape[1]
    if rotation == "none" or k < 2:
        return loadings.copy(), np.eye(k)
    from factor_analyzer.rotator import Rotator

    rotator = Rotator(method=rotation)
    rotated = rotator.fit_transform(loadings)
    phi = rotator.phi_ if rotation in OBLIQUE_ROTATIONS and rotator.phi_ is not None else np.eye(k)
    return np.asarray(rotated, dtype=float), np.asarray(phi, dtype=float)


def order_and_sign(loadings: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Put factors in a reproducible order and sign.

    Factors are sorted by the variance they account for, diag(Φ ΛᵀΛ), largest first, and each is
    reflected so that its loadings sum to a positive number (its large loadings are positive),
    the conventions of R's ``psych::fa``. Φ is permuted and reflected with the columns
    (Φ' = D P Φ Pᵀ D), so it always describes the returned columns.
    """
    variance = np.diag(phi @ loadings.T @ loadings)
    order = np.argsort(-variance, kind="stable")
    L = loadings[:, order]
    P = phi[np.ix_(order, order)]
    signs = np.sign(L.sum(axis=0))
    signs[signs == 0] = 1.0
    return L * signs, P * np.outer(signs, signs)


def fit_indices(R: np.ndarray, loadings: np.ndarray, phi: np.ndarray, n_obs: int) -> dict:
    """Fit of a k-factor model to correlation matrix R.

    - RMSR: root mean square of the off-diagonal residuals R − ΛΦΛᵀ.
    - ML discrepancy F = tr(Σ⁻¹R) − ln|Σ⁻¹R| − p with Σ = ΛΦΛᵀ + Ψ (unit diagonal), and
      χ² = F (n − 1 − (2p + 5)/6 − 2k/3) (Bartlett's correction), df = ((p − k)² − p − k)/2.
    - TLI (Tucker & Lewis 1973) = (χ²₀/df₀ − χ²/df) / (χ²₀/df₀ − 1), null model F₀ = −ln|R|.
    - RMSEA (Steiger 1990) = √max(χ²/(df (n − 1)) − 1/(n − 1), 0).
    - BIC (Schwarz 1978, as in ``psych::fa``) = χ² − df ln n.
    These follow ``psych::fa``'s printout, so they can be checked against it.
    """
    p, k = loadings.shape
    model = loadings @ phi @ loadings.T
    residual = R - model
    off = ~np.eye(p, dtype=bool)
    rmsr = float(np.sqrt(np.sum(residual[off] ** 2) / (p * (p - 1))))
    sigma = model.copy()
    np.fill_diagonal(sigma, np.diag(R))
    m_inv_r = np.linalg.solve(sigma, R)
    sign, logdet = np.linalg.slogdet(m_inv_r)
    objective = float(np.trace(m_inv_r) - logdet - p)
    dof = ((p - k) ** 2 - p - k) / 2.0
    chi2 = objective * (n_obs - 1 - (2 * p + 5) / 6.0 - 2 * k / 3.0)
    null_objective = float(-np.linalg.slogdet(R)[1])
    null_dof = p * (p - 1) / 2.0
    null_chi2 = null_objective * (n_obs - 1 - (2 * p + 5) / 6.0)
    result = {
        "rmsr": rmsr,
        "objective": objective,
        "chi2": float(chi2),
        "dof": int(dof),
        "null_chi2": float(null_chi2),
        "null_dof": int(null_dof),
        "tli": None,
        "rmsea": None,
        "bic": None,
    }
    if dof > 0 and n_obs > 1:
        null_ratio = null_chi2 / null_dof
        result["tli"] = float((null_ratio - chi2 / dof) / (null_ratio - 1.0))
        result["rmsea"] = float(np.sqrt(max(chi2 / (dof * (n_obs - 1)) - 1.0 / (n_obs - 1), 0.0)))
        result["bic"] = float(chi2 - dof * np.log(n_obs))
    return result


def variance_explained(loadings: np.ndarray, phi: np.ndarray) -> dict:
    """Sum of squared loadings per factor, as ``psych::fa`` prints them (diag(Φ ΛᵀΛ)), with proportions."""
    p = loadings.shape[0]
    ss = np.diag(phi @ loadings.T @ loadings)
    return {
        "ss_loadings": ss.tolist(),
        "proportion": (ss / p).tolist(),
        "cumulative": np.cumsum(ss / p).tolist(),
        "proportion_explained": (ss / ss.sum()).tolist(),
    }


def scoring_weights(R: np.ndarray, loadings: np.ndarray, phi: np.ndarray,
                    uniquenesses: np.ndarray, method: str) -> np.ndarray:
    """Weights W (items × factors) so that factor scores are F = Z W for standardized answers Z.

    - regression (Thurstone 1935): W = R⁻¹ Λ Φ (R⁻¹ times the structure matrix).
    - Bartlett (1937): W = Ψ⁻¹ Λ (Λᵀ Ψ⁻¹ Λ)⁻¹, Ψ = diag(uniquenesses).
    """
    _check_option("scores", method, SCORE_METHODS)
    if method == "regression":
        return np.linalg.solve(R, loadings @ phi)
    inv_psi = 1.0 / np.maximum(uniquenesses, 1e-6)
    weighted = loadings * inv_psi[:, None]
    return weighted @ np.linalg.inv(loadings.T @ weighted)


class FactorModel(BaseEstimator):
    """Exploratory factor model of Likert items, with scores for new responses.

    Parameters
    ----------
    n_factors : int
        Number of factors to extract.
    method : {"minres", "ml", "principal"}
        Extraction method.
    rotation : {"oblimin", "promax", "quartimin", "geomin_obl", "varimax", "quartimax",
                "equamax", "oblimax", "geomin_ort", "none"}
        Rotation; oblique ones estimate factor correlations.
    correlation : {"pearson", "polychoric", "auto"}
        Correlation type fitted (``auto``: polychoric for items with ≤ 7 categories).
    missing : {"pairwise", "listwise"}
        Missing-answer handling for the correlations.
    scores : {"regression", "bartlett"}
        Factor score method used by ``transform``.

    Attributes
    ----------
    items_ : list of str
    loadings_ : ndarray (n_items, n_factors)
        Rotated pattern matrix, in stable order and sign.
    phi_ : ndarray (n_factors, n_factors)
        Factor correlations for the columns of ``loadings_`` (identity if orthogonal).
    structure_ : ndarray
        Structure matrix ΛΦ (item–factor correlations).
    communalities_ : ndarray
        h² = diag(ΛΦΛᵀ).
    uniquenesses_ : ndarray
        1 − h².
    variance_ : dict
        Sums of squared loadings and proportions of variance.
    fit_indices_ : dict
        RMSR, χ², df, TLI, RMSEA, BIC.
    weights_ : dict of str to ndarray
        Scoring weights for "regression" and "bartlett".
    correlation_ : ndarray
        The (smoothed) correlation matrix that was factored.
    correlation_result_ : CorrelationResult
    means_, scales_ : ndarray
        Item means and standard deviations used to standardize answers before scoring.
    n_obs_ : int
    """

    def __init__(self, n_factors: int = 1, method: str = "minres", rotation: str = "oblimin",
                 correlation: str = "pearson", missing: str = "pairwise", scores: str = "regression"):
        self.n_factors = n_factors
        self.method = method
        self.rotation = rotation
        self.correlation = correlation
        self.missing = missing
        self.scores = scores

    def _validate_params(self, n_items: int) -> None:
        _check_option("method", self.method, METHODS)
        _check_option("rotation", self.rotation, ROTATIONS)
        _check_option("correlation", self.correlation, CORRELATION_TYPES)
        _check_option("missing", self.missing, MISSING_MODES)
        _check_option("scores", self.scores, SCORE_METHODS)
        if not isinstance(self.n_factors, (int, np.integer)) or self.n_factors < 1:
            raise ValueError(f"n_factors must be a positive integer; got {self.n_factors!r}")
        if self.n_factors >= n_items:
            raise ValueError(
                f"n_factors ({self.n_factors}) must be smaller than the number of items ({n_items})"
            )

    def fit(self, X, y=None) -> "FactorModel":
        """Fit to a respondents × items matrix (DataFrame with item columns, or array; NaN = missing)."""
        items, values = _items_and_values(X)
        self._validate_params(len(items))
        kind = resolve_kind(self.correlation, values)
        if kind == "pearson":
            accumulator = PearsonAccumulator(values.shape[1], missing=self.missing)
            for start in range(0, len(values), CHUNK_ROWS):
                accumulator.update(values[start : start + CHUNK_ROWS])
            result = finalise(accumulator.result())
            means, scales = accumulator.item_moments()
        else:
            result = correlation_matrix(values, kind=kind, missing=self.missing)
            means = np.nanmean(values, axis=0)
            scales = np.nanstd(values, axis=0, ddof=1)
        return self.fit_correlation(result, items, means, scales)

    def fit_correlation(self, correlation: CorrelationResult | np.ndarray, items=None,
                        means=None, scales=None, n_obs: int | None = None) -> "FactorModel":
        """Fit to a correlation matrix computed elsewhere (e.g. by ``analyse``).

        ``means`` and ``scales`` are needed only for scoring raw answers.
        """
        if not isinstance(correlation, CorrelationResult):
            R = np.asarray(correlation, dtype=float)
            if n_obs is None:
                raise ValueError("n_obs is required when fitting a bare correlation matrix")
            correlation = finalise(CorrelationResult(
                matrix=R, kind="pearson" if self.correlation == "auto" else self.correlation,
                missing=self.missing, n_obs=n_obs, pairwise_n=np.full(R.shape, n_obs)))
        R = correlation.matrix
        p = len(R)
        items = list(items) if items is not None else [f"item{i + 1}" for i in range(p)]
        self._validate_params(p)
        unrotated = unrotated_loadings(R, self.n_factors, self.method)
        rotated, phi = rotate(unrotated, self.rotation)
        L, phi = order_and_sign(rotated, phi)
        communalities = np.einsum("ij,jk,ik->i", L, phi, L)
        uniquenesses = 1.0 - communalities
        self.items_ = items
        self.loadings_ = L
        self.phi_ = phi
        self.structure_ = L @ phi
        self.communalities_ = communalities
        self.uniquenesses_ = uniquenesses
        self.variance_ = variance_explained(L, phi)
        self.n_obs_ = int(correlation.n_obs)
        self.fit_indices_ = fit_indices(R, L, phi, self.n_obs_)
        self.correlation_ = R
        self.correlation_result_ = correlation
        self.weights_ = {m: scoring_weights(R, L, phi, uniquenesses, m) for m in SCORE_METHODS}
        self.means_ = np.zeros(p) if means is None else np.asarray(means, dtype=float)
        self.scales_ = np.ones(p) if scales is None else np.asarray(scales, dtype=float)
        self.heywood_items_ = [items[i] for i in np.flatnonzero(communalities >= HEYWOOD_COMMUNALITY)]
        return self

    # ----------------------------------------------------------------- scoring
    def _weights_for(self, observed: np.ndarray) -> np.ndarray:
        """Scoring weights when only the ``observed`` items were answered."""
        if observed.all():
            return self.weights_[self.scores]
        idx = np.flatnonzero(observed)
        L = self.loadings_[idx]
        if self.scores == "regression":
            R = self.correlation_[np.ix_(idx, idx)]
            return np.linalg.solve(R, L @ self.phi_)
        return scoring_weights(None, L, self.phi_, self.uniquenesses_[idx], "bartlett")

    def transform(self, X) -> np.ndarray:
        """Factor scores for each row of X (columns = ``items_``; NaN = unanswered).

        A row with unanswered items is scored from the items it has, with weights recomputed for
        that subset (regression: R_oo⁻¹ Λ_o Φ), so partial answers are not treated as average.
        Rows with no answers get NaN.
        """
        check_is_fitted(self, "loadings_")
        values = _values_in_item_order(X, self.items_)
        Z = (values - self.means_) / self.scales_
        scores = np.full((len(Z), self.loadings_.shape[1]), np.nan)
        observed = ~np.isnan(Z)
        patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
        inverse = np.ravel(inverse)
        for index, pattern in enumerate(patterns):
            if not pattern.any():
                continue
            rows = inverse == index
            W = self._weights_for(pattern)
            scores[rows] = Z[rows][:, pattern] @ W
        return scores

    def score_one(self, answers: Mapping[str, float]) -> np.ndarray:
        """Factor scores (in column order) of one response ``{item: answer}``, without refitting.

        Equal to the matching row of ``transform``; a few microseconds for complete answers.
        """
        check_is_fitted(self, "loadings_")
        x = np.array([answers.get(item, np.nan) for item in self.items_], dtype=float)
        z = (x - self.means_) / self.scales_
        observed = ~np.isnan(z)
        k = self.loadings_.shape[1]
        if not observed.any():
            values = np.full(k, np.nan)
        else:
            values = z[observed] @ self._weights_for(observed)
        return values

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """JSON-serialisable state: parameters and everything needed to score new responses."""
        check_is_fitted(self, "loadings_")
        return {
            "params": self.get_params(),
            "items": list(self.items_),
            "loadings": self.loadings_.tolist(),
            "phi": self.phi_.tolist(),
            "uniquenesses": self.uniquenesses_.tolist(),
            "correlation": self.correlation_.tolist(),
            "means": self.means_.tolist(),
            "scales": self.scales_.tolist(),
            "n_obs": self.n_obs_,
        }

    @classmethod
    def from_dict(cls, state: Mapping) -> "FactorModel":
        """Rebuild a fitted model (for scoring) from ``to_dict`` output, without refitting."""
        model = cls(**state["params"])
        L = np.asarray(state["loadings"], dtype=float)
        phi = np.asarray(state["phi"], dtype=float)
        R = np.asarray(state["correlation"], dtype=float)
        uniq = np.asarray(state["uniquenesses"], dtype=float)
        model.items_ = list(state["items"])
        model.loadings_ = L
        model.phi_ = phi
        model.structure_ = L @ phi
        model.uniquenesses_ = uniq
        model.communalities_ = 1.0 - uniq
        model.correlation_ = R
        model.means_ = np.asarray(state["means"], dtype=float)
        model.scales_ = np.asarray(state["scales"], dtype=float)
        model.n_obs_ = int(state["n_obs"])
        model.weights_ = {m: scoring_weights(R, L, phi, uniq, m) for m in SCORE_METHODS}
        return model


def _items_and_values(X) -> tuple[list[str], np.ndarray]:
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns], X.to_numpy(dtype=float)
    values = np.asarray(X, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D respondents × items array, got shape {values.shape}")
    return [f"item{i + 1}" for i in range(values.shape[1])], values


def _values_in_item_order(X, items: list[str]) -> np.ndarray:
    if isinstance(X, pd.DataFrame):
        missing = [item for item in items if item not in X.columns]
        if missing:
            raise ValueError(f"missing item columns: {', '.join(missing)}")
        return X[items].to_numpy(dtype=float)
    values = np.atleast_2d(np.asarray(X, dtype=float))
    if values.shape[1] != len(items):
        raise ValueError(f"expected {len(items)} item columns, got {values.shape[1]}")
    return values
