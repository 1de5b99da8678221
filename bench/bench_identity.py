"""Throughput of identity resolution on about 100,000 demo source records.

Prints records per second of the full resolution (normalise, link, cluster, golden records) and of
a normalisation-only pass over the same records in the same run, and their ratio: how many times
the cost of merely cleaning the fields linking costs. Also prints the pairwise precision and recall
against the generator's truth table.

    .venv/bin/python bench/bench_identity.py [--records 100000] [--seed 0] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from survey_engine.demo.people import generate_customers, generate_source_records  # noqa: E402
from survey_engine.identity.evaluation import pairwise_scores  # noqa: E402
from survey_engine.identity.linking import IdentityResolver  # noqa: E402
from survey_engine.identity.normalise import normalise_records  # noqa: E402

RECORDS_PER_CUSTOMER = 2.61  # measured mean of the demo generator's copies per customer


def demo_records(n_records: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_customers = int(round(n_records / RECORDS_PER_CUSTOMER))
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.uniform(0, 1000, n_customers), unit="D")
    customers, _ = generate_customers(n_customers, rng, created.to_numpy().astype("datetime64[s]"))
    records, truth = generate_source_records(customers, rng, pd.Timestamp("2025-06-30 23:59:59"))
    return records.rename(columns={"customer_ref": "external_id"}), truth


def best_of(repeat: int, function) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    records, truth = demo_records(args.records, args.seed)
    print(f"generated {len(records):,} source records of {truth['customer_id'].nunique():,} customers "
          f"in {time.perf_counter() - start:.1f} s (not timed below)")

    baseline, _ = best_of(args.repeat, lambda: normalise_records(records))
    full, resolution = best_of(args.repeat, lambda: IdentityResolver().fit_predict(records))
    n = len(records)
    print(f"normalisation only : {baseline:7.2f} s  {n / baseline:10,.0f} records/s  (baseline)")
    print(f"full resolution    : {full:7.2f} s  {n / full:10,.0f} records/s")
    print(f"ratio full / normalisation-only time: {full / baseline:.2f}x "
          f"(best of {args.repeat} runs each)")

    predicted = resolution.membership.set_index("source_record_id")["person_id"]
    scores = pairwise_scores(predicted, truth.set_index("source_record_id")["customer_id"])
    links = resolution.links["rule"].value_counts().to_dict()
    print(f"persons: {len(resolution.persons):,}; links by rule: {links}")
    print(f"pairwise precision {scores['precision']:.4f}, recall {scores['recall']:.4f} "
          f"({scores['true_pairs']:,} true pairs)")


if __name__ == "__main__":
    main()
