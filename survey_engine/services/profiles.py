"""Combined client profiles: one per resolved person, refreshed in full or for the persons a new
response, a transaction import, a correction or a contact touched.

A profile joins, through the identity map (customer number → person), the person's value under
the active CLV model (their transactions from every customer number pooled), the current
archetype assignments of their latest response (or an advisor's correction), factor scores from
the active factor model, the themes of their free text, consent, the contact policy and a
next-best-action text. Every change of an assignment (value tier, rising or lapse flag, style
archetype, relationship style) is appended to ``profile_history`` with the model versions behind
it. A change that matters to a CRM takes the next number of the ``profiles`` sequence
(``change_seq``), which exports and webhooks use as their cursor.

The full refresh streams persons in chunks: a first pass values everyone (small per-person
numbers only) and fits the tier reference, a second pass builds, compares and writes profiles
one chunk per transaction. Single-person updates run the same second pass with tiers placed
against the stored reference of the last full refresh, so no model is refitted.
"""
from __future__ import annotations

import json
import logging
import math
import operator
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from survey_engine.models import Customer, QuestionnaireVersion, Response
from survey_engine.models.archetypes import ArchetypeAssignment
from survey_engine.models.base import row_id, utcnow
from survey_engine.models.clv import CLVModelRecord, Transaction
from survey_engine.models.identity import CustomerPerson, Person
from survey_engine.models.profiles import (
    AdvisorNote,
    ArchetypeCorrection,
    ContactEvent,
    Profile,
    ProfileHistory,
    ProfileRefresh,
    ProfileSequence,
    WebhookSubscription,
)
from survey_engine.services.survey import Conflict, NotFound, ServiceError

log = logging.getLogger(__name__)

SEQUENCE = "profiles"
#: Assignments whose every change is kept in ``profile_history``.
TRACKED_FIELDS = ("value_tier", "rising", "lapse_risk", "style_archetype", "relationship_style")
#: Fields that move as time passes; such a change alone is written but takes no new change number
#: unless it exceeds the tolerance here (absolute, relative for clv; None: never by itself). The
#: month of the contact count is one: a new month matters only when the contacts left change.
DRIFT_TOLERANCE = {"p_alive": 0.10, "tier_score": 0.10, "expected_purchases": None, "expected_average_value": None,
                   "upgrade_propensity": 0.10, "clv": 0.10, "contact_month": None}
#: Profile fields computed from the survey (JSON); recomputed only when their inputs change.
SURVEY_JSON_FIELDS = ("style_memberships", "relationship_memberships",
                      "factor_scores", "themes")
_KINDS = ("style", "relationship")
#: Profile column holding the top archetype of each catalog kind.
ARCHETYPE_FIELD = {"style": "style_archetype", "relationship": "relationship_style"}
_IN_LIMIT = 500


# ---- context: the active models and rules one refresh applies ------------------------------------

