"""Fieldwork page: funnel, completion rate, duration, exclusions and the timeline on the demo population."""
from __future__ import annotations

import re

from survey_engine.services import fieldwork
from tests.web.staff_support import QUESTIONNAIRE, fit_factors, make_staff, seed_population, sign_in


def _stat(html: str, label: str) -> str:
    return re.search(rf"<dt>{re.escape(label)}</dt><dd>(.*?)</dd>", html, re.S).group(1).strip()


def test_funnel_rates_and_exclusions_on_the_demo_population(client, db_engine, session, tmp_path):
    summary = seed_population(db_engine, tmp_path)
    make_staff(db_engine, "researcher")
    sign_in(client, "researcher")
    html = client.get("/staff/fieldwork/").get_data(as_text=True)
    assert _stat(html, "Invited") == f"{summary.invitations:,}"
    assert _stat(html, "Completed") == f"{summary.responses:,}"
    assert _stat(html, "Completion rate") == f"{100 * summary.responses / summary.invitations:.1f}%"
    report = fieldwork.fieldwork_report(session, QUESTIONNAIRE)
    assert _stat(html, "Median duration") == f"{report.median_duration_seconds / 60:.1f} min"
    assert "Invitation funnel</title>" in html and "Fieldwork per month</title>" in html
    assert "No active factor model yet" in html

    model_id = fit_factors(db_engine)
    html = client.get(f"/staff/fieldwork/?questionnaire={QUESTIONNAIRE}&version=1&period=week").get_data(as_text=True)
    assert "Exclusions by reason</title>" in html and f"/staff/factors/{model_id}" in html
    exclusions = fieldwork.fieldwork_report(session, QUESTIONNAIRE).exclusions
    failed = exclusions["by_reason"]["failed_attention_check"]
    assert re.search(rf'<th scope="row">Failed the attention check</th><td class="num">{failed}</td>', html)
    assert "Fieldwork per week</title>" in html and re.search(r"<th scope=\"row\">\d{4}-W\d\d</th>", html)


def test_bad_filters_are_refused_with_the_field(client, db_engine, tmp_path, loaded_questionnaires):
    make_staff(db_engine, "admin")
    sign_in(client, "admin")
    assert client.get("/staff/fieldwork/").status_code == 200
    for query, field in [("questionnaire=nope", "questionnaire"), ("version=7", "version"), ("period=day", "period")]:
        response = client.get(f"/staff/fieldwork/?{query}")
        assert response.status_code == 400, query
        assert f"<strong>{field}</strong>" in response.get_data(as_text=True)
