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


#: Demo steps that store data; the model steps (factor fit, CLV fit, archetype assignment) are left
#: to each test, which runs the ones it needs with fast options.
DATA_STEPS = ("transactions", "identity")


def seed_population(engine, tmp_path, customers: int = 150, seed: int = 7):
    """Shipped questionnaires plus a seeded demo population of ``customers`` people (data only)."""
    from survey_engine.db import session_scope
    from survey_engine.services import demo
    from survey_engine.services.survey import read_questionnaire_files, sync_questionnaires

    with session_scope(engine) as session:
        sync_questionnaires(session, read_questionnaire_files(PROJECT_ROOT / "questionnaires"))
        return demo.seed_demo(session, customers=customers, seed=seed, instance_dir=tmp_path / "instance",
                              steps=DATA_STEPS)


def fit_factors(engine, **options):
    """A fitted, active factor model of the demo questionnaire (Pearson: fast on small samples)."""
    from survey_engine.db import session_scope
    from survey_engine.services.factors import fit_factor_model

    options = {"correlation": "pearson", **options}
    with session_scope(engine) as session:
        record = fit_factor_model(session, QUESTIONNAIRE, **options)
        assert record.status == "fitted", record.error
        return record.id


def store_tiers(engine, tiers=("ultra_luxury", "luxury", "premium", "entry")) -> dict[str, str]:
    """An active CLV model whose customer values give the demo customers these tiers in turn
    (customer number order); returns customer number -> tier. For pages that show tiers without
    needing purchases."""
    from sqlmodel import select

    from survey_engine.db import session_scope
    from survey_engine.models import Customer
    from survey_engine.models.clv import CLVModelRecord, CustomerValue

    assigned = {}
    with session_scope(engine) as session:
        model = CLVModelRecord(version=1, is_active=True)
        session.add(model)
        session.flush()
        numbers = session.exec(select(Customer.external_id).order_by(Customer.external_id)).all()
        for k, number in enumerate(numbers):
            tier = assigned[number] = tiers[k % len(tiers)]
            session.add(CustomerValue(model_id=model.id, customer_external_id=number, frequency=1, recency=1, age=2,
                                      monetary_value=100, total_spend=100, p_alive=0.9, expected_purchases=1,
                                      probability_of_purchase=0.5, expected_average_value=100, clv=100, tier_score=0.5,
                                      tier=tier, past_spend_tier=tier))
    return assigned


def crm_persons(engine, n: int = 5) -> list[int]:
    """The first ``n`` demo customers imported as CRM source records and resolved into persons
    (through the identity service, as `survey-engine identity import` would); returns person ids."""
    from sqlmodel import select

    from survey_engine.db import session_scope
    from survey_engine.models import Customer
    from survey_engine.models.identity import CustomerPerson
    from survey_engine.services.identity import import_records, resolve_persons, validate_records

    with session_scope(engine) as session:
        customers = session.exec(select(Customer).order_by(Customer.id).limit(n)).all()
        rows = [(f"records[{k}]", {"source": "crm", "source_record_id": f"T-{c.external_id}",
                                   "external_id": c.external_id, "first_name": c.first_name,
                                   "last_name": c.last_name, "email": c.email, "country": c.country})
                for k, c in enumerate(customers)]
        records, problems = validate_records(rows)
        assert not problems, problems
        import_records(session, records, source="crm")
        resolve_persons(session, triggered_by="tests")
        return sorted({session.get(CustomerPerson, c.external_id).person_id for c in customers})


def fit_clv(engine):
    """The active CLV model on the stored demo transactions."""
    from survey_engine.services.clv import fit_clv_model

    return fit_clv_model(engine).id


def assign_archetypes(engine, catalogs_dir=PROJECT_ROOT / "archetypes"):
    """Current archetype assignments of the demo questionnaire (needs an active factor model)."""
    from survey_engine.db import session_scope
    from survey_engine.services.archetypes import assign_archetypes as assign

    with session_scope(engine) as session:
        return assign(session, QUESTIONNAIRE, catalogs_dir=catalogs_dir)
