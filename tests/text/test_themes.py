"""Themes: c-TF-IDF against hand-computed values, clustering that finds planted themes."""
from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.utils.validation import check_is_fitted

from survey_engine.text.themes import ThemeFinder, class_tfidf, count_terms, distinctive_terms


def test_class_tfidf_matches_hand_computation():
    # Two classes: "gold gold silk" and "silk linen". Counts (terms gold, linen, silk):
    # class 0: 2, 0, 1 (3 words); class 1: 0, 1, 1 (2 words). A = int(mean(3, 2)) = 2.
    # f = (2, 1, 2); idf = log(1 + A / f) = log 2, log 3, log 2.
    counts, terms = count_terms(["gold gold silk", "silk linen"], stop_words=())
    assert terms.tolist() == ["gold", "linen", "silk"]
    weights = class_tfidf(counts)
    expected = np.array([[2 / 3 * math.log(2), 0.0, 1 / 3 * math.log(2)],
                         [0.0, 1 / 2 * math.log(3), 1 / 2 * math.log(2)]])
    np.testing.assert_allclose(weights, expected, rtol=1e-12)


def test_distinctive_terms_rank_the_class_specific_words_first():
    docs = ["leather and gold", "gold leather", "the heritage of leather",
            "recycled cotton", "organic cotton and recycled gold", "cotton"]
    terms = distinctive_terms(docs, [0, 0, 0, 1, 1, 1], n_terms=2)
    assert [t for t, _ in terms[0]] == ["leather", "gold"]  # gold: 2/6 * log(1 + 6/3) > heritage: 1/6 * log(7)
    assert [t for t, _ in terms[1]] == ["cotton", "recycled"]
    # stop words in the three languages never become terms
    assert distinctive_terms(["il la le the et"], [0])[0] == []


def test_theme_finder_recovers_planted_themes_and_labels_them():
    rng = np.random.default_rng(3)
    centres = np.eye(8)[:3] * 3.0
    X = np.vstack([c + rng.normal(0, 0.3, size=(40, 8)) for c in centres])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    words = ["linen beige calm", "sequins neon loud", "vintage lace pearls"]
    texts = [words[i // 40] + f" piece{i}" for i in range(120)]
    finder = ThemeFinder(k_range=(2, 6))
    with pytest.raises(Exception):
        check_is_fitted(finder, "centroids_")
    finder.fit(X, texts)
    assert finder.n_themes_ == 3
    assert max(finder.silhouette_by_k_, key=finder.silhouette_by_k_.get) == 3
    by_size = sorted(finder.themes_, key=lambda t: t.terms[0][0])
    assert [t.size for t in by_size] == [40, 40, 40]
    assert {t.terms[0][0] for t in finder.themes_} <= {"linen", "beige", "calm", "sequins", "neon", "loud",
                                                       "vintage", "lace", "pearls"}
    for theme in finder.themes_:
        first = theme.terms[0][0]
        assert all(first in rep for rep in theme.representatives)
    np.testing.assert_array_equal(finder.predict(X), finder.labels_)
