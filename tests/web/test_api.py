"""The JSON API: authentication and roles, invitations, headless submission, listing, one error shape."""
import json

import pytest
from sqlmodel import select

from survey_engine.models import Invitation, Response
from survey_engine.services.survey import create_api_key
from tests.helpers import QUESTIONNAIRE, complete_answers, invite


@pytest.fixture
def keys(session, loaded_questionnaires):
    made = {role: create_api_key(session, role) for role in ("researcher", "marketer", "admin")}
    session.commit()
    return made


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def assert_error_shape(response, status):
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"ok", "status", "error", "errors"}
    assert body["ok"] is False and body["status"] == status and isinstance(body["errors"], dict)
    return body


def test_openapi_documents_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        assert path in document["paths"], f"{rule.rule} is not in the OpenAPI document"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"][path], f"{method} {rule.rule} undocumented"


def test_staff_endpoints_need_a_valid_key_of_the_right_role(client, keys):
    assert_error_shape(client.get("/api/v1/questionnaires"), 401)
    assert_error_shape(client.get("/api/v1/questionnaires", headers=auth("se_deadbeef_nope")), 401)
    assert client.get("/api/v1/questionnaires", headers=auth(keys["marketer"])).status_code == 200
    assert_error_shape(client.get("/api/v1/responses", headers=auth(keys["marketer"])), 403)
    assert client.get("/api/v1/responses", headers=auth(keys["researcher"])).status_code == 200


def test_read_questionnaire(client, keys):
    body = client.get(f"/api/v1/questionnaires/{QUESTIONNAIRE}", headers=auth(keys["researcher"])).get_json()
    assert body["version"] == 1 and body["spec"]["id"] == QUESTIONNAIRE
    assert_error_shape(client.get("/api/v1/questionnaires/nope", headers=auth(keys["researcher"])), 404)
    assert_error_shape(client.get(f"/api/v1/questionnaires/{QUESTIONNAIRE}?version=x",
                                  headers=auth(keys["researcher"])), 400)


def test_create_invitation_and_refuse_duplicates(client, keys):
    payload = {"customer": "C42", "order": "O-1001", "questionnaire": QUESTIONNAIRE, "language": "it"}
    created = client.post("/api/v1/invitations", json=payload, headers=auth(keys["marketer"]))
    assert created.status_code == 201
    body = created.get_json()
    assert body["url"].endswith(f"/s/{body['token']}") and len(body["token"]) >= 40
    assert_error_shape(client.post("/api/v1/invitations", json=payload, headers=auth(keys["marketer"])), 409)
    reissued = client.post("/api/v1/invitations", json={**payload, "reissue": True}, headers=auth(keys["marketer"]))
    assert reissued.status_code == 201 and reissued.get_json()["token"] != body["token"]
    assert client.get(f"/s/{body['token']}").status_code == 404


def test_invitation_errors_list_every_field(client, keys):
    response = client.post("/api/v1/invitations", json={"order": "", "questionnaire": 5, "extra": 1},
                           headers=auth(keys["admin"]))
    body = assert_error_shape(response, 400)
    assert set(body["errors"]) == {"customer", "order", "questionnaire", "extra"}


def test_headless_submit_replay_returns_the_same_outcome(client, session, keys):
    issued = invite(session, customer="C7", order="O7")
    first = client.post("/api/v1/responses", json={"token": issued.token, "answers": complete_answers()})
    assert first.status_code == 200, first.get_json()
    replay = client.post("/api/v1/responses", json={"token": issued.token, "answers": complete_answers(ch1=1)})
    assert replay.status_code == 200
    assert replay.get_json() == first.get_json()
    stored = session.exec(select(Response)).one()
    assert stored.channel == "api" and stored.answers["ch1"] == 3


def test_invalid_answers_list_every_offending_field_and_store_nothing(client, session, keys):
    issued = invite(session, customer="C8", order="O8")
    answers = complete_answers(ch1=9, es1="5", nps=None, bogus=1, category="cars")
    answers["style_words"] = "y" * 501
    response = client.post("/api/v1/responses", json={"token": issued.token, "answers": answers})
    body = assert_error_shape(response, 422)
    for field in ["ch1", "es1", "nps", "bogus", "category", "style_words"]:
        assert any(field in key for key in body["errors"]), (field, body["errors"])
    assert session.exec(select(Response)).all() == []
    session.expire_all()
    assert session.get(Invitation, issued.invitation.id).completed_at is None


@pytest.mark.parametrize("data, content_type, status", [
    ("{not json", "application/json", 400),
    ("[1, 2]", "application/json", 400),
    (b"\xff\xfe\x00garbage", "application/json", 400),
    ("token=x", "application/x-www-form-urlencoded", 400),
])
def test_malformed_bodies(client, loaded_questionnaires, data, content_type, status):
    assert_error_shape(client.post("/api/v1/responses", data=data, content_type=content_type), status)


def test_body_over_one_megabyte_is_refused(client, session, loaded_questionnaires):
    issued = invite(session)
    body = json.dumps({"token": issued.token, "answers": {"style_words": "z" * (1024 * 1024)}})
    assert_error_shape(client.post("/api/v1/responses", data=body, content_type="application/json"), 413)
    assert session.exec(select(Response)).all() == []


def test_unknown_and_used_tokens(client, session, loaded_questionnaires):
    assert_error_shape(client.post("/api/v1/responses", json={"token": "nope", "answers": {}}), 404)


def test_list_responses_paginates_and_filters(client, session, keys):
    for i in range(5):
        issued = invite(session, customer=f"C{i}", order=f"O{i}")
        assert client.post("/api/v1/responses", json={"token": issued.token,
                                                      "answers": complete_answers()}).status_code == 200
    page = client.get("/api/v1/responses?per_page=2&page=2", headers=auth(keys["researcher"])).get_json()
    assert page["total"] == 5 and page["pages"] == 3 and len(page["items"]) == 2
    only = client.get("/api/v1/responses?customer=C3", headers=auth(keys["researcher"])).get_json()
    assert [item["customer"] for item in only["items"]] == ["C3"]
    assert only["items"][0]["questionnaire"] == QUESTIONNAIRE and only["items"][0]["version"] == 1
    body = assert_error_shape(client.get("/api/v1/responses?page=0&per_page=9999&since=yesterday&colour=red",
                                         headers=auth(keys["researcher"])), 400)
    assert set(body["errors"]) == {"page", "per_page", "since", "colour"}
