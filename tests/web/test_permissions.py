"""Every route of the app, with every staff role signed in, with an API key of every role and with
no credentials, answers as ``survey_engine.web.permissions.ENDPOINT_ACCESS`` declares.

The expected outcome of each request is derived from the declared map, so a route that is not
declared, or that checks other roles than declared, fails here:

- public: never 401/403 for anyone;
- staff page: anonymous (or only an API key) → GET redirects to the sign-in page, other methods 401;
  a signed-in role not allowed → 403; an allowed role → 200 for GET, and no 401/403 otherwise;
- API: no key (a staff session is not a key) → 401; a key of another role → 403; an allowed key →
  no 401/403.
"""
from __future__ import annotations

import time

import pytest

from survey_engine.web.permissions import ENDPOINT_ACCESS
from tests.web.staff_support import QUESTIONNAIRE, ROLES, crm_persons, fit_factors, make_staff, seed_population

IGNORED_METHODS = {"HEAD", "OPTIONS"}
METHOD_ORDER = {"GET": 0, "DELETE": 2}


@pytest.fixture
def permission_app(settings, db_engine):
    """The app with CSRF checks off: this test is about roles; test_staff_auth checks CSRF."""
    from survey_engine.app import create_app

    return create_app(settings, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})


def _world(db_engine, tmp_path):
    """Demo data and one real value for every URL argument the app's routes take."""
    from sqlmodel import Session, select

    from survey_engine.db import session_scope
    from survey_engine.models import Customer
    from survey_engine.services import staff as accounts
    from survey_engine.services.exports import export_profiles
    from survey_engine.services.webhooks import add_subscription
    from survey_engine.services.survey import authenticate_api_key, create_api_key, create_invitation

    seed_population(db_engine, tmp_path, customers=60)
    model_id = fit_factors(db_engine)
    person_id = crm_persons(db_engine, 3)[0]
    users = make_staff(db_engine)
    exports = tmp_path / "instance" / "exports"  # the app's instance folder: its downloads come from here
    exports.mkdir(parents=True)
    run_id = export_profiles(db_engine, fmt="csv", out=exports / "all.csv").run_id
    with session_scope(db_engine) as session:
        keys = {role: create_api_key(session, role, f"test {role}") for role in ROLES}
        spare_key = create_api_key(session, "marketer", "to be revoked")
        subscription, _ = add_subscription(session, name="crm", url="https://crm.example.com/hook")
        customer = session.exec(select(Customer).order_by(Customer.id)).first()
        issued = create_invitation(session, customer_external_id="PERM-1", order_id="PERM-O1",
                                   questionnaire_id=QUESTIONNAIRE, ttl_days=30)
    with Session(db_engine) as session:
        spare_key_id = authenticate_api_key(session, spare_key).id
        fingerprints = {role: accounts.session_fingerprint(accounts.get_user(session, uid))
                        for role, uid in users.items()}
    samples = {
        "filename": "staff.css",
        "token": issued.token,
        "questionnaire_id": QUESTIONNAIRE,
        "version": 1,
        "model_id": model_id,
        "user_id": users["researcher"],
        "key_id": spare_key_id,
        "person_id": person_id,
        "external_id": customer.external_id,
        "run_id": run_id,
        "subscription_id": subscription.id,
    }
    return samples, keys, users, fingerprints


def _expected(access, identity: str, method: str) -> str:
    kind, _, role = identity.partition(":")
    if access.kind == "public":
        return "allowed"
    if access.kind == "staff":
        if kind != "staff":
            return "sign-in" if method == "GET" else "401"
        return "allowed" if role in access.roles else "403"
    if kind != "key":
        return "401"
    return "allowed" if role in access.roles else "403"


def _outcome_matches(expected: str, access, method: str, response) -> bool:
    status = response.status_code
    if expected == "sign-in":
        return status == 302 and "/staff/sign-in" in response.headers.get("Location", "")
    if expected in {"401", "403"}:
        return status == int(expected)
    if status >= 500 or status in (401, 403):
        return False
    if access.kind == "staff" and method == "GET":
        return status == 200
    return True


def test_every_route_is_declared(permission_app):
    endpoints = {rule.endpoint for rule in permission_app.url_map.iter_rules()}
    undeclared = sorted(endpoints - set(ENDPOINT_ACCESS))
    assert not undeclared, f"declare these endpoints in survey_engine/web/permissions.py: {undeclared}"
    stale = sorted(set(ENDPOINT_ACCESS) - endpoints)
    assert not stale, f"permissions.py declares endpoints the app does not have: {stale}"


def test_every_route_answers_each_role_as_declared(permission_app, db_engine, tmp_path):
    samples, keys, users, fingerprints = _world(db_engine, tmp_path)
    identities = ["anonymous"] + [f"staff:{r}" for r in ROLES] + [f"key:{r}" for r in ROLES]
    adapter = permission_app.url_map.bind("localhost")
    mismatches, checked = [], 0
    # Reads first, deletions last: an allowed POST or DELETE (an erasure, a revocation) may remove
    # the sample a later request needs, and a read must still find it.
    requests = sorted(((METHOD_ORDER.get(method, 1), rule.rule, method, rule)
                       for rule in permission_app.url_map.iter_rules()
                       for method in rule.methods - IGNORED_METHODS), key=lambda r: r[:3])
    for _, _, method, rule in requests:
        access = ENDPOINT_ACCESS[rule.endpoint]
        missing = [name for name in rule.arguments if name not in samples]
        assert not missing, f"add sample values for {missing} (route {rule.rule}) to this test"
        url = adapter.build(rule.endpoint, {name: samples[name] for name in rule.arguments}, method=method)
        for identity in identities:
            client = permission_app.test_client()
            headers = {}
            kind, _, role = identity.partition(":")
            if kind == "staff":
                with client.session_transaction() as session:
                    session["staff"] = {"id": users[role], "fp": fingerprints[role], "at": time.time()}
            elif kind == "key":
                headers["Authorization"] = f"Bearer {keys[role]}"
            response = client.open(url, method=method, headers=headers)
            expected = _expected(access, identity, method)
            checked += 1
            if not _outcome_matches(expected, access, method, response):
                mismatches.append(f"{method} {url} as {identity}: expected {expected}, "
                                  f"got {response.status_code} {response.headers.get('Location', '')}")
    assert not mismatches, "\n".join(mismatches)
    assert checked >= 7 * len(ENDPOINT_ACCESS)


def test_a_new_undeclared_route_fails_the_walk(permission_app):
    """The check above is not vacuous: a route added without a declaration is reported."""
    from flask import Blueprint

    extra = Blueprint("staff_extra", __name__)
    extra.add_url_rule("/staff/extra", "page", lambda: "no check")
    permission_app.register_blueprint(extra)
    endpoints = {rule.endpoint for rule in permission_app.url_map.iter_rules()}
    assert "staff_extra.page" in endpoints - set(ENDPOINT_ACCESS)
