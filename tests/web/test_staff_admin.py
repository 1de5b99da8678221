"""Admin pages: staff accounts and API keys (a key shown once, usable on the API, revocable)."""
from __future__ import annotations

from sqlmodel import Session

from survey_engine.services import staff as accounts
from tests.helpers import csrf_from
from tests.web.staff_support import email_for, form_token, make_staff, sign_in


def test_create_an_account_and_change_its_role(client, db_engine):
    make_staff(db_engine, "admin")
    sign_in(client, "admin")
    token = form_token(client, "/staff/admin/users")
    created = client.post("/staff/admin/users", data={"email": "New.Person@example.com", "role": "marketer",
                                                      "password": "a long enough passphrase", "csrf_token": token})
    assert created.status_code == 303
    html = client.get("/staff/admin/users").get_data(as_text=True)
    assert "Created the marketer account new.person@example.com" in html
    with Session(db_engine) as session:
        user = accounts.find_user(session, "new.person@example.com")
    client.post(f"/staff/admin/users/{user.id}", data={"action": "role", "role": "researcher", "csrf_token": token})
    assert "new.person@example.com is now a researcher." in client.get("/staff/admin/users").get_data(as_text=True)
    other = client.application.test_client()
    assert sign_in(other, "new.person@example.com", "a long enough passphrase").status_code == 303
    assert other.get("/staff/factors/").status_code == 200 and other.get("/staff/admin/users").status_code == 403


def test_account_form_errors_are_shown(client, db_engine):
    make_staff(db_engine, "admin")
    sign_in(client, "admin")
    token = form_token(client, "/staff/admin/users")
    duplicate = client.post("/staff/admin/users", data={"email": email_for("admin"), "role": "marketer",
                                                        "password": "a long enough passphrase", "csrf_token": token})
    assert duplicate.status_code == 409 and "already exists" in duplicate.get_data(as_text=True)
    short = client.post("/staff/admin/users", data={"email": "x@example.com", "role": "marketer",
                                                    "password": "short", "csrf_token": token})
    assert short.status_code == 400 and "at least 12 characters" in short.get_data(as_text=True)
    assert 'value="x@example.com"' in short.get_data(as_text=True)


def test_the_last_admin_cannot_demote_themselves(client, db_engine):
    ids = make_staff(db_engine, "admin")
    sign_in(client, "admin")
    token = form_token(client, "/staff/admin/users")
    response = client.post(f"/staff/admin/users/{ids['admin']}", data={"action": "role", "role": "marketer",
                                                                      "csrf_token": token})
    assert response.status_code == 409 and "last active admin" in response.get_data(as_text=True)
    assert client.get("/staff/admin/users").status_code == 200


def test_api_key_is_shown_once_works_and_can_be_revoked(client, db_engine, loaded_questionnaires):
    make_staff(db_engine, "admin")
    sign_in(client, "admin")
    token = form_token(client, "/staff/admin/api-keys")
    created = client.post("/staff/admin/api-keys", data={"name": "CRM sync", "role": "marketer", "csrf_token": token})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    html = created.get_data(as_text=True)
    import re

    secret = re.search(r'<p class="secret" id="new-key-value">(se_[^<]+)</p>', html).group(1)
    api = client.application.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/questionnaires", headers=auth).status_code == 200
    assert api.get("/api/v1/responses", headers=auth).status_code == 403
    listing = client.get("/staff/admin/api-keys").get_data(as_text=True)
    assert secret not in listing and "CRM sync" in listing
    key_id = re.search(r'/staff/admin/api-keys/(\d+)/revoke', listing).group(1)
    client.post(f"/staff/admin/api-keys/{key_id}/revoke", data={"csrf_token": csrf_from(listing)})
    assert "is revoked" in client.get("/staff/admin/api-keys").get_data(as_text=True)
    assert api.get("/api/v1/questionnaires", headers=auth).status_code == 401
