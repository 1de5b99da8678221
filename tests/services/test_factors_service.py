"""Factor models fitted from stored responses: persistence, activation, failures, online scoring."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlmodel import select

from survey_engine.demo.world import generating_model, ordinal_answers
from survey_engine.models import Customer, Invitation, QuestionnaireVersion, Response
from survey_engine.models.base import utcnow
from survey_engine.models.factors import FactorModelRecord
from survey_engine.psychometrics.efa import FactorModel
from survey_engine.services.factors import (
    activate_factor_model,
    fit_factor_model,
    list_factor_models,
    score_response,
)
from survey_engine.services.survey import Conflict, NotFound

QUESTIONNAIRE = "post_purchase_luxury"


def store_responses(session, n: int, seed: int = 0, failed_attention: int = 0) -> list[dict]:
    """Submitted responses drawn from the generating model; the first ``failed_attention`` fail attn1."""
    model = generating_model()
    rng = np.random.default_rng(seed)
    latent = rng.multivariate_normal(np.zeros(8), model.factor_correlation, size=n)
    raw = ordinal_answers(latent, model, rng)
    version = session.exec(select(QuestionnaireVersion)
                           .where(QuestionnaireVersion.questionnaire_id == QUESTIONNAIRE)).first()
    start = session.exec(select(Customer)).all()
    offset = len(start)
    customers = [Customer(external_id=f"C{offset + i:05d}") for i in range(n)]
    session.add_all(customers)
    session.flush()
    invitations = [Invitation(token_hash=f"{offset + i:064d}", customer_id=c.id, order_id=f"O{i}",
                              questionnaire_id=QUESTIONNAIRE, questionnaire_version_id=version.id,
                              expires_at=utcnow() + timedelta(days=30)) for i, c in enumerate(customers)]
    session.add_all(invitations)
    session.flush()
    answers_list = []
    for i, (customer, invitation) in enumerate(zip(customers, invitations)):
        answers = {item: int(v) for item, v in zip(model.items, raw[i])}
        answers.update({"attn1": 2 if i < failed_attention else 6, "nps": 9, "category": "watches"})
        session.add(Response(invitation_id=invitation.id, customer_id=customer.id,
                             questionnaire_version_id=version.id, status="submitted", language="en",
                             answers=answers, submitted_at=utcnow(), duration_seconds=200.0 + i % 50))
        answers_list.append(answers)
    session.commit()
    return answers_list


@pytest.fixture
def stored(session, loaded_questionnaires):
    return store_responses(session, 700, seed=1, failed_attention=7)


def test_fit_stores_an_active_immutable_model(session, stored):
    record = fit_factor_model(session, QUESTIONNAIRE, n_factors=8)
    session.commit()
    assert record.status == "fitted" and record.is_active and record.error is None
    assert record.n_responses == 700 and record.n_respondents == 693
    assert record.first_response_id < record.last_response_id and len(record.data_hash) == 64
    report = record.results["report"]
    assert report["exclusions"]["by_reason"]["failed_attention_check"] == 7
    assert sorted(record.results["labels"]) == sorted(generating_model().constructs)
    assert record.options["rotation"] == "oblimin" and record.options["n_factors"] == 8
    record.results = {"tampered": True}
    with pytest.raises(ValueError, match="immutable"):
        session.flush()
    session.rollback()


def test_online_scores_equal_batch_scores_of_the_stored_model(session, stored):
    record = fit_factor_model(session, QUESTIONNAIRE, n_factors=8)
    session.commit()
    model = FactorModel.from_dict(record.results["model"])
    reverse = set(record.results["reverse_keyed"])
    assert reverse == {item for item, rev in zip(generating_model().items, generating_model().reverse) if rev}
    for answers in stored[:5]:
        online = score_response(session, QUESTIONNAIRE, answers)
        keyed = np.array([[8 - answers[i] if i in reverse else answers[i] for i in model.items_]], dtype=float)
        batch = model.transform(keyed)[0]
        assert list(online) == record.results["labels"]
        np.testing.assert_allclose(list(online.values()), batch, atol=1e-12)
    # a respondent high on heritage scores higher on it than one low on it
    high = {i: (7 if not i.startswith("ch") else (1 if i in reverse else 7)) for i in model.items_}
    low = {i: 4 for i in model.items_}
    assert score_response(session, QUESTIONNAIRE, high)["craftsmanship_heritage"] > \
        score_response(session, QUESTIONNAIRE, low)["craftsmanship_heritage"]


def test_a_failed_fit_is_recorded_but_never_replaces_the_active_model(session, stored):
    good = fit_factor_model(session, QUESTIONNAIRE, n_factors=8, correlation="pearson")
    failed = fit_factor_model(session, QUESTIONNAIRE, n_factors=40, correlation="pearson")
    session.commit()
    assert failed.status == "failed" and not failed.is_active and "n_factors" in failed.error
    session.refresh(good)
    assert good.is_active
    with pytest.raises(Conflict):
        activate_factor_model(session, failed.id)


def test_activation_keeps_one_active_model(session, stored):
    first = fit_factor_model(session, QUESTIONNAIRE, n_factors=8, correlation="pearson")
    second = fit_factor_model(session, QUESTIONNAIRE, n_factors=8, rotation="promax", correlation="pearson")
    session.commit()
    session.refresh(first)
    assert second.is_active and not first.is_active
    activate_factor_model(session, first.id)
    session.commit()
    active = session.exec(select(FactorModelRecord).where(FactorModelRecord.is_active)).all()
    assert [r.id for r in active] == [first.id]
    rows = list_factor_models(session, QUESTIONNAIRE)
    assert [r["id"] for r in rows] == [second.id, first.id] and rows[1]["is_active"]
    with pytest.raises(NotFound):
        activate_factor_model(session, 999_999)


def test_no_responses_gives_a_failed_record_and_scoring_needs_a_model(session, loaded_questionnaires):
    record = fit_factor_model(session, QUESTIONNAIRE)
    session.commit()
    assert record.status == "failed" and "no submitted responses" in record.error
    with pytest.raises(NotFound, match="no active factor model"):
        score_response(session, QUESTIONNAIRE, {"ch1": 5})


def test_cli_fit_list_activate(runner, session, stored):
    result = runner.invoke(args=["factors", "fit", "--questionnaire", QUESTIONNAIRE, "--n-factors", "8",
                                 "--correlation", "pearson"])
    assert result.exit_code == 0, result.output
    assert "Parallel analysis suggests" in result.output and "craftsmanship_heritage" in result.output
    assert "failed attention check 7" in result.output and "(active)" in result.output
    failed = runner.invoke(args=["factors", "fit", "--questionnaire", QUESTIONNAIRE, "--n-factors", "40",
                                 "--correlation", "pearson"])
    assert failed.exit_code == 1 and "not active" in failed.output
    listing = runner.invoke(args=["factors", "list"])
    assert listing.exit_code == 0 and "failed:" in listing.output and "* " in listing.output
    first_id = min(r.id for r in session.exec(select(FactorModelRecord)).all())
    refused = runner.invoke(args=["factors", "activate", str(first_id + 1)])
    assert refused.exit_code == 1 and "cannot be activated" in refused.output
    unknown = runner.invoke(args=["factors", "fit", "--questionnaire", "nope"])
    assert unknown.exit_code == 1 and "unknown questionnaire 'nope'" in unknown.output
