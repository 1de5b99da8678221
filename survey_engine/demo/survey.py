"""Survey answers of the demo population and large Likert matrices for psychometric benchmarks.

Likert answers come from the ordinal factor model of :mod:`survey_engine.demo.world`; the other
items follow the customer's hidden groups (category from the order surveyed, channels from the
relationship style, free text from the phrase banks of :mod:`survey_engine.demo.phrases`). A small
share of respondents answer carelessly in the ways the quality gates look for; which ones is known
only to the ground truth.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

from survey_engine.demo import phrases, world

#: Default shares of careless respondents, by kind. ``failed_attention``: answers normally but
#: misses the attention check; ``straight_liner``: the same answer to every Likert item (and the
#: attention check); ``speeder``: random answers in well under two minutes; ``missing_answers``:
#: leaves 40–70% of the Likert items unanswered. The shipped questionnaire requires every Likert
#: item, so these respondents never submit: their response stays a saved ``draft``.
QUALITY_RATES: Mapping[str, float] = MappingProxyType(
    {"failed_attention": 0.03, "straight_liner": 0.02, "speeder": 0.02, "missing_answers": 0.02})
QUALITY_KINDS: tuple[str, ...] = ("ok", *QUALITY_RATES)


def generate_likert_matrix(
    n: int,
    seed: int = 0,
    *,
    missing_rate: float = 0.0,
    chunk_size: int = 200_000,
    model: world.GeneratingModel | None = None,
    return_latent: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray]:
    """Draw ``n`` respondents' raw 7-point answers to the 30 Likert items from the pure factor model.

    Latent scores are :math:`\\eta \\sim N(0, \\Phi)` (no archetype mixture), so the polychoric
    correlation of the raw answers estimates ``model.item_correlation()`` exactly and EFA should
    recover ``model.loadings``. Reverse-keyed items are *not* recoded. Vectorised and chunked:
    1,000,000 rows take a few seconds and about 30 MB for the result.

    Parameters
    ----------
    n : int
        Number of respondents.
    seed : int
    missing_rate : float
        Share of answers set missing completely at random.
    chunk_size : int
        Rows drawn per step (bounds the temporary float memory).
    model : GeneratingModel, optional
        Defaults to :func:`survey_engine.demo.world.generating_model`.
    return_latent : bool
        Also return the latent scores (n × 8, float32).

    Returns
    -------
    DataFrame
        Columns :data:`~survey_engine.demo.world.LIKERT_ITEMS`; ``int8`` without missing values,
        ``float32`` with NaN otherwise.
    """
    if n < 0 or not 0.0 <= missing_rate < 1.0:
        raise ValueError(f"need n >= 0 and 0 <= missing_rate < 1, got n={n}, missing_rate={missing_rate}")
    model = model or world.generating_model()
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(model.factor_correlation)
    out = np.empty((n, len(model.items)), dtype=np.int8)
    latent_out = np.empty((n, model.n_factors), dtype=np.float32) if return_latent else None
    for lo in range(0, n, chunk_size):
        hi = min(lo + chunk_size, n)
        latent = rng.standard_normal((hi - lo, model.n_factors)) @ chol.T
        out[lo:hi] = world.ordinal_answers(latent, model, rng)
        if latent_out is not None:
            latent_out[lo:hi] = latent
    frame = pd.DataFrame(out, columns=list(model.items))
    if missing_rate > 0:
        values = out.astype(np.float32)
        values[rng.random(values.shape) < missing_rate] = np.nan
        frame = pd.DataFrame(values, columns=list(model.items))
    return (frame, latent_out) if return_latent else frame


def _pick_orders(transactions: pd.DataFrame, customer_ids: np.ndarray, latest: pd.Timestamp,
                 rng: np.random.Generator) -> pd.DataFrame:
    """One order per surveyed customer (a random one placed before ``latest``)."""
    orders = transactions.loc[transactions["line_id"] == 1, ["customer_id", "order_id", "timestamp", "category"]]
    orders = orders[orders["customer_id"].isin(customer_ids) & (orders["timestamp"] <= latest)]
    orders = orders.assign(_key=rng.random(len(orders))).sort_values(["customer_id", "_key"])
    picked = orders.drop_duplicates("customer_id").set_index("customer_id")
    missing = set(customer_ids) - set(picked.index)
    if missing:
        raise ValueError(f"{len(missing)} surveyed customers have no order before {latest}")
    return picked.loc[customer_ids]


def generate_responses(
    rng: np.random.Generator,
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    latent: np.ndarray,
    style: np.ndarray,
    relationship: np.ndarray,
    end: pd.Timestamp,
    *,
    response_rate: float = 0.8,
    quality_rates: Mapping[str, float] = QUALITY_RATES,
) -> tuple[pd.DataFrame, pd.Series]:
    """Draw one post-purchase response for a ``response_rate`` share of customers.

    Parameters
    ----------
    rng : numpy.random.Generator
    customers : DataFrame
        Master records (customer_id, preferred_language).
    transactions : DataFrame
        Lines from which the surveyed order is chosen.
    latent : ndarray of shape (n_customers, 8)
        True construct scores.
    style, relationship : ndarray of int
        True group codes.
    end : Timestamp
        No response is submitted after ``end``.
    response_rate : float
    quality_rates : mapping
        Share of each careless-respondent kind (see :data:`QUALITY_RATES`).

    Returns
    -------
    responses : DataFrame
        response_id, customer_id, order_id, questionnaire_id, status (``submitted`` or ``draft``),
        language, started_at, updated_at (last save), submitted_at (NaT for drafts),
        duration_seconds, answers (dict ``{item_name: value}``).
    quality : Series
        Respondent quality kind indexed by customer_id (ground truth only).
    """
    unknown = set(quality_rates) - set(QUALITY_RATES)
    if unknown:
        raise ValueError(f"quality_rates: unknown kinds {sorted(unknown)}; known: {list(QUALITY_RATES)}")
    n = len(customers)
    surveyed = np.sort(rng.choice(n, size=int(round(response_rate * n)), replace=False))
    m = surveyed.size
    ids = customers["customer_id"].to_numpy()[surveyed]
    orders = _pick_orders(transactions, ids, end - pd.Timedelta(days=2), rng)

    model = world.generating_model()
    likert = world.ordinal_answers(latent[surveyed], model, rng)
    kinds = list(quality_rates)
    probs = [1.0 - sum(quality_rates.values()), *quality_rates.values()]
    quality = np.array(["ok", *kinds], dtype=object)[rng.choice(len(probs), size=m, p=probs)]

    ps, ch = world.CONSTRUCTS.index("personal_service"), world.CONSTRUCTS.index("craftsmanship_heritage")
    satisfaction = 0.35 * latent[surveyed, ps] + 0.2 * latent[surveyed, ch] + rng.standard_normal(m)
    nps = np.clip(np.round(7.6 + 1.5 * satisfaction), 0, 10).astype(int)

    duration = np.exp(rng.normal(np.log(420.0), 0.4, size=m))
    duration = np.where(quality == "straight_liner", np.exp(rng.normal(np.log(160.0), 0.3, size=m)), duration)
    duration = np.where(quality == "speeder", rng.uniform(25.0, 75.0, size=m), duration)
    duration = np.maximum(duration, 20.0)
    order_time = orders["timestamp"].to_numpy()
    delay = pd.to_timedelta(rng.exponential(4.0, size=m) + 0.05, unit="D").to_numpy()
    submitted = np.minimum(order_time + delay, np.datetime64(end))
    last_saved = pd.DatetimeIndex(submitted).floor("s")
    duration = np.round(duration)
    started = last_saved - pd.to_timedelta(duration, unit="s")
    draft = quality == "missing_answers"
    submitted = last_saved.where(~draft)

    languages = customers["preferred_language"].to_numpy()[surveyed]
    languages = np.where(rng.random(m) < 0.1, "en", languages)
    channel_p = np.array([world.SURVEY_CHANNEL_PROBABILITIES[r] for r in world.RELATIONSHIP_STYLES])
    answers: list[dict] = []
    for i in range(m):
        cust = surveyed[i]
        kind = quality[i]
        row = likert[i]
        record: dict[str, object] = {}
        if kind == "straight_liner":
            value = int(rng.choice([4, 5, 6, 7], p=[0.2, 0.3, 0.25, 0.25]))
            record.update({item: value for item in world.LIKERT_ITEMS})
            record[world.ATTENTION_ITEM] = value
        elif kind == "speeder":
            record.update({item: int(v) for item, v in zip(world.LIKERT_ITEMS, rng.integers(1, 8, size=30))})
            record[world.ATTENTION_ITEM] = int(rng.integers(1, 8))
        else:
            keep = np.ones(30, dtype=bool)
            if kind == "missing_answers":
                keep = rng.random(30) >= rng.uniform(0.4, 0.7)
            record.update({item: int(v) for item, v, k in zip(world.LIKERT_ITEMS, row, keep) if k})
            record[world.ATTENTION_ITEM] = (
                int(rng.choice([7, 5, 4, 2], p=[0.4, 0.3, 0.2, 0.1])) if kind == "failed_attention"
                else world.ATTENTION_EXPECTED)
        record[world.NPS_ITEM] = int(nps[i])
        record["category"] = str(orders["category"].iloc[i])
        ticked = rng.random(len(world.SURVEY_CHANNELS)) < channel_p[relationship[cust]]
        if not ticked.any():
            ticked[int(np.argmax(channel_p[relationship[cust]]))] = True
        record["channels"] = [c for c, t in zip(world.SURVEY_CHANNELS, ticked) if t]
        text_language = languages[i] if rng.random() < 0.85 else "en"
        careless = kind in ("speeder", "missing_answers")
        blank = 0.5 if careless else 0.03
        record["style_words"] = phrases.compose_answer(
            phrases.STYLE_PHRASES, world.STYLE_ARCHETYPES[style[cust]], text_language, rng,
            max_chars=world.TEXT_ITEMS["style_words"], blank_rate=blank)
        record["special_purchase"] = phrases.compose_answer(
            phrases.SPECIAL_PHRASES, world.RELATIONSHIP_STYLES[relationship[cust]], text_language, rng,
            max_chars=world.TEXT_ITEMS["special_purchase"], blank_rate=blank)
        if nps[i] <= world.IMPROVE_MAX_NPS and rng.random() < 0.75:
            record["improve"] = phrases.improve_answer(text_language, rng,
                                                       max_chars=world.TEXT_ITEMS["improve"])
        answers.append(record)

    width = max(6, len(str(m)))
    responses = pd.DataFrame({
        "response_id": [f"R{i + 1:0{width}d}" for i in range(m)],
        "customer_id": ids,
        "order_id": orders["order_id"].to_numpy(),
        "questionnaire_id": world.QUESTIONNAIRE_ID,
        "status": np.where(draft, "draft", "submitted"),
        "language": languages,
        "started_at": started.astype("datetime64[s]"),
        "updated_at": last_saved.astype("datetime64[s]"),
        "submitted_at": submitted.astype("datetime64[s]"),
        "duration_seconds": duration,
        "answers": answers,
    })
    return responses, pd.Series(quality, index=pd.Index(ids, name="customer_id"), name="quality")
