"""Benchmark: text embedding through the pipeline vs bare ``SentenceTransformer.encode``, the cache,
and archetype assignment of 100,000 customers.

1. Throughput of :class:`survey_engine.text.embeddings.TextEmbedder` (normalisation, hashing,
   cache look-up and store, truncation count) against a bare ``model.encode`` of the same distinct
   texts with the same batch size, in the same run on the same device (target: ratio >= 0.9). Runs
   alternate and the best of ``--repeats`` is kept for each, so neither side profits from warm-up.
2. A second pass over the same texts served from the cache (speed-up over the first pass).
3. :class:`survey_engine.archetyping.assign.ArchetypeAssigner` fitted on ``--fit`` customers,
   then memberships and top archetype for 100,000 customers with given embeddings (target <= 10 s
   on 2 cores); explanations for all of them timed separately.

Texts are free-text answers composed by the demo generator (so lengths and languages are
realistic), made distinct by a numbered suffix. The device is printed; with CUDA present the same
comparison runs on the GPU.

Usage: ``.venv/bin/python bench/bench_text.py [--texts 2000] [--customers 100000]``
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def demo_texts(n: int, seed: int = 0) -> list[str]:
    from survey_engine.demo import phrases, world

    rng = np.random.default_rng(seed)
    texts = []
    for i in range(n):
        style = world.STYLE_ARCHETYPES[i % len(world.STYLE_ARCHETYPES)]
        language = ("en", "it", "fr")[int(rng.integers(3))]
        answer = phrases.compose_answer(phrases.STYLE_PHRASES, style, language, rng, max_chars=500,
                                        blank_rate=0.0)
        texts.append(f"{answer} ({i})")
    return texts


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--fit", type=int, default=3000)
    args = parser.parse_args()

    from survey_engine.text.embeddings import InMemoryEmbeddingCache, TextEmbedder

    embedder = TextEmbedder(batch_size=args.batch_size)
    model = embedder.model
    import torch

    print(f"device: {embedder.device}  torch threads: {torch.get_num_threads()}  cpu count: {os.cpu_count()}  "
          f"model: {embedder.model_id}")
    texts = demo_texts(args.texts)
    print(f"texts: {len(texts)} distinct, mean {np.mean([len(t) for t in texts]):.0f} characters")

    model.encode(texts[:128], batch_size=args.batch_size, normalize_embeddings=True)  # warm-up
    bare_times, pipe_times = [], []
    for _ in range(args.repeats):
        bare_times.append(best_of(1, lambda: model.encode(texts, batch_size=args.batch_size,
                                                          normalize_embeddings=True, convert_to_numpy=True,
                                                          show_progress_bar=False)))
        fresh = TextEmbedder(batch_size=args.batch_size, cache=InMemoryEmbeddingCache())
        pipe_times.append(best_of(1, lambda: fresh.embed(texts)))
    bare, pipe = min(bare_times), min(pipe_times)
    ratio = bare / pipe
    print(f"bare encode:   {len(texts) / bare:8.1f} texts/s  ({bare:.2f} s)")
    print(f"pipeline:      {len(texts) / pipe:8.1f} texts/s  ({pipe:.2f} s)")
    print(f"throughput ratio pipeline/bare: {ratio:.3f}  (target >= 0.90: {'PASS' if ratio >= 0.9 else 'FAIL'})")

    cache = InMemoryEmbeddingCache()
    cached = TextEmbedder(batch_size=args.batch_size, cache=cache)
    first = best_of(1, lambda: cached.embed(texts))
    result = None

    def second_pass():
        nonlocal result
        result = cached.embed(texts)

    second = best_of(args.repeats, second_pass)
    assert result.n_encoded == 0 and result.n_cache_hits == len(texts)
    print(f"cache: first pass {first:.2f} s, second pass {second * 1000:.1f} ms, "
          f"speed-up x{first / second:,.0f} ({result.n_cache_hits} hits, 0 encoded)")

    # ---- assignment of many customers --------------------------------------------------------
    from survey_engine.archetyping.assign import ArchetypeAssigner, assignment_features, embed_catalog
    from survey_engine.definitions.archetypes import load_archetype_catalog
    from survey_engine.demo import world

    catalog = load_archetype_catalog(ROOT / "archetypes" / "style_archetypes.yaml", known_factors=world.CONSTRUCTS)
    prototypes = embed_catalog(catalog, embedder)
    vectors = cached.embed(texts).vectors
    rng = np.random.default_rng(1)
    factors = list(world.CONSTRUCTS)
    style = np.arange(len(texts)) % len(world.STYLE_ARCHETYPES)

    def customers(n: int) -> np.ndarray:
        pick = rng.integers(0, len(texts), size=n)
        profiles = world.profile_frame("style").to_numpy()[style[pick]]
        scores = profiles * 0.6 + rng.standard_normal((n, len(factors)))
        return assignment_features(scores, [vectors[pick]], factors=factors)

    X_fit = customers(args.fit)
    start = time.perf_counter()
    assigner = ArchetypeAssigner(catalog, prototypes, factors=factors).fit(X_fit)
    fit_time = time.perf_counter() - start
    X = customers(args.customers)
    start = time.perf_counter()
    memberships = assigner.predict_proba(X)
    top = assigner.classes_[memberships.argmax(axis=1)]
    assign_time = time.perf_counter() - start
    start = time.perf_counter()
    explanations = assigner.explain(X)
    explain_time = time.perf_counter() - start
    assert len(top) == len(explanations) == args.customers
    print(f"assigner fit on {args.fit:,} customers: {fit_time:.2f} s ({assigner.n_iter_} EM iterations, "
          f"{assigner.exemplars_.shape[0]} exemplars)")
    print(f"assign {args.customers:,} customers (memberships + top archetype): {assign_time:.2f} s "
          f"(target <= 10 s: {'PASS' if assign_time <= 10 else 'FAIL'})")
    print(f"explanations for {args.customers:,} customers: {explain_time:.2f} s")


if __name__ == "__main__":
    main()
