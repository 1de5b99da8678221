"""``/api/v1/identity``: roles, the one error shape, import with per-record field errors, resolve,
merge and split (recorded with the API key), person and customer lookups."""
import pytest
from sqlmodel import select

from survey_engine.models.identity import ManualDecision, Person, SourceRecord
from survey_engine.services.survey import create_api_key
from tests.identity.records import demo_records

PREFIX = "/api/v1/identity"


@pytest.fixture
def keys(session):
    made = {role: create_api_key(session, role, name=f"{role} key") for role in ("researcher", "marketer", "admin")}
    session.commit()
    return made


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def assert_error_shape(response, status):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"ok", "status", "error", "errors"}
    assert body["ok"] is False and body["status"] == status and isinstance(body["errors"], dict)
    return body


def payload(n_customers=40, seed=9):
    records, _, _ = demo_records(n_customers, seed)
    records = records.astype(object).where(records.notna(), None)
    records["created_at"] = [t.isoformat() if t is not None else None for t in records["created_at"]]
    return records, {"records": records.to_dict(orient="records")}


@pytest.fixture
def loaded(client, keys):
    records, body = payload()
    response = client.post(f"{PREFIX}/records", json=body, headers=auth(keys["marketer"]))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["inserted"] == len(records)
    resolved = client.post(f"{PREFIX}/resolve", json={}, headers=auth(keys["admin"]))
    assert resolved.status_code == 200, resolved.get_json()
    return records, resolved.get_json()


def test_roles(client, keys, loaded):
    _, body = payload(5, 1)
    assert_error_shape(client.post(f"{PREFIX}/records", json=body), 401)
    assert_error_shape(client.post(f"{PREFIX}/records", json=body, headers=auth(keys["researcher"])), 403)
    assert_error_shape(client.post(f"{PREFIX}/resolve", json={}, headers=auth(keys["marketer"])), 403)
    assert_error_shape(client.post(f"{PREFIX}/merge", json={"a": 1, "b": 2, "reason": "x"},
                                   headers=auth(keys["researcher"])), 403)
    assert_error_shape(client.post(f"{PREFIX}/split", json={"record": "crm:X", "reason": "x"},
                                   headers=auth(keys["researcher"])), 403)
    assert client.get(f"{PREFIX}/persons/1", headers=auth(keys["researcher"])).status_code in (200, 404)


def test_import_reports_every_bad_field_by_record_and_stores_nothing(client, keys, session):
    body = {"records": [
        {"source": "crm", "source_record_id": "CRM1", "country": "IT", "first_name": "Anna"},
        {"source": "crm", "country": "Italy", "created_at": "soon", "nickname": "Annie"},
    ]}
    error = assert_error_shape(client.post(f"{PREFIX}/records", json=body, headers=auth(keys["admin"])), 422)
    assert error["errors"] == {
        "records[1].source_record_id": "is required",
        "records[1].country": "must be a two-letter ISO 3166 code, got 'Italy'",
        "records[1].created_at": "must be an ISO 8601 date or timestamp, got 'soon'",
        "records[1].nickname": "unknown field; expected source, source_record_id, external_id, first_name, last_name, "
                               "email, phone, postcode, city, country, created_at",
    }
    assert session.execute(select(SourceRecord)).first() is None
    assert_error_shape(client.post(f"{PREFIX}/records", json={"records": []}, headers=auth(keys["admin"])), 400)
    assert_error_shape(client.post(f"{PREFIX}/records", data="x", headers=auth(keys["admin"])), 400)


def test_resolve_and_look_up(client, keys, loaded):
    records, summary = loaded
    assert summary["ok"] and summary["records"] == len(records) and summary["persons"] >= 40
    crm = records[records["source"] == "crm"].iloc[0]
    found = client.get(f"{PREFIX}/customers/{crm['external_id']}", headers=auth(keys["researcher"])).get_json()
    assert found["customer"] == crm["external_id"]
    person = found["person"]
    assert f"crm:{crm['source_record_id']}" in {r["ref"] for r in person["records"]}
    same = client.get(f"{PREFIX}/persons/{person['id']}", headers=auth(keys["researcher"])).get_json()["person"]
    assert same == person
    assert_error_shape(client.get(f"{PREFIX}/persons/999999", headers=auth(keys["researcher"])), 404)
    assert_error_shape(client.get(f"{PREFIX}/customers/NOPE", headers=auth(keys["researcher"])), 404)
    assert_error_shape(client.post(f"{PREFIX}/resolve", json={"threshold": 1.5}, headers=auth(keys["admin"])), 400)


def test_merge_and_split_are_recorded_with_the_api_key(client, keys, session, loaded):
    a, b = session.execute(select(Person.id).where(Person.retired_at.is_(None)).order_by(Person.id).limit(2)).scalars()
    merged = client.post(f"{PREFIX}/merge", json={"a": a, "b": str(b), "reason": "boutique confirmed"},
                         headers=auth(keys["marketer"]))
    assert merged.status_code == 200, merged.get_json()
    person = merged.get_json()["person"]
    assert person["id"] == a and person["decisions"][-1]["reason"] == "boutique confirmed"
    ref = person["records"][-1]["ref"]
    split = client.post(f"{PREFIX}/split", json={"record": ref, "reason": "wrong match"}, headers=auth(keys["admin"]))
    assert split.status_code == 200, split.get_json()
    assert ref in {r["ref"] for r in split.get_json()["person"]["records"]}
    decisions = session.execute(select(ManualDecision).order_by(ManualDecision.id)).scalars().all()
    assert [d.kind for d in decisions] == ["merge", "split"]
    assert decisions[0].decided_by.startswith("api-key:") and "marketer key" in decisions[0].decided_by
    rerun = client.post(f"{PREFIX}/resolve", headers=auth(keys["admin"]))
    assert rerun.status_code == 200 and rerun.get_json()["constraints"] >= 2

    assert_error_shape(client.post(f"{PREFIX}/merge", json={"a": a, "b": a, "reason": "x"},
                                   headers=auth(keys["admin"])), 409)
    missing = assert_error_shape(client.post(f"{PREFIX}/merge", json={"a": a, "extra": 1},
                                             headers=auth(keys["admin"])), 400)
    assert set(missing["errors"]) == {"b", "reason", "extra"}
    assert_error_shape(client.post(f"{PREFIX}/split", json={"record": "crm:NOPE", "reason": "x"},
                                   headers=auth(keys["admin"])), 404)


def test_person_id_must_be_a_number(client, keys):
    body = assert_error_shape(client.get(f"{PREFIX}/persons/abc", headers=auth(keys["researcher"])), 400)
    assert body["errors"] == {"person_id": "must be a positive integer"}
