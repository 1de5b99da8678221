"""Factor analysis pages: the model report with its charts and tables, running a fit, activating."""
from __future__ import annotations

import re

from sqlmodel import Session, select

from survey_engine.models.factors import FactorModelRecord
from tests.helpers import csrf_from
from tests.web.staff_support import QUESTIONNAIRE, fit_factors, make_staff, seed_population, sign_in

FIT_FORM = {"questionnaire": QUESTIONNAIRE, "version": "", "n_factors": "auto", "method": "minres",
            "rotation": "oblimin", "correlation": "pearson", "missing": "pairwise", "scores": "regression",
            "activate": "on"}


def _active(db_engine):
    with Session(db_engine) as session:
        return [r.id for r in session.exec(select(FactorModelRecord).where(FactorModelRecord.is_active)).all()]


def test_model_page_shows_scree_loadings_reliability_and_suitability(client, db_engine, tmp_path):
    seed_population(db_engine, tmp_path)
    model_id = fit_factors(db_engine)
    make_staff(db_engine, "researcher")
    sign_in(client, "researcher")
    html = client.get(f"/staff/factors/{model_id}").get_data(as_text=True)
    with Session(db_engine) as session:
        report = session.get(FactorModelRecord, model_id).results["report"]
    assert "Scree plot with parallel analysis</title>" in html
    assert f"parallel analysis suggests {report['parallel_analysis']['suggested_factors']} factor(s)" in html
    assert "Factor loadings</title>" in html
    # item texts appear in the heatmap and the item table, reverse-keyed items marked
    assert "I value knowing how and where a piece was made." in html
    assert re.search(r"ch4 \(R\)\s+As long as a piece looks good", html)
    assert f"{report['kmo']['overall']:.3f}" in html
    assert f"{report['bartlett']['chi2']:,.1f}" in html
    for name, values in report["reliability"].items():
        assert f'<th scope="row">{name}</th>' in html
        assert f"{values['alpha']:.3f}" in html
    for warning in report["warnings"]:
        assert warning["code"].replace("_", " ") in html
    assert "active model" in html


def test_fit_from_the_form_and_activate_an_older_model(client, db_engine, tmp_path):
    seed_population(db_engine, tmp_path)
    make_staff(db_engine, "researcher")
    sign_in(client, "researcher")
    listing = client.get("/staff/factors/").get_data(as_text=True)
    assert "No factor model yet" in listing
    first = client.post("/staff/factors/fit", data={**FIT_FORM, "csrf_token": csrf_from(listing)})
    assert first.status_code == 303
    first_id = int(first.headers["Location"].rstrip("/").split("/")[-1])
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert f"Model {first_id} fitted" in page and "It is now the active model." in page
    assert _active(db_engine) == [first_id]

    second = client.post("/staff/factors/fit", data={**FIT_FORM, "n_factors": "3", "activate": "",
                                                     "csrf_token": csrf_from(page)})
    second_id = int(second.headers["Location"].rstrip("/").split("/")[-1])
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "The active model is unchanged." in page and "Make this the active model" in page
    assert _active(db_engine) == [first_id]
    activated = client.post(f"/staff/factors/{second_id}/activate", data={"csrf_token": csrf_from(page)})
    assert activated.status_code == 303
    assert f"Model {second_id} is now the active factor model" in client.get(activated.headers["Location"]).get_data(as_text=True)
    assert _active(db_engine) == [second_id]
    listing = client.get("/staff/factors/").get_data(as_text=True)
    assert listing.count('class="is-active"') == 1 and "Make active" in listing


def test_a_failed_fit_is_reported_and_leaves_the_active_model(client, db_engine, session, loaded_questionnaires):
    from tests.helpers import complete_answers, invite
    from survey_engine.services.survey import submit_response

    issued = invite(session)
    submit_response(session, issued.invitation, complete_answers(), language="en")
    session.commit()
    make_staff(db_engine, "researcher")
    sign_in(client, "researcher")
    token = csrf_from(client.get("/staff/factors/").get_data(as_text=True))
    response = client.post("/staff/factors/fit", data={**FIT_FORM, "csrf_token": token}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "The fit failed and was stored as model" in html and "the active model is unchanged" in html
    assert "This fit failed:" in html and "Make this the active model" not in html
    assert _active(db_engine) == []


def test_invalid_fit_form_names_each_field(client, db_engine, loaded_questionnaires):
    make_staff(db_engine, "researcher")
    sign_in(client, "researcher")
    token = csrf_from(client.get("/staff/factors/").get_data(as_text=True))
    response = client.post("/staff/factors/fit", data={**FIT_FORM, "n_factors": "many", "version": "7",
                                                       "rotation": "spin", "csrf_token": token})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "a whole number from 1 to 30, or auto" in html
    assert "choose a stored version" in html and "one of oblimin" in html
    assert client.get("/staff/factors/999").status_code == 404
