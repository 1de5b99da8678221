"""Hostile input, one named case per test: XSS payloads on every staff page, SQL injection in every
query parameter, oversized bodies and fields, invalid UTF-8, CSRF tokens missing or wrong, and API
keys of one role on another role's routes. Each walks the routes that exist, so pages added later
are covered without editing this file."""
from __future__ import annotations

import inspect
import re

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, select

from survey_engine.models import ApiKey, Response
from survey_engine.services.survey import create_api_key, find_invitation, submit_response
from survey_engine.web.openapi import openapi_document
from tests.helpers import as_form, complete_answers, csrf_from, invite
from tests.web.staff_support import make_staff, password_hash, sign_in

XSS = ["<script>alert('xss1')</script>", "\"><svg onload=alert('xss2')>", "'><img src=x onerror=alert('xss3')>"]
RAW_MARKERS = ["<script>alert(", "<svg onload=", "<img src=x onerror="]
SQL_INJECTION = ["' OR '1'='1", "1; DROP TABLE response; --", "\" OR 1=1 --", "1' UNION SELECT key_hash FROM api_key --",
                 "%' OR 1=1 --", "') OR ('1'='1", "1 AND SLEEP(5)", "';SELECT pg_sleep(5);--", "\x00", "NUL\x00byte", "𝟙", "²"]


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _counts(engine) -> dict[str, int]:
    import survey_engine.models  # noqa: F401

    with engine.connect() as connection:
        return {table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in SQLModel.metadata.sorted_tables if table.name != "rate_limit_counter"}


def _get_routes(app, prefix: str):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith(prefix) and "GET" in rule.methods:
            yield rule


def _query_parameters(app, rule) -> set[str]:
    """Query parameters a GET route reads: from the OpenAPI document, or from its view's source."""
    path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
    documented = openapi_document()["paths"].get(path, {}).get("get", {}).get("parameters", [])
    names = {p["name"] for p in documented if p["in"] == "query"}
    view = inspect.unwrap(app.view_functions[rule.endpoint])
    source = inspect.getsource(inspect.getmodule(view))
    names |= set(re.findall(r"request\.args\.get(?:list)?\(\s*[\"'](\w+)[\"']", source))
    return names


@pytest.fixture
def hostile_world(session, db_engine, loaded_questionnaires):
    """Names and free text carrying XSS payloads, in every place a staff page may show them."""
    from survey_engine.models import Customer
    from survey_engine.models.staff import StaffUser

    issued = []
    for i, payload in enumerate(XSS):
        invitation = invite(session, customer=f"X{i}{payload}"[:100], order=f"O{i}{payload}"[:100])
        customer = session.get(Customer, invitation.invitation.customer_id)
        customer.first_name, customer.last_name, customer.email = payload, payload, f"x{i}@example.com"
        session.add(customer)
        answers = complete_answers(style_words=payload, special_purchase=payload, nps=3, improve=payload)
        submit_response(session, find_invitation(session, invitation.token), answers, language="en")
        issued.append(invitation)
    for payload in XSS:
        create_api_key(session, "marketer", name=payload)
    session.add(StaffUser(email=f"{XSS[0]}@example.com", role="researcher", password_hash=password_hash()))
    session.commit()
    make_staff(db_engine, "admin")
    return issued


def test_xss_payloads_are_escaped_on_every_staff_page(app, hostile_world):
    client = app.test_client()
    assert sign_in(client, "admin").status_code in {302, 303}
    pages, escaped_seen = 0, False
    for rule in _get_routes(app, "/staff"):
        if rule.endpoint == "staff_auth.sign_in":
            continue
        values = [{name: 1 for name in rule.arguments}]
        values += [{name: (1 if name in {"version"} else payload) for name in rule.arguments}
                   for payload in XSS] if rule.arguments else []
        for args in values:
            try:
                url = app.url_map.bind("localhost").build(rule.endpoint, args)
            except Exception:  # an <int:> part cannot hold a payload
                continue
            response = client.get(url)
            assert response.status_code < 500, (url, response.status_code)
            html = response.get_data(as_text=True)
            pages += 1
            for marker in RAW_MARKERS:
                assert marker not in html, f"{url}: unescaped payload {marker!r}"
            escaped_seen |= "&lt;script&gt;alert(" in html or "&lt;svg onload=" in html
    assert pages >= 5
    assert escaped_seen, "no staff page showed any of the seeded names: the check proved nothing"


def test_xss_payloads_are_escaped_on_respondent_pages(client, hostile_world, session, loaded_questionnaires):
    fresh = invite(session, customer="XR", order="OR")
    token = csrf_from(client.get(f"/s/{fresh.token}").get_data(as_text=True))
    saved = client.post(f"/s/{fresh.token}", data=as_form({"style_words": XSS[0], "ch1": XSS[1]}, action="save",
                                                          csrf_token=token))
    invalid = client.post(f"/s/{fresh.token}", data=as_form(complete_answers(style_words=XSS[1], ch1="9"),
                                                            csrf_token=token))
    reflected = client.get(f"/s/{fresh.token}?lang={XSS[0]}")
    for response in (saved, invalid, reflected, client.get(f"/s/{XSS[0]}")):
        html = response.get_data(as_text=True)
        assert response.status_code < 500
        for marker in RAW_MARKERS:
            assert marker not in html
    assert "&lt;script&gt;alert(" in saved.get_data(as_text=True)