@dataclass
class FactorScorer:
    record_id: int
    model: Any
    reverse: frozenset
    low: float
    high: float
    labels: list[str]

    def scores(self, answers: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Factor scores (rows in ``labels`` order) of answer mappings; reverse keying as in the fit."""
        if len(answers) == 1:  # online scoring: no DataFrame for one response
            keyed = {item: (self.low + self.high - v if item in self.reverse else float(v))
                     for item, v in answers[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            return self.model.score_one(keyed)[None, :]
        items = list(self.model.items_)
        frame = pd.DataFrame.from_records(list(answers), columns=items)
        # answers were validated on submission: Likert items hold integers (anything else scores as missing)
        frame = frame.apply(pd.to_numeric, errors="coerce").astype(float)
        reverse = [item for item in items if item in self.reverse]
        frame[reverse] = self.low + self.high - frame[reverse]
        return self.model.transform(frame)


@dataclass
class ProfileContext:
    as_of: date
    clv: Any | None  # (id, version, params, options) of the active CLV model
    tier_config: Any
    reference: Any | None
    reference_id: int | None
    policy: Any
    guidance: dict[str, dict[str, Any]]  # catalog id -> {"kind", "archetypes": {id: Guidance}}
    factor_scorers: dict[str, FactorScorer]  # questionnaire id -> scorer of its active model
    questionnaire_of_version: dict[int, str]
    theme_model: Any | None
    theme_centroids: np.ndarray | None
    subscriptions: list[WebhookSubscription]
    now: datetime = field(default_factory=utcnow)

    def month(self) -> tuple[datetime, datetime, str]:
        start = datetime(self.as_of.year, self.as_of.month, 1, tzinfo=timezone.utc)
        end = datetime(self.as_of.year + (self.as_of.month == 12), self.as_of.month % 12 + 1, 1, tzinfo=timezone.utc)
        return start, end, f"{self.as_of.year:04d}-{self.as_of.month:02d}"

    def kind_of(self, catalog_id: str) -> str | None:
        entry = self.guidance.get(catalog_id)
        return None if entry is None else entry["kind"]


_cache_lock = threading.Lock()
_catalog_cache: dict[tuple, dict] = {}
_scorer_cache: dict[int, FactorScorer] = {}
_reference_cache: dict[int, Any] = {}
_policy_cache: dict[str, Any] = {}


def _catalogs_dir(catalogs_dir: Path | None) -> Path:
    if catalogs_dir is not None:
        return Path(catalogs_dir)
    from survey_engine.config import Settings

    return Settings.from_env().archetypes_dir


def load_guidance(catalogs_dir: Path | None = None, language: str = "en") -> dict[str, dict[str, Any]]:
    """Engagement guidance of every archetype in the catalogs, by catalog id (cached per file state)."""
    from survey_engine.definitions.archetypes import load_archetype_catalogs
    from survey_engine.profiling.policy import Guidance

    directory = _catalogs_dir(catalogs_dir)
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]) if directory.is_dir() else []
    key = (str(directory), language, tuple((str(p), p.stat().st_mtime_ns) for p in files))
    with _cache_lock:
        cached = _catalog_cache.get(key)
    if cached is not None:
        return cached
    catalogs = load_archetype_catalogs(directory, known_factors=None) if files else {}
    guidance = {cid: {"kind": c.catalog.kind, "version": c.version_label,
                      "archetypes": {a.id: Guidance.from_spec(a, language) for a in c.archetypes}}
                for cid, c in catalogs.items() if not c.catalog.proposal}
    with _cache_lock:
        _catalog_cache[key] = guidance
    return guidance


def _policy():
    from survey_engine.profiling.policy import load_policy

    with _cache_lock:
        policy = _policy_cache.get("default")
    if policy is None:
        policy = load_policy()
        with _cache_lock:
            _policy_cache["default"] = policy
    return policy


def factor_scorer(session: Session, record_id: int) -> FactorScorer:
    """The scorer of a stored factor model (built once per record: records never change)."""
    from survey_engine.models.factors import FactorModelRecord
    from survey_engine.psychometrics.efa import FactorModel

    with _cache_lock:
        scorer = _scorer_cache.get(record_id)
    if scorer is None:
        record = session.get(FactorModelRecord, record_id)
        results = record.results
        scorer = FactorScorer(record.id, FactorModel.from_dict(results["model"]), frozenset(results["reverse_keyed"]),
                              float(results["scale"]["min"]), float(results["scale"]["max"]), list(results["labels"]))
        with _cache_lock:
            _scorer_cache[record_id] = scorer
    return scorer


def _factor_scorers(session: Session) -> dict[str, FactorScorer]:
    """The scorer of each questionnaire's active factor model."""
    from survey_engine.models.factors import FactorModelRecord

    ids = session.execute(sa.select(FactorModelRecord.id, FactorModelRecord.questionnaire_id)
                          .where(FactorModelRecord.is_active)).all()
    return {questionnaire_id: factor_scorer(session, record_id) for record_id, questionnaire_id in ids}


def latest_full_refresh(session: Session):
    """``(id, as_of)`` of the last completed full refresh, or None."""
    return session.execute(sa.select(ProfileRefresh.id, ProfileRefresh.as_of)
                           .where(ProfileRefresh.kind == "full", ProfileRefresh.status == "completed")
                           .order_by(ProfileRefresh.id.desc()).limit(1)).first()


def _active_clv(session: Session):
    """``(id, version, params, options)`` of the active CLV model (its report is not needed here)."""
    return session.execute(sa.select(CLVModelRecord.id, CLVModelRecord.version, CLVModelRecord.params,
                                     CLVModelRecord.options).where(CLVModelRecord.is_active)).first()


def _today() -> date:
    return utcnow().date()


def load_context(session: Session, as_of: date | None = None, *, catalogs_dir: Path | None = None,
                 with_reference: bool = True) -> ProfileContext:
    """The active CLV model, tier reference (from the last full refresh), catalogs' guidance,
    active factor models, theme model, contact policy and webhook subscribers."""
    from survey_engine.clv.tiers import load_tier_config
    from survey_engine.profiling.value import TierReference, tier_config_from_options
    from survey_engine.services.profile_models import latest_theme_model, theme_centroids

    clv = _active_clv(session)
    tier_config = tier_config_from_options(clv.options) if clv is not None else load_tier_config()
    reference = reference_id = None
    refresh = latest_full_refresh(session) if with_reference else None
    if refresh is not None:
        reference_id = refresh.id
        if as_of is None:
            stored = refresh.as_of.date() if refresh.as_of else _today()
            as_of = max(stored, _today())
        with _cache_lock:
            reference = _reference_cache.get(refresh.id)
        if reference is None:
            stored = session.execute(sa.select(ProfileRefresh.reference).where(ProfileRefresh.id == refresh.id)).scalar()
            if stored:
                reference = TierReference.from_dict(stored["tiers"], tier_config)
                with _cache_lock:
                    _reference_cache[refresh.id] = reference
    policy = _policy()
    theme = latest_theme_model(session)
    versions = dict(session.execute(select(QuestionnaireVersion.id, QuestionnaireVersion.questionnaire_id)).all())
    subscriptions = list(session.exec(select(WebhookSubscription).where(WebhookSubscription.active)).all())
    return ProfileContext(
        as_of=as_of or _today(), clv=clv, tier_config=tier_config, reference=reference, reference_id=reference_id,
        policy=policy, guidance=load_guidance(catalogs_dir, policy.language), factor_scorers=_factor_scorers(session),
        questionnaire_of_version=versions, theme_model=theme,
        theme_centroids=theme_centroids(theme) if theme is not None else None, subscriptions=subscriptions)


# ---- pass 1: value ---------------------------------------------------------------------------------

def _person_filter(column, ids: Sequence[int]):
    """``column IN ids`` for few ids, else a range (callers keep only ``ids`` from the rows)."""
    if len(ids) <= _IN_LIMIT:
        return column.in_(list(ids))
    return column.between(min(ids), max(ids))


def _person_transactions(session: Session, ids: Sequence[int]) -> pd.DataFrame:
    # A fixed order makes the float sums identical on every backend.
    # The day is all that matters here: the timestamp is read as stored (UTC), without the per-row
    # time-zone handling of the column type; pandas converts the whole column at once.
    query = (sa.select(CustomerPerson.person_id, Transaction.order_id,
                       sa.type_coerce(Transaction.purchased_at, sa.DateTime()), Transaction.amount, Transaction.category)
             .join(CustomerPerson, CustomerPerson.external_id == Transaction.customer_external_id)
             .where(_person_filter(CustomerPerson.person_id, ids))
             .order_by(CustomerPerson.person_id, Transaction.purchased_at, Transaction.order_id, Transaction.amount))
    names = ["person_id", "order_id", "timestamp", "amount", "category"]
    rows = session.connection().execute(query).all()
    frame = pd.DataFrame(dict(zip(names, zip(*rows))) if rows else {n: [] for n in names}, columns=names)
    if len(ids) > _IN_LIMIT and not frame.empty:
        frame = frame[frame["person_id"].isin(ids)]
    return frame


def _survey_counts(session: Session, ids: Sequence[int]) -> pd.Series:
    query = (sa.select(CustomerPerson.person_id, sa.func.count(Response.id))
             .join(Customer, Customer.external_id == CustomerPerson.external_id)
             .join(Response, Response.customer_id == Customer.id)
             .where(Response.submitted_at.is_not(None), _person_filter(CustomerPerson.person_id, ids))
             .group_by(CustomerPerson.person_id))
    counts = pd.Series(dict(session.connection().execute(query).all()), dtype=float)
    return counts.reindex(list(ids)).fillna(0.0)


def person_value_frame(session: Session, ids: Sequence[int], ctx: ProfileContext,
                       surveys: Mapping[int, int] | None = None) -> pd.DataFrame:
    """Values of the persons ``ids`` under the active CLV model (rows only for persons who bought);
    ``surveys`` (completed surveys per person, the tier score's engagement) is read when not given."""
    from survey_engine.profiling.value import person_values

    if ctx.clv is None:
        return pd.DataFrame()
    options = ctx.clv.options
    values = person_values(
        _person_transactions(session, ids), bgnbd_params=ctx.clv.params["bgnbd"],
        gamma_gamma_params=ctx.clv.params["gamma_gamma"], as_of=ctx.as_of, time_unit=options.get("time_unit", "W"),
        horizon_weeks=float(options.get("horizon_weeks", 52.0)),
        annual_discount_rate=float(options.get("annual_discount_rate", 0.10)))
    if not values.empty:
        counts = _survey_counts(session, ids) if surveys is None else pd.Series(surveys, dtype=float)
        values["survey_engagement"] = counts.reindex(values.index).fillna(0.0).to_numpy(dtype=float)
    return values


# ---- pass 2: build profiles ------------------------------------------------------------------------

#: Profile fields filled from the value and tier frames, with the decimals they are stored with.
VALUE_FIELDS = {"clv": 2, "p_alive": 4, "expected_purchases": 4, "expected_average_value": 2, "total_spend": 2,
                "tier_score": 4, "upgrade_propensity": 4, "n_orders": None, "category_breadth": None,
                "first_purchase_at": None, "last_purchase_at": None, "value_tier": None, "past_spend_tier": None,
                "rising": None, "lapse_risk": None}
_NO_VALUE = {**{name: None for name in VALUE_FIELDS}, "rising": False, "lapse_risk": False}


def _prepared_values(values: pd.DataFrame, tiers: pd.DataFrame) -> dict[int, dict[str, Any]]:
    """The value and tier fields of each person, rounded and as Python values (column-wise, once)."""
    if values.empty:
        return {}
    frame = values.join(tiers.rename(columns={"tier": "value_tier"})) if not tiers.empty else values
    columns: dict[str, list] = {}
    for name, decimals in VALUE_FIELDS.items():
        source = {"first_purchase_at": "first_purchase", "last_purchase_at": "last_purchase"}.get(name, name)
        if source not in frame:
            columns[name] = [_NO_VALUE[name]] * len(frame)
            continue
        column = frame[source]
        if name in ("first_purchase_at", "last_purchase_at"):
            stamps = pd.to_datetime(column)
            stamps = stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")
            columns[name] = list(stamps.dt.to_pydatetime())
        elif decimals is not None:
            numbers = column.to_numpy(dtype=float).round(decimals)
            columns[name] = [None if not math.isfinite(v) else v for v in numbers.tolist()]
        elif name in ("n_orders", "category_breadth"):
            columns[name] = column.to_numpy(dtype=np.int64).tolist()
        elif name in ("rising", "lapse_risk"):
            columns[name] = column.to_numpy(dtype=bool).tolist()
        else:
            columns[name] = column.tolist()
    names = list(columns)
    return {pid: dict(zip(names, row)) for pid, row in zip(frame.index.tolist(), zip(*columns.values()))}


@dataclass
class _ChunkData:
    customers: dict[int, list[tuple[str, int | None, bool, bool]]]
    golden_external: dict[int, str | None]
    latest_response: dict[int, tuple[int, datetime, int]]  # person -> (response id, submitted_at, version id)
    surveys: dict[int, int]
    assignments: dict[tuple[int, str], dict[str, Any]]  # (person, catalog) -> scalar assignment columns
    corrections: dict[tuple[int, str], ArchetypeCorrection]
    contacts: dict[int, int]
    existing: dict[int, dict[str, Any]]


def _load_chunk(session: Session, ids: Sequence[int], ctx: ProfileContext) -> _ChunkData:
    wanted = set(ids)
    session.flush()  # reads below go straight to the connection
    connection = session.connection()
    customers: dict[int, list] = {}
    rows = connection.execute(
        sa.select(CustomerPerson.person_id, CustomerPerson.external_id, Customer.id, Customer.consent_marketing,
                  Customer.consent_profiling)
        .outerjoin(Customer, Customer.external_id == CustomerPerson.external_id)
        .where(_person_filter(CustomerPerson.person_id, ids))).all()
    for person_id, external_id, customer_id, marketing, profiling in rows:
        if person_id in wanted:
            customers.setdefault(person_id, []).append((external_id, customer_id, bool(marketing), bool(profiling)))
    golden = {pid: external for pid, external in connection.execute(
        sa.select(Person.id, Person.external_id).where(_person_filter(Person.id, ids), Person.retired_at.is_(None)))
        if pid in wanted}

    latest: dict[int, tuple] = {}
    surveys: dict[int, int] = {}
    # The status is checked here, not in SQL: a filter on it would let SQLite walk the status index
    # (every submitted response) instead of the person's customers.
    rows = connection.execute(
        sa.select(CustomerPerson.person_id, Response.id, Response.submitted_at, Response.questionnaire_version_id,
                  Response.status)
        .join(Customer, Customer.external_id == CustomerPerson.external_id)
        .join(Response, Response.customer_id == Customer.id)
        .where(_person_filter(CustomerPerson.person_id, ids))).all()
    for person_id, response_id, submitted_at, version_id, status in rows:
        if person_id not in wanted or status != "submitted":
            continue
        surveys[person_id] = surveys.get(person_id, 0) + 1
        current = latest.get(person_id)
        if current is None or (submitted_at, response_id) > (current[1], current[0]):
            latest[person_id] = (response_id, submitted_at, version_id)

    assignments: dict[tuple[int, str], dict] = {}
    rows = connection.execute(
        sa.select(CustomerPerson.person_id, ArchetypeAssignment.id, ArchetypeAssignment.catalog_id,
                  ArchetypeAssignment.response_id, ArchetypeAssignment.top_archetype,
                  ArchetypeAssignment.top_membership, ArchetypeAssignment.catalog_version,
                  ArchetypeAssignment.run_id, ArchetypeAssignment.factor_model_id,
                  ArchetypeAssignment.embedding_model_id)
        .join(Customer, Customer.external_id == CustomerPerson.external_id)
        .join(ArchetypeAssignment, ArchetypeAssignment.customer_id == Customer.id)
        .where(ArchetypeAssignment.is_current, _person_filter(CustomerPerson.person_id, ids))).mappings().all()
    for row in rows:
        person_id = row["person_id"]
        if person_id not in wanted:
            continue
        key = (person_id, row["catalog_id"])
        preferred = latest.get(person_id, (None,))[0]
        current = assignments.get(key)
        rank = (row["response_id"] == preferred, row["response_id"], row["id"])
        if current is None or rank > (current["response_id"] == preferred, current["response_id"], current["id"]):
            assignments[key] = dict(row)

    corrections: dict[tuple[int, str], ArchetypeCorrection] = {}
    for correction in session.exec(select(ArchetypeCorrection)
                                   .where(_person_filter(ArchetypeCorrection.person_id, ids))
                                   .order_by(ArchetypeCorrection.id)).all():
        if correction.person_id in wanted:
            corrections[(correction.person_id, correction.catalog_id)] = correction

    start, end, _ = ctx.month()
    contacts = {pid: n for pid, n in connection.execute(
        sa.select(ContactEvent.person_id, sa.func.count(ContactEvent.id))
        .where(_person_filter(ContactEvent.person_id, ids), ContactEvent.occurred_at >= start,
               ContactEvent.occurred_at < end)
        .group_by(ContactEvent.person_id)).all() if pid in wanted}

    columns = [c for c in Profile.__table__.columns if c.name not in SURVEY_JSON_FIELDS]
    existing = {}
    for row in connection.execute(sa.select(*columns).where(_person_filter(Profile.person_id, ids))).mappings().all():
        if row["person_id"] in wanted:
            existing[row["person_id"]] = dict(row)
    return _ChunkData(customers, golden, latest, surveys, assignments, corrections, contacts, existing)


def _survey_signature(person_id: int, data: _ChunkData, ctx: ProfileContext) -> dict[str, Any]:
    """The inputs of the survey-derived (JSON) fields; when unchanged they are not recomputed."""
    latest = data.latest_response.get(person_id)
    questionnaire = ctx.questionnaire_of_version.get(latest[2]) if latest else None
    scorer = ctx.factor_scorers.get(questionnaire) if questionnaire else None
    signature = {"response": latest[0] if latest else None, "factor_model": scorer.record_id if scorer else None,
                 "theme_model": ctx.theme_model.id if ctx.theme_model is not None else None}
    for catalog_id in sorted(ctx.guidance):
        assignment = data.assignments.get((person_id, catalog_id))
        correction = data.corrections.get((person_id, catalog_id))
        signature[catalog_id] = {"assignment": assignment["id"] if assignment else None,
                                 "run": assignment["run_id"] if assignment else None,
                                 "catalog": assignment["catalog_version"] if assignment else None,
                                 "correction": correction.id if correction else None}
    return signature


def _survey_fields(session: Session, persons: list[int], data: _ChunkData, ctx: ProfileContext) -> dict[int, dict]:
    """Memberships, factor scores and themes of ``persons`` (their inputs changed)."""
    from survey_engine.services.profile_models import cached_vectors

    out: dict[int, dict] = {p: {name: ({} if name != "themes" else []) for name in SURVEY_JSON_FIELDS} for p in persons}
    for p in persons:
        out[p]["themes_text"] = None
    if not persons:
        return out
    assignment_ids = [a["id"] for (p, _), a in data.assignments.items() if p in out]
    memberships = {}
    for start in range(0, len(assignment_ids), _IN_LIMIT):
        batch = assignment_ids[start:start + _IN_LIMIT]
        memberships.update(dict(session.connection().execute(
            sa.select(ArchetypeAssignment.id, ArchetypeAssignment.memberships)
            .where(ArchetypeAssignment.id.in_(batch))).all()))
    for (p, catalog_id), assignment in data.assignments.items():
        kind = ctx.kind_of(catalog_id)
        if p in out and kind in _KINDS:
            out[p][f"{kind}_memberships"] = memberships[assignment["id"]]  # as the assignment stored them

    response_ids = {data.latest_response[p][0]: p for p in persons if p in data.latest_response}
    answers: dict[int, dict] = {}
    ids = sorted(response_ids)
    for start in range(0, len(ids), _IN_LIMIT):
        answers.update(dict(session.connection().execute(sa.select(Response.id, Response.answers)
                                            .where(Response.id.in_(ids[start:start + _IN_LIMIT]))).all()))
    by_questionnaire: dict[str, list[int]] = {}
    for response_id, p in response_ids.items():
        questionnaire = ctx.questionnaire_of_version.get(data.latest_response[p][2])
        if questionnaire in ctx.factor_scorers:
            by_questionnaire.setdefault(questionnaire, []).append(response_id)
    for questionnaire, rids in by_questionnaire.items():
        scorer = ctx.factor_scorers[questionnaire]
        scores = scorer.scores([answers[r] for r in rids])
        for r, row in zip(rids, scores):
            out[response_ids[r]]["factor_scores"] = {label: round(float(v), 4) for label, v in zip(scorer.labels, row)
                                                     if np.isfinite(v)}
    if ctx.theme_model is not None:
        items = list(ctx.theme_model.text_items)
        texts, owners = [], []
        for response_id, p in response_ids.items():
            for item in items:
                text = answers.get(response_id, {}).get(item)
                if isinstance(text, str) and text.strip():
                    texts.append(text)
                    owners.append((p, item))
        vectors = cached_vectors(session, texts, ctx.theme_model.embedding_model_id)
        if vectors:
            positions = sorted(vectors)
            sims = np.vstack([vectors[i] for i in positions]).astype(np.float64) @ ctx.theme_centroids.T
            titles = {t["id"]: t["title"] for t in ctx.theme_model.themes}
            for position, theme in zip(positions, sims.argmax(axis=1)):
                p, item = owners[position]
                out[p]["themes"].append({"item": item, "theme": int(theme), "title": titles.get(int(theme))})
            for p in persons:
                found = list(dict.fromkeys(t["title"] for t in out[p]["themes"] if t["title"]))
                out[p]["themes_text"] = "; ".join(found)[:500] or None
    return out


def _person_profile(person_id: int, data: _ChunkData, value: Mapping[str, Any] | None,
                    ctx: ProfileContext) -> dict[str, Any]:
    """The scalar fields of one profile (the survey JSON fields are added by the caller)."""
    from survey_engine.profiling.policy import contact_policy, next_best_action

    customers = sorted(data.customers.get(person_id, []))
    external_ids = [c[0] for c in customers]
    golden = data.golden_external.get(person_id)
    known = [c for c in customers if c[1] is not None]
    row: dict[str, Any] = {
        "person_id": person_id,
        "customer_id": golden if golden in external_ids else (external_ids[0] if external_ids else golden),
        "customer_ids": external_ids,
        "consent_marketing": bool(known) and all(c[2] for c in known),
        "consent_profiling": bool(known) and all(c[3] for c in known),
    }
    row.update(value if value is not None else _NO_VALUE)

    guidance = {}
    for kind in _KINDS:
        row.update({ARCHETYPE_FIELD[kind]: None, f"{kind}_membership": None, f"{kind}_source": None})
    for catalog_id, entry in ctx.guidance.items():
        kind = entry["kind"]
        if kind not in _KINDS:
            continue
        name = ARCHETYPE_FIELD[kind]
        assignment = data.assignments.get((person_id, catalog_id))
        correction = data.corrections.get((person_id, catalog_id))
        if correction is not None:
            row[name], row[f"{kind}_source"] = correction.archetype_id, "advisor"
            row[f"{kind}_membership"] = None
        elif assignment is not None:
            row[name], row[f"{kind}_source"] = assignment["top_archetype"], "model"
            row[f"{kind}_membership"] = round(assignment["top_membership"], 4)
        if row[name] is not None:
            guidance[kind] = entry["archetypes"].get(row[name])

    latest = data.latest_response.get(person_id)
    row["response_id"] = latest[0] if latest else None
    row["last_survey_at"] = latest[1] if latest else None
    row["surveys_completed"] = data.surveys.get(person_id, 0)

    _, _, month = ctx.month()
    policy = contact_policy(ctx.policy, tier=row["value_tier"], style=guidance.get("style"),
                            relationship=guidance.get("relationship"), consent_marketing=row["consent_marketing"],
                            contacts_used=data.contacts.get(person_id, 0))
    row.update({"contact_cap": policy.cap, "contact_month": month, "contacts_used": policy.used,
                "contacts_remaining": policy.remaining, "preferred_channel": policy.channel})
    last_purchase = row["last_purchase_at"].date() if row["last_purchase_at"] else None
    row["next_best_action"] = next_best_action(
        today=ctx.as_of, tier=row["value_tier"], past_spend_tier=row["past_spend_tier"], rising=row["rising"],
        lapse_risk=row["lapse_risk"], p_alive=row["p_alive"], last_purchase=last_purchase,
        style=guidance.get("style"), relationship=guidance.get("relationship"), policy=policy,
        consent_marketing=row["consent_marketing"], surveyed=latest is not None)
    return row


def _model_versions(signature: Mapping[str, Any], ctx: ProfileContext) -> dict[str, Any]:
    versions = {"clv_model": ctx.clv.version if ctx.clv is not None else None,
                "tier_reference": ctx.reference_id, "as_of": ctx.as_of.isoformat()}
    versions.update(signature)
    return versions


def _material(name: str, before, after) -> bool:
    """Whether a field's change matters to a CRM (takes a new change number)."""
    if name not in DRIFT_TOLERANCE:
        return True
    if before is None or after is None:
        return before is not after
    tolerance = DRIFT_TOLERANCE[name]
    if tolerance is None:
        return False
    if name == "clv":
        return abs(after - before) > tolerance * max(abs(before), 1.0)
    return abs(after - before) > tolerance


@dataclass
class WriteOutcome:
    created: int = 0
    updated: int = 0
    material: int = 0
    history: int = 0
    deliveries: int = 0
    changed_person_ids: list[int] = field(default_factory=list)


def allocate_sequence(session: Session, count: int) -> int:
    """Reserve ``count`` change numbers; returns the first. The counter row stays locked until the
    caller's transaction ends, so numbers are committed in the order they were handed out."""
    table = ProfileSequence.__table__
    statement = (sa.update(table).where(table.c.name == SEQUENCE).values(value=table.c.value + count)
                 .returning(table.c.value))
    last = session.execute(statement).scalar()
    if last is None:
        if session.bind.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        session.execute(insert(table).values(name=SEQUENCE, value=0).on_conflict_do_nothing())
        last = session.execute(statement).scalar()
    return int(last) - count + 1


def current_sequence(session) -> int:
    """The last change number handed out (0 before any); ``session`` may be a Session or Connection."""
    value = session.execute(sa.select(ProfileSequence.value).where(ProfileSequence.name == SEQUENCE)).scalar()
    return int(value or 0)


def _driver_value(column: sa.Column, dialect: str):
    """How a value of ``column`` is handed to the database driver (what the column type would do);
    None when the value goes as it is."""
    from survey_engine.models.base import UTCDateTime

    kind = column.type
    if isinstance(kind, sa.JSON):
        encode = json.JSONEncoder(separators=(",", ":")).encode
        return lambda v: None if v is None else encode(v)
    if isinstance(kind, UTCDateTime):
        if dialect == "sqlite":  # naive UTC text, SQLAlchemy's SQLite storage format ("2026-06-30 09:15:00.000000")
            return lambda v: None if v is None else v.astimezone(timezone.utc).replace(tzinfo=None).isoformat(
                " ", "microseconds")
        return lambda v: None if v is None else v.astimezone(timezone.utc)
    if isinstance(kind, sa.Boolean):
        return (lambda v: None if v is None else int(bool(v))) if dialect == "sqlite" else (
            lambda v: None if v is None else bool(v))
    return None


def _insert_many(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """INSERT many rows through the driver's executemany, each value converted once as its column
    type would (a refresh writes up to a chunk of profiles and their history at a time)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    columns = [c for c in table.columns if c.name in rows[0]]
    missing = [c.name for c in table.columns if not c.nullable and c.server_default is None
               and c.name not in rows[0] and c.name != "id"]  # ``id``: the database numbers the row
    if missing:
        raise ValueError(f"rows for {table.name} lack {missing}")
    plan = [(i, f) for i, f in enumerate(_driver_value(c, dialect.name) for c in columns) if f is not None]
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    preparer = dialect.identifier_preparer
    sql = (f"INSERT INTO {preparer.format_table(table)} ({', '.join(preparer.format_column(c) for c in columns)}) "
           f"VALUES ({', '.join([marker] * len(columns))})")
    pick = operator.itemgetter(*[c.name for c in columns])

    def converted(row: dict) -> tuple:
        values = list(pick(row))
        for index, convert in plan:
            values[index] = convert(values[index])
        return tuple(values)

    connection.exec_driver_sql(sql, [converted(row) for row in rows])


def _write_profiles(session: Session, rows: list[dict[str, Any]], data: _ChunkData, ctx: ProfileContext,
                    source: str) -> WriteOutcome:
    """Insert new profiles, update changed ones, append history and enqueue webhook deliveries."""
    from survey_engine.services.webhooks import enqueue_changes

    outcome = WriteOutcome()
    now = utcnow()
    inserts, updates, history, material_rows = [], [], [], []
    for row in rows:
        before = data.existing.get(row["person_id"])
        if before is None:
            inserts.append(row)
            material_rows.append(row)
            changes = {name: [None, row.get(name)] for name in TRACKED_FIELDS
                       if row.get(name) not in (None, False)}
            history.append((row, changes))
            continue
        diff = {name: value for name, value in row.items()
                if name in SURVEY_JSON_FIELDS or (name != "model_versions" and before.get(name) != value)}
        if not diff:
            continue
        is_material = any(_material(name, before.get(name), value) for name, value in diff.items()
                          if name not in SURVEY_JSON_FIELDS)
        update = {"person_id": row["person_id"], **diff, "model_versions": row["model_versions"], "updated_at": now}
        updates.append(update)
        if is_material:
            material_rows.append(update)
        changes = {name: [before.get(name), row[name]] for name in TRACKED_FIELDS if before.get(name) != row[name]}
        if changes:
            history.append((row, changes))
    if material_rows:
        first = allocate_sequence(session, len(material_rows))
        for offset, row in enumerate(material_rows):
            row["change_seq"] = first + offset
    table = Profile.__table__
    if inserts:
        for row in inserts:
            row.setdefault("created_at", now)
            row["updated_at"] = now
        _insert_many(session, table, inserts)
    by_columns: dict[tuple, list] = {}
    for update in updates:  # one executemany per set of changed columns
        by_columns.setdefault(tuple(sorted(update)), []).append(update)
    for columns, group in by_columns.items():
        statement = (table.update().where(table.c.person_id == sa.bindparam("key_person_id"))
                     .values({c: sa.bindparam(c) for c in columns if c != "person_id"}))
        session.execute(statement, [{**{c: u[c] for c in columns if c != "person_id"}, "key_person_id": u["person_id"]}
                                    for u in group])
    seq_of = {row["person_id"]: row["change_seq"] for row in material_rows}
    if history:  # tracked fields are all material, so every history row has its change number
        _insert_many(session, ProfileHistory.__table__, [
            {"person_id": row["person_id"], "change_seq": seq_of[row["person_id"]], "changed_at": now, "source": source,
             "changes": changes, "value_tier": row.get("value_tier"),
             "style_archetype": row.get("style_archetype"), "relationship_style": row.get("relationship_style"),
             "rising": bool(row.get("rising")), "lapse_risk": bool(row.get("lapse_risk")), "p_alive": row.get("p_alive"),
             "clv": row.get("clv"), "total_spend": row.get("total_spend"), "model_versions": row.get("model_versions", {})}
            for row, changes in history])
    if material_rows and ctx.subscriptions:
        outcome.deliveries = enqueue_changes(session, list(seq_of), ctx.subscriptions, now=now)
    outcome.created, outcome.updated, outcome.material = len(inserts), len(updates), len(material_rows)
    outcome.history = len(history)
    outcome.changed_person_ids = [r["person_id"] for r in material_rows]
    return outcome


def _build_and_write(session: Session, ids: Sequence[int], values: pd.DataFrame, tiers: pd.DataFrame,
                     ctx: ProfileContext, source: str, data: _ChunkData | None = None) -> WriteOutcome:
    data = data or _load_chunk(session, ids, ctx)
    prepared = _prepared_values(values, tiers)
    rows, recompute = [], []
    for person_id in ids:
        row = _person_profile(person_id, data, prepared.get(person_id), ctx)
        signature = _survey_signature(person_id, data, ctx)
        row["model_versions"] = _model_versions(signature, ctx)
        before = data.existing.get(person_id)
        stored = {k: v for k, v in (before or {}).get("model_versions", {}).items()
                  if k not in ("clv_model", "tier_reference", "as_of")}
        if before is None or stored != signature:
            recompute.append(person_id)
        rows.append(row)
    survey = _survey_fields(session, recompute, data, ctx)
    for row in rows:
        extra = survey.get(row["person_id"])
        if extra is not None:
            row.update(extra)
        elif data.existing.get(row["person_id"]) is not None:
            row["themes_text"] = data.existing[row["person_id"]].get("themes_text")
    return _write_profiles(session, rows, data, ctx, source)


# ---- refresh ---------------------------------------------------------------------------------------

@dataclass
class RefreshSummary:
    refresh_id: int
    persons: int = 0
    valued: int = 0
    created: int = 0
    updated: int = 0
    material: int = 0
    history: int = 0
    deliveries: int = 0
    removed: int = 0
    seconds: float = 0.0
    theme_model_id: int | None = None
    tiers: dict[str, int] = field(default_factory=dict)


def _active_person_ids(session: Session) -> list[int]:
    return list(session.execute(sa.select(Person.id).where(Person.retired_at.is_(None)).order_by(Person.id)).scalars())


def _chunks(ids: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _ensure_theme_model(session: Session, ctx: ProfileContext, *, refit: bool, sample: int = 4000,
                        n_themes: int = 8) -> None:
    """Fit the theme model from cached embeddings of the latest answers when there is none for the
    configured embedding model (or ``refit``)."""
    from survey_engine.services.profile_models import (
        cached_vectors, embedding_model_id, fit_theme_model, latest_theme_model, theme_centroids)

    try:
        model_id = embedding_model_id()
    except FileNotFoundError as exc:
        log.warning("no theme model: %s", exc)
        return
    current = latest_theme_model(session, model_id)
    if current is not None and not refit:
        ctx.theme_model, ctx.theme_centroids = current, theme_centroids(current)
        return
    items = sorted({item for entry in _text_items(session) for item in entry})
    if not items:
        return
    ids = list(session.execute(sa.select(Response.id).where(Response.status == "submitted")
                               .order_by(Response.id.desc()).limit(sample)).scalars())
    texts = []
    for start in range(0, len(ids), _IN_LIMIT):
        for (answers,) in session.execute(sa.select(Response.answers).where(Response.id.in_(ids[start:start + _IN_LIMIT]))):
            texts.extend(t for t in (answers.get(item) for item in items) if isinstance(t, str) and t.strip())
    vectors = cached_vectors(session, texts, model_id)
    if len(vectors) < 2 * n_themes:
        log.info("no theme model: %d cached answer embeddings (run `survey-engine archetypes assign` first)",
                 len(vectors))
        return
    positions = sorted(vectors)
    model = fit_theme_model(session, [texts[i] for i in positions], np.vstack([vectors[i] for i in positions]),
                            model_id=model_id, text_items=items, n_themes=n_themes)
    ctx.theme_model, ctx.theme_centroids = model, theme_centroids(model)


def _text_items(session: Session) -> list[list[str]]:
    from survey_engine.services.survey import spec_of

    out = []
    for version in session.exec(select(QuestionnaireVersion)).all():
        out.append([item.name for item in spec_of(version).items if item.type == "free_text"])
    return out


def _follow_merges(session: Session) -> int:
    """Move notes, corrections and contacts of retired persons to the person they merged into, and
    drop the profiles of retired persons. Returns the number of profiles removed."""
    retired = dict(session.execute(sa.select(Person.id, Person.merged_into_id)
                                   .where(Person.retired_at.is_not(None))).all())
    if not retired:
        return 0

    def final(person_id: int) -> int | None:
        seen = set()
        while person_id in retired and person_id not in seen:
            seen.add(person_id)
            person_id = retired[person_id]
            if person_id is None:
                return None
        return person_id

    for table in (AdvisorNote, ArchetypeCorrection, ContactEvent):
        held = set(session.execute(sa.select(table.person_id).where(table.person_id.in_(list(retired)))).scalars())
        for old in held:
            target = final(old)
            if target is not None:
                session.execute(sa.update(table).where(table.person_id == old).values(person_id=target))
    removed = 0
    ids = list(retired)
    for start in range(0, len(ids), _IN_LIMIT):
        removed += session.execute(sa.delete(Profile).where(Profile.person_id.in_(ids[start:start + _IN_LIMIT]))).rowcount
    return removed


_blas_controller = None


def _one_blas_thread():
    """Work on one person at a time runs BLAS on one thread: waking a sleeping OpenBLAS pool costs
    ~10 ms per small matrix product (measured), more than the product itself."""
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


@contextmanager
def _transaction(engine: Engine | None, outer: Session | None):
    """The caller's session (nothing committed here), or a new one committed when the block ends."""
    if outer is not None:
        yield outer
        outer.flush()
        return
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def refresh_profiles(engine: Engine | None = None, *, session: Session | None = None, as_of: date | None = None,
                     chunk_size: int = 5000, catalogs_dir: Path | None = None, refit_themes: bool = False,
                     source: str = "refresh") -> RefreshSummary:
    """Rebuild the profile of every active person with the active models (no model is refitted).

    Pass 1 values every person with purchases and fits the tier reference; pass 2 builds,
    compares and writes profiles chunk by chunk, one transaction per chunk (or everything in
    ``session`` when given, left for the caller to commit). The refresh is recorded in
    ``profile_refresh`` with the tier reference that single-person updates use afterwards.
    """
    import time as clock

    from survey_engine.profiling.value import TierReference

    if (engine is None) == (session is None):
        raise ValueError("give an engine (one transaction per chunk) or a session (the caller commits)")
    started = clock.perf_counter()
    as_of = as_of or _today()
    with _transaction(engine, session) as unit:
        run = ProfileRefresh(kind="full", source=source, as_of=datetime.combine(as_of, time(), tzinfo=timezone.utc))
        unit.add(run)
        unit.flush()
        summary = RefreshSummary(refresh_id=run.id)
    try:
        with _transaction(engine, session) as unit:
            ctx = load_context(unit, as_of, catalogs_dir=catalogs_dir, with_reference=False)
            _ensure_theme_model(unit, ctx, refit=refit_themes)
            person_ids = _active_person_ids(unit)
        summary.persons = len(person_ids)
        summary.theme_model_id = ctx.theme_model.id if ctx.theme_model is not None else None

        parts = []
        if ctx.clv is not None:
            for chunk in _chunks(person_ids, chunk_size):
                with _transaction(engine, session) as unit:
                    values = person_value_frame(unit, chunk, ctx)
                if not values.empty:
                    parts.append(values)
        values = pd.concat(parts) if parts else pd.DataFrame()
        tiers = pd.DataFrame()
        reference_data: dict[str, Any] = {}
        if not values.empty:
            reference = TierReference(ctx.tier_config).fit(values)
            tiers = reference.tiers_
            ctx.reference, ctx.reference_id = reference, summary.refresh_id
            reference_data = {"tiers": reference.to_dict(), "clv_model": ctx.clv.version}
            summary.valued = len(values)
            summary.tiers = {t: int(n) for t, n in tiers["tier"].value_counts().items()}

        for chunk in _chunks(person_ids, chunk_size):
            wanted = values.index.intersection(chunk) if not values.empty else []
            with _transaction(engine, session) as unit:
                outcome = _build_and_write(unit, chunk, values.loc[wanted] if len(wanted) else pd.DataFrame(),
                                           tiers.loc[wanted] if len(wanted) else pd.DataFrame(), ctx, source)
            summary.created += outcome.created
            summary.updated += outcome.updated
            summary.material += outcome.material
            summary.history += outcome.history
            summary.deliveries += outcome.deliveries
        with _transaction(engine, session) as unit:
            summary.removed = _follow_merges(unit)
            run = unit.get(ProfileRefresh, summary.refresh_id)
            summary.seconds = clock.perf_counter() - started
            run.status, run.finished_at = "completed", utcnow()
            run.n_persons, run.n_changed, run.n_history = summary.persons, summary.material, summary.history
            run.n_deliveries = summary.deliveries
            run.reference = reference_data
            run.model_versions = {"clv_model": ctx.clv.version if ctx.clv is not None else None,
                                  "factor_models": {q: s.record_id for q, s in ctx.factor_scorers.items()},
                                  "theme_model": summary.theme_model_id,
                                  "catalogs": {cid: e["version"] for cid, e in ctx.guidance.items()}}
            unit.add(run)
    except Exception as exc:
        if session is None:  # a caller's session is rolled back by the caller
            with Session(engine) as failed, failed.begin():
                run = failed.get(ProfileRefresh, summary.refresh_id)
                run.status, run.finished_at, run.error = "failed", utcnow(), f"{type(exc).__name__}: {exc}"[:2000]
                failed.add(run)
        raise
    return summary


def refresh_demo_profiles(session: Session, population) -> str:
    """The demo's last step (``survey-engine demo``): profiles of every resolved person."""
    summary = refresh_profiles(session=session, as_of=pd.Timestamp(population.end).date(), source="demo")
    tiers = ", ".join(f"{t} {n}" for t, n in sorted(summary.tiers.items()))
    return (f"{summary.created} profiles ({summary.valued} with purchases: {tiers}); "
            f"theme model {summary.theme_model_id or 'not fitted'}")


def refresh_persons(session: Session, person_ids: Sequence[int], *, source: str, as_of: date | None = None,
                    catalogs_dir: Path | None = None, ctx: ProfileContext | None = None) -> WriteOutcome:
    """Update the profiles of ``person_ids`` at once with the active models (no refit).

    Tiers are placed against the reference of the last full refresh. Works in the caller's
    session and does not commit. Without a completed full refresh nothing is done (the tier
    population is unknown): run ``survey-engine profiles refresh`` once.
    """
    ctx = ctx or load_context(session, as_of, catalogs_dir=catalogs_dir)
    if ctx.reference_id is None:
        log.info("profiles: no full refresh yet; %d person(s) not updated", len(person_ids))
        return WriteOutcome()
    outcome = WriteOutcome()
    for chunk in _chunks(sorted(set(person_ids)), 2000):
        data = _load_chunk(session, chunk, ctx)
        chunk = [p for p in chunk if p in data.golden_external]  # retired (merged) persons have no profile
        values = person_value_frame(session, chunk, ctx, surveys=data.surveys) if chunk else pd.DataFrame()
        tiers = ctx.reference.transform(values) if (ctx.reference is not None and not values.empty) else pd.DataFrame()
        part = _build_and_write(session, chunk, values, tiers, ctx, source, data)
        for name in ("created", "updated", "material", "history", "deliveries"):
            setattr(outcome, name, getattr(outcome, name) + getattr(part, name))
        outcome.changed_person_ids += part.changed_person_ids
    return outcome


# ---- dynamic hooks ---------------------------------------------------------------------------------

def assign_response(session: Session, response: Response, *, embedder=None) -> list[dict[str, Any]]:
    """Assign one new response to every catalog with the assigners of the current assignment run
    (no refit) and store the assignments (the customer's earlier current rows become history).

    Returns the stored assignment rows (without their ids)."""
    from survey_engine.archetyping.assign import assignment_features
    from survey_engine.services.profile_models import assigner_for, current_assigners, embedder_for

    questionnaire_id = session.execute(sa.select(QuestionnaireVersion.questionnaire_id)
                                       .where(QuestionnaireVersion.id == response.questionnaire_version_id)).scalar()
    rows = current_assigners(session, questionnaire_id)
    if not rows:
        return []
    items = list(dict.fromkeys(item for row in rows for item in row.text_items))
    vectors: dict[str, np.ndarray] = {}
    if items:  # every answer embedded in one call (one cache lookup; the model only for new texts)
        embedder = embedder or embedder_for(session)
        result = embedder.embed([response.answers.get(item, "") for item in items])
        vectors = {item: result.vectors[k:k + 1] for k, item in enumerate(items)}
    stored = []
    now = utcnow()
    for row in rows:
        assigner = assigner_for(session, row.id)
        factors = list(assigner.factors_)
        if row.factor_model_id is not None:  # the factor model the assigner was fitted with
            scorer = factor_scorer(session, row.factor_model_id)
            scores = pd.DataFrame(scorer.scores([response.answers]), columns=scorer.labels)
        else:
            scores = None
        embeddings = [vectors[item] for item in row.text_items] if assigner.prototypes is not None else []
        X = assignment_features(scores, embeddings, factors=factors, n_rows=1, dim=assigner.prototypes.dim
                                if assigner.prototypes is not None else None)
        memberships = assigner.predict_proba(X)[0]
        explanation = assigner.explain(X)[0]
        stored.append({
            "run_id": row.run_id, "customer_id": response.customer_id, "response_id": response.id,
            "questionnaire_id": questionnaire_id, "catalog_id": row.catalog_id, "catalog_version": row.catalog_version,
            "factor_model_id": row.factor_model_id,
            "embedding_model_id": row.embedding_model_id if embeddings else None,
            "top_archetype": explanation["archetype"], "top_membership": float(memberships.max()),
            "memberships": {a: round(float(p), 5) for a, p in zip(assigner.classes_, memberships)},
            "explanation": explanation, "is_current": True, "created_at": now})
    session.execute(sa.update(ArchetypeAssignment)
                    .where(ArchetypeAssignment.customer_id == response.customer_id,
                           ArchetypeAssignment.questionnaire_id == questionnaire_id,
                           ArchetypeAssignment.catalog_id.in_([r.catalog_id for r in rows]),
                           ArchetypeAssignment.is_current)
                    .values(is_current=False))
    session.execute(sa.insert(ArchetypeAssignment), stored)
    return stored


# Runs after every submission: built once, executed on the session's connection.
_PERSON_OF_RESPONSE = (
    sa.select(CustomerPerson.__table__.c.person_id)
    .join(Customer.__table__, Customer.__table__.c.external_id == CustomerPerson.__table__.c.external_id)
    .join(Response.__table__, Response.__table__.c.customer_id == Customer.__table__.c.id)
    .where(Response.__table__.c.id == sa.bindparam("response_id")))


def _person_of_response(session: Session, response_id: int) -> int | None:
    return session.connection().execute(_PERSON_OF_RESPONSE, {"response_id": response_id}).scalar()


def update_after_response(session: Session, response: Response | int, *, embedder=None,
                          as_of: date | None = None) -> WriteOutcome | None:
    """Assign a just-submitted response and update its person's profile (no refit).

    Nothing happens for a customer not resolved to a person, or before the first full refresh."""
    response_id = response if isinstance(response, int) else response.id
    person_id = _person_of_response(session, response_id)
    if person_id is None or latest_full_refresh(session) is None:
        return None
    if isinstance(response, int):
        response = session.get(Response, response_id)
    with _one_blas_thread():
        assign_response(session, response, embedder=embedder)
        return refresh_persons(session, [person_id], source="response", as_of=as_of)


def on_response_submitted(session: Session, response_id: int) -> None:
    """Called by the submit path once a response is stored: updates the person's profile at once.

    A customer not resolved to a person costs one query. A failure is logged and rolled back to a
    savepoint; it never loses the response (the next refresh catches up).
    """
    try:
        if _person_of_response(session, response_id) is None:
            return
        with session.begin_nested():
            update_after_response(session, response_id)
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        # The database itself is gone: the submission cannot be committed either. Let it reach
        # the 503 handler instead of turning the commit that follows into a 500.
        raise
    except Exception:  # noqa: BLE001 - the respondent's submission must not fail on analytics
        log.exception("profile update after response %s failed; the next refresh will catch up", response_id)


def on_transactions_imported(engine: Engine, run_id: int) -> WriteOutcome | None:
    """Called after a transaction import: updates the profiles of the persons it touched."""
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            persons = list(session.execute(
                sa.select(CustomerPerson.person_id).distinct()
                .join(Transaction, Transaction.customer_external_id == CustomerPerson.external_id)
                .where(Transaction.import_run_id == run_id)).scalars())
            if not persons:
                return None
            return refresh_persons(session, persons, source="transactions")
    except Exception:  # noqa: BLE001 - the import itself succeeded; profiles catch up at the next refresh
        log.exception("profile update after transaction import %s failed", run_id)
        return None


# ---- notes, corrections, contacts ----------------------------------------------------------------

def resolve_person(session: Session, ref: str | int) -> int:
    """A person id from a person id (digits; a merged person is followed to the person it became),
    a customer number, or a source record ``SOURCE:ID``. Digits are read as a person id first."""
    from survey_engine.services.identity import find_person, find_record, person_for_customer

    text = str(ref).strip()
    if not text:
        raise ServiceError("name the person: a person id, a customer number or SOURCE:RECORD_ID", field="person")
    person_id = row_id(text)
    if person_id is not None and session.get(Person, person_id) is not None:
        return find_person(session, person_id).id
    person = person_for_customer(session, text)
    if person is not None:
        return person.id
    try:
        record = find_record(session, text)
    except NotFound:
        raise NotFound(f"no person, customer number or source record {text!r}", field="person") from None
    if record.person_id is None:
        raise NotFound(f"source record {text!r} is not resolved to a person yet", field="person")
    return find_person(session, record.person_id).id


def _require_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, int(person_id))
    if person is None:
        raise NotFound(f"no person {person_id}", field="person")
    if person.retired_at is not None:
        raise Conflict(f"person {person_id} was merged into person {person.merged_into_id}", field="person")
    return person


def add_note(session: Session, person_id: int, *, author: str, text: str) -> AdvisorNote:
    _require_person(session, person_id)
    text = (text or "").strip()
    if not text:
        raise ServiceError("a note needs text", field="text")
    if len(text) > 5000:
        raise ServiceError("a note is at most 5000 characters", field="text")
    if not author or not author.strip():
        raise ServiceError("a note needs an author", field="author")
    note = AdvisorNote(person_id=person_id, author=author.strip()[:200], text=text)
    session.add(note)
    session.flush()
    return note


def correct_archetype(session: Session, person_id: int, *, catalog_id: str, archetype_id: str, author: str,
                      reason: str | None = None, catalogs_dir: Path | None = None) -> ArchetypeCorrection:
    """Record an advisor's corrected archetype; it shows on the profile at once and labels the
    person's response in the next ``archetypes assign``."""
    _require_person(session, person_id)
    guidance = load_guidance(catalogs_dir)
    if catalog_id not in guidance:
        raise ServiceError(f"unknown catalog {catalog_id!r}; choose one of {', '.join(sorted(guidance))}",
                           field="catalog")
    if archetype_id not in guidance[catalog_id]["archetypes"]:
        raise ServiceError(f"catalog {catalog_id!r} has no archetype {archetype_id!r}; choose one of "
                           f"{', '.join(guidance[catalog_id]['archetypes'])}", field="archetype")
    if not author or not author.strip():
        raise ServiceError("a correction needs an author", field="author")
    profile = session.get(Profile, person_id)
    kind = guidance[catalog_id]["kind"]
    previous = None
    if profile is not None:
        previous = profile.style_archetype if kind == "style" else profile.relationship_style
    correction = ArchetypeCorrection(person_id=person_id, catalog_id=catalog_id, archetype_id=archetype_id,
                                     previous_archetype=previous, reason=(reason or "").strip()[:1000] or None,
                                     author=author.strip()[:200])
    session.add(correction)
    session.flush()
    refresh_persons(session, [person_id], source="correction", catalogs_dir=catalogs_dir)
    return correction


def correction_labels(session: Session, catalog_id: str, customer_ids: Sequence[int],
                      run_id: str | None = None) -> list[str | None]:
    """Advisors' corrections as labels for an archetype fit: for each customer row id, the latest
    corrected archetype of their person in ``catalog_id`` (``None`` when uncorrected). With
    ``run_id`` the corrections used are marked with it."""
    if not customer_ids:
        return []
    person_of: dict[int, int] = {}
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), _IN_LIMIT):
        person_of.update(dict(session.execute(
            sa.select(Customer.id, CustomerPerson.person_id)
            .join(CustomerPerson, CustomerPerson.external_id == Customer.external_id)
            .where(Customer.id.in_(ids[start:start + _IN_LIMIT]))).all()))
    latest: dict[int, ArchetypeCorrection] = {}
    persons = sorted(set(person_of.values()))
    for start in range(0, len(persons), _IN_LIMIT):
        for correction in session.exec(select(ArchetypeCorrection)
                                       .where(ArchetypeCorrection.catalog_id == catalog_id,
                                              ArchetypeCorrection.person_id.in_(persons[start:start + _IN_LIMIT]))
                                       .order_by(ArchetypeCorrection.id)).all():
            latest[correction.person_id] = correction
    if run_id is not None:
        for correction in latest.values():
            correction.used_in_run = run_id
            session.add(correction)
    return [latest[person_of[c]].archetype_id if person_of.get(c) in latest else None for c in customer_ids]


