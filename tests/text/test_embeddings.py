"""Embeddings: offline model, normalised vectors, cache by text hash, awkward answers never crash."""
from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest

from survey_engine.text.embeddings import (
    MODEL_ENV_VAR,
    InMemoryEmbeddingCache,
    TextEmbedder,
    normalise_text,
    resolve_model_path,
    text_key,
)


def test_normalise_text_collapses_whitespace_and_composes_unicode():
    assert normalise_text("  quiet \t luxury\n\n ") == "quiet luxury"
    assert normalise_text("cafe\u0301") == "caf\u00e9"  # NFD -> NFC
    assert normalise_text(None) == "" and normalise_text(float("nan")) == "" and normalise_text(" \n ") == ""


def test_text_key_is_sha256_of_model_and_text():
    expected = hashlib.sha256(b"model-x\x00hello").hexdigest()
    assert text_key("hello", "model-x") == expected
    assert text_key("hello", "model-y") != expected


def test_heavy_libraries_are_not_imported_by_the_module():
    code = ("import sys, survey_engine.text.embeddings, survey_engine.archetyping.assign; "
            "print('sentence_transformers' in sys.modules, 'torch' in sys.modules)")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_model_path_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(MODEL_ENV_VAR, str(tmp_path))
    assert resolve_model_path() == tmp_path.resolve()
    monkeypatch.setenv(MODEL_ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match=MODEL_ENV_VAR):
        resolve_model_path()


def test_vectors_are_unit_norm_and_match_bare_encode(embedder):
    texts = ["plain white shirts and simple black trousers", "sequins, leopard and gold"]
    result = embedder.embed(texts)
    assert result.vectors.shape == (2, 384) and result.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    bare = embedder.model.encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(result.vectors, bare, atol=1e-5)
    # Semantics are real: a minimalist answer is closer to the plain outfit than to the loud one.
    probe = embedder.embed(["a minimalist monochrome wardrobe"]).vectors[0]
    assert probe @ result.vectors[0] > probe @ result.vectors[1] + 0.1


def test_awkward_answers_never_crash(embedder):
    long_text = ("quiet luxury and clean lines " * 400)[:10_000]
    texts = ["", "   \n\t ", None, long_text, "我喜欢简约的风格", "أحب الأناقة الكلاسيكية", "✨👜🖤💎", "x" * 10_000]
    result = TextEmbedder(cache=InMemoryEmbeddingCache()).embed(texts)
    assert result.present.tolist() == [False, False, False, True, True, True, True, True]
    assert result.n_empty == 3
    np.testing.assert_array_equal(result.vectors[:3], 0.0)
    np.testing.assert_allclose(np.linalg.norm(result.vectors[3:], axis=1), 1.0, atol=1e-5)
    # 10,000 characters of words are ~1,700 tokens, cut at 256; 'x' * 10,000 is one [UNK] token.
    assert result.n_truncated == 1
    assert "1 truncated" in result.report()


def test_every_distinct_text_is_embedded_once(embedder):
    cache = InMemoryEmbeddingCache()
    first = TextEmbedder(cache=cache).embed(["heritage", "Heritage", "  heritage  ", "new in", ""])
    # "heritage" and "  heritage  " normalise to the same text; the model is uncased but the key is not.
    assert (first.n_encoded, first.n_cache_hits, len(cache)) == (3, 0, 3)
    np.testing.assert_array_equal(first.vectors[0], first.vectors[2])
    second = TextEmbedder(cache=cache).embed(["new in", "heritage", "something else"])
    assert (second.n_encoded, second.n_cache_hits, len(cache)) == (1, 2, 4)
    np.testing.assert_array_equal(second.vectors[1], first.vectors[0])


def test_all_empty_input_needs_no_model(monkeypatch):
    embedder = TextEmbedder()
    monkeypatch.setattr(TextEmbedder, "encode", lambda self, texts: pytest.fail("model called"))
    result = embedder.embed(["", " ", None])
    assert result.vectors.shape == (3, 384) and not result.present.any() and result.device == "none"
