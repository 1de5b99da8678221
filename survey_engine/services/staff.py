"""Staff accounts: creation, sign-in with lock-out, and the administration the admin pages offer.

Passwords are hashed with werkzeug's default (scrypt). Sign-in answers the same way for an unknown
email, a wrong password, a locked or a disabled account, and spends about the same time on each
(a dummy hash is checked when the email is unknown), so the page never reveals who has an account.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from survey_engine.models import ROLES, ApiKey
from survey_engine.models.base import utcnow
from survey_engine.models.staff import StaffUser
from survey_engine.services.survey import Conflict, NotFound, ServiceError

MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
SIGN_IN_FAILED = "The email or password is not right, or the account is locked for a while. Try again later."

_DUMMY_HASH = generate_password_hash("not a real password: evens out the time of unknown emails")


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ServiceError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters", field="password")
    if password.strip() == "" or len(set(password)) < 4:
        raise ServiceError("the password is too simple: use a passphrase of several words", field="password")


def _check_email(email: str) -> str:
    email = normalise_email(email)
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or " " in email or len(email) > 320:
        raise ServiceError("enter an email address such as name@example.com", field="email")
    return email


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ServiceError(f"role must be one of {', '.join(ROLES)}", field="role")
    return role


def find_user(session: Session, email: str) -> StaffUser | None:
    return session.exec(select(StaffUser).where(StaffUser.email == normalise_email(email))).first()


def create_user(session: Session, email: str, role: str, password: str) -> StaffUser:
    """A new, active account; the email must not be taken."""
    email = _check_email(email)
    _check_role(role)
    check_password_rules(password)
    if find_user(session, email) is not None:
        raise Conflict(f"a staff account for {email} already exists", field="email")
    user = StaffUser(email=email, role=role, password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: StaffUser, password: str) -> StaffUser:
    """Replace the password and clear any lock-out (sessions signed in with the old one end)."""
    check_password_rules(password)
    user.password_hash = generate_password_hash(password)
    user.failed_attempts = 0
    user.locked_until = None
    session.add(user)
    session.flush()
    return user


def is_locked(user: StaffUser, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


@dataclass(frozen=True)
class SignInResult:
    user: StaffUser | None
    #: Why it failed, for the log only; the person signing in always sees SIGN_IN_FAILED.
    reason: str | None = None


def authenticate(session: Session, email: str, password: str, *, now: datetime | None = None) -> SignInResult:
    """Check a sign-in and record its outcome (failed attempts, lock-out, last login).

    The password is checked even for a locked account, so a locked account takes as long to
    answer as an open one, but a right password does not open it before ``locked_until``.
    """
    now = now or utcnow()
    user = find_user(session, email) if len(email or "") <= 320 else None
    if user is None or len(password) > MAX_PASSWORD_LENGTH:
        check_password_hash(_DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])
        return SignInResult(None, "unknown email" if user is None else "password too long")
    password_ok = check_password_hash(user.password_hash, password)
    if is_locked(user, now):
        return SignInResult(None, "locked")
    if not password_ok:
        if user.locked_until is not None:
            # An expired lock-out starts a fresh count.
            user.failed_attempts = 0
            user.locked_until = None
        user.failed_attempts += 1
        if user.failed_attempts >= MAX_FAILED_ATTEMPTS:
            user.locked_until = now + LOCKOUT
        session.add(user)
        session.flush()
        return SignInResult(None, "locked now" if user.locked_until else "wrong password")
    if not user.is_active:
        return SignInResult(None, "disabled")
    user.failed_attempts = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(user)
    session.flush()
    return SignInResult(user)


def session_fingerprint(user: StaffUser) -> str:
    """Stored in the signed session cookie: changes when the password changes, ending old sessions."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:24]


def list_users(session: Session) -> list[StaffUser]:
    return list(session.exec(select(StaffUser).order_by(StaffUser.email)).all())


def get_user(session: Session, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"no staff account with id {user_id}", field="user")
    return user


def _active_admins(session: Session) -> int:
    return session.exec(select(func.count()).select_from(StaffUser).where(
        StaffUser.role == "admin", StaffUser.is_active == True)).one()  # noqa: E712


def update_user(session: Session, user: StaffUser, *, role: str | None = None,
                is_active: bool | None = None, unlock: bool = False) -> StaffUser:
    """Change role or active state, or lift a lock-out; the last active admin cannot be demoted
    or disabled (someone must be able to manage accounts)."""
    if role is not None:
        _check_role(role)
    losing_admin = user.role == "admin" and user.is_active and (
        (role is not None and role != "admin") or is_active is False)
    if losing_admin and _active_admins(session) <= 1:
        raise Conflict("this is the last active admin account; make another admin first", field="role")
    if role is not None:
        user.role = role
    if is_active is not None:
        user.is_active = is_active
    if unlock:
        user.failed_attempts = 0
        user.locked_until = None
    session.add(user)
    session.flush()
    return user


# --------------------------------------------------------------------------------------------
# API keys (created by services.survey.create_api_key; listed and revoked here for the admin pages)
# --------------------------------------------------------------------------------------------

def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key, newest first; revoked keys stay listed for the record."""
    return list(session.exec(select(ApiKey).order_by(ApiKey.id.desc())).all())


def revoke_api_key(session: Session, key_id: int) -> ApiKey:
    """Revoke a key at once: the next request that presents it gets 401."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}", field="key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.flush()
    return key
