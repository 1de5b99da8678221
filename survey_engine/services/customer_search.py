"""Finding a client for the staff pages: by name, email, customer number or person id.

Matches CRM customers (``customer``) and resolved persons (golden records of identity resolution),
and answers one row per person (a customer not yet resolved to a person gets its own row), with
the headline of the person's combined profile when there is one. Matching is case-insensitive and
by substring, the same on SQLite and PostgreSQL.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from survey_engine.models import Customer
from survey_engine.models.identity import CustomerPerson, Person
from survey_engine.models.profiles import Profile
from survey_engine.services.survey import ServiceError

MIN_QUERY = 2
MAX_QUERY = 200


def _contains(column, needle: str):
    escaped = needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.func.lower(column).like(f"%{escaped}%", escape="\\")


def _full_name(first, last):
    return sa.func.coalesce(first, "") + " " + sa.func.coalesce(last, "")


def search_customers(session: Session, query: str, *, limit: int = 50) -> tuple[list[dict[str, Any]], bool]:
    """Persons and unresolved customers matching ``query``; returns (rows, more_than_limit).

    A query of digits (even one) also matches the person with that id; every query matches
    customer numbers, emails and names (``first last``) of CRM customers and golden records.
    """
    text = " ".join((query or "").split())
    is_id = text.isascii() and text.isdigit()
    if len(text) < MIN_QUERY and not is_id:
        raise ServiceError(f"type at least {MIN_QUERY} characters of a name, an email or a customer number",
                           field="q")
    if len(text) > MAX_QUERY:
        raise ServiceError(f"a search is at most {MAX_QUERY} characters", field="q")
    person_filter = [_contains(Person.email, text), _contains(_full_name(Person.first_name, Person.last_name), text),
                     _contains(Person.external_id, text)]
    if is_id and len(text) <= 9:
        person_filter.append(Person.id == int(text))
    person_ids: dict[int, str] = {pid: "golden record" for pid in session.exec(
        select(Person.id).where(sa.or_(*person_filter), Person.retired_at.is_(None)).limit(limit + 1)).all()}
    customers = list(session.exec(select(Customer.external_id).where(sa.or_(
        _contains(Customer.external_id, text), _contains(Customer.email, text),
        _contains(_full_name(Customer.first_name, Customer.last_name), text))).limit(limit + 1)).all())
    mapped = dict(session.exec(select(CustomerPerson.external_id, CustomerPerson.person_id).where(sa.or_(
        CustomerPerson.external_id.in_(customers), _contains(CustomerPerson.external_id, text)))
        .limit(2 * limit + 2)).all())
    for person_id in mapped.values():
        person_ids.setdefault(person_id, "customer record")
    rows: list[dict[str, Any]] = []
    persons = {p.id: p for p in session.exec(select(Person).where(Person.id.in_(list(person_ids)))).all()} \
        if person_ids else {}
    profiles = {p.person_id: p for p in session.exec(select(Profile).where(
        Profile.person_id.in_(list(persons)))).all()} if persons else {}
    numbers: dict[int, list[str]] = {}
    if persons:
        for external_id, person_id in session.exec(select(CustomerPerson.external_id, CustomerPerson.person_id)
                                                   .where(CustomerPerson.person_id.in_(list(persons)))).all():
            numbers.setdefault(person_id, []).append(external_id)
    for person_id in sorted(persons):
        person, profile = persons[person_id], profiles.get(person_id)
        rows.append({
            "person_id": person_id, "name": " ".join(filter(None, [person.first_name, person.last_name])),
            "email": person.email, "customer_ids": sorted(numbers.get(person_id, [])), "country": person.country,
            "matched": person_ids[person_id],
            "value_tier": profile.value_tier if profile else None,
            "style_archetype": profile.style_archetype if profile else None,
            "relationship_style": profile.relationship_style if profile else None,
        })
    unresolved = [e for e in customers if e not in mapped]
    if unresolved:
        for customer in session.exec(select(Customer).where(Customer.external_id.in_(unresolved))
                                     .order_by(Customer.external_id)).all():
            rows.append({"person_id": None, "name": " ".join(filter(None, [customer.first_name, customer.last_name])),
                         "email": customer.email, "customer_ids": [customer.external_id], "country": customer.country,
                         "matched": "customer record (not resolved to a person yet)", "value_tier": None,
                         "style_archetype": None, "relationship_style": None})
    return rows[:limit], len(rows) > limit
