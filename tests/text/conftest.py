"""Fixtures for the text tests: the bundled embedding model, loaded once per test session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedder():
    """A real TextEmbedder on the bundled all-MiniLM-L6-v2 (loaded once; a few seconds)."""
    from survey_engine.text.embeddings import TextEmbedder

    model = TextEmbedder()
    model.model  # load now, so the first test does not pay for it
    return model
