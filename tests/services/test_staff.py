"""Staff accounts: creation rules, sign-in with lock-out, no user enumeration, administration."""
from __future__ import annotations

from datetime import timedelta

import pytest

from survey_engine.models.base import utcnow
from survey_engine.services import staff as accounts
from survey_engine.services.survey import Conflict, ServiceError, create_api_key

PASSWORD = "a long enough passphrase"


def test_create_user_normalises_email_and_hashes_the_password(session):
    user = accounts.create_user(session, "  Ada.Lovelace@Example.COM ", "researcher", PASSWORD)
    session.commit()
    assert user.email == "ada.lovelace@example.com"
    assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash
    assert accounts.find_user(session, "ADA.lovelace@example.com").id == user.id
    assert user.is_active and user.failed_attempts == 0 and user.locked_until is None


@pytest.mark.parametrize("email, role, password, field", [
    ("not-an-email", "researcher", PASSWORD, "email"),
    ("a@b", "researcher", PASSWORD, "email"),
    ("a@example.com", "owner", PASSWORD, "role"),
    ("a@example.com", "admin", "short pw", "password"),
    ("a@example.com", "admin", "aaaaaaaaaaaaaaaa", "password"),
])
def test_create_user_refuses_bad_input_naming_the_field(session, email, role, password, field):
    with pytest.raises(ServiceError) as caught:
        accounts.create_user(session, email, role, password)
    assert caught.value.field == field


def test_an_email_can_have_one_account(session):
    accounts.create_user(session, "a@example.com", "admin", PASSWORD)
    with pytest.raises(Conflict):
        accounts.create_user(session, "A@example.com", "marketer", PASSWORD)


def test_right_password_signs_in_and_records_the_time(session):
    user = accounts.create_user(session, "a@example.com", "marketer", PASSWORD)
    result = accounts.authenticate(session, "A@Example.com", PASSWORD)
    assert result.user.id == user.id and result.reason is None
    assert user.last_login_at is not None


def test_five_failures_lock_the_account_for_fifteen_minutes(session):
    user = accounts.create_user(session, "a@example.com", "marketer", PASSWORD)
    start = utcnow()
    for attempt in range(1, accounts.MAX_FAILED_ATTEMPTS + 1):
        result = accounts.authenticate(session, "a@example.com", "wrong password!", now=start)
        assert result.user is None
        assert user.failed_attempts == attempt
    assert user.locked_until == start + timedelta(minutes=15)
    # locked: even the right password is refused until the lock-out ends
    assert accounts.authenticate(session, "a@example.com", PASSWORD, now=start + timedelta(minutes=14)).reason == "locked"
    assert accounts.authenticate(session, "a@example.com", PASSWORD, now=start + timedelta(minutes=16)).user is not None
    assert user.failed_attempts == 0 and user.locked_until is None


def test_a_success_resets_the_failure_count(session):
    user = accounts.create_user(session, "a@example.com", "marketer", PASSWORD)
    for _ in range(accounts.MAX_FAILED_ATTEMPTS - 1):
        accounts.authenticate(session, "a@example.com", "wrong password!")
    assert accounts.authenticate(session, "a@example.com", PASSWORD).user is not None
    accounts.authenticate(session, "a@example.com", "wrong password!")
    assert user.failed_attempts == 1 and user.locked_until is None


def test_after_an_expired_lock_out_the_count_starts_again(session):
    user = accounts.create_user(session, "a@example.com", "marketer", PASSWORD)
    start = utcnow()
    for _ in range(accounts.MAX_FAILED_ATTEMPTS):
        accounts.authenticate(session, "a@example.com", "wrong password!", now=start)
    later = start + timedelta(minutes=20)
    accounts.authenticate(session, "a@example.com", "wrong password!", now=later)
    assert user.failed_attempts == 1 and user.locked_until is None


def test_unknown_email_and_wrong_password_cost_one_hash_check_each(session, monkeypatch):
    """No enumeration by timing: an unknown email checks a dummy hash like a known one checks its own."""
    accounts.create_user(session, "a@example.com", "marketer", PASSWORD)
    calls = []
    original = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: calls.append(h) or original(h, p))
    for email in ("a@example.com", "nobody@example.com"):
        calls.clear()
        assert accounts.authenticate(session, email, "wrong password!").user is None
        assert len(calls) == 1
        assert calls[0].startswith("scrypt:")
    calls.clear()
    for _ in range(accounts.MAX_FAILED_ATTEMPTS):
        accounts.authenticate(session, "a@example.com", "wrong password!")
    calls.clear()
    accounts.authenticate(session, "a@example.com", PASSWORD)  # locked
    assert len(calls) == 1


def test_disabled_account_cannot_sign_in(session):
    accounts.create_user(session, "boss@example.com", "admin", PASSWORD)
    user = accounts.create_user(session, "a@example.com", "marketer", PASSWORD)
    accounts.update_user(session, user, is_active=False)
    assert accounts.authenticate(session, "a@example.com", PASSWORD).reason == "disabled"


def test_new_password_changes_the_session_fingerprint_and_unlocks(session):
    user = accounts.create_user(session, "a@example.com", "marketer", PASSWORD)
    for _ in range(accounts.MAX_FAILED_ATTEMPTS):
        accounts.authenticate(session, "a@example.com", "wrong password!")
    before = accounts.session_fingerprint(user)
    accounts.set_password(session, user, "another long passphrase")
    assert accounts.session_fingerprint(user) != before
    assert accounts.authenticate(session, "a@example.com", "another long passphrase").user is not None


def test_the_last_active_admin_stays_admin(session):
    admin = accounts.create_user(session, "boss@example.com", "admin", PASSWORD)
    with pytest.raises(Conflict):
        accounts.update_user(session, admin, role="marketer")
    with pytest.raises(Conflict):
        accounts.update_user(session, admin, is_active=False)
    second = accounts.create_user(session, "deputy@example.com", "admin", PASSWORD)
    accounts.update_user(session, admin, role="marketer")
    assert admin.role == "marketer"
    with pytest.raises(Conflict):
        accounts.update_user(session, second, is_active=False)


def test_revoked_api_key_no_longer_authenticates(session):
    from survey_engine.services.survey import authenticate_api_key

    secret = create_api_key(session, "marketer", "crm")
    key = authenticate_api_key(session, secret)
    assert key is not None
    assert [k.id for k in accounts.list_api_keys(session)] == [key.id]
    accounts.revoke_api_key(session, key.id)
    assert authenticate_api_key(session, secret) is None
    revoked_at = key.revoked_at
    accounts.revoke_api_key(session, key.id)
    assert key.revoked_at == revoked_at
