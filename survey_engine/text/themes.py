"""Themes in free-text answers: clusters of answer embeddings, each labelled with its distinctive
terms (class-based TF-IDF) and its most representative answers.

References
----------
Grootendorst, M. (2022). BERTopic: Neural topic modeling with a class-based TF-IDF procedure.
arXiv:2203.05794, equation (1).
Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and validation of
cluster analysis. Journal of Computational and Applied Mathematics 20, 53-65.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.utils.validation import check_is_fitted

#: Clustering methods accepted by :class:`ThemeFinder`.
CLUSTER_METHODS = ("kmeans", "agglomerative")

# Function words of the questionnaire's other languages (Italian, French); English comes from
# scikit-learn. They carry no theme and would otherwise dominate short answers.
ITALIAN_STOP_WORDS = frozenset(
    """a ad al alla alle ai agli all anche che chi ci come con da dal dalla dei del della delle di
    e ed gli ha hanno ho i il in io la le lo ma mi mia mio molto ne nel nella nei non o per più
    piu poco quando quello questa questo se si sia sono su sul sua suo tra un una uno è essere
    fa fare mi ti tu lui lei noi voi loro cosa""".split()
)
FRENCH_STOP_WORDS = frozenset(
    """à a au aux avec ce ces cette c dans de des du elle en est et être il ils je j l la le les
    leur lui ma mais me mes moi mon n ne nous on ou où par pas pour qu que qui sa se ses son sur
    ta te tes toi ton tu un une vos votre vous y très plus fait faire d s m""".split()
)
#: Default stop words: English, Italian and French function words.
MULTILINGUAL_STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | ITALIAN_STOP_WORDS | FRENCH_STOP_WORDS

_TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"


def count_terms(documents: Sequence[str], stop_words=MULTILINGUAL_STOP_WORDS,
                ngram_range: tuple[int, int] = (1, 1)):
    """Term counts of ``documents``: (sparse matrix (n_docs, n_terms), array of terms).

    Tokens are lower-cased runs of two or more letters in any script; ``stop_words`` are dropped.
    """
    vectorizer = CountVectorizer(token_pattern=_TOKEN_PATTERN, lowercase=True,
                                 stop_words=sorted(stop_words) if stop_words else None,
                                 ngram_range=ngram_range)
    try:
        counts = vectorizer.fit_transform(list(documents))
    except ValueError:  # empty vocabulary: only stop words, digits or nothing
        import scipy.sparse as sp

        return sp.csr_matrix((len(documents), 0)), np.array([], dtype=object)
    return counts, vectorizer.get_feature_names_out()


def class_tfidf(class_counts) -> np.ndarray:
    """Class-based TF-IDF weights from a (n_classes, n_terms) count matrix.

    .. math:: W_{t,c} = \\frac{tf_{t,c}}{\\sum_{t'} tf_{t',c}} \\cdot \\log\\left(1 + \\frac{A}{f_t}\\right)

    where :math:`tf_{t,c}` is the count of term *t* in the concatenated documents of class *c*,
    :math:`f_t` the count of *t* over all classes and :math:`A` the average number of words per
    class, truncated to an integer as in BERTopic's ``ClassTfidfTransformer`` (Grootendorst 2022,
    eq. 1, with the term frequency L1-normalised per class).

    Returns
    -------
    ndarray of shape (n_classes, n_terms)
    """
    counts = np.asarray(class_counts.toarray() if hasattr(class_counts, "toarray") else class_counts,
                        dtype=float)
    if counts.size == 0:
        return counts
    term_totals = counts.sum(axis=0)
    average_words = int(counts.sum(axis=1).mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        idf = np.where(term_totals > 0, np.log(1.0 + average_words / term_totals), 0.0)
        row_sums = counts.sum(axis=1, keepdims=True)
        tf = np.divide(counts, row_sums, out=np.zeros_like(counts), where=row_sums > 0)
    return tf * idf


def distinctive_terms(documents: Sequence[str], labels: Sequence[int], n_terms: int = 8,
                      stop_words=MULTILINGUAL_STOP_WORDS) -> dict[int, list[tuple[str, float]]]:
    """The ``n_terms`` highest c-TF-IDF terms of each label's documents, as (term, weight) pairs.

    Labels below 0 (noise, no answer) are ignored.
    """
    labels = np.asarray(labels)
    classes = sorted(int(c) for c in np.unique(labels) if c >= 0)
    joined = [" ".join(doc for doc, lab in zip(documents, labels) if lab == c) for c in classes]
    counts, terms = count_terms(joined, stop_words=stop_words)
    weights = class_tfidf(counts)
    result: dict[int, list[tuple[str, float]]] = {}
    for row, label in enumerate(classes):
        if weights.shape[1] == 0:
            result[label] = []
            continue
        order = np.lexsort((terms, -weights[row]))[:n_terms]  # ties broken alphabetically
        result[label] = [(str(terms[i]), float(weights[row, i])) for i in order if weights[row, i] > 0]
    return result


def representative_indices(X: np.ndarray, labels: np.ndarray, centroids: np.ndarray,
                           n: int = 3) -> dict[int, list[int]]:
    """Row indices of the ``n`` members of each cluster closest (cosine) to its centroid."""
    result: dict[int, list[int]] = {}
    norms = np.linalg.norm(X, axis=1) + 1e-12
    for label, centroid in enumerate(centroids):
        members = np.flatnonzero(labels == label)
        if members.size == 0:
            result[label] = []
            continue
        sims = (X[members] @ centroid) / norms[members] / (np.linalg.norm(centroid) + 1e-12)
        result[label] = members[np.argsort(-sims, kind="stable")[:n]].tolist()
    return result


@dataclass(frozen=True)
class Theme:
    """One theme: its cluster label, size, distinctive terms and representative answers."""

    label: int
    size: int
    terms: tuple[tuple[str, float], ...]
    representatives: tuple[str, ...]

    @property
    def title(self) -> str:
        """A short automatic title: the three most distinctive terms."""
        return " / ".join(term for term, _ in self.terms[:3]) or f"theme {self.label}"


class ThemeFinder(ClusterMixin, BaseEstimator):
    """Cluster free-text answers on their embeddings and describe each cluster.

    Parameters
    ----------
    n_themes : int or None, default None
        Number of themes; ``None`` chooses it in ``k_range`` by the mean silhouette coefficient
        (Rousseeuw 1987) on cosine distance.
    k_range : tuple of int, default (2, 10)
        Inclusive range searched when ``n_themes`` is None.
    method : {"kmeans", "agglomerative"}, default "kmeans"
        K-means (on unit vectors, i.e. spherical) or Ward agglomerative clustering.
    n_terms : int, default 8
        Distinctive terms per theme (c-TF-IDF, see :func:`class_tfidf`).
    n_representatives : int, default 3
        Answers closest to the theme centroid reported per theme.
    silhouette_sample_size : int, default 3000
        Rows sampled to compute silhouettes on large inputs.
    random_state : int, default 0

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
    n_themes_ : int
    silhouette_by_k_ : dict of int to float
        Mean silhouette per candidate k (empty when ``n_themes`` was given).
    centroids_ : ndarray of shape (n_themes_, dim)
    themes_ : list of Theme
    """

    def __init__(self, n_themes: int | None = None, k_range: tuple[int, int] = (2, 10),
                 method: str = "kmeans", n_terms: int = 8, n_representatives: int = 3,
                 silhouette_sample_size: int = 3000, random_state: int = 0):
        self.n_themes = n_themes
        self.k_range = k_range
        self.method = method
        self.n_terms = n_terms
        self.n_representatives = n_representatives
        self.silhouette_sample_size = silhouette_sample_size
        self.random_state = random_state

    def _cluster(self, X: np.ndarray, k: int) -> np.ndarray:
        if self.method == "kmeans":
            from sklearn.cluster import KMeans

            return KMeans(n_clusters=k, n_init=4, random_state=self.random_state).fit_predict(X)
        from sklearn.cluster import AgglomerativeClustering

        return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(X)

    def fit(self, X, texts: Sequence[str], y=None):
        """Cluster the embeddings ``X`` (one row per non-empty answer) and label the clusters.

        Parameters
        ----------
        X : array-like of shape (n_samples, dim)
            Answer embeddings (unit norm from :class:`~survey_engine.text.embeddings.TextEmbedder`).
        texts : sequence of str, length n_samples
            The answers, for terms and representatives.
        """
        from sklearn.metrics import silhouette_score

        if self.method not in CLUSTER_METHODS:
            raise ValueError(f"method must be one of {CLUSTER_METHODS}, got {self.method!r}")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(texts) != X.shape[0]:
            raise ValueError(f"X must be 2-D with one row per text; got shape {X.shape} and {len(texts)} texts")
        n_distinct = np.unique(X.round(6), axis=0).shape[0] if X.shape[0] else 0
        self.silhouette_by_k_ = {}
        if self.n_themes is not None:
            k = int(self.n_themes)
            if not 1 <= k <= max(n_distinct, 1):
                raise ValueError(f"n_themes={k} needs at least {k} distinct answers; got {n_distinct}")
        else:
            k_min, k_max = self.k_range
            k_max = min(k_max, n_distinct - 1)
            k = 1
            best = -np.inf
            rng = np.random.default_rng(self.random_state)
            for cand in range(max(2, k_min), k_max + 1):
                labels = self._cluster(X, cand)
                idx = np.arange(X.shape[0])
                if X.shape[0] > self.silhouette_sample_size:
                    idx = rng.choice(X.shape[0], self.silhouette_sample_size, replace=False)
                if np.unique(labels[idx]).size < 2:
                    continue
                score = float(silhouette_score(X[idx], labels[idx], metric="cosine"))
                self.silhouette_by_k_[cand] = score
                if score > best:
                    best, k = score, cand
        labels = self._cluster(X, k) if k > 1 else np.zeros(X.shape[0], dtype=int)
        self.labels_ = np.asarray(labels, dtype=int)
        self.n_themes_ = k
        self.centroids_ = np.vstack([X[self.labels_ == c].mean(axis=0) for c in range(k)]) if X.size else \
            np.zeros((0, X.shape[1]))
        terms = distinctive_terms(texts, self.labels_, n_terms=self.n_terms)
        reps = representative_indices(X, self.labels_, self.centroids_, n=self.n_representatives)
        self.themes_ = [
            Theme(label=c, size=int((self.labels_ == c).sum()), terms=tuple(terms.get(c, [])),
                  representatives=tuple(texts[i] for i in reps[c]))
            for c in range(k)
        ]
        return self

    def predict(self, X) -> np.ndarray:
        """Theme of each embedding: the centroid with the highest cosine similarity."""
        check_is_fitted(self, "centroids_")
        X = np.asarray(X, dtype=np.float64)
        centroids = self.centroids_ / (np.linalg.norm(self.centroids_, axis=1, keepdims=True) + 1e-12)
        return np.argmax(X @ centroids.T, axis=1)
