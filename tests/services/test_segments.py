"""Archetype × tier counts, the respondent map (against scikit-learn's PCA) and accepting a candidate
archetype into a catalog file (validated, atomic, comments kept)."""
from __future__ import annotations

import shutil
import numpy as np
import pytest
import yaml
from sqlmodel import select

from survey_engine.models import Customer, Response
from survey_engine.models.archetypes import ArchetypeAssignment
from survey_engine.models.clv import CLVModelRecord, CustomerValue
from survey_engine.services import segments
from survey_engine.services.survey import NotFound, ServiceError
from tests.web.staff_support import PROJECT_ROOT, QUESTIONNAIRE, fit_factors, seed_population

STYLES = ["modern_minimalist", "classic_heritage", "bold_maximalist"]


def _assign_by_hand(session, model_id):
    """Current assignments of the demo respondents, cycling through three archetypes."""
    responses = session.exec(select(Response).where(Response.status == "submitted").order_by(Response.id)).all()
    for k, response in enumerate(responses):
        top = STYLES[k % 3]
        session.add(ArchetypeAssignment(
            run_id="run-1", customer_id=response.customer_id, response_id=response.id, questionnaire_id=QUESTIONNAIRE,
            catalog_id="style_archetypes", catalog_version="style_archetypes@v1+test", factor_model_id=model_id,
            top_archetype=top, top_membership=0.8, memberships={s: (0.8 if s == top else 0.1) for s in STYLES},
            explanation={}))
    session.commit()
    return responses


def test_tier_crosstab_counts_each_customer_once(db_engine, session, tmp_path):
    seed_population(db_engine, tmp_path, customers=60)
    model_id = fit_factors(db_engine)
    responses = _assign_by_hand(session, model_id)
    assert segments.tier_crosstab(session, QUESTIONNAIRE, "style_archetypes") is None  # no CLV model yet
    clv = CLVModelRecord(version=1, is_active=True, n_customers=len(responses))
    session.add(clv)
    session.flush()
    customers = {c.id: c.external_id for c in session.exec(select(Customer)).all()}
    tiers = ["ultra_luxury", "luxury", "premium", "entry"]
    expected = {}
    for k, response in enumerate(responses[:-2]):  # the last two have no value under the model
        tier = tiers[k % 4]
        session.add(CustomerValue(model_id=clv.id, customer_external_id=customers[response.customer_id], frequency=1,
                                  recency=1, age=2, monetary_value=1, total_spend=1, p_alive=1, expected_purchases=1,
                                  probability_of_purchase=1, expected_average_value=1, clv=1, tier_score=1, tier=tier,
                                  past_spend_tier=tier))
        key = (STYLES[k % 3], tier)
        expected[key] = expected.get(key, 0) + 1
    for k, _ in enumerate(responses[-2:], start=len(responses) - 2):
        expected[(STYLES[k % 3], "no value")] = expected.get((STYLES[k % 3], "no value"), 0) + 1
    session.commit()
    table = segments.tier_crosstab(session, QUESTIONNAIRE, "style_archetypes")
    assert table["tiers"] == tiers + ["no value"] and table["clv_model_version"] == 1
    assert table["n_customers"] == len(responses)
    for i, archetype in enumerate(table["archetypes"]):
        for j, tier in enumerate(table["tiers"]):
            assert table["counts"][i][j] == expected.get((archetype, tier), 0)


def test_respondent_map_is_the_pca_of_standardised_factor_scores(db_engine, session, tmp_path):
    from sklearn.decomposition import PCA

    from survey_engine.models.factors import FactorModelRecord

    seed_population(db_engine, tmp_path, customers=80)
    model_id = fit_factors(db_engine)
    responses = _assign_by_hand(session, model_id)
    points = segments.respondent_map(session, QUESTIONNAIRE, "style_archetypes")
    record = session.get(FactorModelRecord, model_id)
    scores = segments._scores(record, [r.answers for r in responses]).to_numpy()
    z = (scores - scores.mean(axis=0)) / scores.std(axis=0)
    reference = PCA(n_components=2).fit(z)
    projected = reference.transform(z)
    for k, coordinate in enumerate((points.x, points.y)):
        sign = np.sign(np.dot(projected[:, k], coordinate))
        np.testing.assert_allclose(coordinate, sign * projected[:, k], atol=1e-3)
        assert points.axes[k]["share"] == pytest.approx(reference.explained_variance_ratio_[k], abs=1e-9)
    assert points.archetypes == [STYLES[k % 3] for k in range(len(responses))]
    assert points.factor_model_id == model_id
    assert segments.respondent_map(session, QUESTIONNAIRE, "relationship_styles") is None


