"""Benchmark: combined profiles.

1. Full refresh of N persons (default 100,000; target <= 30 s, memory flat): a synthetic database
   with persons, customers and the identity map, ~5 transaction lines per person, 70 % of persons
   with a survey response (Likert answers from the demo's generating model, free text from a pool
   of real demo answers embedded by the bundled model), two archetype assignments per respondent
   from assigners fitted on a sample, and a CLV model fitted on the transactions. Timed: the first
   refresh (every profile new), a second (nothing changed) and one 30 days later (numbers drift).
   Baseline in the same run: streaming the rows the refresh reads (transactions by person, answers,
   assignments) with bare SELECTs.
2. One profile update after a new response (target <= 50 ms excluding text embedding): the new
   answers' texts are already in the embedding cache, so what is timed is factor scoring, the
   archetype assigners, the value of the person and the profile write.
3. Export of M profiles to CSV (default 1,000,000; target <= 30 s, memory flat), against the same
   columns read with a bare SELECT and written by ``csv.writer`` (no formatting).

Memory: each timed step runs in a fresh process (spawn); it reports its peak RSS and how much the
peak rose above the RSS right before the step (the imports and the loaded models are the floor).
"Flat" is checked by running the refresh and the export also at a quarter of the size.

Time: wall seconds of the timed call, and the CPU seconds of the whole step process (with SQLite the
database work runs in that process, so on a machine shared with other jobs the CPU time is the
steadier figure; it also includes the step's imports).

Usage: ``.venv/bin/python bench/bench_profiles.py [--persons 100000] [--profiles 1000000]
[--database-url URL]`` (default: SQLite files in a temporary folder).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUESTIONNAIRE = "post_purchase_luxury"
AS_OF = date(2026, 6, 30)
START = datetime(2023, 7, 1, tzinfo=timezone.utc)


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_child(function, *args):
    """Run ``function(*args)`` in a fresh process; returns its result dict with memory figures."""
    context = mp.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_measured, (function, *args))


def _measured(function, *args):
    before = _rss_mb()
    cpu = time.process_time()
    result = function(*args)
    result.update(rss_before_mb=before, peak_mb=_peak_mb(), peak_rise_mb=_peak_mb() - before,
                  process_cpu_s=time.process_time() - cpu)
    return result


def _engine(url: str):
    from survey_engine.db import make_engine

    return make_engine(url)


# ---- synthetic world -----------------------------------------------------------------------------

def _insert(connection, table, rows, chunk=20_000):
    for start in range(0, len(rows), chunk):
        connection.execute(table.insert(), rows[start:start + chunk])


def _text_pool(n: int = 300):
    """Real demo answers (style_words, special_purchase) and their embeddings by the bundled model."""
    from survey_engine.demo.population import generate_population
    from survey_engine.text.embeddings import TextEmbedder

    population = generate_population(600, seed=3)
    answers = population.responses[population.responses["status"] == "submitted"]["answers"]
    style = [a.get("style_words", "") for a in answers if a.get("style_words")][:n]
    special = [a.get("special_purchase", "") for a in answers if a.get("special_purchase")][:n]
    embedder = TextEmbedder()
    return style, special, embedder


def build_world(url: str, n_persons: int, seed: int = 1) -> dict:
    """Fill an empty database with the synthetic world described in the module docstring."""
    import pandas as pd
    import sqlalchemy as sa

    from survey_engine.archetyping.assign import ArchetypeAssigner, assignment_features, embed_catalog
    from survey_engine.clv.analysis import run_clv_analysis
    from survey_engine.clv.tiers import load_tier_config
    from survey_engine.db import session_scope, upgrade
    from survey_engine.definitions.archetypes import load_archetype_catalogs
    from survey_engine.demo import world as demo_world
    from survey_engine.demo.survey import generate_likert_matrix
    from survey_engine.models import Customer, Invitation, Response
    from survey_engine.models.archetypes import ArchetypeAssignment, EmbeddingCacheEntry
    from survey_engine.models.clv import CLVModelRecord, Transaction
    from survey_engine.models.factors import FactorModelRecord
    from survey_engine.models.identity import CustomerPerson, Person, SourceRecord
    from survey_engine.psychometrics.efa import FactorModel
    from survey_engine.psychometrics.items import reverse_key
    from survey_engine.psychometrics.labels import factor_labels
    from survey_engine.services.profile_models import save_fitted_assigner
    from survey_engine.services.survey import read_questionnaire_files, sync_questionnaires
    from survey_engine.text.embeddings import normalise_text, text_key

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    engine = _engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        sync_questionnaires(session, read_questionnaire_files(ROOT / "questionnaires"))
        version_id = session.execute(sa.text("SELECT id FROM questionnaire_version")).scalar()
    now = datetime.now(timezone.utc)
    ids = np.arange(1, n_persons + 1)
    external = [f"C{i:07d}" for i in ids]
    marketing = rng.random(n_persons) < 0.7
    profiling = rng.random(n_persons) < 0.88
    with engine.begin() as connection:
        _insert(connection, Person.__table__, [
            {"id": int(i), "first_name": f"First{i}", "last_name": f"Last{i}", "email": f"client{i}@example.com",
             "phone": f"+3934{i:08d}", "country": "IT", "external_id": e, "sources": ["crm"], "n_records": 1,
             "provenance": {}, "created_at": now, "updated_at": now} for i, e in zip(ids, external)])
        _insert(connection, SourceRecord.__table__, [
            {"id": int(i), "source": "crm", "source_record_id": e, "external_id": e, "email": f"client{i}@example.com",
             "person_id": int(i), "imported_at": now, "updated_at": now} for i, e in zip(ids, external)])
        _insert(connection, Customer.__table__, [
            {"id": int(i), "external_id": e, "email": f"client{i}@example.com", "consent_marketing": bool(m),
             "consent_profiling": bool(p), "created_at": now} for i, e, m, p in zip(ids, external, marketing, profiling)])
        _insert(connection, CustomerPerson.__table__, [
            {"external_id": e, "person_id": int(i), "source_record_id": int(i), "updated_at": now}
            for i, e in zip(ids, external)])
    # transactions: ~5 lines per person over three years
    counts = rng.poisson(4, n_persons) + 1
    owner = np.repeat(ids, counts)
    days = rng.integers(0, (datetime.combine(AS_OF, datetime.min.time(), tzinfo=timezone.utc) - START).days, owner.size)
    amounts = np.round(rng.lognormal(6.5, 1.0, owner.size), 2)
    categories = np.array(["leather_goods", "jewellery", "watches", "ready_to_wear", "shoes", "fragrance_beauty"])
    category = categories[rng.integers(0, 6, owner.size)]
    lines = pd.DataFrame({"customer_id": [external[i - 1] for i in owner], "timestamp": pd.Timestamp(START) +
                          pd.to_timedelta(days, unit="D"), "amount": amounts, "category": category})
    with engine.begin() as connection:
        for lo in range(0, len(lines), 50_000):
            part = lines.iloc[lo:lo + 50_000]
            connection.execute(Transaction.__table__.insert(), [
                {"customer_external_id": c, "order_id": f"O{lo + k}", "line_id": "1", "purchased_at": t.to_pydatetime(),
                 "amount": float(a), "currency": "EUR", "original_amount": float(a), "category": g}
                for k, (c, t, a, g) in enumerate(zip(part["customer_id"], part["timestamp"], part["amount"],
                                                     part["category"]))])
    analysis = run_clv_analysis(lines.assign(timestamp=lines["timestamp"].dt.tz_localize(None)),
                                category_col="category", observation_end=AS_OF)
    config = load_tier_config()
    report = analysis.report
    with session_scope(engine) as session:
        session.add(CLVModelRecord(
            version=1, kind="production", is_active=True,
            params={"bgnbd": {k: report["bgnbd"][k] for k in ("r", "alpha", "a", "b")},
                    "gamma_gamma": {k: report["gamma_gamma"][k] for k in ("p", "q", "gamma")}},
            options={"time_unit": "W", "observation_end": report["observation_end"], "horizon_weeks": 52.0,
                     "annual_discount_rate": 0.10,
                     "tiers": {"weights": dict(config.weights), "top_shares": dict(config.top_shares),
                               "past_spend_thresholds": None, "lapse_p_alive_below": config.lapse_p_alive_below}},
            report={"n_customers": report["n_customers"]}, n_customers=report["n_customers"]))
    # responses of 70 % of persons, Likert from the generating model, texts from a pool
    responders = ids[rng.random(n_persons) < 0.7]
    likert = generate_likert_matrix(responders.size, seed=seed)
    style_pool, special_pool, embedder = _text_pool()
    style_pick = rng.integers(0, len(style_pool), responders.size)
    special_pick = rng.integers(0, len(special_pool), responders.size)
    items = list(likert.columns)
    values = likert.to_numpy()
    with engine.begin() as connection:
        _insert(connection, Invitation.__table__, [
            {"id": int(k + 1), "token_hash": f"{k:064d}", "customer_id": int(p), "order_id": f"S{p}",
             "questionnaire_id": QUESTIONNAIRE, "questionnaire_version_id": version_id, "created_at": now,
             "expires_at": now, "completed_at": now} for k, p in enumerate(responders)])
        submitted = [START + timedelta(days=int(d)) for d in rng.integers(0, 1000, responders.size)]
        _insert(connection, Response.__table__, [
            {"id": int(k + 1), "invitation_id": int(k + 1), "customer_id": int(p), "questionnaire_version_id": version_id,
             "status": "submitted", "language": "en", "channel": "web", "started_at": s, "updated_at": s,
             "submitted_at": s, "duration_seconds": 300.0,
             "answers": {**{item: int(v) for item, v in zip(items, values[k])}, "attn1": 6, "nps": 9,
                         "category": "jewellery", "channels": ["boutique"], "style_words": style_pool[style_pick[k]],
                         "special_purchase": special_pool[special_pick[k]]}}
            for k, (p, s) in enumerate(zip(responders, submitted))])
    # factor model on a sample, stored like `factors fit` stores one
    sample = reverse_key(likert.iloc[:5000].astype(float), demo_world.REVERSE_ITEMS, 1, 7)
    model = FactorModel(n_factors=8, rotation="oblimin", correlation="pearson").fit(sample)
    labels = factor_labels(model.loadings_, model.items_, constructs=dict(demo_world.ITEM_CONSTRUCT))
    with session_scope(engine) as session:
        record = FactorModelRecord(questionnaire_id=QUESTIONNAIRE, questionnaire_version_id=version_id,
                                   questionnaire_version=1, status="fitted", is_active=True, n_responses=5000,
                                   n_respondents=5000, results={"model": model.to_dict(), "labels": labels,
                                                                "reverse_keyed": list(demo_world.REVERSE_ITEMS),
                                                                "scale": {"min": 1, "max": 7}, "report": {}})
        session.add(record)
        session.flush()
        factor_model_id = record.id
    # embeddings of the pool in the cache; assigners fitted on a sample; every respondent assigned
    style_vectors = embedder.embed(style_pool).vectors
    special_vectors = embedder.embed(special_pool).vectors
    with engine.begin() as connection:
        entries = {}
        for text, vector in [*zip(style_pool, style_vectors), *zip(special_pool, special_vectors)]:
            entries[text_key(normalise_text(text), embedder.model_id)] = vector
        _insert(connection, EmbeddingCacheEntry.__table__, [
            {"key": k, "model_id": embedder.model_id, "dim": int(v.size), "vector": np.asarray(v, "<f4").tobytes(),
             "created_at": now} for k, v in entries.items()])
    scores = pd.DataFrame(model.transform(reverse_key(likert.astype(float), demo_world.REVERSE_ITEMS, 1, 7)),
                          columns=labels)
    catalogs = load_archetype_catalogs(ROOT / "archetypes", known_factors=None)
    run_id = "bench-run"
    assignment_id = 0
    for catalog in catalogs.values():
        fields = [style_vectors[style_pick] if item == "style_words" else special_vectors[special_pick]
                  for item in catalog.catalog.text_items]
        X = assignment_features(scores, fields, factors=labels)
        prototypes = embed_catalog(catalog, embedder)
        fit_rows = rng.choice(len(X), min(3000, len(X)), replace=False)
        assigner = ArchetypeAssigner(catalog, prototypes, factors=labels).fit(X[fit_rows])
        with session_scope(engine) as session:
            save_fitted_assigner(session, run_id=run_id, questionnaire_id=QUESTIONNAIRE, catalog=catalog,
                                 assigner=assigner, factor_model_id=factor_model_id,
                                 embedding_model_id=embedder.model_id, n_customers=len(fit_rows))
        for lo in range(0, len(X), 20_000):
            block = X[lo:lo + 20_000]
            memberships = assigner.predict_proba(block)
            explanations = assigner.explain(block)
            rows = []
            for k, (m, e) in enumerate(zip(memberships, explanations)):
                assignment_id += 1
                rows.append({"id": assignment_id, "run_id": run_id, "customer_id": int(responders[lo + k]),
                             "response_id": lo + k + 1, "questionnaire_id": QUESTIONNAIRE, "catalog_id": catalog.id,
                             "catalog_version": catalog.version_label, "factor_model_id": factor_model_id,
                             "embedding_model_id": embedder.model_id, "top_archetype": e["archetype"],
                             "top_membership": float(m.max()), "memberships": {a: round(float(p), 5) for a, p in
                                                                               zip(assigner.classes_, m)},
                             "explanation": e, "is_current": True, "created_at": now})
            with engine.begin() as connection:
                _insert(connection, ArchetypeAssignment.__table__, rows)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in ("identity_person", "identity_source_record", "customer", "invitation", "response",
                          "archetype_assignment", "factor_model", "clv_model"):
                connection.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                           f"(SELECT MAX(id) FROM {table}))"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))  # planner statistics, as autovacuum gathers after a bulk load
    engine.dispose()
    return {"persons": n_persons, "transactions": int(owner.size), "responses": int(responders.size),
            "assignments": assignment_id, "seconds": time.perf_counter() - started}


def reuse_world(url: str) -> dict:
    """A world built by an earlier run: migrated to the current schema, profiles and what they made
    cleared (the theme model too, so the first refresh fits it again)."""
    import sqlalchemy as sa

    from survey_engine.db import upgrade

    engine = _engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        for table in ("webhook_delivery", "profile_history", "profile", "profile_refresh", "profile_theme_model",
                      "profile_sequence"):
            connection.execute(sa.text(f"DELETE FROM {table}"))
        # undo the single-update step of the earlier run: its responses and their assignments
        bench = "SELECT r.id FROM response r JOIN invitation i ON i.id = r.invitation_id WHERE i.token_hash LIKE 'bench%'"
        connection.execute(sa.text(f"DELETE FROM archetype_assignment WHERE response_id IN ({bench})"))
        connection.execute(sa.text(f"DELETE FROM response WHERE id IN ({bench})"))
        connection.execute(sa.text("DELETE FROM invitation WHERE token_hash LIKE 'bench%'"))
        connection.execute(sa.text("UPDATE archetype_assignment SET is_current = :yes"), {"yes": True})
        counts = {t: connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                  for t in ("identity_person", "clv_transaction", "response", "archetype_assignment")}
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))
    engine.dispose()
    return {"persons": counts["identity_person"], "transactions": counts["clv_transaction"],
            "responses": counts["response"], "assignments": counts["archetype_assignment"], "seconds": 0.0}


# ---- timed steps (each in a fresh process) --------------------------------------------------------

def step_refresh(url: str, as_of: str) -> dict:
    from survey_engine.services.profiles import refresh_profiles

    engine = _engine(url)
    started = time.perf_counter()
    summary = refresh_profiles(engine, as_of=date.fromisoformat(as_of))
    return {"seconds": time.perf_counter() - started, "created": summary.created, "updated": summary.updated,
            "material": summary.material, "history": summary.history, "persons": summary.persons}


def step_read_baseline(url: str) -> dict:
    """The rows a refresh reads, streamed with bare SELECTs (no computation)."""
    import sqlalchemy as sa

    engine = _engine(url)
    started = time.perf_counter()
    n = 0
    queries = [
        "SELECT cp.person_id, t.order_id, t.purchased_at, t.amount, t.category FROM clv_transaction t "
        "JOIN identity_customer_person cp ON cp.external_id = t.customer_external_id",
        "SELECT cp.person_id, r.id, r.submitted_at, r.answers FROM response r JOIN customer c ON c.id = r.customer_id "
        "JOIN identity_customer_person cp ON cp.external_id = c.external_id WHERE r.status = 'submitted'",
        "SELECT a.customer_id, a.catalog_id, a.top_archetype, a.memberships, a.explanation FROM archetype_assignment a "
        "WHERE a.is_current",
    ]
    with engine.connect() as connection:
        for query in queries:
            result = connection.execution_options(stream_results=True, yield_per=10_000).execute(sa.text(query))
            for partition in result.partitions():
                n += len(partition)
    return {"seconds": time.perf_counter() - started, "rows": n}


def step_single_updates(url: str, n: int) -> dict:
    """Latency of profile updates after new responses whose texts are in the embedding cache."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from survey_engine.models import Invitation, Response
    from survey_engine.services.profiles import refresh_persons, update_after_response

    engine = _engine(url)
    with Session(engine) as session:
        template = session.execute(sa.select(Response).order_by(Response.id).limit(1)).scalar_one()
        answers, version = dict(template.answers), template.questionnaire_version_id
        customers = list(session.execute(sa.text("SELECT id FROM customer ORDER BY id LIMIT :n"), {"n": n}).scalars())
    total, refresh_only = [], []
    now = datetime.now(timezone.utc)
    for k, customer in enumerate(customers):
        with Session(engine) as session:
            invitation = Invitation(token_hash=f"bench{k:059d}", customer_id=customer, order_id=f"B{k}",
                                    questionnaire_id=QUESTIONNAIRE, questionnaire_version_id=version, created_at=now,
                                    expires_at=now, completed_at=now)
            session.add(invitation)
            session.flush()
            answers["nps"] = int(k % 11)
            answers.pop("improve", None)
            response = Response(invitation_id=invitation.id, customer_id=customer, questionnaire_version_id=version,
                                status="submitted", language="en", answers=answers, started_at=now,
                                updated_at=now, submitted_at=now)
            session.add(response)
            session.flush()
            started = time.perf_counter()
            update_after_response(session, response.id)
            total.append(time.perf_counter() - started)
            person = session.execute(sa.text("SELECT person_id FROM identity_customer_person cp JOIN customer c ON "
                                             "c.external_id = cp.external_id WHERE c.id = :c"), {"c": customer}).scalar()
            started = time.perf_counter()
            refresh_persons(session, [person], source="response")
            refresh_only.append(time.perf_counter() - started)
            session.commit()
    warm = np.array(total[5:]) * 1000  # the first few load models into the process caches
    only = np.array(refresh_only[5:]) * 1000
    return {"n": len(warm), "p50_ms": float(np.median(warm)), "p95_ms": float(np.percentile(warm, 95)),
            "max_ms": float(warm.max()), "refresh_only_p50_ms": float(np.median(only)),
            "first_ms": total[0] * 1000}


