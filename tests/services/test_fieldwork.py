"""Fieldwork report: funnel counts, completion rate, durations, exclusions and the timeline."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from survey_engine.models import Invitation, Response
from survey_engine.services import fieldwork
from survey_engine.services.survey import NotFound
from tests.helpers import QUESTIONNAIRE, invite
from tests.web.staff_support import fit_factors, seed_population

MONDAY = datetime(2025, 3, 3, 10, 0, tzinfo=timezone.utc)


def _invitation(session, n, *, created, opened=None, started=None, completed=None, duration=None, language="en"):
    issued = invite(session, customer=f"C{n}", order=f"O{n}")
    invitation = issued.invitation
    invitation.created_at, invitation.opened_at = created, opened
    invitation.started_at, invitation.completed_at = started, completed
    session.add(invitation)
    if started is not None:
        session.add(Response(invitation_id=invitation.id, customer_id=invitation.customer_id,
                             questionnaire_version_id=invitation.questionnaire_version_id,
                             status="submitted" if completed else "draft", language=language, answers={},
                             started_at=started, submitted_at=completed, duration_seconds=duration))
    session.commit()


@pytest.fixture
def funnel_data(session, loaded_questionnaires):
    week2 = MONDAY + timedelta(days=7)
    _invitation(session, 1, created=MONDAY)
    _invitation(session, 2, created=MONDAY, opened=MONDAY + timedelta(hours=1))
    _invitation(session, 3, created=MONDAY, opened=MONDAY + timedelta(hours=2), started=MONDAY + timedelta(hours=2))
    _invitation(session, 4, created=MONDAY, opened=MONDAY + timedelta(hours=3), started=MONDAY + timedelta(hours=3),
                completed=MONDAY + timedelta(hours=3, minutes=5), duration=300, language="it")
    _invitation(session, 5, created=week2, opened=week2, started=week2, completed=week2 + timedelta(minutes=9),
                duration=540)
    _invitation(session, 6, created=week2, opened=week2, started=week2, completed=week2 + timedelta(minutes=20),
                duration=1200, language="it")
    return session


def test_funnel_completion_rate_and_durations(funnel_data):
    report = fieldwork.fieldwork_report(funnel_data, QUESTIONNAIRE, period="week")
    assert report.funnel.as_dict() == {"invited": 6, "opened": 5, "started": 4, "completed": 3}
    assert report.funnel.completion_rate == pytest.approx(0.5)
    assert report.funnel.step_rates() == {"opened": pytest.approx(5 / 6), "started": pytest.approx(0.8),
                                          "completed": pytest.approx(0.75)}
    assert report.median_duration_seconds == 540
    assert report.languages == {"it": 2, "en": 1}
    assert report.exclusions is None


def test_timeline_counts_each_stage_in_its_own_week(funnel_data):
    report = fieldwork.fieldwork_report(funnel_data, QUESTIONNAIRE, period="week")
    assert [row["period"] for row in report.over_time] == ["2025-W10", "2025-W11"]
    first, second = report.over_time
    assert (first["invited"], first["opened"], first["started"], first["completed"]) == (4, 3, 2, 1)
    assert (second["invited"], second["opened"], second["started"], second["completed"]) == (2, 2, 2, 2)
    monthly = fieldwork.fieldwork_report(funnel_data, QUESTIONNAIRE, period="month")
    assert [(row["period"], row["invited"]) for row in monthly.over_time] == [("2025-03", 6)]


def test_overview_per_questionnaire(funnel_data):
    assert fieldwork.funnel_by_questionnaire(funnel_data) == [{
        "questionnaire_id": QUESTIONNAIRE, "title": "Your purchase, your style", "invited": 6, "opened": 5,
        "started": 4, "completed": 3, "completion_rate": pytest.approx(0.5)}]


def test_bad_arguments_are_named(funnel_data):
    with pytest.raises(NotFound):
        fieldwork.fieldwork_report(funnel_data, QUESTIONNAIRE, 9)
    with pytest.raises(ValueError, match="period"):
        fieldwork.fieldwork_report(funnel_data, QUESTIONNAIRE, period="day")


def test_demo_population_funnel_matches_the_tables_and_exclusions_come_from_the_active_model(
        db_engine, session, tmp_path):
    summary = seed_population(db_engine, tmp_path, customers=120)
    model_id = fit_factors(db_engine)
    report = fieldwork.fieldwork_report(session, QUESTIONNAIRE, 1)
    assert report.funnel.invited == summary.invitations
    assert report.funnel.completed == summary.responses
    assert report.funnel.started == summary.responses + summary.drafts
    opened = session.execute(sa.select(sa.func.count()).where(Invitation.opened_at.is_not(None))).scalar()
    assert report.funnel.opened == opened
    durations = sorted(session.execute(sa.select(Response.duration_seconds)
                                       .where(Response.status == "submitted")).scalars())
    middle = len(durations) // 2
    expected = durations[middle] if len(durations) % 2 else (durations[middle - 1] + durations[middle]) / 2
    assert report.median_duration_seconds == pytest.approx(expected)
    assert report.exclusions_model_id == model_id
    exclusions = report.exclusions
    assert exclusions["n_total"] == summary.responses
    assert exclusions["n_excluded"] > 0 and exclusions["by_reason"]["failed_attention_check"] > 0
    assert sum(row["completed"] for row in report.over_time) == summary.responses