PROPOSAL = """# Proposed archetypes (test)
catalog:
  id: proposed_style_words
  version: 1
  kind: other
  languages: [en, it, fr]
  text_items: [style_words]
  proposal: true
archetypes:
{candidates}
"""
CANDIDATE = """  - id: {id}
    name: {{en: {name}, it: {name}, fr: {name}}}
    description: {{en: found by discovery, it: trovato, fr: trouvé}}
    phrases: {{en: [quiet and green], it: [sobrio e verde], fr: [sobre et vert]}}
    profile: {{{factor}: {{direction: high, strength: 0.4}}}}
    engagement:
      channels: [email]
      tone: {{en: calm, it: calmo, fr: calme}}
      monthly_contact_cap: 2
    discovery: {{size: 30, share: 0.25, top_terms: [green], representative_answers: [quiet and green]}}
"""


@pytest.fixture
def workspace(tmp_path, session, loaded_questionnaires):
    catalogs = tmp_path / "archetypes"
    shutil.copytree(PROJECT_ROOT / "archetypes", catalogs)
    instance = tmp_path / "instance"
    folder = segments.proposals_dir(instance)
    folder.mkdir(parents=True)
    candidates = CANDIDATE.format(id="candidate_1", name="Green quiet", factor="sustainability") + \
        CANDIDATE.format(id="candidate_2", name="Odd one", factor="not_a_factor")
    (folder / f"{QUESTIONNAIRE}.style_words.yaml").write_text(PROPOSAL.format(candidates=candidates), encoding="utf-8")
    return catalogs, instance


def _accept(session, workspace, **overrides):
    catalogs, instance = workspace
    arguments = dict(proposal_file=f"{QUESTIONNAIRE}.style_words.yaml", candidate_id="candidate_1",
                     catalog_id="style_archetypes", new_id="green_quiet", name="Green and quiet",
                     catalogs_dir=catalogs, instance_dir=instance, author="r@example.com")
    return segments.accept_candidate(session, QUESTIONNAIRE, **{**arguments, **overrides})


def test_accepting_appends_the_candidate_and_raises_the_version(session, workspace):
    catalogs, instance = workspace
    before = (catalogs / "style_archetypes.yaml").read_text(encoding="utf-8")
    path = _accept(session, workspace)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(before.split("catalog:")[0])  # leading comments kept
    data = yaml.safe_load(text)
    assert data["catalog"]["version"] == yaml.safe_load(before)["catalog"]["version"] + 1
    added = data["archetypes"][-1]
    assert added["id"] == "green_quiet" and added["name"]["en"] == "Green and quiet" and added["name"]["it"] == "Green quiet"
    assert "discovery" not in added and "&id" not in text
    assert added["profile"] == {"sustainability": {"direction": "high", "strength": 0.4}}
    listed = segments.list_proposals(session, QUESTIONNAIRE, instance)
    assert listed[0]["accepted"] == {"candidate_1": {"catalog": "style_archetypes", "id": "green_quiet",
                                                     "by": "r@example.com"}}


@pytest.mark.parametrize("overrides, field", [
    ({"new_id": "Green Quiet"}, "new_id"),
    ({"new_id": "modern_minimalist"}, "new_id"),
    ({"catalog_id": "proposed_style_words"}, "catalog"),
    ({"candidate_id": "candidate_9"}, "candidate"),
    ({"candidate_id": "candidate_2"}, "candidate"),  # names a factor the questionnaire does not have
    ({"proposal_file": "../archetypes/style_archetypes.yaml"}, "proposal"),
])
def test_refusals_name_the_field_and_change_no_file(session, workspace, overrides, field):
    catalogs, _ = workspace
    before = {p.name: p.read_text(encoding="utf-8") for p in catalogs.iterdir()}
    with pytest.raises((ServiceError, NotFound)) as caught:
        _accept(session, workspace, **overrides)
    assert caught.value.field == field
    assert {p.name: p.read_text(encoding="utf-8") for p in catalogs.iterdir()} == before
