"""Benchmark: BG/NBD + Gamma-Gamma fit and predictions for 1,000,000 synthetic customers.

Customers come from the demo generator (``survey_engine.demo.purchases.iter_transactions``: a pure
BG/NBD / Gamma-Gamma process with known parameters), streamed in chunks of whole customers and
shaped into a per-customer summary chunk by chunk (memory bounded by the chunk). The timed part is
what the issue targets (<= 60 s, <= 2 GB on 2 cores): BG/NBD fit, Gamma-Gamma fit and per-customer
predictions (P(alive), expected purchases, expected order value, discounted 52-week CLV), plus the
value tiers. Peak memory of that part is measured with tracemalloc; the process peak RSS is printed
too.

Baseline in the same run: the *lifetimes* package (0.11.3, test extra) on the CDNOW sample and on a
synthetic subsample, timed against this module on identical data; the ratio is lifetimes / ours.

Usage: ``.venv/bin/python bench/bench_clv.py [--customers 1000000] [--lifetimes-customers 100000]``
"""
from __future__ import annotations

import argparse
import importlib.util
import resource
import time
import tracemalloc
import warnings
from pathlib import Path

import pandas as pd

from survey_engine.clv.bgnbd import BetaGeoModel
from survey_engine.clv.gamma_gamma import GammaGammaModel
from survey_engine.clv.predict import predict_customers
from survey_engine.clv.summary import summary_from_transactions
from survey_engine.clv.tiers import assign_value_tiers, load_tier_config
from survey_engine.clv.transactions import load_currency_rates

HORIZON_WEEKS = 52.0
END = "2025-06-30"


def synthetic_summary(n_customers: int, seed: int) -> pd.DataFrame:
    from survey_engine.demo.purchases import iter_transactions

    rates = load_currency_rates()
    parts = []
    for chunk in iter_transactions(n_customers, seed=seed, chunk_size=100_000, end=END):
        currency = chunk["currency"].astype(str)
        unknown = sorted(set(currency) - set(rates.rates))
        if unknown:
            raise SystemExit(f"currency {unknown} missing from the rates table")
        eur = chunk["amount"].to_numpy(dtype=float) * currency.map(rates.rates).to_numpy(dtype=float)
        lines = pd.DataFrame({"customer_id": chunk["customer_id"].astype(str), "timestamp": chunk["timestamp"],
                              "amount": eur, "category": chunk["category"].astype(str)})
        parts.append(summary_from_transactions(lines, "customer_id", "timestamp", "amount", observation_end=END,
                                               time_unit="W", category_col="category"))
    return pd.concat(parts)


def fit_and_predict(summary: pd.DataFrame) -> tuple[dict, BetaGeoModel, GammaGammaModel, pd.DataFrame]:
    timings = {}
    t0 = time.perf_counter()
    bg = BetaGeoModel().fit(summary)
    timings["bgnbd_fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gg = GammaGammaModel().fit(summary)
    timings["gamma_gamma_fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    predicted = predict_customers(summary, bg, gg, HORIZON_WEEKS, "W", 0.10)
    timings["predictions"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    assign_value_tiers(summary.join(predicted), load_tier_config())
    timings["tiers"] = time.perf_counter() - t0
    return timings, bg, gg, predicted


def lifetimes_run(summary: pd.DataFrame) -> float:
    """Same work with lifetimes: BG/NBD + Gamma-Gamma fits and the same per-customer predictions."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    t0 = time.perf_counter()
    bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    repeat = summary[summary["frequency"] > 0]
    ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    bgf.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
    bgf.conditional_expected_number_of_purchases_up_to_time(HORIZON_WEEKS, summary["frequency"], summary["recency"], summary["T"])
    ggf.conditional_expected_average_profit(summary["frequency"], summary["monetary_value"])
    ggf.customer_lifetime_value(bgf, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"],
                                time=12, discount_rate=1.10 ** (1 / 12) - 1, freq="W")
    return time.perf_counter() - t0


def ours_run(summary: pd.DataFrame) -> float:
    t0 = time.perf_counter()
    fit_and_predict(summary)
    return time.perf_counter() - t0


def cdnow_summary() -> pd.DataFrame:
    spec = importlib.util.find_spec("lifetimes")
    raw = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_sample.txt"
    df = pd.read_csv(raw, sep=r"\s+", header=None, names=["m", "customer", "date", "n", "amount"], dtype={"date": str})
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    return summary_from_transactions(df, "customer", "date", "amount", observation_end="1997-09-30",
                                     time_unit="W").pipe(lambda s: s[s["T"] > 0])


def compare_with_lifetimes(label: str, summary: pd.DataFrame, repeats: int) -> None:
    try:
        import lifetimes  # noqa: F401 - only checks that it imports
    except Exception as exc:  # noqa: BLE001 - any import failure is reported, not hidden
        print(f"{label}: lifetimes not importable ({type(exc).__name__}: {exc}); no ratio")
        return
    ours = min(ours_run(summary) for _ in range(repeats))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = min(lifetimes_run(summary) for _ in range(repeats))
        except Exception as exc:  # noqa: BLE001
            print(f"{label}: lifetimes failed ({type(exc).__name__}: {exc}); no ratio")
            return
    print(f"{label} ({len(summary):,} customers): ours {ours:.3f} s, lifetimes {theirs:.3f} s, "
          f"ratio lifetimes/ours = {theirs / ours:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lifetimes-customers", type=int, default=100_000,
                        help="size of the synthetic subsample also timed with lifetimes (0 = skip)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    t0 = time.perf_counter()
    summary = synthetic_summary(args.customers, args.seed)
    build = time.perf_counter() - t0
    print(f"synthetic data: {len(summary):,} customers, {int(summary['frequency'].sum() + len(summary)):,} "
          f"purchase days; generation + summary {build:.1f} s (not part of the target)")

    tracemalloc.start()
    t0 = time.perf_counter()
    timings, bg, gg, predicted = fit_and_predict(summary)
    total = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    for name, seconds in timings.items():
        print(f"  {name:16s} {seconds:7.2f} s")
    print(f"fit + predictions + tiers for {len(summary):,} customers: {total:.1f} s (target <= 60 s), "
          f"peak traced memory {peak / 2**30:.2f} GiB (target <= 2 GB)")
    print(f"process peak RSS (includes data generation): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    print(f"BG/NBD unique (x, t_x, T) rows fitted: {bg.n_unique_:,} of {len(summary):,}")
    print("BG/NBD estimates: " + ", ".join(f"{k}={v:.3f} (se {bg.se_[k]:.3f})" for k, v in bg.params_.items()))
    print("Gamma-Gamma estimates: " + ", ".join(f"{k}={v:.3f}" for k, v in gg.params_.items())
          + f"; frequency-spend correlation {gg.frequency_monetary_correlation_:.3f}")
    print(f"mean P(alive) {predicted['p_alive'].mean():.3f}; total 52-week CLV {predicted['clv'].sum():,.0f} EUR")

    compare_with_lifetimes("CDNOW sample", cdnow_summary(), repeats=3)
    if args.lifetimes_customers:
        compare_with_lifetimes("synthetic subsample", summary.iloc[: args.lifetimes_customers], repeats=1)


if __name__ == "__main__":
    main()
