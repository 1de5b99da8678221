"""Generate a complete, reproducible demo population: product tables plus hidden ground truth.

:func:`generate_population` draws, from one seed, the customers' hidden groups and latent scores,
their master records and messy source-system copies, BG/NBD purchase histories and post-purchase
survey responses. Product tables look like what the engine ingests in production; everything the
engine is supposed to *infer* (archetypes, factor scores, careless respondents, rising clients,
which records are one person) is in :attr:`DemoPopulation.truth` only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Mapping

import numpy as np
import pandas as pd

from survey_engine.demo import world
from survey_engine.demo.people import generate_customers, generate_source_records
from survey_engine.demo.purchases import (
    DEFAULT_PURCHASE_PARAMS, PurchaseParams, orders_to_lines, simulate_histories)
from survey_engine.demo.survey import QUALITY_RATES, generate_responses

CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_id", "first_name", "last_name", "email", "phone", "postcode", "city", "country",
    "preferred_language", "consent_marketing", "consent_profiling", "created_at")
LATENT_COLUMNS: tuple[str, ...] = tuple(f"latent_{c}" for c in world.CONSTRUCTS)


@dataclass(frozen=True)
class GroundTruth:
    """What the engine should discover, kept apart from the product tables (evaluation only).

    Attributes
    ----------
    customers : DataFrame
        One row per customer: customer_id, style_archetype, relationship_style, the eight
        ``latent_<construct>`` scores, quality (careless-respondent kind, ``ok``, or missing for
        customers not surveyed), is_rising, rising_since (NaT unless rising),
        purchase_rate_per_week, dropout_probability, mean_order_value_eur, alive_at_end.
    records : DataFrame
        source_record_id → customer_id for every source record, with the source and the
        variations applied to the copy.
    hard_negatives : DataFrame
        customer_id_a, customer_id_b, kind: pairs of distinct people who look alike.
    """

    customers: pd.DataFrame
    records: pd.DataFrame
    hard_negatives: pd.DataFrame

    def duplicate_pairs(self) -> set[tuple[str, str]]:
        """All unordered pairs of source_record_ids that belong to the same person."""
        pairs: set[tuple[str, str]] = set()
        for _, ids in self.records.groupby("customer_id")["source_record_id"]:
            ids = sorted(ids)
            pairs.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1:])
        return pairs


@dataclass(frozen=True)
class DemoPopulation:
    """Product tables of a synthetic population, and the ground truth behind them.

    Attributes
    ----------
    customers : DataFrame
        Master records: :data:`CUSTOMER_COLUMNS`.
    source_records : DataFrame
        Copies in source systems: source, source_record_id, customer_ref (the CRM number where
        the system knows it), first_name, last_name, email, phone, postcode, city, country,
        created_at.
    responses : DataFrame
        response_id, customer_id, order_id, questionnaire_id, status (``submitted``, or ``draft``
        for a respondent who saved partial answers and never submitted), language, started_at,
        updated_at, submitted_at (NaT for drafts), duration_seconds, answers (dict item name →
        value, valid for the shipped questionnaire; drafts valid as partial answers).
    transactions : DataFrame
        customer_id, order_id, line_id, timestamp, amount, currency, category, channel,
        store_or_country.
    truth : GroundTruth
    seed : int
    start, end : date
        Observation window (both days included).
    """

    customers: pd.DataFrame
    source_records: pd.DataFrame
    responses: pd.DataFrame
    transactions: pd.DataFrame
    truth: GroundTruth = field(repr=False)
    seed: int = 0
    start: date = date(2022, 1, 1)
    end: date = date(2025, 6, 30)

    def likert_matrix(self) -> pd.DataFrame:
        """Raw Likert answers, one row per response (index response_id), NaN where skipped."""
        frame = pd.DataFrame.from_records(
            [{item: answers.get(item, np.nan) for item in world.LIKERT_ITEMS}
             for answers in self.responses["answers"]],
            index=self.responses["response_id"])
        return frame.astype(float)


def _consents(rng: np.random.Generator, relationship: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    marketing_p = np.full(relationship.size, 0.70)
    profiling_p = np.full(relationship.size, 0.88)
    discreet = relationship == world.RELATIONSHIP_STYLES.index("discreet_privacy")
    digital = relationship == world.RELATIONSHIP_STYLES.index("digital_community")
    marketing_p[discreet], profiling_p[discreet] = 0.35, 0.65
    marketing_p[digital] = 0.85
    return rng.random(relationship.size) < marketing_p, rng.random(relationship.size) < profiling_p


def generate_population(
    n_customers: int = 500,
    seed: int = 0,
    *,
    start: date = date(2022, 1, 1),
    end: date = date(2025, 6, 30),
    response_rate: float = 0.8,
    rising_rate: float = 0.05,
    quality_rates: Mapping[str, float] = QUALITY_RATES,
    purchase_params: PurchaseParams = DEFAULT_PURCHASE_PARAMS,
    household_rate: float = 0.07,
    namesake_rate: float = 0.015,
) -> DemoPopulation:
    """Draw a reproducible synthetic population of luxury clients.

    The same arguments always give identical tables. Each part (groups, identities, source
    copies, purchases, survey) draws from its own child of ``numpy.random.SeedSequence(seed)``,
    so changing, say, ``response_rate`` leaves customers and purchases unchanged.

    Parameters
    ----------
    n_customers : int
        Number of people.
    seed : int
    start, end : date
        Observation window, both days included. Customers are acquired (first purchase) uniformly
        between ``start`` and 30 days before ``end``.
    response_rate : float
        Share of customers who answered the post-purchase survey (one response each).
    rising_rate : float
        Share of customers planted as *rising*: acquired at least 78 weeks before ``end``, they
        never lapse and their purchase rate and order value jump between 70 and 35 weeks before
        ``end``.
    quality_rates : mapping
        Shares of careless respondents by kind (see
        :data:`survey_engine.demo.survey.QUALITY_RATES`).
    purchase_params : PurchaseParams
        BG/NBD and Gamma-Gamma parameters (weekly, EUR) before relationship-style multipliers.
    household_rate, namesake_rate : float
        Shares of planted hard negatives for identity resolution.

    Returns
    -------
    DemoPopulation
    """
    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1, got {n_customers}")
    if not 0.0 <= response_rate <= 1.0 or not 0.0 <= rising_rate <= 1.0:
        raise ValueError(f"response_rate and rising_rate must lie in [0, 1], got {response_rate}, {rising_rate}")
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    horizon = (end_ts - start_ts).days + 1.0
    if horizon < 60:
        raise ValueError(f"the window {start}..{end} must span at least 60 days")
    last_second = start_ts + pd.Timedelta(days=horizon) - pd.Timedelta(seconds=1)
    groups_rng, people_rng, records_rng, purchase_rng, survey_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))

    style = groups_rng.choice(len(world.STYLE_ARCHETYPES), size=n_customers,
                              p=list(world.STYLE_SHARES.values()))
    relationship = groups_rng.choice(len(world.RELATIONSHIP_STYLES), size=n_customers,
                                     p=list(world.RELATIONSHIP_SHARES.values()))
    chol = np.linalg.cholesky(world.LATENT_CORRELATION)
    latent = world.latent_means(style, relationship) + world.WITHIN_GROUP_SD * (
        groups_rng.standard_normal((n_customers, len(world.CONSTRUCTS))) @ chol.T)
    first_day = groups_rng.uniform(0.0, horizon - 30.0, size=n_customers)
    eligible = np.flatnonzero(first_day <= horizon - 78 * 7)
    n_rising = min(int(round(rising_rate * n_customers)), eligible.size)
    rise_day = np.full(n_customers, np.nan)
    rising = groups_rng.choice(eligible, size=n_rising, replace=False)
    rise_day[rising] = groups_rng.uniform(horizon - 70 * 7, horizon - 35 * 7, size=n_rising)

    created_at = (start_ts + pd.to_timedelta(np.floor(first_day), unit="D")).astype("datetime64[s]")
    customers, hard_negatives = generate_customers(
        n_customers, people_rng, created_at, household_rate=household_rate, namesake_rate=namesake_rate)
    customers["consent_marketing"], customers["consent_profiling"] = _consents(people_rng, relationship)
    customers = customers[list(CUSTOMER_COLUMNS)]

    rel_names = np.array(world.RELATIONSHIP_STYLES)[relationship]
    histories = simulate_histories(
        purchase_rng, first_day, horizon, purchase_params,
        rate_multiplier=np.array([world.RATE_MULTIPLIERS[r] for r in rel_names]),
        spend_multiplier=np.array([world.SPEND_MULTIPLIERS[r] for r in rel_names]),
        rise_day=rise_day)
    ids = customers["customer_id"].to_numpy(dtype=object)
    transactions = orders_to_lines(purchase_rng, histories, ids, customers["country"].to_numpy(),
                                   style, relationship, start_ts)

    responses, quality = generate_responses(
        survey_rng, customers, transactions, latent, style, relationship, last_second,
        response_rate=response_rate, quality_rates=quality_rates)
    source_records, record_truth = generate_source_records(customers, records_rng, last_second)

    truth_customers = pd.DataFrame({
        "customer_id": ids,
        "style_archetype": np.array(world.STYLE_ARCHETYPES)[style],
        "relationship_style": rel_names,
        **{col: latent[:, k] for k, col in enumerate(LATENT_COLUMNS)},
        "quality": quality.reindex(ids).to_numpy(),
        "is_rising": ~np.isnan(rise_day),
        "rising_since": (start_ts + pd.to_timedelta(rise_day, unit="D")).floor("s"),
        "purchase_rate_per_week": histories.rate_per_week,
        "dropout_probability": histories.dropout_probability,
        "mean_order_value_eur": histories.mean_order_value_eur,
        "alive_at_end": histories.alive_at_end,
    })
    truth = GroundTruth(truth_customers, record_truth, hard_negatives)
    return DemoPopulation(customers, source_records, responses, transactions, truth, seed, start, end)
