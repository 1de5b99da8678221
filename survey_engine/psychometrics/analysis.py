"""One call from a table of Likert answers to the full psychometric report (and the fitted model)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from survey_engine.psychometrics.correlation import (
    PearsonAccumulator,
    correlation_matrix,
    resolve_kind,
)
from survey_engine.psychometrics.diagnostics import (
    SALIENT_LOADING,
    data_warnings,
    model_warnings,
    zero_variance_items,
)
from survey_engine.psychometrics.efa import FactorModel
from survey_engine.psychometrics.items import item_matrix, item_statistics, reverse_key
from survey_engine.psychometrics.labels import factor_labels
from survey_engine.psychometrics.parallel import parallel_analysis
from survey_engine.psychometrics.quality import QualityGates, apply_quality_gates
from survey_engine.psychometrics.reliability import scale_reliability
from survey_engine.psychometrics.suitability import bartlett_sphericity, kmo


@dataclass(frozen=True)
class AnalysisResult:
    """The JSON-ready report, the fitted model and the factor labels (in model column order)."""

    report: dict
    model: FactorModel
    labels: list[str]


def parse_scales(scales: Mapping[str, Sequence[str]], items: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
    """Scale definitions ``name → [item, -reversed_item, …]`` as (item, ±1) pairs, checked against items."""
    parsed = {}
    for name, members in scales.items():
        if not isinstance(members, (list, tuple)) or not members:
            raise ValueError(f"scale {name!r}: expected a list of item names")
        pairs = []
        for member in members:
            member = str(member).strip()
            sign = -1 if member.startswith("-") else 1
            item = member.lstrip("-").strip()
            if item not in items:
                raise ValueError(f"scale {name!r}: item {item!r} is not among the analysed items")
            pairs.append((item, sign))
        parsed[str(name)] = pairs
    return parsed


def _signed_reliability(cov, corr, index, signs, names) -> dict:
    D = np.asarray(signs, dtype=float)
    sub_cov = cov[np.ix_(index, index)] * np.outer(D, D)
    sub_corr = corr[np.ix_(index, index)] * np.outer(D, D)
    return scale_reliability(sub_cov, sub_corr, names)


def run_analysis(
    data: pd.DataFrame,
    items: Sequence[str],
    reverse: Sequence[str] = (),
    scale_min: float | None = None,
    scale_max: float | None = None,
    scales: Mapping[str, Sequence[str]] | None = None,
    constructs: Mapping[str, str] | None = None,
    n_factors: int | str = "auto",
    method: str = "minres",
    rotation: str = "oblimin",
    correlation: str = "auto",
    missing: str = "pairwise",
    scores: str = "regression",
    quality: QualityGates | None = None,
    attention: pd.DataFrame | None = None,
    durations=None,
    label_overrides: Mapping[str, str] | None = None,
    parallel_iterations: int = 20,
    random_state: int = 0,
) -> AnalysisResult:
    """Quality gates → reverse keying → correlations → suitability → number of factors → EFA →
    reliability → warnings, as one report.

    Parameters
    ----------
    data : DataFrame
        One row per respondent with (at least) the item columns, raw answers.
    items : sequence of str
        Likert items to analyse.
    reverse : sequence of str
        Reverse-keyed items (x' = min + max − x).
    scale_min, scale_max : float, optional
        Answer scale; answers outside are errors. Without them the observed range is used for
        reverse keying.
    scales : mapping, optional
        Predefined scales ``name → [item, -item, …]`` (``-`` = reversed relative to the raw data)
        whose reliability is reported.
    constructs : mapping, optional
        Item → declared construct; used for factor labels and per-construct reliability.
    n_factors : int or "auto"
        ``auto`` takes parallel analysis' suggestion.
    method, rotation, correlation, missing, scores
        See ``FactorModel``.
    quality : QualityGates, optional
        Gates applied before fitting (default: straight-lining and missing-answer gates).
    attention, durations
        Attention-check answers and completion seconds for the gates.
    label_overrides : mapping, optional
        Default factor label → researcher label.
    """
    items = [str(item) for item in items]
    raw = item_matrix(data, items, scale_min, scale_max)
    gates = quality if quality is not None else QualityGates()
    quality_result = apply_quality_gates(raw, gates, attention=attention, durations=durations)
    kept_raw = raw[quality_result.keep]
    low = scale_min if scale_min is not None else float(np.nanmin(kept_raw.to_numpy()))
    high = scale_max if scale_max is not None else float(np.nanmax(kept_raw.to_numpy()))
    keyed = reverse_key(kept_raw, reverse, low, high)
    warnings = data_warnings(keyed)
    dropped = zero_variance_items(keyed)
    analysed = [item for item in items if item not in dropped]
    if len(analysed) < 3:
        raise ValueError(f"only {len(analysed)} items with variation left; factor analysis needs at least 3")
    frame = keyed[analysed]
    values = frame.to_numpy(dtype=float)
    kind = resolve_kind(correlation, values)
    categories = None
    if kind == "polychoric" and scale_min is not None and scale_max is not None:
        categories = np.arange(scale_min, scale_max + 1)
    corr = correlation_matrix(values, kind=kind, missing=missing, categories=categories)
    R = corr.matrix
    # duplicates are judged on the analysed matrix
    warnings = [w for w in warnings if w["code"] != "duplicate_items"] + [
        w for w in data_warnings(frame, R) if w["code"] == "duplicate_items"
    ]
    kmo_overall, kmo_items = kmo(R)
    chi2, df, p_value = bartlett_sphericity(R, corr.n_obs)
    parallel = parallel_analysis(values, kind=kind, missing=missing, observed=corr,
                                 n_iter=parallel_iterations, random_state=random_state)
    if n_factors == "auto":
        k = min(parallel["suggested_factors"], len(analysed) - 1)
    else:
        k = int(n_factors)
        if not 1 <= k < len(analysed):
            raise ValueError(f"n_factors must be between 1 and {len(analysed) - 1} for {len(analysed)} "
                             f"items; got {n_factors}")
    pearson = PearsonAccumulator(len(analysed), missing=missing).update(values)
    cov = pearson.covariance()
    model = FactorModel(n_factors=k, method=method, rotation=rotation, correlation=kind,
                        missing=missing, scores=scores)
    model.fit_correlation(corr, analysed, np.nanmean(values, axis=0), np.nanstd(values, axis=0, ddof=1))
    labels = factor_labels(model.loadings_, analysed, constructs, label_overrides)
    warnings += model_warnings(model.loadings_, model.communalities_, analysed, labels)

    reliability = {}
    primary = np.argmax(np.abs(model.loadings_), axis=1)
    for j, label in enumerate(labels):
        index = [i for i in range(len(analysed))
                 if primary[i] == j and abs(model.loadings_[i, j]) >= SALIENT_LOADING]
        if len(index) >= 2:
            signs = np.sign(model.loadings_[index, j])
            names = [analysed[i] if s > 0 else f"-{analysed[i]}" for i, s in zip(index, signs)]
            reliability[label] = {"type": "factor", **_signed_reliability(cov, R, index, signs, names)}
    if constructs:
        by_construct: dict[str, list[int]] = {}
        for i, item in enumerate(analysed):
            if item in constructs:
                by_construct.setdefault(constructs[item], []).append(i)
        for name, index in by_construct.items():
            if len(index) >= 2:
                key = name if name not in reliability else f"{name} (construct)"
                reliability[key] = {
                    "type": "construct",
                    **_signed_reliability(cov, R, index, np.ones(len(index)), [analysed[i] for i in index]),
                }
    if scales:
        # scale keys are relative to the raw answers; undo the --reverse keying first
        rev = set(reverse)
        for name, pairs in parse_scales(scales, items).items():
            pairs = [(item, sign) for item, sign in pairs if item in analysed]
            index = [analysed.index(item) for item, _ in pairs]
            signs = [sign * (-1 if item in rev else 1) for item, sign in pairs]
            names = [item if sign > 0 else f"-{item}" for item, sign in pairs]
            if len(index) >= 2:
                key = name if name not in reliability else f"{name} (scale)"
                reliability[key] = {"type": "scale", **_signed_reliability(cov, R, index, signs, names)}

    def matrix_dict(rows, cols, M):
        return {r: {c: float(M[i, j]) for j, c in enumerate(cols)} for i, r in enumerate(rows)}

    fit = model.fit_indices_
    smoothing_note = None
    if corr.smoothing:
        smoothing_note = (
            f"the {kind} correlation matrix was not positive definite (smallest eigenvalue "
            f"{corr.smoothing['min_eigenvalue_before']:.3g}); it was smoothed, changing correlations "
            f"by at most {corr.smoothing['max_abs_change']:.3g}"
        )
        warnings.append({"code": "smoothed_correlations", "message": smoothing_note, "items": []})
    report = {
        "n_respondents": int(len(frame)),
        "n_respondents_total": int(len(raw)),
        "exclusions": quality_result.summary(),
        "items": analysed,
        "excluded_items": dropped,
        "reverse_keyed": list(reverse),
        "scale": {"min": low, "max": high},
        "missing_data": missing,
        "correlation_type": kind,
        "correlation_requested": correlation,
        "smoothing": corr.smoothing,
        "smoothing_note": smoothing_note,
        "item_statistics": item_statistics(kept_raw[analysed], low, high),
        "kmo": {"overall": kmo_overall, "per_item": dict(zip(analysed, kmo_items.tolist()))},
        "bartlett": {"chi2": chi2, "df": df, "p": p_value},
        "parallel_analysis": parallel,
        "n_factors": k,
        "n_factors_requested": n_factors,
        "method": method,
        "rotation": rotation,
        "factors": labels,
        "loadings": matrix_dict(analysed, labels, model.loadings_),
        "communalities": dict(zip(analysed, model.communalities_.tolist())),
        "uniquenesses": dict(zip(analysed, model.uniquenesses_.tolist())),
        "factor_correlations": matrix_dict(labels, labels, model.phi_),
        "variance_explained": {key: dict(zip(labels, values)) for key, values in model.variance_.items()},
        "fit": {key: fit[key] for key in ("rmsr", "tli", "rmsea", "bic", "chi2", "dof")},
        "reliability": reliability,
        "scores": scores,
        "warnings": warnings,
    }
    return AnalysisResult(report=report, model=model, labels=labels)


def analyse(data: pd.DataFrame, items: Sequence[str], **options) -> dict:
    """The report of ``run_analysis`` (see there for the options)."""
    return run_analysis(data, items, **options).report