def test_sql_injection_strings_in_every_query_parameter(app, db_engine, hostile_world, session):
    admin = create_api_key(session, "admin")
    session.commit()
    client = app.test_client()
    assert sign_in(client, "admin").status_code in {302, 303}
    before = _counts(db_engine)
    tried = 0
    for rule in list(_get_routes(app, "/api")) + list(_get_routes(app, "/staff")):
        names = _query_parameters(app, rule)
        url = app.url_map.bind("localhost").build(rule.endpoint, {name: 1 for name in rule.arguments})
        for name in names:
            for payload in SQL_INJECTION:
                response = client.get(url, query_string={name: payload}, headers=_auth(admin))
                tried += 1
                assert response.status_code < 500, (url, name, payload, response.status_code)
                if response.is_json and response.status_code == 200 and "total" in response.get_json():
                    assert response.get_json()["total"] == 0, (url, name, payload)
        for name in rule.arguments:  # and in the path, where the part is a string
            for payload in SQL_INJECTION:
                try:
                    url = app.url_map.bind("localhost").build(rule.endpoint, {**{n: 1 for n in rule.arguments},
                                                                             name: payload})
                except Exception:
                    continue
                response = client.get(url, headers=_auth(admin))
                tried += 1
                assert response.status_code < 500, (url, response.status_code)
    assert tried >= 100
    assert _counts(db_engine) == before, "an injected statement changed the database"


def test_oversized_bodies_and_fields(client, app, session, loaded_questionnaires):
    limit = app.config["MAX_CONTENT_LENGTH"]
    issued = invite(session, customer="BIG", order="O1")
    huge = client.post("/api/v1/responses", data=b"{" + b" " * (limit + 1) + b"}", content_type="application/json")
    assert huge.status_code == 413 and huge.get_json()["status"] == 413
    form = client.post(f"/s/{issued.token}", data={"style_words": "x" * (limit + 1)})
    assert form.status_code == 413 and "text/html" in form.content_type

    def submit(**body):
        return client.post("/api/v1/responses", json={"token": issued.token, "answers": complete_answers(), **body})

    long_text = submit(answers=complete_answers(style_words="x" * 501, special_purchase="y" * 100_000))
    assert long_text.status_code == 422
    assert set(long_text.get_json()["errors"]) == {"answers.style_words", "answers.special_purchase"}
    assert submit(token="t" * 100_000).get_json()["errors"] == {"token": "must be at most 200 characters"}
    many = submit(answers={**complete_answers(), **{f"extra{i}": i for i in range(20_000)}})
    assert many.status_code == 422 and len(many.get_json()["errors"]) == 20_000
    numbers = submit(answers=complete_answers(ch1=10**30, nps=-10**30))
    assert numbers.status_code == 422 and {"answers.ch1", "answers.nps"} <= set(numbers.get_json()["errors"])
    long_key = client.post("/api/v1/invitations", json={"customer": "c" * 101, "order": "o", "questionnaire": "q"},
                           headers={"Authorization": "Bearer " + "k" * 50_000})
    assert long_key.status_code == 401
    assert session.exec(select(Response)).all() == []


