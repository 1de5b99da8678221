"""Questionnaires page: versions with response counts, the respondent preview, a broken file's problems."""
from __future__ import annotations

import dataclasses
import re
import shutil

import pytest
from sqlmodel import func, select

from survey_engine.models import Response
from tests.helpers import QUESTIONNAIRE, as_form, complete_answers, csrf_from, invite
from tests.web.staff_support import PROJECT_ROOT, make_staff, seed_population, sign_in

PREVIEW = f"/staff/questionnaires/{QUESTIONNAIRE}/v1/preview"


def test_list_shows_versions_response_counts_and_file_state(client, db_engine, session, tmp_path):
    seed_population(db_engine, tmp_path, customers=80)
    make_staff(db_engine, "researcher")
    sign_in(client, "researcher")
    html = client.get("/staff/questionnaires/").get_data(as_text=True)
    submitted = session.exec(select(func.count()).select_from(Response).where(Response.status == "submitted")).one()
    row = re.search(r"<td data-sort=\"1\">v1.*?</tr>", html, re.S).group(0)
    assert f'<td class="num">{submitted}</td>' in row
    for lang in ("en", "it", "fr"):
        assert f"{PREVIEW}?lang={lang}" in html
    assert "loaded as v1" in html and "Problems in the questionnaire files" not in html


def _main(html: str) -> str:
    """The respondent page's content, without the preview notice and the per-session CSRF token."""
    main = re.search(r"<main[^>]*>(.*)</main>", html, re.S).group(1)
    main = re.sub(r'<p class="notice" role="note" id="preview-notice">.*?</p>', "", main, flags=re.S)
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token"', main).strip()


@pytest.mark.parametrize("lang", ["en", "it", "fr"])
def test_preview_is_exactly_the_respondent_page(client, db_engine, session, loaded_questionnaires, lang):
    issued = invite(session)
    respondent = client.get(f"/s/{issued.token}?lang={lang}").get_data(as_text=True)
    make_staff(db_engine, "researcher")
    sign_in(client, "researcher")
    preview = client.get(f"{PREVIEW}?lang={lang}")
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and "Staff preview of" in html
    assert _main(html) == _main(respondent)


def test_preview_validates_like_the_form_and_stores_nothing(client, db_engine, session, loaded_questionnaires):
    make_staff(db_engine, "researcher")
    sign_in(client, "researcher")
    token = csrf_from(client.get(PREVIEW).get_data(as_text=True))
    invalid = client.post(PREVIEW + "?lang=it", data=as_form(complete_answers(ch1=9, category=None), csrf_token=token,
                                                             lang="it"))
    assert invalid.status_code == 422
    html = invalid.get_data(as_text=True)
    assert 'id="field-ch1"' in html and "has-error" in html and "Alcune risposte" in html
    valid = client.post(PREVIEW, data=as_form(complete_answers(), csrf_token=token))
    assert valid.status_code == 200
    assert "these answers are valid and would be accepted" in valid.get_data(as_text=True)
    assert session.exec(select(func.count()).select_from(Response)).one() == 0
    assert client.get(f"/staff/questionnaires/{QUESTIONNAIRE}/v9/preview").status_code == 404


def test_a_broken_file_is_shown_with_every_problem(db_engine, settings, tmp_path):
    """The app starts with a valid folder; a file broken afterwards is reported on the page."""
    from survey_engine.app import create_app

    folder = tmp_path / "questionnaires"
    folder.mkdir()
    shutil.copy(PROJECT_ROOT / "questionnaires" / f"{QUESTIONNAIRE}.yaml", folder)
    app = create_app(dataclasses.replace(settings, questionnaires_dir=folder), test_config={"TESTING": True})
    good = (folder / f"{QUESTIONNAIRE}.yaml").read_text(encoding="utf-8")
    (folder / "broken.yaml").write_text(good.replace(f"id: {QUESTIONNAIRE}", "id: broken_copy", 1)
                                        .replace("type: likert", "type: likertish", 1), encoding="utf-8")
    (folder / "twin.yaml").write_text(good, encoding="utf-8")
    make_staff(db_engine, "admin")
    client = app.test_client()
    sign_in(client, "admin")
    response = client.get("/staff/questionnaires/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    problems = re.search(r'<section class="form-error" id="file-problems".*?</section>', html, re.S).group(0)
    assert "broken.yaml" in problems and "likertish" in problems and "(line " in problems
    assert "twin.yaml" in problems and "already used by" in problems
    assert "invalid (see the problems above)" in html