def record_contact(session: Session, person_id: int, *, channel: str, recorded_by: str, note: str | None = None,
                   occurred_at: datetime | None = None, allow_over_cap: bool = False) -> ContactEvent:
    """Record an outreach; refused when this month's cap is used up (unless ``allow_over_cap``)."""
    from survey_engine.definitions.archetypes import ENGAGEMENT_CHANNELS

    _require_person(session, person_id)
    if channel not in ENGAGEMENT_CHANNELS:
        raise ServiceError(f"unknown channel {channel!r}; choose one of {', '.join(ENGAGEMENT_CHANNELS)}",
                           field="channel")
    if not recorded_by or not recorded_by.strip():
        raise ServiceError("a contact needs who recorded it", field="recorded_by")
    occurred_at = occurred_at or utcnow()
    if occurred_at.tzinfo is None:
        raise ServiceError("occurred_at needs a time zone", field="occurred_at")
    profile = session.get(Profile, person_id)
    month = f"{occurred_at.year:04d}-{occurred_at.month:02d}"
    if (profile is not None and not allow_over_cap and profile.contact_month == month
            and profile.contacts_remaining <= 0):
        raise Conflict(f"person {person_id} has no contacts left this month (cap {profile.contact_cap}); "
                       "their next best action says when to try again", field="person")
    event = ContactEvent(person_id=person_id, channel=channel, occurred_at=occurred_at,
                         note=(note or "").strip()[:1000] or None, recorded_by=recorded_by.strip()[:200])
    session.add(event)
    session.flush()
    refresh_persons(session, [person_id], source="contact")
    return event


