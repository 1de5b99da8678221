"""Security headers on every route of ``app.url_map`` (signed out and signed in as admin, every
method, error responses included); the input limits of ``survey_engine.web.security``."""
from __future__ import annotations

import pytest

from survey_engine.web.security import MAX_ROW_ID
from tests.helpers import invite

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def assert_security_headers(response, where: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, f"{where}: CSP without frame-ancestors: {csp!r}"
    assert "default-src 'self'" in csp and "object-src 'none'" in csp, where
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    assert response.headers.get("Referrer-Policy") == "no-referrer", where


@pytest.fixture
def signed_in_admin(app, db_engine):
    from tests.web.staff_support import make_staff, sign_in

    make_staff(db_engine, "admin")
    client = app.test_client()
    assert sign_in(client, "admin").status_code in {302, 303}
    return client


def _sample_urls(app, token: str) -> list[tuple[str, str]]:
    samples = {"token": token, "filename": "survey.css", "questionnaire_id": "post_purchase_luxury",
               "version": 1}
    adapter = app.url_map.bind("localhost")
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        values = {name: samples.get(name, 1) for name in rule.arguments}
        for method in sorted(rule.methods - IGNORED_METHODS):
            urls.append((method, adapter.build(rule.endpoint, values, method=method)))
    return urls


def test_every_route_sends_the_security_headers(app, client, signed_in_admin, session, loaded_questionnaires):
    token = invite(session, customer="SEC1", order="O1").token
    urls = _sample_urls(app, token)
    assert len(urls) >= 15
    seen_html = 0
    for method, url in urls:
        for who, http in (("anonymous", client), ("admin", signed_in_admin)):
            response = http.open(url, method=method)
            assert response.status_code < 500, f"{method} {url} as {who}: {response.status_code}"
            assert_security_headers(response, f"{method} {url} as {who} ({response.status_code})")
            seen_html += response.mimetype == "text/html" and response.status_code == 200
    assert seen_html >= 5, "the walk reached too few pages to mean anything"


@pytest.mark.parametrize(("method", "path"), [("GET", "/no/such/page"), ("DELETE", "/healthz"),
                                              ("GET", "/static/../../etc/passwd"),
                                              ("GET", f"/staff/factors/{MAX_ROW_ID + 1}")])
def test_error_responses_send_them_too(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code in {404, 405}
    assert_security_headers(response, path)


def test_json_nested_too_deeply_is_invalid_json(client):
    body = b'{"token": "t", "answers": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post("/api/v1/responses", data=body, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["errors"] == {"body": "The body is not valid JSON."}


def test_int_route_parts_stop_at_the_largest_row_id(app):
    adapter = app.url_map.bind("localhost")
    endpoint, values = adapter.match(f"/staff/factors/{MAX_ROW_ID}")
    assert values == {"model_id": MAX_ROW_ID}
    with pytest.raises(Exception) as raised:
        adapter.match(f"/staff/factors/{MAX_ROW_ID + 1}")
    assert getattr(raised.value, "code", None) == 404
