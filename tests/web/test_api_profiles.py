"""Profiles, notes, corrections, contacts, exports and privacy in the JSON API: roles, the error
shape, and what each call stores."""
import csv
import io
import json

import pytest
from sqlmodel import select

from survey_engine.models.profiles import AdvisorNote, ErasureLog, ExportRun, Profile
from survey_engine.services.survey import create_api_key
from tests.profiling.world import restore, shared_world


@pytest.fixture
def world(db_engine):
    built = shared_world()
    restore(db_engine, built.rows)
    return built


@pytest.fixture
def keys(world, session):
    made = {role: create_api_key(session, role, f"{role} key") for role in ("researcher", "marketer", "admin")}
    session.commit()
    return made


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"ok", "status", "error", "errors"} and body["ok"] is False and body["status"] == status
    return body


def test_marketers_read_profiles_researchers_may_not(client, keys):
    error(client.get("/api/v1/profiles"), 401)
    error(client.get("/api/v1/profiles", headers=auth(keys["researcher"])), 403)
    page = client.get("/api/v1/profiles?value_tier=luxury&per_page=5", headers=auth(keys["marketer"])).get_json()
    assert page["ok"] and page["total"] == 16 and len(page["items"]) == 5 and page["pages"] == 4
    assert all(item["value_tier"] == "luxury" for item in page["items"])
    rising = client.get("/api/v1/profiles?rising=true", headers=auth(keys["admin"])).get_json()
    assert all(item["rising"] for item in rising["items"]) and rising["total"] > 0
    body = error(client.get("/api/v1/profiles?rising=maybe&colour=red", headers=auth(keys["admin"])), 400)
    assert body["errors"] == {"rising": "must be true or false", "colour": "unknown query parameter"}
    detail = client.get("/api/v1/profiles/1", headers=auth(keys["marketer"])).get_json()["profile"]
    assert detail["person_id"] == 1 and {"notes", "corrections", "contacts", "history"} <= set(detail)
    assert detail["history"][0]["source"] == "demo"
    error(client.get("/api/v1/profiles/999999", headers=auth(keys["marketer"])), 404)
    error(client.get("/api/v1/profiles/abc", headers=auth(keys["marketer"])), 404)


def test_notes_corrections_and_contacts(client, keys, session):
    headers = auth(keys["marketer"])
    created = client.post("/api/v1/profiles/2/notes", json={"text": "Likes early appointments"}, headers=headers)
    assert created.status_code == 201 and created.get_json()["author"].startswith("api-key:")
    assert session.exec(select(AdvisorNote)).one().text == "Likes early appointments"
    body = error(client.post("/api/v1/profiles/2/notes", json={"text": " ", "mood": 1}, headers=headers), 400)
    assert body["errors"] == {"text": "must be a non-empty string", "mood": "unknown field"}

    corrected = client.post("/api/v1/profiles/2/corrections", headers=headers, json={
        "catalog": "style_archetypes", "archetype": "classic_heritage", "reason": "Asked for archive pieces"})
    assert corrected.status_code == 201
    assert corrected.get_json()["profile"]["style_archetype"] == "classic_heritage"
    assert corrected.get_json()["profile"]["style_source"] == "advisor"
    wrong = error(client.post("/api/v1/profiles/2/corrections", headers=headers,
                              json={"catalog": "style_archetypes", "archetype": "dandy"}), 400)
    assert "archetype" in wrong["errors"]

    cap = session.get(Profile, 2).contact_cap
    for _ in range(cap):
        made = client.post("/api/v1/profiles/2/contacts", json={"channel": "email"}, headers=headers)
        assert made.status_code == 201
    assert made.get_json()["contacts_remaining"] == 0
    error(client.post("/api/v1/profiles/2/contacts", json={"channel": "email"}, headers=headers), 409)
    over = client.post("/api/v1/profiles/2/contacts", json={"channel": "phone", "over_cap": True}, headers=headers)
    assert over.status_code == 201
    body = error(client.post("/api/v1/profiles/2/contacts", json={"channel": "email", "occurred_at": "monday"},
                             headers=headers), 400)
    assert body["errors"] == {"occurred_at": "must be an ISO 8601 timestamp"}


def test_exports_download_the_file_with_the_cursor(client, keys, session):
    error(client.post("/api/v1/exports", json={"format": "csv"}, headers=auth(keys["researcher"])), 403)
    response = client.post("/api/v1/exports", json={"format": "salesforce"}, headers=auth(keys["marketer"]))
    assert response.status_code == 201 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == int(response.headers["X-Rows"]) > 0
    assert int(response.headers["X-Rows"]) + int(response.headers["X-Rows-Without-Consent"]) == 200
    cursor = int(response.headers["X-Next-Cursor"])
    again = client.post("/api/v1/exports", json={"format": "jsonl", "since": cursor}, headers=auth(keys["admin"]))
    assert again.status_code == 201 and again.get_data(as_text=True) == "" and again.headers["X-Rows"] == "0"
    runs = client.get("/api/v1/exports", headers=auth(keys["marketer"])).get_json()["items"]
    assert [r["destination"] for r in runs] == ["jsonl", "salesforce"] and runs[0]["since"] == cursor
    assert session.exec(select(ExportRun)).all()[0].triggered_by.startswith("api-key:")
    body = error(client.post("/api/v1/exports", json={"format": "xml", "since": -1}, headers=auth(keys["admin"])), 400)
    assert set(body["errors"]) == {"format", "since"}


def test_privacy_is_for_admins(client, keys, session):
    error(client.get("/api/v1/privacy/persons/3", headers=auth(keys["marketer"])), 403)
    error(client.delete("/api/v1/privacy/persons/3", headers=auth(keys["marketer"])), 403)
    exported = client.get("/api/v1/privacy/persons/3", headers=auth(keys["admin"])).get_json()["data"]
    email = exported["tables"]["identity_person"][0]["email"]
    assert exported["person_id"] == 3 and email
    erased = client.delete("/api/v1/privacy/persons/3", headers=auth(keys["admin"]))
    assert erased.status_code == 200 and erased.get_json()["rows_deleted"]["identity_person"] == 1
    assert session.get(Profile, 3) is None
    assert email not in json.dumps([r.model_dump(mode="json") for r in session.exec(select(ErasureLog)).all()])
    error(client.get("/api/v1/privacy/persons/3", headers=auth(keys["admin"])), 404)
