"""Helpers for the staff-page tests: accounts of each role, signing in, and a small demo population."""
from __future__ import annotations

import functools
from pathlib import Path

from tests.helpers import csrf_from

PASSWORD = "correct horse battery staple"
ROLES = ("researcher", "marketer", "admin")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
QUESTIONNAIRE = "post_purchase_luxury"


@functools.lru_cache(maxsize=1)
def password_hash() -> str:
    """One scrypt hash of PASSWORD for every test account (hashing costs ~0.1 s each time)."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash(PASSWORD)


def email_for(role: str) -> str:
    return f"{role}@example.com"


def make_staff(engine, *roles: str) -> dict[str, int]:
    """Accounts ``<role>@example.com`` with PASSWORD; returns their ids by role."""
    from survey_engine.db import session_scope
    from survey_engine.models.staff import StaffUser

    ids = {}
    with session_scope(engine) as session:
        for role in roles or ROLES:
            user = StaffUser(email=email_for(role), role=role, password_hash=password_hash())
            session.add(user)
            session.flush()
            ids[role] = user.id
    return ids


def sign_in(client, role_or_email: str, password: str = PASSWORD, *, follow: bool = False):
    """Sign in through the form (with its CSRF token); returns the POST's response."""
    email = role_or_email if "@" in role_or_email else email_for(role_or_email)
    page = client.get("/staff/sign-in")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/staff/sign-in", data={"email": email, "password": password, "csrf_token": token},
                       follow_redirects=follow)


def form_token(client, path: str) -> str:
    """The CSRF token of a staff page's forms."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return csrf_from(response.get_data(as_text=True))


def seed_population(engine, tmp_path, customers: int = 150, seed: int = 7):
    """Shipped questionnaires plus a seeded demo population of ``customers`` people."""
    from survey_engine.db import session_scope
    from survey_engine.services.demo import seed_demo
    from survey_engine.services.survey import read_questionnaire_files, sync_questionnaires

    with session_scope(engine) as session:
        sync_questionnaires(session, read_questionnaire_files(PROJECT_ROOT / "questionnaires"))
        return seed_demo(session, customers=customers, seed=seed, instance_dir=tmp_path / "instance")


def fit_factors(engine, **options):
    """A fitted, active factor model of the demo questionnaire (Pearson: fast on small samples)."""
    from survey_engine.db import session_scope
    from survey_engine.services.factors import fit_factor_model

    options = {"correlation": "pearson", **options}
    with session_scope(engine) as session:
        record = fit_factor_model(session, QUESTIONNAIRE, **options)
        assert record.status == "fitted", record.error
        return record.id
