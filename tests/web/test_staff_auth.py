"""Staff sign-in and sign-out through the pages: sessions, redirects, lock-out, CSRF on every form."""
from __future__ import annotations

import re

from survey_engine.services import staff as accounts
from tests.helpers import csrf_from
from tests.web.staff_support import PASSWORD, email_for, form_token, make_staff, sign_in


def test_anonymous_get_is_sent_to_sign_in_and_back_afterwards(client, db_engine):
    make_staff(db_engine, "researcher")
    response = client.get("/staff/questionnaires/?x=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/sign-in?next=")
    signed_in = sign_in(client, "researcher")
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/staff/"
    page = client.get("/staff/sign-in?next=/staff/questionnaires/%3Fx%3D1")
    assert page.status_code == 302 and page.headers["Location"] == "/staff/questionnaires/?x=1"


def test_sign_in_follows_next_only_inside_the_staff_pages(client, db_engine):
    make_staff(db_engine, "admin")
    for target, landing in [("/staff/admin/users", "/staff/admin/users"), ("https://evil.example/staff/", "/staff/"),
                            ("//evil.example/staff/", "/staff/"), ("/s/abc", "/staff/"), ("/staff/\\evil", "/staff/")]:
        client.delete_cookie("session")
        token = csrf_from(client.get("/staff/sign-in").get_data(as_text=True))
        response = client.post("/staff/sign-in", data={"email": email_for("admin"), "password": PASSWORD,
                                                       "csrf_token": token, "next": target})
        assert response.status_code == 303
        assert response.headers["Location"] == landing, target


def test_session_cookie_is_http_only_and_same_site_lax(client, db_engine):
    make_staff(db_engine, "admin")
    response = sign_in(client, "admin")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert PASSWORD not in cookie


def test_home_lists_only_the_sections_of_the_role(client, db_engine):
    make_staff(db_engine, "researcher", "admin")
    sign_in(client, "researcher")
    html = client.get("/staff/").get_data(as_text=True)
    assert "Factor analysis" in html and "Fieldwork" in html
    assert 'href="/staff/admin/users"' not in html
    assert client.get("/staff/admin/users").status_code == 403
    client.post("/staff/sign-out", data={"csrf_token": csrf_from(html)})
    sign_in(client, "admin")
    assert 'href="/staff/admin/users"' in client.get("/staff/").get_data(as_text=True)


def test_sign_out_ends_the_session(client, db_engine):
    make_staff(db_engine, "admin")
    sign_in(client, "admin")
    token = form_token(client, "/staff/")
    response = client.post("/staff/sign-out", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/staff/sign-in"
    assert "You are signed out." in client.get("/staff/sign-in").get_data(as_text=True)
    assert client.get("/staff/").status_code == 302


def _failed_page(client, email, password="wrong password!"):
    page = client.get("/staff/sign-in")
    response = client.post("/staff/sign-in", data={"email": email, "password": password,
                                                   "csrf_token": csrf_from(page.get_data(as_text=True))})
    return response


def _message(response) -> str:
    return re.search(r'<p class="form-error"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S).group(1)


def test_lock_out_after_five_failures_with_the_same_answer_as_an_unknown_email(client, db_engine):
    make_staff(db_engine, "marketer")
    unknown = _failed_page(client, "nobody@example.com")
    answers = [_failed_page(client, email_for("marketer")) for _ in range(accounts.MAX_FAILED_ATTEMPTS)]
    locked = _failed_page(client, email_for("marketer"), PASSWORD)
    for response in [unknown, *answers, locked]:
        assert response.status_code == 200
        assert _message(response) == accounts.SIGN_IN_FAILED
        assert "staff" not in response.headers.get("Set-Cookie", "")
    # the right password does not open a locked account
    assert client.get("/staff/").status_code == 302
    from sqlmodel import Session

    with Session(db_engine) as session:
        user = accounts.find_user(session, email_for("marketer"))
        assert user.failed_attempts == accounts.MAX_FAILED_ATTEMPTS and accounts.is_locked(user)


def test_an_admin_can_lift_a_lock_out(client, db_engine):
    make_staff(db_engine, "marketer", "admin")
    for _ in range(accounts.MAX_FAILED_ATTEMPTS):
        _failed_page(client, email_for("marketer"))
    admin = client.application.test_client()
    sign_in(admin, "admin")
    users_page = admin.get("/staff/admin/users").get_data(as_text=True)
    assert "locked until" in users_page
    from sqlmodel import Session

    with Session(db_engine) as session:
        user_id = accounts.find_user(session, email_for("marketer")).id
    admin.post(f"/staff/admin/users/{user_id}", data={"action": "unlock", "csrf_token": csrf_from(users_page)})
    assert sign_in(client, "marketer").status_code == 303


def test_a_password_change_or_disabling_ends_open_sessions(client, db_engine):
    ids = make_staff(db_engine, "marketer", "admin")
    sign_in(client, "marketer")
    assert client.get("/staff/").status_code == 200
    admin = client.application.test_client()
    sign_in(admin, "admin")
    token = form_token(admin, "/staff/admin/users")
    admin.post(f"/staff/admin/users/{ids['marketer']}", data={"action": "password", "password": "a brand new passphrase",
                                                            "csrf_token": token})
    assert client.get("/staff/").status_code == 302
    assert sign_in(client, "marketer", "a brand new passphrase").status_code == 303
    admin.post(f"/staff/admin/users/{ids['marketer']}", data={"action": "disable", "csrf_token": token})
    assert client.get("/staff/").status_code == 302
    assert _message(_failed_page(client, email_for("marketer"), "a brand new passphrase")) == accounts.SIGN_IN_FAILED


def test_sign_in_without_csrf_token_is_refused(client, db_engine):
    make_staff(db_engine, "admin")
    response = client.post("/staff/sign-in", data={"email": email_for("admin"), "password": PASSWORD})
    assert response.status_code == 400
    assert "reload the page" in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302


def test_every_staff_form_needs_the_csrf_token(app, client, db_engine):
    """Walk every POST route of the staff pages as a signed-in admin without a token: all refused."""
    make_staff(db_engine, "admin")
    sign_in(client, "admin")
    adapter = app.url_map.bind("localhost")
    posts = [rule for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("staff_") and "POST" in rule.methods]
    assert len(posts) >= 8
    for rule in posts:
        url = adapter.build(rule.endpoint, {name: 1 for name in rule.arguments}, method="POST")
        response = client.post(url, data={"action": "disable", "role": "admin", "email": "x@example.com"})
        assert response.status_code == 400, url
        assert "reload the page" in response.get_data(as_text=True), url
    assert client.get("/staff/").status_code == 200


def test_staff_pages_send_the_strict_security_headers(client, db_engine):
    make_staff(db_engine, "admin")
    sign_in(client, "admin")
    response = client.get("/staff/admin/users")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html and "<style" not in html