# ---- presentation ----------------------------------------------------------------------------------

def _iso(value) -> Any:
    return value.isoformat() if isinstance(value, (datetime, date)) else value


PUBLIC_FIELDS = tuple(c.name for c in Profile.__table__.columns)


def profile_public(profile: Profile) -> dict[str, Any]:
    return {name: _iso(getattr(profile, name)) for name in PUBLIC_FIELDS}


def get_profile(session: Session, person_id: int) -> Profile:
    profile = session.get(Profile, int(person_id))
    if profile is None:
        person = session.get(Person, int(person_id))
        if person is not None and person.retired_at is not None:
            raise NotFound(f"person {person_id} was merged into person {person.merged_into_id}", field="person")
        raise NotFound(f"no profile for person {person_id}; run `survey-engine profiles refresh`", field="person")
    return profile


def profile_reasons(session: Session, profile: Profile) -> dict[str, Any]:
    """``style_reasons`` and ``relationship_reasons``: the explanation of the assignment each
    archetype comes from (factors and phrases with their contributions), and the advisor's
    correction when one overrides it."""
    guidance = load_guidance()
    out = {f"{kind}_reasons": {} for kind in _KINDS}
    for catalog_id, entry in guidance.items():
        kind = entry["kind"]
        versions = (profile.model_versions or {}).get(catalog_id) or {}
        if kind not in _KINDS:
            continue
        reasons: dict[str, Any] = {}
        if versions.get("assignment") is not None:
            reasons = dict(session.execute(sa.select(ArchetypeAssignment.explanation)
                                           .where(ArchetypeAssignment.id == versions["assignment"])).scalar() or {})
        if versions.get("correction") is not None:
            correction = session.get(ArchetypeCorrection, versions["correction"])
            if correction is not None:
                reasons["advisor_correction"] = {"archetype": correction.archetype_id, "by": correction.author,
                                                 "at": correction.created_at.isoformat(), "reason": correction.reason}
        out[f"{kind}_reasons"] = reasons
    return out