def build_profiles(url: str, n: int, seed: int = 2) -> dict:
    """M persons with a golden record and a profile each (synthetic values), for the export."""
    import sqlalchemy as sa

    from survey_engine.db import upgrade
    from survey_engine.models.identity import Person
    from survey_engine.models.profiles import Profile, ProfileSequence

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    engine = _engine(url)
    upgrade(engine)
    now = datetime.now(timezone.utc)
    tiers = np.array(["ultra_luxury", "luxury", "premium", "entry"])
    styles = np.array(["modern_minimalist", "vintage_romantic", "bold_maximalist", "classic_heritage",
                       "avant_garde_creative", "ethical_luxury_seeker"])
    relations = np.array(["heritage_appreciation", "status_exclusivity", "personalised_service", "digital_community",
                          "discreet_privacy"])
    chunk = 50_000
    with engine.begin() as connection:
        for lo in range(1, n + 1, chunk):
            ids = range(lo, min(lo + chunk, n + 1))
            size = len(ids)
            tier = tiers[rng.choice(4, size, p=[0.02, 0.08, 0.2, 0.7])]
            connection.execute(Person.__table__.insert(), [
                {"id": i, "first_name": f"First{i}", "last_name": f"Last{i}", "email": f"client{i}@example.com",
                 "phone": f"+3934{i:08d}", "country": "IT", "sources": ["crm"], "n_records": 1, "provenance": {},
                 "created_at": now, "updated_at": now} for i in ids])
            clv = rng.lognormal(7, 1.2, size)
            connection.execute(Profile.__table__.insert(), [
                {"person_id": i, "customer_id": f"C{i:07d}", "customer_ids": [f"C{i:07d}"], "value_tier": t,
                 "past_spend_tier": t, "tier_score": 0.5, "clv": float(c), "p_alive": float(p), "rising": bool(r),
                 "lapse_risk": bool(p < 0.5), "upgrade_propensity": 0.1, "style_archetype": s, "style_membership": 0.8,
                 "style_source": "model", "style_memberships": {s: 0.8}, "style_reasons": {},
                 "relationship_style": rel, "relationship_membership": 0.7, "relationship_source": "model",
                 "relationship_memberships": {rel: 0.7}, "relationship_reasons": {},
                 "factor_scores": {"minimalism": 0.5, "sustainability": -0.2}, "themes": [],
                 "themes_text": "clean / black / tailored", "last_survey_at": now, "last_purchase_at": now,
                 "surveys_completed": 1, "consent_marketing": True, "consent_profiling": bool(cp), "contact_cap": 2,
                 "contact_month": "2026-06", "contacts_used": 0, "contacts_remaining": 2, "preferred_channel": "email",
                 "next_best_action": "Keep in touch: one light, relevant message, by email.", "model_versions": {},
                 "created_at": now, "updated_at": now, "change_seq": i}
                for i, t, c, p, r, s, rel, cp in zip(ids, tier, clv, rng.random(size), rng.random(size) < 0.05,
                                                     styles[rng.integers(0, 6, size)], relations[rng.integers(0, 5, size)],
                                                     rng.random(size) < 0.95)])
        connection.execute(ProfileSequence.__table__.insert(), [{"name": "profiles", "value": n}])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))
    engine.dispose()
    return {"profiles": n, "seconds": time.perf_counter() - started}


