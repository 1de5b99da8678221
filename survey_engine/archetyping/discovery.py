"""Discovery of candidate archetypes from factor scores and free-text embeddings.

Respondents who describe themselves alike share an archetype more often than their noisy factor
scores show, and respondents of one archetype who write in different languages still share a
factor profile. Discovery therefore represents each respondent by the **mean factor scores of
their text neighbourhood**: the ``n_neighbors`` respondents whose answers are most similar (cosine,
on PCA-reduced embeddings), the respondent included. This is a k-nearest-neighbour smoother of the
scores along the text manifold (as in graph-based semi-supervised learning, Zhu & Ghahramani 2002):
it averages away measurement noise within a text cluster and bridges clusters of the same profile.
The smoothed profiles are clustered with k-means for each *k* in ``k_range`` and *k* is chosen by
the mean silhouette (Rousseeuw 1987) or by the BIC of a Gaussian mixture (Schwarz 1978). Stability
is the mean adjusted Rand index (Hubert & Arabie 1985) between the clustering and clusterings of
bootstrap resamples (Hennig 2007).

Each cluster becomes a candidate archetype with an automatic label from its most distinctive
factors and c-TF-IDF terms, representative answers, its size and the nearest archetype of the
existing catalogs; :func:`candidates_to_catalog` writes them in catalog format as a proposal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted

from survey_engine.text.themes import distinctive_terms

#: How *k* is chosen.
SELECTION_METHODS = ("silhouette", "bic")
#: Signed standardised mean beyond which a factor is named in a candidate's label and profile.
PROFILE_THRESHOLD = 0.25


@dataclass(frozen=True)
class CandidateArchetype:
    """One discovered cluster described for a researcher."""

    label: int
    id: str
    title: str
    size: int
    share: float
    profile: dict[str, float]  # standardised mean per factor, largest magnitude first
    terms: tuple[tuple[str, float], ...]
    representatives: tuple[str, ...]
    nearest_catalog: str | None = None
    nearest_archetype: str | None = None
    nearest_similarity: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ArchetypeDiscovery(ClusterMixin, BaseEstimator):
    """Cluster respondents on text-neighbourhood-smoothed factor scores and describe the clusters.

    Parameters
    ----------
    factors : sequence of str
        Names of the factor-score columns.
    k_range : tuple of int, default (2, 10)
        Inclusive range of cluster counts tried.
    method : {"silhouette", "bic"}, default "silhouette"
        Criterion choosing *k*.
    n_neighbors : int, default 10
        Text neighbours averaged (respondent included).
    n_components : int, default 50
        PCA components of the embeddings used to find neighbours (0: full embeddings).
    max_samples : int, default 6000
        Respondents used for fitting at most (seeded sample); the others are assigned by
        :meth:`predict`.
    n_bootstrap : int, default 20
        Bootstrap resamples for the stability (ARI) estimate.
    n_representatives : int, default 3
    n_terms : int, default 6
    random_state : int, default 0

    Attributes
    ----------
    n_clusters_ : int
    scores_by_k_ : dict of int to float
        Silhouette (higher is better) or BIC (lower is better) for each *k*.
    labels_ : ndarray of shape (n_samples,)
        Cluster of each respondent given to ``fit`` (-1: neither text nor factor scores).
    centers_ : ndarray of shape (n_clusters_, n_factors)
        Cluster centres of the smoothed, standardised profiles.
    center_, scale_ : ndarray
        Standardisation of the factor scores.
    stability_ : float
        Mean bootstrap ARI; ``stability_by_resample_`` has each one.
    candidates_ : list of CandidateArchetype
    """

    def __init__(self, factors: Sequence[str], k_range: tuple[int, int] = (2, 10), method: str = "silhouette",
                 n_neighbors: int = 10, n_components: int = 50, max_samples: int = 6000, n_bootstrap: int = 20,
                 n_representatives: int = 3, n_terms: int = 6, random_state: int = 0):
        self.factors = factors
        self.k_range = k_range
        self.method = method
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.max_samples = max_samples
        self.n_bootstrap = n_bootstrap
        self.n_representatives = n_representatives
        self.n_terms = n_terms
        self.random_state = random_state

    def _reduce(self, vectors: np.ndarray) -> np.ndarray:
        if self.pca_ is None:
            reduced = vectors
        else:
            reduced = self.pca_.transform(vectors)
        norms = np.linalg.norm(reduced, axis=1, keepdims=True)
        return reduced / np.where(norms > 0, norms, 1.0)

    def _smooth(self, Zs: np.ndarray, reduced: np.ndarray | None, has_text: np.ndarray) -> np.ndarray:
        """Mean standardised scores over each respondent's text neighbours among the fitted sample."""
        out = Zs.copy()
        rows = np.flatnonzero(has_text)
        if reduced is None or rows.size == 0 or self.reference_.shape[0] == 0:
            return out
        k = min(self.n_neighbors, self.reference_.shape[0])
        for start in range(0, rows.size, 2000):
            idx = rows[start:start + 2000]
            sims = reduced[idx] @ self.reference_.T
            nbrs = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            with np.errstate(invalid="ignore"):
                smoothed = np.nanmean(self.reference_scores_[nbrs], axis=1)
            out[idx] = np.where(np.isfinite(smoothed), smoothed, out[idx])
        return out

    def _prepare(self, factor_scores, embeddings):
        Z = np.asarray(pd.DataFrame(factor_scores).reindex(columns=list(self.factors))
                       if isinstance(factor_scores, pd.DataFrame) else factor_scores, dtype=np.float64)
        E = None if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        if E is not None and E.shape[0] != Z.shape[0]:
            raise ValueError(f"embeddings have {E.shape[0]} rows, factor scores {Z.shape[0]}")
        has_text = np.zeros(Z.shape[0], dtype=bool) if E is None else (np.isfinite(E).all(axis=1) & E.any(axis=1))
        return Z, E, has_text

    def fit(self, factor_scores, embeddings=None, texts: Sequence[str] | None = None, y=None):
        """Find clusters and describe them.

        Parameters
        ----------
        factor_scores : DataFrame or ndarray of shape (n, n_factors)
            Columns ``factors``; NaN where missing.
        embeddings : ndarray of shape (n, dim), optional
            Unit-norm embeddings of one free-text answer per respondent; all-zero or NaN rows mean
            no answer.
        texts : sequence of str, optional
            The answers (for terms and representatives).
        """
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA
        from sklearn.metrics import adjusted_rand_score, silhouette_score
        from sklearn.mixture import GaussianMixture

        if self.method not in SELECTION_METHODS:
            raise ValueError(f"method must be one of {SELECTION_METHODS}, got {self.method!r}")
        k_min, k_max = self.k_range
        if k_min < 2 or k_max < k_min:
            raise ValueError(f"k_range must satisfy 2 <= min <= max, got {self.k_range}")
        Z, E, has_text = self._prepare(factor_scores, embeddings)
        n = Z.shape[0]
        observed = np.isfinite(Z)
        counts = observed.sum(axis=0)
        self.center_ = np.where(counts > 0, np.where(observed, Z, 0).sum(axis=0) / np.maximum(counts, 1), 0.0)
        spread = np.sqrt(np.where(observed, (Z - self.center_) ** 2, 0).sum(axis=0) / np.maximum(counts, 1))
        self.scale_ = np.where(spread > 1e-9, spread, 1.0)
        Zs = (Z - self.center_) / self.scale_
        usable = np.flatnonzero(has_text | observed.any(axis=1))
        rng = np.random.default_rng(self.random_state)
        sample = np.sort(rng.choice(usable, size=min(usable.size, self.max_samples), replace=False))
        if sample.size < k_max + 1:
            raise ValueError(f"discovery needs more than {k_max} usable respondents, got {sample.size}")

        self.pca_ = None
        reduced = None
        text_rows = sample[has_text[sample]]
        if E is not None and text_rows.size:
            if self.n_components and self.n_components < min(E.shape[1], text_rows.size):
                self.pca_ = PCA(n_components=self.n_components, random_state=self.random_state).fit(E[text_rows])
            reduced = np.zeros((n, self.pca_.n_components_ if self.pca_ is not None else E.shape[1]), dtype=np.float32)
            reduced[has_text] = self._reduce(E[has_text])
        self.reference_ = reduced[text_rows] if reduced is not None else np.zeros((0, 0), dtype=np.float32)
        self.reference_scores_ = Zs[text_rows]
        features = self._smooth(Zs, reduced, has_text)
        features = np.where(np.isfinite(features), features, 0.0)
        X = features[sample]

        self.scores_by_k_ = {}
        models = {}
        for k in range(k_min, k_max + 1):
            model = KMeans(n_clusters=k, n_init=4, random_state=self.random_state).fit(X)
            models[k] = model
            if self.method == "silhouette":
                self.scores_by_k_[k] = float(silhouette_score(X, model.labels_, sample_size=min(3000, X.shape[0]),
                                                              random_state=self.random_state))
            else:
                gmm = GaussianMixture(k, covariance_type="full", random_state=self.random_state, n_init=2).fit(X)
                self.scores_by_k_[k] = float(gmm.bic(X))
        pick = max if self.method == "silhouette" else min
        self.n_clusters_ = pick(self.scores_by_k_, key=self.scores_by_k_.get)
        final = models[self.n_clusters_]
        self.centers_ = final.cluster_centers_
        labels = np.full(n, -1, dtype=int)
        labels[usable] = final.predict(features[usable])
        self.labels_ = labels

        reference_labels = final.labels_
        self.stability_by_resample_ = []
        for b in range(self.n_bootstrap):
            boot = rng.integers(0, X.shape[0], size=X.shape[0])
            refit = KMeans(n_clusters=self.n_clusters_, n_init=2, random_state=self.random_state + b + 1).fit(X[boot])
            self.stability_by_resample_.append(float(adjusted_rand_score(reference_labels, refit.predict(X))))
        self.stability_ = float(np.mean(self.stability_by_resample_)) if self.stability_by_resample_ else float("nan")
        self.candidates_ = self._describe(Zs, E, has_text, texts)
        return self

    def fit_predict(self, factor_scores, embeddings=None, texts=None, y=None):
        return self.fit(factor_scores, embeddings, texts).labels_

    def predict(self, factor_scores, embeddings=None) -> np.ndarray:
        """Cluster of new respondents (-1 for those with neither text nor factor scores)."""
        check_is_fitted(self, "centers_")
        Z, E, has_text = self._prepare(factor_scores, embeddings)
        Zs = (Z - self.center_) / self.scale_
        reduced = None
        if E is not None and self.reference_.shape[0]:
            reduced = np.zeros((Z.shape[0], self.reference_.shape[1]), dtype=np.float32)
            reduced[has_text] = self._reduce(E[has_text])
        features = self._smooth(Zs, reduced, has_text)
        usable = has_text | np.isfinite(Z).any(axis=1)
        features = np.where(np.isfinite(features), features, 0.0)
        distances = ((features[:, None, :] - self.centers_[None]) ** 2).sum(axis=2)
        return np.where(usable, distances.argmin(axis=1), -1)

    def _describe(self, Zs, E, has_text, texts) -> list[CandidateArchetype]:
        labels = self.labels_
        total = int((labels >= 0).sum())
        terms = {}
        if texts is not None:
            text_labels = np.where(has_text, labels, -1)
            terms = distinctive_terms([t or "" for t in texts], text_labels, n_terms=self.n_terms)
        candidates = []
        for c in range(self.n_clusters_):
            members = np.flatnonzero(labels == c)
            with np.errstate(invalid="ignore"):
                profile = np.nanmean(Zs[members], axis=0) if members.size else np.zeros(len(self.factors))
            profile = np.nan_to_num(profile)
            order = np.argsort(-np.abs(profile))
            named = [(self.factors[f], float(profile[f])) for f in order if abs(profile[f]) >= PROFILE_THRESHOLD]
            cluster_terms = tuple(terms.get(c, []))
            parts = [f"{'high' if v > 0 else 'low'} {name}" for name, v in named[:2]]
            parts += [term for term, _ in cluster_terms[:2]]
            title = ", ".join(parts) or f"cluster {c + 1}"
            reps: tuple[str, ...] = ()
            if texts is not None and E is not None:
                text_members = members[has_text[members]]
                if text_members.size:
                    centroid = E[text_members].mean(axis=0)
                    sims = E[text_members] @ centroid
                    chosen, seen = [], set()
                    for i in text_members[np.argsort(-sims)]:
                        answer = (texts[i] or "").strip()
                        if answer and answer.lower() not in seen:
                            seen.add(answer.lower())
                            chosen.append(answer)
                        if len(chosen) == self.n_representatives:
                            break
                    reps = tuple(chosen)
            slug = "_".join(f"{'high' if v > 0 else 'low'}_{name}" for name, v in named[:2]) or f"cluster_{c + 1}"
            candidates.append(CandidateArchetype(
                label=c, id=f"candidate_{c + 1}_{slug}"[:80], title=title, size=int(members.size),
                share=float(members.size / total) if total else 0.0,
                profile={self.factors[f]: round(float(profile[f]), 3) for f in order}, terms=cluster_terms,
                representatives=reps))
        return candidates

    def match_catalogs(self, catalogs: Sequence[Any]) -> list[CandidateArchetype]:
        """Attach to each candidate the existing archetype with the most similar factor profile.

        Similarity is the cosine between the candidate's standardised mean profile and the
        archetype's signed strengths, over the factors both name (0 when none is shared).
        """
        check_is_fitted(self, "candidates_")
        matched = []
        for candidate in self.candidates_:
            vector = np.array([candidate.profile.get(f, 0.0) for f in self.factors])
            best = (None, None, -np.inf)
            for catalog in catalogs:
                profiles = catalog.profile_matrix(self.factors)
                norms = np.linalg.norm(profiles, axis=1) * (np.linalg.norm(vector) or 1.0)
                sims = profiles @ vector / np.where(norms > 0, norms, 1.0)
                k = int(np.argmax(sims))
                if sims[k] > best[2]:
                    best = (catalog.id, catalog.archetype_ids[k], float(sims[k]))
            if best[0] is None:
                matched.append(candidate)
                continue
            matched.append(CandidateArchetype(**{**candidate.__dict__, "nearest_catalog": best[0],
                                                 "nearest_archetype": best[1],
                                                 "nearest_similarity": round(best[2], 3)}))
        self.candidates_ = matched
        return matched