def show_profile(session: Session, person_id: int, *, history: int = 20) -> dict[str, Any]:
    """A profile with the reasons of its archetypes, its notes, corrections, recent contacts and
    assignment history."""
    profile = get_profile(session, person_id)
    out = profile_public(profile)
    out.update(profile_reasons(session, profile))
    out["notes"] = [{"id": n.id, "author": n.author, "text": n.text, "created_at": n.created_at.isoformat()}
                    for n in session.exec(select(AdvisorNote).where(AdvisorNote.person_id == person_id)
                                          .order_by(AdvisorNote.id.desc())).all()]
    out["corrections"] = [{"id": c.id, "catalog": c.catalog_id, "archetype": c.archetype_id,
                           "previous": c.previous_archetype, "author": c.author, "reason": c.reason,
                           "created_at": c.created_at.isoformat(), "used_in_run": c.used_in_run}
                          for c in session.exec(select(ArchetypeCorrection)
                                                .where(ArchetypeCorrection.person_id == person_id)
                                                .order_by(ArchetypeCorrection.id.desc())).all()]
    out["contacts"] = [{"id": c.id, "channel": c.channel, "occurred_at": c.occurred_at.isoformat(),
                        "recorded_by": c.recorded_by, "note": c.note}
                       for c in session.exec(select(ContactEvent).where(ContactEvent.person_id == person_id)
                                             .order_by(ContactEvent.occurred_at.desc()).limit(50)).all()]
    out["history"] = [{"changed_at": h.changed_at.isoformat(), "source": h.source, "changes": h.changes,
                       "model_versions": h.model_versions, "change_seq": h.change_seq}
                      for h in session.exec(select(ProfileHistory).where(ProfileHistory.person_id == person_id)
                                            .order_by(ProfileHistory.id.desc()).limit(history)).all()]
    return out


LIST_FILTERS = ("value_tier", "style_archetype", "relationship_style", "rising", "lapse_risk")


def list_profiles(session: Session, *, filters: Mapping[str, Any] | None = None, page: int = 1,
                  per_page: int = 50) -> tuple[list[dict[str, Any]], int]:
    """A page of profiles (by person id) with optional equality filters on :data:`LIST_FILTERS`."""
    conditions = [getattr(Profile, name) == value for name, value in (filters or {}).items()
                  if name in LIST_FILTERS and value is not None]
    total = session.execute(sa.select(sa.func.count()).select_from(Profile).where(*conditions)).scalar()
    rows = session.exec(select(Profile).where(*conditions).order_by(Profile.person_id)
                        .offset((page - 1) * per_page).limit(per_page)).all()
    return [profile_public(p) for p in rows], int(total)
