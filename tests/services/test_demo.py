"""The demo seeding stores a reproducible population and keeps the ground truth out of the tables."""
import pandas as pd
import pytest
from sqlmodel import select

from survey_engine.definitions.questionnaire import QuestionnaireSpec, validate_answers
from survey_engine.models import Customer, Invitation, QuestionnaireVersion, Response


def test_demo_command_seeds_customers_responses_and_truth_file(runner, session, tmp_path):
    result = runner.invoke(args=["demo", "--customers", "120", "--seed", "3"])
    assert result.exit_code == 0, result.output
    customers = session.exec(select(Customer)).all()
    assert len(customers) == 120
    submitted = session.exec(select(Response).where(Response.status == "submitted")).all()
    assert 70 <= len(submitted) <= 110
    spec = QuestionnaireSpec.from_dict(session.exec(select(QuestionnaireVersion)).one().spec)
    for response in submitted:
        assert validate_answers(spec, response.answers).errors == {}
        invitation = session.get(Invitation, response.invitation_id)
        assert invitation.completed_at == response.submitted_at
    truth = pd.read_csv(tmp_path / "instance" / "demo_truth.csv")
    assert len(truth) == 120 and {"style_archetype", "relationship_style"} <= set(truth.columns)
    # Ground truth never enters the product tables.
    assert not hasattr(Customer, "style_archetype")

    again = runner.invoke(args=["demo", "--customers", "120", "--seed", "3"])
    assert "already holds 120 customers" in again.output
    assert len(session.exec(select(Customer)).all()) == 120


def test_demo_is_reproducible(session, loaded_questionnaires, tmp_path):
    from survey_engine.services.demo import seed_demo
    from tests.conftest import _clean

    def stored():
        seed_demo(session, customers=40, seed=11, instance_dir=tmp_path, steps=())
        session.commit()
        answers = sorted((r.customer_id, sorted(r.answers.items(), key=str)) for r in session.exec(select(Response)))
        emails = sorted(c.email for c in session.exec(select(Customer)))
        session.rollback()  # end the read transaction: on PostgreSQL, TRUNCATE waits for its locks
        return answers, emails

    first = stored()
    engine = session.get_bind()
    _clean(engine)
    from survey_engine.db import session_scope
    from survey_engine.services.survey import read_questionnaire_files, sync_questionnaires
    from tests.conftest import PROJECT_ROOT

    with session_scope(engine) as fresh:
        sync_questionnaires(fresh, read_questionnaire_files(PROJECT_ROOT / "questionnaires"))
    assert stored() == first


def test_demo_leaves_stored_transactions_identities_and_active_models(runner, session):
    from survey_engine.clv.transactions import load_currency_rates
    from survey_engine.models.archetypes import ArchetypeAssignment
    from survey_engine.models.clv import CLVModelRecord, CustomerValue, ImportRun, Transaction
    from survey_engine.models.factors import FactorModelRecord
    from survey_engine.models.identity import CustomerPerson, SourceRecord

    result = runner.invoke(args=["demo", "--customers", "150", "--seed", "5"])
    assert result.exit_code == 0, result.output
    for step in ("transactions:", "identity:", "factors:", "clv:", "archetypes:"):
        assert step in result.output

    lines = session.exec(select(Transaction)).all()
    customers = {c.external_id for c in session.exec(select(Customer))}
    assert len(lines) > 150 and {t.customer_external_id for t in lines} == customers  # everyone bought
    run = session.exec(select(ImportRun)).one()
    assert (run.status, run.rows_loaded, run.rows_rejected) == ("completed", len(lines), 0)
    rates = load_currency_rates().rates
    for line in lines[:200]:  # converted into the reporting currency like any import
        assert line.amount == pytest.approx(line.original_amount * rates[line.currency])

    assert len(session.exec(select(SourceRecord)).all()) > 150
    assert {m.external_id for m in session.exec(select(CustomerPerson))} == customers

    factors = session.exec(select(FactorModelRecord).where(FactorModelRecord.is_active)).one()
    assert factors.status == "fitted" and factors.questionnaire_id == "post_purchase_luxury"
    assert len(factors.results["labels"]) >= 4

    clv = session.exec(select(CLVModelRecord).where(CLVModelRecord.is_active)).one()
    values = session.exec(select(CustomerValue).where(CustomerValue.model_id == clv.id)).all()
    assert clv.n_customers == 150 and {v.customer_external_id for v in values} == customers
    assert all(0.0 <= v.p_alive <= 1.0 and v.clv >= 0.0 for v in values)

    submitted = {r.customer_id for r in session.exec(select(Response).where(Response.status == "submitted"))}
    assigned = session.exec(select(ArchetypeAssignment).where(ArchetypeAssignment.is_current)).all()
    assert {a.catalog_id for a in assigned} == {"style_archetypes", "relationship_styles"}
    assert {a.customer_id for a in assigned} == submitted
    assert all(a.factor_model_id == factors.id for a in assigned)


def test_demo_transactions_are_stored_once(session):
    from survey_engine.demo import generate_population
    from survey_engine.models.clv import Transaction
    from survey_engine.services.clv import store_demo_transactions

    population = generate_population(30, seed=2)
    first = store_demo_transactions(session, population)
    again = store_demo_transactions(session, population)
    n_lines = len(population.transactions)
    assert first.startswith(f"{n_lines} transaction lines stored (0 already present)")
    assert again.startswith(f"0 transaction lines stored ({n_lines} already present)")
    assert len(session.exec(select(Transaction)).all()) == n_lines


@pytest.mark.parametrize("contributors, message", [
    # the CLV fit runs without the transactions step, so it has nothing to fit
    ({"clv": "survey_engine.services.clv:fit_demo_clv_model"}, "demo step 'clv' (survey_engine.services.clv:"
                                                               "fit_demo_clv_model) failed: ValueError: no stored"),
    ({"clv": "survey_engine.services.clv:no_such_step"}, "survey_engine.services.clv has no function 'no_such_step'"),
])
def test_a_failing_demo_step_fails_the_command_and_stores_nothing(runner, session, monkeypatch, contributors,
                                                                    message):
    from survey_engine.services import demo

    monkeypatch.setattr(demo, "CONTRIBUTORS", contributors)
    result = runner.invoke(args=["demo", "--customers", "30", "--seed", "1"])
    assert result.exit_code == 1
    assert message in result.output and "Nothing was stored." in result.output
    assert session.exec(select(Customer)).all() == []


def test_a_contributor_whose_module_is_not_installed_is_skipped(runner, session, monkeypatch):
    from survey_engine.services import demo

    monkeypatch.setattr(demo, "CONTRIBUTORS", {"later": "survey_engine.services.not_built_yet:store_demo"})
    result = runner.invoke(args=["demo", "--customers", "30", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "later:" not in result.output
    assert len(session.exec(select(Customer)).all()) == 30
