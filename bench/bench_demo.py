"""Benchmark: the demo generator's speed and the streaming generators' memory.

Three measurements, each with a baseline from the same run (the stream runs first):

1. ``generate_population(5000)``: seconds (target: a few seconds on 2 cores); baseline: the same
   call at 500 customers, to show the cost grows linearly with the population.
2. ``generate_likert_matrix(1,000,000)``: seconds; baseline: drawing the same number of standard
   normal variates with numpy alone (the irreducible cost of the model), printed as a ratio.
3. ``iter_transactions(1,000,000)`` in chunks of 100,000 customers: seconds, rows and the growth
   of peak RSS between the first chunk and the end of the stream (flat memory means bounded by the
   chunk, not by the number of customers).

Usage: ``.venv/bin/python bench/bench_demo.py [--customers 1000000] [--likert-rows 1000000]``
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from survey_engine.demo import generate_likert_matrix, generate_population, iter_transactions


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=5000)
    parser.add_argument("--likert-rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    args = parser.parse_args()

    # The stream runs first, so its peak RSS is not masked by the larger runs below.
    start = time.perf_counter()
    rows, customers, first_chunk_rss = 0, 0, None
    for chunk in iter_transactions(args.customers, seed=0, chunk_size=args.chunk_size):
        rows += len(chunk)
        customers += chunk["customer_id"].nunique()
        if first_chunk_rss is None:
            first_chunk_rss = _peak_rss_mb()
    seconds = time.perf_counter() - start
    print(f"iter_transactions({args.customers}, chunk_size={args.chunk_size}): {seconds:.1f} s, "
          f"{customers} customers, {rows} lines; peak RSS after first chunk {first_chunk_rss:.0f} MB, "
          f"at the end {_peak_rss_mb():.0f} MB")


    small_n = max(args.population // 10, 1)
    small, _ = _timed(generate_population, small_n, seed=1)
    big, population = _timed(generate_population, args.population, seed=1)
    print(f"generate_population({args.population}): {big:.2f} s "
          f"({len(population.transactions)} transaction lines, {len(population.source_records)} source records); "
          f"{small_n} customers: {small:.2f} s; ratio {big / small:.1f} for {args.population / small_n:.0f}x the people")

    rng = np.random.default_rng(0)
    baseline, _ = _timed(rng.standard_normal, (args.likert_rows, 38))
    likert, frame = _timed(generate_likert_matrix, args.likert_rows, seed=0)
    print(f"generate_likert_matrix({args.likert_rows}): {likert:.2f} s, {frame.memory_usage().sum() / 2**20:.0f} MB; "
          f"numpy normals alone {baseline:.2f} s; ratio {likert / baseline:.1f}")

if __name__ == "__main__":
    main()
