"""Fixtures for archetype tests: the seeded demo population with real factor scores (the
psychometrics FactorModel, polychoric, oblimin, factors labelled after the constructs) and real
embeddings of its free-text answers (bundled model). Built once per session."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
N_CUSTOMERS = 2500
SEED = 11


@dataclass(frozen=True)
class DemoSignals:
    scores: pd.DataFrame          # factor scores, columns named after constructs
    style_words: list[str]
    special_purchase: list[str]
    style_embeddings: object      # EmbeddingResult
    special_embeddings: object
    style_truth: np.ndarray
    relationship_truth: np.ndarray


@pytest.fixture(scope="session")
def embedder():
    from survey_engine.text.embeddings import TextEmbedder

    model = TextEmbedder()
    model.model
    return model


@pytest.fixture(scope="session")
def catalogs():
    from survey_engine.definitions.archetypes import load_archetype_catalogs
    from survey_engine.demo import world

    return load_archetype_catalogs(ROOT / "archetypes", known_factors=world.CONSTRUCTS)


@pytest.fixture(scope="session")
def demo(embedder) -> DemoSignals:
    from survey_engine.demo import world
    from survey_engine.demo.population import generate_population
    from survey_engine.psychometrics.efa import FactorModel
    from survey_engine.psychometrics.items import reverse_key
    from survey_engine.psychometrics.labels import factor_labels

    population = generate_population(N_CUSTOMERS, seed=SEED)
    responses = population.responses[population.responses["status"] == "submitted"].reset_index(drop=True)
    likert = pd.DataFrame([{item: a.get(item, np.nan) for item in world.LIKERT_ITEMS} for a in responses["answers"]],
                          dtype=float)
    likert = reverse_key(likert, world.REVERSE_ITEMS, 1, 7)
    model = FactorModel(n_factors=8, rotation="oblimin", correlation="polychoric").fit(likert)
    labels = factor_labels(model.loadings_, model.items_, constructs=dict(world.ITEM_CONSTRUCT))
    assert sorted(labels) == sorted(world.CONSTRUCTS), labels
    scores = pd.DataFrame(model.transform(likert), columns=labels)[list(world.CONSTRUCTS)]
    style_words = [a.get("style_words", "") for a in responses["answers"]]
    special = [a.get("special_purchase", "") for a in responses["answers"]]
    truth = population.truth.customers.set_index("customer_id").loc[responses["customer_id"]]
    return DemoSignals(scores, style_words, special, embedder.embed(style_words), embedder.embed(special),
                       truth["style_archetype"].to_numpy(), truth["relationship_style"].to_numpy())
