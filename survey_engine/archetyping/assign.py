"""Soft, explained assignment of customers to the archetypes of one catalog.

Two signals are combined as independent pieces of evidence (a naive-Bayes mixture):

(a) **factor scores** ``z`` (standardised). Archetype *k* is expected at
    :math:`\\mu_{kf} = \\beta_f + \\alpha_f p_{kf}` on factor *f*, where :math:`p_{kf}` is the signed
    strength from the catalog profile and :math:`\\alpha_f \\ge 0`, :math:`\\beta_f`,
    :math:`\\sigma_f` are calibrated by ``fit``. The log-likelihood, up to terms equal for all
    archetypes, is

    .. math:: \\ell^{F}_{k}(z) = \\sum_f \\frac{(z_f - \\beta_f)\\,\\alpha_f p_{kf} - \\tfrac12 \\alpha_f^2 p_{kf}^2}{\\sigma_f^2}

    (the Gaussian discriminant with a shared diagonal covariance; Hastie, Tibshirani & Friedman,
    *The Elements of Statistical Learning*, 2nd ed., eq. 4.10).

(b) **free text**, by nearest neighbours among *exemplars*: the archetypes' descriptions and
    example phrases (labelled by the catalog, counted ``phrase_weight`` times) and the answers of
    the customers ``fit`` saw (labelled by their current memberships). With :math:`q_k` the
    smoothed, weighted share of archetype *k* among the ``text_neighbors`` exemplars most similar
    (cosine) to an answer,

    .. math:: \\ell^{T}_{k} = \\sum_{\\text{answers}} \\log q_k - \\log \\pi_k,

    the k-nearest-neighbour estimate of the density ratio :math:`p(\\text{answer}\\mid k)/p(\\text{answer})`
    (Fix & Hodges 1951; Zhu & Ghahramani 2002 for propagating labels between neighbours). Customer
    answers written like the catalog's phrases pull their neighbours along, so the model learns the
    customers' own vocabulary and languages while the catalog keeps the archetypes anchored.

Memberships are :math:`\\operatorname{softmax}_k\\big((\\log\\pi_k + w_F \\ell^F_k + w_T \\ell^T_k)/T\\big)`
with researcher weights :math:`w_F, w_T` and temperature *T*. ``fit`` calibrates the parameters by
expectation-maximisation on the customers given (Dempster, Laird & Rubin 1977), starting from the
catalog profiles and the zero-shot similarity of each answer to the archetypes' phrases (mean of the
``top_k_phrases`` highest cosines), keeping labelled corrections fixed when ``y`` is given, and
then (with labels) chooses *T* by minimising the negative log-likelihood of the labels (Guo et al. 2017, temperature
scaling). A missing signal contributes nothing, so customers with only Likert answers or only text
are assigned from what they have.

Input layout
------------
``X`` is a 2-D float array built by :func:`assignment_features`: the first ``len(factors)`` columns
are factor scores (NaN where missing), then one block of ``dim`` columns per free-text field with
the unit-norm answer embedding (NaN rows where the field is empty).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

#: Rows scored per block in :meth:`ArchetypeAssigner.transform` (bounds memory on large inputs).
CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class TextPrototypes:
    """Embedded descriptions and example phrases of a catalog's archetypes.

    Attributes
    ----------
    archetype_ids : tuple of str
        Archetypes in catalog order.
    texts : tuple of str
        Prototype texts, grouped by archetype (all of archetype 0, then 1, ...).
    owner : ndarray of int, shape (n_texts,)
        Index into ``archetype_ids`` of each text (non-decreasing).
    embeddings : ndarray of float32, shape (n_texts, dim)
        Unit-norm embeddings.
    model_id : str
        The embedding model that produced them (must match the customers' embeddings).
    """

    archetype_ids: tuple[str, ...]
    texts: tuple[str, ...]
    owner: np.ndarray
    embeddings: np.ndarray
    model_id: str

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def bounds(self) -> list[tuple[int, int]]:
        """(start, stop) of each archetype's rows."""
        edges = np.searchsorted(self.owner, np.arange(len(self.archetype_ids) + 1))
        return [(int(edges[k]), int(edges[k + 1])) for k in range(len(self.archetype_ids))]


def embed_catalog(catalog, embedder, languages: Sequence[str] | None = None,
                  include_descriptions: bool = True) -> TextPrototypes:
    """Embed each archetype's descriptions and phrases (in ``languages``, default all).

    Parameters
    ----------
    catalog : ArchetypeCatalog
    embedder : TextEmbedder
        Anything with ``embed(texts) -> EmbeddingResult`` and a ``model_id``.
    """
    texts: list[str] = []
    owner: list[int] = []
    for index, archetype in enumerate(catalog.archetypes):
        langs = list(languages) if languages is not None else list(catalog.catalog.languages)
        items = archetype.all_phrases(langs)
        if include_descriptions:
            items = [archetype.description[lang] for lang in langs if lang in archetype.description] + items
        for text in items:
            texts.append(text)
            owner.append(index)
    result = embedder.embed(texts)
    if not result.present.all():
        raise ValueError("an archetype description or phrase is empty")
    return TextPrototypes(catalog.archetype_ids, tuple(texts), np.asarray(owner, dtype=np.int64),
                          result.vectors.astype(np.float32), result.model_id)


def assignment_features(factor_scores: pd.DataFrame | np.ndarray | None = None,
                        text_embeddings: Sequence[Any] = (), *, factors: Sequence[str] | None = None,
                        n_rows: int | None = None, dim: int | None = None) -> np.ndarray:
    """Build the ``X`` matrix of :class:`ArchetypeAssigner` from its two signals.

    Parameters
    ----------
    factor_scores : DataFrame, ndarray or None
        Factor scores, one row per customer. A DataFrame is reindexed to ``factors`` (missing
        columns become NaN); NaN marks a missing score. ``None``: no Likert signal (all NaN).
    text_embeddings : sequence
        One entry per free-text field: an ``EmbeddingResult`` (absent rows become NaN) or an array
        of shape (n, dim) whose all-zero or NaN rows count as absent. ``None`` entries mean the
        field is missing for everyone (needs ``dim``).
    factors : sequence of str
        Factor names, the order of the factor columns (required).
    n_rows, dim : int, optional
        Number of customers and embedding size when they cannot be read from the inputs.

    Returns
    -------
    ndarray of float32, shape (n, len(factors) + n_fields * dim)
    """
    if factors is None:
        raise ValueError("factors (the factor column order) is required")
    blocks: list[np.ndarray] = []
    arrays: list[np.ndarray | None] = []
    for entry in text_embeddings:
        if entry is None:
            arrays.append(None)
            continue
        vectors = getattr(entry, "vectors", None)
        if vectors is not None:
            block = np.array(vectors, dtype=np.float32)
            block[~np.asarray(entry.present, dtype=bool)] = np.nan
        else:
            block = np.array(entry, dtype=np.float32)
            if block.ndim != 2:
                raise ValueError(f"text embeddings must be 2-D, got shape {block.shape}")
            absent = ~np.isfinite(block).all(axis=1) | ~block.any(axis=1)
            block[absent] = np.nan
        arrays.append(block)
    known = [a for a in arrays if a is not None]
    if factor_scores is not None:
        n = len(factor_scores)
    elif known:
        n = known[0].shape[0]
    elif n_rows is not None:
        n = n_rows
    else:
        raise ValueError("cannot tell the number of customers: give factor_scores, embeddings or n_rows")
    if factor_scores is None:
        blocks.append(np.full((n, len(factors)), np.nan, dtype=np.float32))
    elif isinstance(factor_scores, pd.DataFrame):
        blocks.append(factor_scores.reindex(columns=list(factors)).to_numpy(dtype=np.float32, na_value=np.nan))
    else:
        scores = np.asarray(factor_scores, dtype=np.float32)
        if scores.ndim != 2 or scores.shape[1] != len(factors):
            raise ValueError(f"factor_scores must have shape (n, {len(factors)}), got {scores.shape}")
        blocks.append(scores)
    width = known[0].shape[1] if known else dim
    for block in arrays:
        if block is None:
            if width is None:
                raise ValueError("an all-missing text field needs dim")
            block = np.full((n, width), np.nan, dtype=np.float32)
        if block.shape[0] != n:
            raise ValueError(f"text embeddings have {block.shape[0]} rows, factor scores {n}")
        blocks.append(block)
    return np.hstack(blocks) if len(blocks) > 1 else blocks[0]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


# Expected position of the top archetype on a factor, by the sign of its catalog strength; a factor
# the profile leaves out can still count (it separates the other archetypes).
_EXPECTED = {1: "high", -1: "low", 0: "not in profile"}


def _hard(memberships: np.ndarray) -> np.ndarray:
    """One-hot of the most likely archetype per row (classification EM; soft labels would let the
    neighbour votes decay towards the priors)."""
    return np.eye(memberships.shape[1])[memberships.argmax(axis=1)]


class ArchetypeAssigner(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Soft memberships of customers in a catalog's archetypes from factor scores and text.

    Parameters
    ----------
    catalog : ArchetypeCatalog
        The archetypes and their expected factor profiles.
    prototypes : TextPrototypes or None
        Embedded descriptions and phrases (:func:`embed_catalog`); ``None``: no text signal.
    factors : sequence of str or None
        Names of the factor-score columns of ``X``, in order; default the catalog's factors.
        Factors absent from every profile are carried but carry no evidence.
    factor_weight, text_weight : float, default 1.0
        Researcher weights :math:`w_F`, :math:`w_T` of the two signals (0 switches one off).
    temperature : float or "auto", default "auto"
        Softmax temperature *T*. ``"auto"``: 1 (the calibrated likelihood) without labels, fitted
        by minimum negative log-likelihood on the labelled rows when ``y`` is given.
    text_neighbors : int, default 15
        Exemplars voting on each answer.
    max_exemplars : int, default 3000
        Customer answers kept as exemplars at most (a seeded random sample beyond that); bounds
        the cost of :meth:`transform`.
    phrase_weight : float, default 3.0
        Vote of one catalog phrase relative to one customer answer.
    smoothing : float, default 1.0
        Pseudo-votes spread by the priors, so :math:`q_k > 0` (additive smoothing).
    top_k_phrases : int, default 3
        Phrases averaged into the zero-shot similarity used to start EM.
    max_iter : int, default 100
        EM iterations at most.
    tol : float, default 1e-5
        Stop when the mean absolute change of the memberships is below ``tol``.
    learn_priors : bool, default True
        Estimate archetype shares :math:`\\pi_k`; otherwise equal shares.
    random_state : int, default 0
        Seed of the exemplar sample.

    Attributes
    ----------
    classes_ : ndarray of str
        Archetype ids (column order of :meth:`predict_proba`).
    factors_ : tuple of str
    profile_ : ndarray of shape (n_archetypes, n_factors)
        Signed catalog strengths :math:`p_{kf}`.
    center_, scale_ : ndarray of shape (n_factors,)
        Standardisation of the factor scores.
    factor_slope_, factor_offset_, factor_sd_ : ndarray of shape (n_factors,)
        :math:`\\alpha_f, \\beta_f, \\sigma_f` on the standardised scale.
    priors_ : ndarray of shape (n_archetypes,)
    exemplars_ : ndarray of float32, shape (n_exemplars, dim)
        Customer answers kept from ``fit`` followed by the catalog's prototype texts.
    exemplar_labels_ : ndarray of shape (n_exemplars, n_archetypes)
        Their memberships (one-hot for catalog texts).
    exemplar_weights_ : ndarray of shape (n_exemplars,)
    temperature_ : float
    n_text_fields_ : int
    n_iter_ : int
    converged_ : bool
    """

    def __init__(self, catalog, prototypes: TextPrototypes | None = None, factors: Sequence[str] | None = None,
                 factor_weight: float = 1.0, text_weight: float = 1.0, temperature: float | str = "auto",
                 text_neighbors: int = 15, max_exemplars: int = 3000, phrase_weight: float = 3.0,
                 smoothing: float = 1.0, top_k_phrases: int = 3, max_iter: int = 100, tol: float = 1e-5,
                 learn_priors: bool = True, random_state: int = 0):
        self.catalog = catalog
        self.prototypes = prototypes
        self.factors = factors
        self.factor_weight = factor_weight
        self.text_weight = text_weight
        self.temperature = temperature
        self.text_neighbors = text_neighbors
        self.max_exemplars = max_exemplars
        self.phrase_weight = phrase_weight
        self.smoothing = smoothing
        self.top_k_phrases = top_k_phrases
        self.max_iter = max_iter
        self.tol = tol
        self.learn_priors = learn_priors
        self.random_state = random_state

    # ---- input handling ---------------------------------------------------------------------
    def _layout(self) -> tuple[tuple[str, ...], int]:
        factors = tuple(self.factors) if self.factors is not None else tuple(self.catalog.factors)
        dim = self.prototypes.dim if self.prototypes is not None else 0
        return factors, dim

    def _split(self, X, n_text_fields: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (customers x features), got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(np.float32)
        factors, dim = self._layout()
        rest = X.shape[1] - len(factors)
        if rest < 0 or (dim == 0 and rest != 0) or (dim and rest % dim):
            raise ValueError(f"X has {X.shape[1]} columns; expected {len(factors)} factor columns "
                             f"plus a multiple of the embedding size {dim}")
        fields = rest // dim if dim else 0
        if n_text_fields is not None and fields != n_text_fields:
            raise ValueError(f"X has {fields} text fields; the assigner was fitted with {n_text_fields}")
        blocks = [X[:, len(factors) + i * dim: len(factors) + (i + 1) * dim] for i in range(fields)]
        return X[:, :len(factors)], blocks

    @staticmethod
    def _answers(blocks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """All present answers as (vectors (n_answers, dim) float32, customer row of each)."""
        vectors, rows = [], []
        for block in blocks:
            present = np.flatnonzero(np.isfinite(block[:, 0]))
            vectors.append(np.asarray(block[present], dtype=np.float32))
            rows.append(present)
        if not vectors:
            return np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=np.int64)
        return np.vstack(vectors), np.concatenate(rows)

    def _zero_shot(self, answers: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
        """Mean top-``top_k_phrases`` cosine of each customer's answers to each archetype (n, K)."""
        protos = self.prototypes
        K = len(self.catalog.archetypes)
        total = np.zeros((n, K))
        count = np.zeros(n)
        for start in range(0, answers.shape[0], CHUNK_ROWS):
            part_rows = rows[start:start + CHUNK_ROWS]
            sims = answers[start:start + CHUNK_ROWS] @ protos.embeddings.T
            for k, (lo, hi) in enumerate(protos.bounds()):
                block = sims[:, lo:hi]
                top = min(self.top_k_phrases, hi - lo)
                block = np.partition(block, hi - lo - top, axis=1)[:, hi - lo - top:]
                np.add.at(total[:, k], part_rows, block.mean(axis=1))
            np.add.at(count, part_rows, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            sims = total / count[:, None]
        sims[count == 0] = np.nan
        return sims

    def _neighbours(self, answers: np.ndarray, exemplars: np.ndarray, exclude: np.ndarray | None = None,
                    ) -> np.ndarray:
        """Indices (n_answers, k) of the ``text_neighbors`` most similar exemplars of each answer.

        ``exclude[i]`` is an exemplar index answer *i* may not pick (itself), or -1.
        """
        k = min(self.text_neighbors, exemplars.shape[0] - (1 if exclude is not None else 0))
        out = np.empty((answers.shape[0], max(k, 0)), dtype=np.int64)
        if k <= 0:
            return out
        chunk = max(1, min(CHUNK_ROWS, 40_000_000 // max(exemplars.shape[0], 1)))
        for start in range(0, answers.shape[0], chunk):
            sims = answers[start:start + chunk] @ exemplars.T
            if exclude is not None:
                ex = exclude[start:start + chunk]
                hit = np.flatnonzero(ex >= 0)
                sims[hit, ex[hit]] = -np.inf
            out[start:start + chunk] = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        return out

    def _text_terms(self, neighbours: np.ndarray, rows: np.ndarray, n: int, labels: np.ndarray,
                    weights: np.ndarray, priors: np.ndarray) -> np.ndarray:
        """:math:`\\ell^T` (n, K) from exemplar votes; zero for customers without text."""
        K = labels.shape[1]
        LT = np.zeros((n, K))
        if neighbours.size == 0:
            return LT
        w = weights[neighbours]  # (a, k)
        votes = np.einsum("ak,akc->ac", w, labels[neighbours])
        q = (votes + self.smoothing * priors) / (w.sum(axis=1, keepdims=True) + self.smoothing)
        np.add.at(LT, rows, np.log(q) - np.log(priors))
        return LT

    # ---- the model ---------------------------------------------------------------------------
    def _factor_terms(self, Zs: np.ndarray, slope, offset, sd) -> np.ndarray:
        """:math:`\\ell^F` (n, K) from standardised scores (NaN = missing)."""
        if Zs.shape[1] == 0:
            return np.zeros((Zs.shape[0], self.profile_.shape[0]))
        observed = np.isfinite(Zs)
        centred = np.where(observed, Zs - offset, 0.0)
        linear = (slope / sd**2)[:, None] * self.profile_.T  # (F, K)
        quadratic = 0.5 * ((slope / sd) ** 2)[:, None] * (self.profile_.T**2)
        return centred @ linear - observed.astype(np.float64) @ quadratic

    def _standardise(self, Z: np.ndarray) -> np.ndarray:
        return (np.asarray(Z, dtype=np.float64) - self.center_) / self.scale_

    def _combine(self, LF: np.ndarray, LT: np.ndarray, priors: np.ndarray) -> np.ndarray:
        return np.log(priors) + self.factor_weight * LF + self.text_weight * LT

    def _check_params(self) -> None:
        if self.factor_weight < 0 or self.text_weight < 0 or self.factor_weight + self.text_weight == 0:
            raise ValueError("factor_weight and text_weight must be >= 0 and not both 0")
        for name in ("text_neighbors", "max_exemplars", "top_k_phrases", "max_iter"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.phrase_weight < 0 or self.smoothing <= 0:
            raise ValueError("phrase_weight must be >= 0 and smoothing > 0")
        if not (self.temperature == "auto" or (isinstance(self.temperature, (int, float)) and self.temperature > 0)):
            raise ValueError(f"temperature must be 'auto' or a positive number, got {self.temperature!r}")
        if self.prototypes is not None and tuple(self.prototypes.archetype_ids) != self.catalog.archetype_ids:
            raise ValueError("prototypes were embedded from a different catalog (archetype ids differ)")

    def fit(self, X, y=None):
        """Calibrate standardisation, profile scaling, the text exemplars and the temperature.

        Parameters
        ----------
        X : array-like of shape (n_customers, n_features)
            See :func:`assignment_features`.
        y : array-like of str or None, optional
            Labelled corrections: an archetype id for customers whose archetype a researcher has
            confirmed, ``None`` or ``""`` for the others. Labelled rows keep their label during EM
            and fit the temperature when ``temperature="auto"``.

        Returns
        -------
        self
        """
        self._check_params()
        factors, _ = self._layout()
        Z, blocks = self._split(X)
        n, K = Z.shape[0], len(self.catalog.archetypes)
        if n < 2:
            raise ValueError("fit needs at least 2 customers")
        self.classes_ = np.asarray(self.catalog.archetype_ids, dtype=object)
        self.factors_ = factors
        self.n_text_fields_ = len(blocks)
        self.profile_ = self.catalog.profile_matrix(factors)
        Z = np.asarray(Z, dtype=np.float64)
        observed = np.isfinite(Z)
        counts = observed.sum(axis=0)
        center = np.where(counts > 0, np.where(observed, Z, 0.0).sum(axis=0) / np.maximum(counts, 1), 0.0)
        spread = np.sqrt(np.where(observed, (Z - center) ** 2, 0.0).sum(axis=0) / np.maximum(counts, 1))
        self.center_ = center
        self.scale_ = np.where(spread > 1e-9, spread, 1.0)
        Zs = self._standardise(Z)
        labels = self._label_matrix(y, n)
        labelled = labels.any(axis=1) if labels is not None else np.zeros(n, dtype=bool)

        # Text exemplars: a sample of the customers' answers, then the catalog's own texts.
        answers, rows = self._answers(blocks) if self.prototypes is not None else self._answers([])
        use_text = self.prototypes is not None and answers.shape[0] > 0 and self.text_weight > 0
        if use_text:
            rng = np.random.default_rng(self.random_state)
            n_pool = min(answers.shape[0], int(self.max_exemplars))
            pool = np.sort(rng.choice(answers.shape[0], size=n_pool, replace=False))
            exemplars = np.vstack([answers[pool], self.prototypes.embeddings]).astype(np.float32)
            weights = np.concatenate([np.ones(n_pool), np.full(len(self.prototypes.texts), float(self.phrase_weight))])
            phrase_labels = np.eye(K)[self.prototypes.owner]
            exclude = np.full(answers.shape[0], -1, dtype=np.int64)
            exclude[pool] = np.arange(n_pool)
            neighbours = self._neighbours(answers, exemplars, exclude)
            zero_shot = self._zero_shot(answers, rows, n)
            with np.errstate(invalid="ignore"):
                zs_mean, zs_sd = np.nanmean(zero_shot, axis=0), np.nanstd(zero_shot, axis=0)
            LT = np.nan_to_num((zero_shot - zs_mean) / np.where(zs_sd > 1e-9, zs_sd, 1.0) - 0.5, nan=0.0)
        else:
            LT = np.zeros((n, K))

        slope, offset, sd = np.ones(len(factors)), np.zeros(len(factors)), np.ones(len(factors))
        priors = np.full(K, 1.0 / K)
        responsibilities = None
        self.converged_ = False
        # Factor scores alone do not identify the mixture (profiles overlap, so EM trades
        # archetypes for one another); calibrate only when text or labels anchor the archetypes.
        anchored = use_text or labels is not None
        self.n_iter_ = 0
        for iteration in range(1, (int(self.max_iter) if anchored else 1) + 1):
            LF = self._factor_terms(Zs, slope, offset, sd)
            new = _softmax(self._combine(LF, LT, priors))
            if labels is not None:
                new[labelled] = labels[labelled]
            delta = np.inf if responsibilities is None else float(np.abs(new - responsibilities).mean())
            # Classification EM can cycle between equivalent labelings in the last decimals; stop
            # as well when no customer changes top archetype.
            stable = responsibilities is not None and np.array_equal(new.argmax(1), responsibilities.argmax(1))
            responsibilities = new
            self.n_iter_ = iteration
            if delta < self.tol or (stable and delta < 1e-3):
                self.converged_ = True
                break
            slope, offset, sd, priors = self._m_step(Zs, responsibilities, priors)
            if use_text:
                pool_labels = np.vstack([_hard(responsibilities[rows[pool]]), phrase_labels])
                LT = self._text_terms(neighbours, rows, n, pool_labels, weights, priors)
        self.factor_slope_, self.factor_offset_, self.factor_sd_, self.priors_ = slope, offset, sd, priors
        if use_text:
            self.exemplars_ = exemplars
            self.exemplar_labels_ = np.vstack([_hard(responsibilities[rows[pool]]), phrase_labels])
            self.exemplar_weights_ = weights
        else:
            dim = self.prototypes.dim if self.prototypes is not None else 0
            self.exemplars_ = np.zeros((0, dim), dtype=np.float32)
            self.exemplar_labels_ = np.zeros((0, K))
            self.exemplar_weights_ = np.zeros(0)
        self.temperature_ = self._fit_temperature(X, labels)
        return self

    def _label_matrix(self, y, n: int) -> np.ndarray | None:
        if y is None:
            return None
        y = list(y)
        if len(y) != n:
            raise ValueError(f"y has {len(y)} entries for {n} customers")
        index = {a: k for k, a in enumerate(self.catalog.archetype_ids)}
        labels = np.zeros((n, len(index)))
        for row, value in enumerate(y):
            if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
                continue
            if value not in index:
                raise ValueError(f"y[{row}] = {value!r} is not an archetype of catalog {self.catalog.id!r}")
            labels[row, index[value]] = 1.0
        return labels if labels.any() else None

    def _m_step(self, Zs, R, priors):
        K, F = self.profile_.shape
        slope, offset, sd = np.zeros(F), np.zeros(F), np.ones(F)
        if self.learn_priors:
            priors = R.mean(axis=0) + 1e-3 / K
            priors = priors / priors.sum()
        for f in range(F):
            observed = np.isfinite(Zs[:, f])
            p = self.profile_[:, f]
            if observed.sum() < 2 or not np.any(p):
                continue
            z, r = Zs[observed, f], R[observed]
            counts = r.sum(axis=0)
            w = counts.sum()
            sx, sxx, sy, sxy = counts @ p, counts @ p**2, z.sum(), p @ (r.T @ z)
            denominator = w * sxx - sx**2
            a = (w * sxy - sx * sy) / denominator if denominator > 1e-12 else 0.0
            a = max(a, 0.0)  # the catalog fixes the direction; the data may only weaken it
            b = (sy - a * sx) / w
            var = float((r * (z[:, None] - b - a * p[None, :]) ** 2).sum() / w)
            slope[f], offset[f], sd[f] = a, b, np.sqrt(max(var, 1e-4))
        return slope, offset, sd, priors

    def _fit_temperature(self, X, labels) -> float:
        if self.temperature != "auto":
            return float(self.temperature)
        if labels is None:
            return 1.0
        from scipy.optimize import minimize_scalar

        labelled = labels.any(axis=1)
        logits = self._score(np.asarray(X)[labelled])[0]
        target = labels[labelled].argmax(axis=1)

        def nll(log_t: float) -> float:
            scaled = logits / np.exp(log_t)
            scaled = scaled - scaled.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(scaled).sum(axis=1))
            return float((log_norm - scaled[np.arange(len(target)), target]).mean())

        result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
        return float(np.exp(result.x))

    # ---- prediction --------------------------------------------------------------------------
    def _score(self, X):
        check_is_fitted(self, "priors_")
        Z, blocks = self._split(X, self.n_text_fields_)
        Zs = self._standardise(Z)
        n = Zs.shape[0]
        LF = self._factor_terms(Zs, self.factor_slope_, self.factor_offset_, self.factor_sd_)
        answers, rows = self._answers(blocks)
        if self.exemplars_.shape[0] and answers.shape[0]:
            neighbours = self._neighbours(answers, self.exemplars_)
            LT = self._text_terms(neighbours, rows, n, self.exemplar_labels_, self.exemplar_weights_, self.priors_)
        else:
            LT = np.zeros_like(LF)
        return self._combine(LF, LT, self.priors_), LF, LT, Zs, blocks

    def predict_proba(self, X) -> np.ndarray:
        """Memberships (n_customers, n_archetypes), rows summing to 1, columns in ``classes_`` order."""
        logits = self._score(X)[0]
        return _softmax(logits / getattr(self, "temperature_", 1.0))

    def transform(self, X) -> np.ndarray:
        """Same as :meth:`predict_proba`: memberships as features for downstream models."""
        return self.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """Top archetype id of each customer."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def signals(self, X) -> pd.DataFrame:
        """Which signals each customer had: boolean columns ``factors`` and ``text``."""
        Z, blocks = self._split(X, getattr(self, "n_text_fields_", None))
        has_text = np.zeros(Z.shape[0], dtype=bool)
        for block in blocks:
            has_text |= np.isfinite(block[:, 0])
        has_factors = np.isfinite(Z).any(axis=1) if Z.shape[1] else np.zeros(Z.shape[0], dtype=bool)
        return pd.DataFrame({"factors": has_factors, "text": has_text})

    def explain(self, X, n_factors: int = 3, n_phrases: int = 3) -> list[dict[str, Any]]:
        """Why each customer got their top archetype.

        Contributions are in log-odds units: for the top archetype :math:`k^*`, each factor's term
        times :math:`w_F` minus the membership-weighted mean of that term over the other
        archetypes, and likewise the text term. The factor contributions and the text
        contribution add up to the logit of :math:`k^*` minus the weighted mean logit of the
        others, less the same difference of log priors. The text contribution is shared among the
        top archetype's catalog phrases closest to the customer's answers in proportion to their
        (positive) cosine similarity.

        Returns
        -------
        list of dict
            Per customer: ``archetype``, ``membership``, ``signals`` (list), ``factors`` (list of
            {factor, score, expected, contribution}; ``expected`` is "high", "low" or "not in
            profile"), ``text_contribution``, ``phrases`` (list of {phrase, similarity,
            contribution}).
        """
        logits, LF, LT, Zs, blocks = self._score(X)
        memberships = _softmax(logits / self.temperature_)
        n, K = memberships.shape
        top = memberships.argmax(axis=1)
        rows = np.arange(n)
        others = memberships.copy()
        others[rows, top] = 0.0
        others /= np.maximum(others.sum(axis=1, keepdims=True), 1e-300)
        observed = np.isfinite(Zs)
        centred = np.where(observed, Zs - self.factor_offset_, 0.0)
        a_over_v = self.factor_slope_ / self.factor_sd_**2
        half_a2_over_v = 0.5 * (self.factor_slope_ / self.factor_sd_) ** 2

        def factor_terms(profile_rows: np.ndarray) -> np.ndarray:
            return centred * a_over_v * profile_rows - observed * half_a2_over_v * profile_rows**2

        top_terms = factor_terms(self.profile_[top])
        mean_other = sum(others[:, k:k + 1] * factor_terms(self.profile_[k][None, :]) for k in range(K))
        factor_contrib = self.factor_weight * (top_terms - mean_other)
        text_contrib = self.text_weight * (LT[rows, top] - (others * LT).sum(axis=1))
        signals = self.signals(X).to_numpy()
        phrase_hits = self._top_phrases(blocks, top, n_phrases)
        archetype_ids = self.catalog.archetype_ids
        factor_order = np.argsort(-factor_contrib, axis=1, kind="stable")[:, :n_factors] if Zs.shape[1] else \
            np.zeros((n, 0), dtype=int)
        explanations = []
        for i in range(n):
            factor_items = [
                {"factor": self.factors_[f], "score": round(float(Zs[i, f]), 3),
                 "expected": _EXPECTED[int(np.sign(self.profile_[top[i], f]))],
                 "contribution": round(float(factor_contrib[i, f]), 3)}
                for f in factor_order[i] if observed[i, f] and factor_contrib[i, f] != 0
            ]
            hits = phrase_hits.get(i, [])
            total_sim = sum(max(sim, 0.0) for _, sim in hits)
            phrases = [
                {"phrase": text, "similarity": round(float(sim), 3),
                 "contribution": round(float(text_contrib[i] * max(sim, 0.0) / total_sim), 3) if total_sim > 0 else 0.0}
                for text, sim in hits
            ]
            explanations.append({
                "archetype": archetype_ids[top[i]],
                "membership": round(float(memberships[i, top[i]]), 4),
                "signals": [name for name, has in zip(("factors", "text"), signals[i]) if has],
                "factors": factor_items,
                "text_contribution": round(float(text_contrib[i]), 3),
                "phrases": phrases,
            })
        return explanations

    def _top_phrases(self, blocks, top: np.ndarray, n_phrases: int) -> dict[int, list[tuple[str, float]]]:
        """For customers with text: the top archetype's catalog texts most similar to their answers."""
        protos = self.prototypes
        if protos is None or not blocks or n_phrases <= 0:
            return {}
        bounds = protos.bounds()
        best: dict[int, dict[int, float]] = {}
        for block in blocks:
            present = np.isfinite(block[:, 0])
            for k, (lo, hi) in enumerate(bounds):
                rows = np.flatnonzero(present & (top == k))
                if rows.size == 0:
                    continue
                sims = block[rows] @ protos.embeddings[lo:hi].T
                order = np.argsort(-sims, axis=1)[:, :n_phrases]
                for r, row in enumerate(rows):
                    slot = best.setdefault(int(row), {})
                    for j in order[r]:
                        sim = float(sims[r, j])
                        if sim > slot.get(lo + int(j), -np.inf):
                            slot[lo + int(j)] = sim
        return {row: sorted(((protos.texts[j], s) for j, s in slot.items()), key=lambda t: -t[1])[:n_phrases]
                for row, slot in best.items()}
