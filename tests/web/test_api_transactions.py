"""POST /api/v1/transactions: roles, all-or-nothing validation in the API error shape, idempotency."""
import pytest
from sqlmodel import select

from survey_engine.models.clv import ImportRun, Transaction
from survey_engine.services.survey import create_api_key


@pytest.fixture
def keys(session):
    made = {role: create_api_key(session, role) for role in ("researcher", "marketer", "admin")}
    session.commit()
    return made


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def line(**overrides):
    record = {"customer_id": "C1", "order_id": "O1", "line_id": "1", "timestamp": "2024-03-01T10:00:00Z",
              "amount": "120.50", "currency": "EUR", "category": "watches", "channel": "app", "store": "IT"}
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def assert_error_shape(response, status):
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"ok", "status", "error", "errors"}
    assert body["ok"] is False and body["status"] == status
    return body


def test_posting_stores_lines_once(client, keys, session):
    body = {"transactions": [line(), line(line_id="2", amount=30, currency="USD")]}
    first = client.post("/api/v1/transactions", json=body, headers=auth(keys["marketer"]))
    assert first.status_code == 201
    result = first.get_json()
    assert result["ok"] is True and (result["received"], result["stored"], result["duplicates"]) == (2, 2, 0)
    assert result["reporting_currency"] == "EUR"
    again = client.post("/api/v1/transactions", json=body, headers=auth(keys["admin"]))
    assert again.status_code == 200 and again.get_json()["stored"] == 0 and again.get_json()["duplicates"] == 2
    stored = session.exec(select(Transaction).order_by(Transaction.line_id)).all()
    assert [(t.line_id, t.currency, t.original_amount) for t in stored] == [("1", "EUR", 120.5), ("2", "USD", 30.0)]
    assert stored[1].amount == pytest.approx(30 * 0.92)  # packaged indicative rate
    assert [r.source for r in session.exec(select(ImportRun)).all()] == ["api", "api"]


def test_invalid_records_store_nothing_and_name_each_field(client, keys, session):
    body = {"transactions": [line(), line(order_id="O2", amount=-5, currency="ZZZ", timestamp="tomorrow"),
                             line(order_id="O3", customer_id=None, colour="red")]}
    response = client.post("/api/v1/transactions", json=body, headers=auth(keys["admin"]))
    errors = assert_error_shape(response, 400)["errors"]
    assert errors == {"transactions[2].colour": "unknown field"}
    del body["transactions"][2]["colour"]
    errors = assert_error_shape(client.post("/api/v1/transactions", json=body, headers=auth(keys["admin"])), 400)["errors"]
    assert errors == {
        "transactions[1].timestamp": "unparseable date 'tomorrow'",
        "transactions[1].amount": "negative amount -5",
        "transactions[1].currency": "unknown currency 'ZZZ'",
        "transactions[2].customer_id": "missing customer id",
    }
    assert session.exec(select(Transaction)).all() == []


@pytest.mark.parametrize(
    "body, field",
    [({}, "transactions"), ({"transactions": []}, "transactions"), ({"transactions": [1]}, "transactions[0]"),
     ({"transactions": [line()], "extra": 1}, "extra"), ({"transactions": [line(amount={"v": 1})]}, "transactions[0].amount"),
     ({"transactions": [line()] * 1001}, "transactions")],
)
def test_malformed_bodies(client, keys, body, field):
    response = client.post("/api/v1/transactions", json=body, headers=auth(keys["admin"]))
    assert field in assert_error_shape(response, 400)["errors"]


def test_roles_and_authentication(client, keys):
    body = {"transactions": [line()]}
    assert_error_shape(client.post("/api/v1/transactions", json=body), 401)
    assert_error_shape(client.post("/api/v1/transactions", json=body, headers=auth(keys["researcher"])), 403)
    assert_error_shape(client.post("/api/v1/transactions", data="x", headers=auth(keys["admin"])), 400)
