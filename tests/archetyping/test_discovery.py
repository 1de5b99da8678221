"""Discovery recovers the demo world's number of archetypes, stably, and proposes valid catalogs."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from survey_engine.archetyping.discovery import ArchetypeDiscovery, candidates_to_catalog
from survey_engine.definitions.archetypes import dump_archetype_catalog, parse_archetype_catalog
from survey_engine.demo import world

FACTORS = list(world.CONSTRUCTS)


@pytest.fixture(scope="module")
def discoveries(demo):
    out = {}
    for kind, embeddings, texts, truth in (("style", demo.style_embeddings, demo.style_words, demo.style_truth),
                                           ("relationship", demo.special_embeddings, demo.special_purchase,
                                            demo.relationship_truth)):
        model = ArchetypeDiscovery(FACTORS, n_bootstrap=10).fit(demo.scores, embeddings.vectors, texts)
        out[kind] = (model, truth)
    return out


@pytest.mark.parametrize("kind,expected_k", [("style", 6), ("relationship", 5)])
def test_discovery_recovers_the_generating_number_of_archetypes(discoveries, kind, expected_k):
    model, truth = discoveries[kind]
    assert model.n_clusters_ == expected_k
    assert max(model.scores_by_k_, key=model.scores_by_k_.get) == expected_k
    used = model.labels_ >= 0
    ari = adjusted_rand_score(truth[used], model.labels_[used])
    print(f"{kind}: k={model.n_clusters_} ARI {ari:.3f} stability {model.stability_:.3f}")
    assert ari > 0.8  # measured 0.889 (style) and 0.884 (relationship)
    assert model.stability_ > 0.85 and len(model.stability_by_resample_) == 10
    assert sum(c.size for c in model.candidates_) == used.sum()


def test_candidates_are_labelled_and_matched_to_the_catalogs(discoveries, catalogs):
    model, truth = discoveries["style"]
    candidates = model.match_catalogs(list(catalogs.values()))
    nearest = {c.nearest_archetype for c in candidates}
    assert nearest == set(world.STYLE_ARCHETYPES)  # each discovered cluster maps to a different archetype
    for candidate in candidates:
        members = model.labels_ == candidate.label
        values, counts = np.unique(truth[members], return_counts=True)
        assert values[counts.argmax()] == candidate.nearest_archetype  # and it is the right one
        assert candidate.terms and len(candidate.representatives) == 3
        assert candidate.nearest_similarity > 0.7
        top = max(candidate.profile, key=lambda f: abs(candidate.profile[f]))
        assert top in candidate.title


def test_proposals_are_valid_catalogs(discoveries):
    model, _ = discoveries["relationship"]
    data = candidates_to_catalog(model.candidates_, stability=model.stability_, text_items=["special_purchase"])
    catalog = parse_archetype_catalog(dump_archetype_catalog(data), "proposal.yaml", known_factors=FACTORS,
                                      known_text_items=["style_words", "special_purchase"])
    assert catalog.catalog.proposal and len(catalog.archetypes) == 5
    assert all(a.discovery is not None and a.discovery.stability_ari == round(model.stability_, 3)
               for a in catalog.archetypes)


def test_predict_assigns_new_respondents_like_fit(discoveries, demo):
    model, _ = discoveries["relationship"]
    predicted = model.predict(demo.scores.iloc[:300], demo.special_embeddings.vectors[:300])
    assert (predicted == model.labels_[:300]).mean() > 0.95