def step_export(url: str, out: str) -> dict:
    from survey_engine.services.exports import export_profiles

    engine = _engine(url)
    started = time.perf_counter()
    result = export_profiles(engine, fmt="csv", out=out)
    return {"seconds": time.perf_counter() - started, "rows": result.rows, "bytes": os.path.getsize(out)}


def step_export_baseline(url: str, out: str) -> dict:
    """The same columns and rows (timestamps formatted by the database as in the export), a bare
    SELECT streamed into csv.writer: no value formatting, no cursor window, no consent counts."""
    import csv

    import sqlalchemy as sa

    from survey_engine.export.mappings import load_mappings
    from survey_engine.services.exports import consent_condition, profile_columns, profile_source

    destination = load_mappings()["csv"]
    engine = _engine(url)
    columns = profile_columns([c.field for c in destination.columns], dialect=engine.dialect.name,
                              dates=[c.field for c in destination.columns if c.as_date])
    query = (sa.select(*[c.label(f"c{k}") for k, c in enumerate(columns)]).select_from(profile_source())
             .where(consent_condition(destination.consent)))
    started = time.perf_counter()
    rows = 0
    with engine.connect() as connection, open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([c.name for c in destination.columns])
        result = connection.execution_options(stream_results=True, yield_per=5000).execute(query)
        for partition in result.partitions():
            writer.writerows(partition)
            rows += len(partition)
    return {"seconds": time.perf_counter() - started, "rows": rows, "bytes": os.path.getsize(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=105)
    parser.add_argument("--folder", type=Path, default=None,
                        help="Keep the SQLite databases here and reuse those already built (their profiles are "
                             "cleared first, so the first refresh starts from none)")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL base URL (databases <name>_bench_* are created and dropped); default SQLite")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-profiles-"))
    folder.mkdir(parents=True, exist_ok=True)

    def url_for(name: str) -> str:
        if args.database_url is None:
            return f"sqlite:///{folder / name}.db"
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url

        base = make_url(args.database_url)
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{base.database}_bench_{name}"'))
            connection.execute(sa.text(f'CREATE DATABASE "{base.database}_bench_{name}"'))
        admin.dispose()
        return base.set(database=f"{base.database}_bench_{name}").render_as_string(hide_password=False)

    backend = "SQLite" if args.database_url is None else "PostgreSQL"
    print(f"bench_profiles on {backend}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    for label, persons in (("quarter", args.persons // 4), ("full", args.persons)):
        url = url_for(f"world_{persons}")
        if args.database_url is None and (folder / f"world_{persons}.db").exists():
            world = _in_child(reuse_world, url)
        else:
            world = _in_child(build_world, url, persons)
        print(f"\n[{label}] world: {world['persons']:,} persons, {world['transactions']:,} transaction lines, "
              f"{world['responses']:,} responses, {world['assignments']:,} assignments (built in {world['seconds']:.0f} s)")
        baseline = _in_child(step_read_baseline, url)
        first = _in_child(step_refresh, url, AS_OF.isoformat())
        second = _in_child(step_refresh, url, AS_OF.isoformat())
        later = _in_child(step_refresh, url, (AS_OF + timedelta(days=30)).isoformat())
        print(f"  read baseline (bare SELECT of the inputs, {baseline['rows']:,} rows): {baseline['seconds']:.2f} s")
        for name, r in (("first refresh", first), ("unchanged refresh", second), ("refresh 30 days later", later)):
            print(f"  {name}: {r['seconds']:.2f} s wall, {r['process_cpu_s']:.1f} s CPU ({r['created']:,} created, {r['updated']:,} updated, "
                  f"{r['material']:,} numbered, {r['history']:,} history) = {r['seconds'] / baseline['seconds']:.1f}x "
                  f"the read baseline; peak RSS {r['peak_mb']:.0f} MB (+{r['peak_rise_mb']:.0f} MB over "
                  f"{r['rss_before_mb']:.0f} MB before)")
        if label == "full":
            updates = _in_child(step_single_updates, url, args.updates)
            print(f"  one profile after a new response ({updates['n']} updates, texts cached): p50 "
                  f"{updates['p50_ms']:.1f} ms, p95 {updates['p95_ms']:.1f} ms, max {updates['max_ms']:.1f} ms "
                  f"(refresh of the person alone p50 {updates['refresh_only_p50_ms']:.1f} ms; first call "
                  f"{updates['first_ms']:.0f} ms loads the models)")
    print(f"\nload average {os.getloadavg()[0]:.1f}")
    for label, profiles in (("quarter", args.profiles // 4), ("full", args.profiles)):
        url = url_for(f"profiles_{profiles}")
        if args.database_url is None and (folder / f"profiles_{profiles}.db").exists():
            made = {"profiles": profiles, "seconds": 0.0}
        else:
            made = _in_child(build_profiles, url, profiles)
        baseline = _in_child(step_export_baseline, url, str(folder / f"baseline_{profiles}.csv"))
        ours = _in_child(step_export, url, str(folder / f"export_{profiles}.csv"))
        print(f"\n[{label}] export of {profiles:,} profiles (built in {made['seconds']:.0f} s), generic CSV:")
        print(f"  bare SELECT + csv.writer: {baseline['seconds']:.2f} s wall, {baseline['process_cpu_s']:.1f} s CPU, {baseline['rows']:,} rows, "
              f"peak RSS {baseline['peak_mb']:.0f} MB (+{baseline['peak_rise_mb']:.0f} MB)")
        print(f"  export_profiles: {ours['seconds']:.2f} s wall, {ours['process_cpu_s']:.1f} s CPU, {ours['rows']:,} rows, {ours['bytes'] / 1e6:.0f} MB, "
              f"peak RSS {ours['peak_mb']:.0f} MB (+{ours['peak_rise_mb']:.0f} MB); "
              f"ratio to baseline {ours['seconds'] / baseline['seconds']:.2f}")


if __name__ == "__main__":
    main()
