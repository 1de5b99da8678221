"""Replayed submissions: through either channel, one after the other or at the same moment, the
first stored answers stay and every replay is told so; a draft saved at the same moment as a
headless submit does not lose the submission. (The load benchmark replays thousands concurrently
against the real server.)"""
from __future__ import annotations

import threading

from sqlmodel import select

from survey_engine.models import Invitation, Response
from survey_engine.models.base import utcnow
from tests.helpers import as_form, complete_answers, csrf_from, invite


def _stored(session, invitation_id):
    session.expire_all()
    return session.exec(select(Response).where(Response.invitation_id == invitation_id)).all()


def test_api_submission_replayed_through_the_form_and_back(client, session, loaded_questionnaires):
    issued = invite(session, customer="RP1", order="O1")
    token = csrf_from(client.get(f"/s/{issued.token}").get_data(as_text=True))
    first = client.post("/api/v1/responses", json={"token": issued.token, "answers": complete_answers(nps=10)})
    assert first.status_code == 200
    form = client.post(f"/s/{issued.token}", data=as_form(complete_answers(nps=0), csrf_token=token))
    assert form.status_code == 303 and form.headers["Location"].startswith(f"/s/{issued.token}/thanks")
    again = client.post("/api/v1/responses", json={"token": issued.token, "answers": complete_answers(nps=1)})
    assert again.get_json()["response_id"] == first.get_json()["response_id"]
    assert again.get_json()["submitted_at"] == first.get_json()["submitted_at"]
    [stored] = _stored(session, issued.invitation.id)
    assert stored.answers["nps"] == 10 and stored.channel == "api"
    assert client.get(f"/s/{issued.token}").status_code == 410


def test_simultaneous_submissions_store_exactly_one(app, session, loaded_questionnaires):
    issued = invite(session, customer="RP2", order="O1")
    results, barrier = [], threading.Barrier(8)

    def submit(nps: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/responses", json={"token": issued.token, "answers": complete_answers(nps=nps)})
        results.append((nps, response.status_code, response.get_json()))

    threads = [threading.Thread(target=submit, args=(nps,)) for nps in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    [stored] = _stored(session, issued.invitation.id)
    assert {status for _, status, _ in results} == {200}
    assert {body["response_id"] for _, _, body in results} == {stored.id}
    assert stored.answers["nps"] in range(8) and stored.status == "submitted"


def test_a_draft_saved_while_a_headless_submit_runs_does_not_lose_it(session, loaded_questionnaires, db_engine):
    """The submit path skips the draft query when the invitation was never started; a draft that
    appears in between (another tab saving) makes the insert collide, and the submit goes again."""
    from sqlmodel import Session

    from survey_engine.services.survey import find_invitation, submit_response

    issued = invite(session, customer="RP3", order="O1")
    invitation = find_invitation(session, issued.token)
    assert invitation.started_at is None
    with Session(db_engine) as other_tab:  # saves a draft after our submit loaded the invitation
        other_tab.add(Response(invitation_id=invitation.id, customer_id=invitation.customer_id,
                               questionnaire_version_id=invitation.questionnaire_version_id, language="en",
                               answers={"ch1": 1}, started_at=utcnow()))
        other_tab.commit()
    outcome = submit_response(session, invitation, complete_answers(), language="en", channel="api")
    session.commit()
    assert outcome.status == "submitted" and outcome.response_id is not None
    [stored] = _stored(session, issued.invitation.id)
    assert stored.id == outcome.response_id and stored.status == "submitted"
    assert stored.answers == complete_answers()
    assert session.get(Invitation, invitation.id).completed_at is not None
