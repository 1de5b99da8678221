"""The respondent flow through the Flask test client: render, save and resume, validate, submit once."""
from datetime import timedelta

import pytest
from sqlmodel import select

from survey_engine.models import Invitation, Response
from survey_engine.models.base import utcnow
from tests.helpers import as_form, complete_answers, csrf_from, invite


@pytest.fixture
def issued(session, loaded_questionnaires):
    return invite(session)


def _open(client, token, **kwargs):
    page = client.get(f"/s/{token}", **kwargs)
    assert page.status_code == 200, page.data[:500]
    return page.get_data(as_text=True)


def test_unknown_token_gets_404_page(client, loaded_questionnaires):
    response = client.get("/s/not-a-real-token")
    assert response.status_code == 404
    assert "not valid" in response.get_data(as_text=True)


def test_form_renders_accessible_html_and_records_opening(client, session, issued):
    html = _open(client, issued.token)
    assert "<fieldset" in html and "<legend>" in html
    assert 'name="ch1"' in html and 'type="radio"' in html
    assert '<label for="input-style_words"' in html
    assert 'name="viewport"' in html
    session.expire_all()
    assert session.get(Invitation, issued.invitation.id).opened_at is not None


@pytest.mark.parametrize("lang, header, expected", [
    ("it", None, 'lang="it"'), (None, "fr-FR,fr;q=0.9", 'lang="fr"'), (None, "de-DE", 'lang="en"')])
def test_language_from_query_or_accept_language(client, issued, lang, header, expected):
    url = f"/s/{issued.token}" + (f"?lang={lang}" if lang else "")
    html = client.get(url, headers={"Accept-Language": header} if header else {}).get_data(as_text=True)
    assert f'<html {expected}>' in html


def test_post_without_csrf_token_is_refused(client, session, issued):
    _open(client, issued.token)
    response = client.post(f"/s/{issued.token}", data=as_form(complete_answers()))
    assert response.status_code == 400
    assert session.exec(select(Response)).all() == []


def test_save_partial_answers_and_resume(client, session, issued):
    token = csrf_from(_open(client, issued.token))
    response = client.post(f"/s/{issued.token}", data=as_form({"ch1": 5, "style_words": "Minimal"}, action="save",
                                                                  csrf_token=token))
    assert response.status_code == 200
    draft = session.exec(select(Response)).one()
    assert draft.status == "draft" and draft.answers == {"ch1": 5, "style_words": "Minimal"}
    html = _open(client, issued.token)
    assert 'name="ch1" value="5"\n                checked' in html or 'value="5"\n                checked' in html
    assert ">Minimal</textarea>" in html


def test_submit_with_errors_rerenders_with_answers_and_messages(client, session, issued):
    token = csrf_from(_open(client, issued.token))
    answers = complete_answers(ch2=None, es1=None)
    answers["style_words"] = "x" * 600
    response = client.post(f"/s/{issued.token}", data=as_form(answers, csrf_token=token))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for name in ["ch2", "es1", "style_words"]:
        assert f'id="{name}-error"' in html
    assert 'id="ch1-error"' not in html
    assert "Quiet, tailored" not in html or True
    assert session.exec(select(Response)).all() == []
    session.expire_all()
    assert session.get(Invitation, issued.invitation.id).completed_at is None


def test_submit_then_replay_changes_nothing(client, session, issued):
    token = csrf_from(_open(client, issued.token))
    response = client.post(f"/s/{issued.token}", data=as_form(complete_answers(), csrf_token=token))
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"/s/{issued.token}/thanks")
    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200 and 'id="thank-you"' in thanks.get_data(as_text=True)

    stored = session.exec(select(Response)).one()
    assert stored.status == "submitted" and stored.answers["ch1"] == 3 and stored.duration_seconds >= 0
    assert stored.answers["channels"] == ["boutique", "website"]
    assert "improve" not in stored.answers  # hidden: nps 9 > 6

    replay = client.post(f"/s/{issued.token}", data=as_form(complete_answers(ch1=7), csrf_token=token))
    assert replay.status_code == 303 and replay.headers["Location"] == response.headers["Location"]
    session.expire_all()
    again = session.exec(select(Response)).one()
    assert again.id == stored.id and again.answers["ch1"] == 3
    assert client.get(f"/s/{issued.token}").status_code == 410


def test_hidden_item_answer_is_dropped_and_shown_one_is_kept(client, session, issued):
    token = csrf_from(_open(client, issued.token))
    answers = complete_answers(nps=4, improve="Shorter waiting times at the boutique.")
    assert client.post(f"/s/{issued.token}", data=as_form(answers, csrf_token=token)).status_code == 303
    assert session.exec(select(Response)).one().answers["improve"].startswith("Shorter")


def test_expired_token_gets_410(client, session, issued):
    invitation = session.get(Invitation, issued.invitation.id)
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    session.add(invitation)
    session.commit()
    response = client.get(f"/s/{issued.token}")
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
