"""Archetype service on the database: cached embeddings, stored assignments with model versions, report, proposal."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlmodel import select

from survey_engine.models.archetypes import ArchetypeAssignment, EmbeddingCacheEntry
from survey_engine.services.archetypes import (
    DatabaseEmbeddingCache,
    archetype_report,
    assign_archetypes,
    propose_archetypes,
    validate_catalogs,
)
from survey_engine.services.demo import seed_demo
from survey_engine.services.factors import fit_factor_model
from survey_engine.services.survey import NotFound
from survey_engine.text.embeddings import TextEmbedder

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "archetypes"
QUESTIONNAIRE = "post_purchase_luxury"


@pytest.fixture
def seeded(session, loaded_questionnaires, tmp_path):
    seed_demo(session, customers=300, seed=5, instance_dir=tmp_path, steps=())
    record = fit_factor_model(session, QUESTIONNAIRE, n_factors=8)
    assert record.status == "fitted", record.error
    return record


def test_database_cache_round_trips_float32(session):
    cache = DatabaseEmbeddingCache(session)
    vector = np.array([0.25, -1.5, 3.0], dtype=np.float32)
    cache.put_many({"a" * 64: vector}, "model-x")
    cache.put_many({"a" * 64: vector * 2}, "model-x")  # existing keys are kept
    (entry,) = session.exec(select(EmbeddingCacheEntry)).all()
    assert (entry.model_id, entry.dim) == ("model-x", 3)
    np.testing.assert_array_equal(cache.get_many(["a" * 64, "b" * 64])["a" * 64], vector)


def test_assign_stores_versions_and_never_embeds_twice(session, seeded):
    embedder = TextEmbedder()
    summary = assign_archetypes(session, QUESTIONNAIRE, catalogs_dir=CATALOGS, embedder=embedder)
    n = summary["n_customers"]
    assert n > 200 and set(summary["catalogs"]) == {"style_archetypes", "relationship_styles"}
    rows = session.exec(select(ArchetypeAssignment)).all()
    assert len(rows) == 2 * n
    row = rows[0]
    assert row.factor_model_id == seeded.id and row.embedding_model_id == embedder.model_id
    assert row.catalog_version.startswith(row.catalog_id + "@v1+")
    assert sum(row.memberships.values()) == pytest.approx(1.0, abs=1e-3)
    assert row.top_archetype == max(row.memberships, key=row.memberships.get)
    assert row.explanation["archetype"] == row.top_archetype
    cached = len(session.exec(select(EmbeddingCacheEntry)).all())
    assert cached > 0
    # A second run embeds nothing new, and the first run's rows become history.
    calls = []
    original = embedder.encode
    embedder.encode = lambda texts: calls.append(len(texts)) or original(texts)
    second = assign_archetypes(session, QUESTIONNAIRE, catalogs_dir=CATALOGS, embedder=embedder)
    assert sum(calls) == 0 and len(session.exec(select(EmbeddingCacheEntry)).all()) == cached
    current = session.exec(select(ArchetypeAssignment).where(ArchetypeAssignment.is_current)).all()
    assert len(current) == 2 * n and {r.run_id for r in current} == {second["run_id"]}

    report = archetype_report(session, QUESTIONNAIRE)
    style = report["catalogs"]["style_archetypes"]
    assert sum(style["distribution"].values()) == n
    for archetype, row in style["confusion"].items():
        if row[archetype] is not None:
            assert sum(row.values()) == pytest.approx(1.0, abs=1e-3)
            assert row[archetype] == max(row.values())  # assigned customers lean most to their archetype
    assert 0 < style["confidence"]["mean"] <= 1


def test_report_and_assign_need_prerequisites(session, loaded_questionnaires):
    with pytest.raises(NotFound, match="no archetype assignments"):
        archetype_report(session, QUESTIONNAIRE)
    with pytest.raises(NotFound, match="no active factor model"):
        assign_archetypes(session, QUESTIONNAIRE, catalogs_dir=CATALOGS)


def test_propose_writes_a_valid_proposal(session, seeded):
    text = propose_archetypes(session, QUESTIONNAIRE, text_item="special_purchase", catalogs_dir=CATALOGS,
                              embedder=TextEmbedder(), k_range=(2, 6))
    data = yaml.safe_load(text)
    assert data["catalog"]["proposal"] is True and len(data["archetypes"]) >= 2
    assert all(a["discovery"]["nearest_archetype"] for a in data["archetypes"])


def test_validate_catalogs_against_the_questionnaire(session, loaded_questionnaires, tmp_path):
    assert validate_catalogs(session, CATALOGS, QUESTIONNAIRE) == []
    bad = yaml.safe_load((CATALOGS / "relationship_styles.yaml").read_text(encoding="utf-8"))
    bad["archetypes"][0]["profile"]["heritage"] = {"direction": "high", "strength": 0.5}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    (issue,) = validate_catalogs(session, tmp_path, QUESTIONNAIRE)
    assert issue.path == "archetypes[0].profile.heritage" and "unknown factor or construct" in issue.reason