def test_invalid_utf8_anywhere(client, session, loaded_questionnaires):
    issued = invite(session, customer="UTF", order="O1")
    bad = b"\xff\xfe\xc3\x28\xa0\xa1\xed\xa0\x80"
    body = b'{"token": "' + bad + b'", "answers": {"style_words": "' + bad + b'"}}'
    response = client.post("/api/v1/responses", data=body, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["errors"] == {"body": "The body is not valid JSON."}
    token = csrf_from(client.get(f"/s/{issued.token}").get_data(as_text=True))
    form = client.post(f"/s/{issued.token}", data=b"csrf_token=" + token.encode() + b"&action=save&style_words=" + bad,
                       content_type="application/x-www-form-urlencoded")
    # Werkzeug drops a form it cannot decode, so the CSRF check refuses it: a clean 400, never a crash.
    assert form.status_code in {200, 400}
    assert session.exec(select(Response)).all() == [] or form.status_code == 200
    for path in ["/s/%FF%FE", "/s/%ED%A0%80/thanks", "/api/v1/questionnaires/%C3%28", "/staff/%FF",
                 "/api/v1/responses?customer=%FF%FE&since=%C3%28"]:
        response = client.get(path, headers={"Authorization": "Bearer se_\xff\xfe_\xc3("})
        assert response.status_code < 500, (path, response.status_code)
    cookie = client.get("/staff/", headers={"Cookie": "session=\xff\xfe"})
    assert cookie.status_code < 500


def test_csrf_token_missing_or_wrong(app, db_engine, session, loaded_questionnaires):
    issued = invite(session, customer="CSRF", order="O1")
    victim, attacker = app.test_client(), app.test_client()
    victim_token = csrf_from(victim.get(f"/s/{issued.token}").get_data(as_text=True))
    attacker_token = csrf_from(attacker.get(f"/s/{issued.token}").get_data(as_text=True))
    for token in ["", "not-a-token", attacker_token, victim_token[:-2] + "xx"]:
        response = victim.post(f"/s/{issued.token}", data=as_form(complete_answers(), csrf_token=token))
        assert response.status_code == 400, token
        assert "csrf_token" in response.get_data(as_text=True) or "reload the page" in response.get_data(as_text=True)
    assert session.exec(select(Response)).all() == []
    # The staff forms too: signing in and creating an API key.
    make_staff(db_engine, "admin")
    staff = app.test_client()
    refused = staff.post("/staff/sign-in", data={"email": "admin@example.com", "password": "x"})
    assert refused.status_code == 400
    assert sign_in(staff, "admin").status_code in {302, 303}
    keys_before = len(session.exec(select(ApiKey)).all())
    for token in [None, "forged", attacker_token]:
        data = {"name": "via forged form", "role": "marketer"} | ({"csrf_token": token} if token else {})
        assert staff.post("/staff/admin/api-keys", data=data).status_code == 400
    session.expire_all()
    assert len(session.exec(select(ApiKey)).all()) == keys_before
    # Control: the same form with its own token is accepted, so the refusals above were the token's.
    own = csrf_from(staff.get("/staff/admin/api-keys").get_data(as_text=True))
    assert staff.post("/staff/admin/api-keys", data={"name": "real", "role": "marketer",
                                                        "csrf_token": own}).status_code in {201, 302, 303}
    session.expire_all()
    assert len(session.exec(select(ApiKey)).all()) == keys_before + 1


def test_an_api_key_of_one_role_on_another_roles_routes(app, client, db_engine, session, loaded_questionnaires):
    """Every API route that names its roles refuses every other role with 403 and writes nothing;
    a revoked key is 401; an API key opens no staff page and a staff session opens no API route.
    (tests/web/test_permissions.py walks each route's declared access; this adds the no-side-effect
    and cross-credential cases.)"""
    from survey_engine.models.base import utcnow

    keys = {role: create_api_key(session, role) for role in ("researcher", "marketer", "admin")}
    revoked = create_api_key(session, "admin")
    session.commit()
    row = session.exec(select(ApiKey).where(ApiKey.prefix == revoked.split("_")[1])).one()
    row.revoked_at = utcnow()
    session.add(row)
    session.commit()
    adapter = app.url_map.bind("localhost")
    checked = 0
    before = _counts(db_engine)
    for rule in app.url_map.iter_rules():
        roles = getattr(app.view_functions[rule.endpoint], "required_roles", None)
        if roles is None:
            continue
        url = adapter.build(rule.endpoint, {name: 1 for name in rule.arguments})
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            body = {"customer": "C", "order": "O", "questionnaire": "post_purchase_luxury"}
            for role, key in keys.items():
                if role in roles:
                    continue
                response = client.open(url, method=method, json=body, headers=_auth(key))
                assert response.status_code == 403, (method, url, role, response.status_code)
                assert response.get_json()["errors"] == {}
                checked += 1
            assert client.open(url, method=method, json=body, headers=_auth(revoked)).status_code == 401
    assert checked >= 5
    assert _counts(db_engine) == before
    assert client.get("/staff/admin/users", headers=_auth(keys["admin"])).status_code in {302, 303, 401}
    make_staff(db_engine, "admin")
    staff = app.test_client()
    sign_in(staff, "admin")
    assert staff.get("/api/v1/responses").status_code == 401


def test_digit_lookalikes_and_huge_numbers_in_every_json_body_field(app, client, db_engine, session,
                                                                    loaded_questionnaires):
    """Every string field of every documented JSON body gets "²", "٣" and a 30-digit number (ids
    are often parsed from strings): refused or not found, never a 500."""
    admin = create_api_key(session, "admin")
    session.commit()
    document = openapi_document()
    schemas = document["components"]["schemas"]
    tried = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if method not in {"post", "put", "patch"} or content is None:
                continue
            schema = content["schema"]
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
            properties = schema.get("properties", {})
            if "{" in path:
                continue
            for name in properties:
                for value in ["²", "٣", "9" * 30, "-" + "9" * 30]:
                    body = {other: "1" for other in schema.get("required", [])} | {name: value}
                    response = client.open(path, method=method.upper(), json=body, headers=_auth(admin))
                    tried += 1
                    assert response.status_code < 500, (method, path, name, value, response.status_code)
    assert tried >= 40
