"""The demo seeding stores a reproducible population and keeps the ground truth out of the tables."""
import pandas as pd
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


def test_demo_is_reproducible(runner, session, tmp_path):
    runner.invoke(args=["demo", "--customers", "40", "--seed", "11"])
    first = sorted((r.customer_id, tuple(sorted(r.answers.items(), key=str))) for r in session.exec(select(Response)))
    emails = sorted(c.email for c in session.exec(select(Customer)))
    from tests.conftest import _clean

    _clean(session.get_bind())
    runner.invoke(args=["demo", "--customers", "40", "--seed", "11"])
    session.expire_all()
    assert sorted(c.email for c in session.exec(select(Customer))) == emails
    assert len(first) == len(session.exec(select(Response)).all())