def candidates_to_catalog(candidates: Sequence[CandidateArchetype], *, catalog_id: str = "proposed_archetypes",
                          languages: Sequence[str] = ("en", "it", "fr"), stability: float | None = None,
                          text_items: Sequence[str] = (), kind: str = "other") -> dict[str, Any]:
    """Candidates as catalog data (``catalog.proposal: true``) for a researcher to edit and accept.

    Names and descriptions are the automatic labels in every language (to be translated by the
    researcher); phrases are the representative answers (or the top terms); the profile keeps the
    factors at or beyond :data:`PROFILE_THRESHOLD` with strength ``min(1, |mean| / 1.5)``;
    engagement starts from a neutral default (email, 2 contacts a month).
    """
    archetypes = []
    for candidate in candidates:
        phrases = list(candidate.representatives) or [term for term, _ in candidate.terms] or [candidate.title]
        named = {name: v for name, v in candidate.profile.items() if abs(v) >= PROFILE_THRESHOLD}
        if not named and candidate.profile:  # a catalog profile needs one factor: keep the strongest
            strongest = max(candidate.profile, key=lambda name: abs(candidate.profile[name]))
            named = {strongest: candidate.profile[strongest]}
        profile = {name: {"direction": "high" if v > 0 else "low",
                          "strength": round(min(1.0, max(abs(v), 0.01) / 1.5), 2)}
                   for name, v in named.items()}
        description = (f"Proposed by discovery: {candidate.size} respondents ({candidate.share:.0%}); "
                       f"{candidate.title}.")
        evidence = {"size": candidate.size, "share": round(candidate.share, 4),
                    "top_terms": [term for term, _ in candidate.terms],
                    "representative_answers": list(candidate.representatives)}
        if stability is not None:
            evidence["stability_ari"] = round(float(stability), 3)
        if candidate.nearest_archetype is not None:
            evidence.update(nearest_catalog=candidate.nearest_catalog, nearest_archetype=candidate.nearest_archetype,
                            nearest_similarity=candidate.nearest_similarity)
        archetypes.append({
            "id": candidate.id,
            "name": {lang: candidate.title for lang in languages},
            "description": {lang: description for lang in languages},
            "phrases": {lang: phrases for lang in languages},
            "profile": profile,
            "engagement": {"channels": ["email"], "tone": {lang: "to be written by the researcher" for lang in languages},
                           "monthly_contact_cap": 2},
            "discovery": evidence,
        })
    return {"catalog": {"id": catalog_id, "version": 1, "kind": kind, "title": "Proposed archetypes (discovery)",
                        "languages": list(languages), "text_items": list(text_items), "proposal": True},
            "archetypes": archetypes}
