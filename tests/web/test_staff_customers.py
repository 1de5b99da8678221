"""Customers pages: search by name, email, customer number or person id; the profile with its
facets and reasons; advisor notes and archetype corrections."""
from __future__ import annotations

import re

from sqlmodel import select

from survey_engine.models import Customer
from survey_engine.models.identity import CustomerPerson, Person
from survey_engine.models.profiles import Profile
from survey_engine.services import customer_search
from survey_engine.web.staff_customers import TIER_TITLES
from tests.helpers import csrf_from
from tests.web.staff_support import (
    assign_archetypes,
    crm_persons,
    fit_clv,
    fit_factors,
    make_staff,
    seed_population,
    sign_in,
)


def _world(db_engine, tmp_path, *, archetypes: bool = True):
    from survey_engine.services.profiles import refresh_profiles

    seed_population(db_engine, tmp_path, customers=80)
    crm_persons(db_engine, 80)
    fit_clv(db_engine)
    if archetypes:
        fit_factors(db_engine)
        assign_archetypes(db_engine)
    refresh_profiles(db_engine)


def test_search_finds_a_client_every_way(client, db_engine, session, tmp_path):
    _world(db_engine, tmp_path, archetypes=False)
    make_staff(db_engine, "marketer")
    sign_in(client, "marketer")
    profile = session.exec(select(Profile).where(Profile.value_tier.is_not(None)).order_by(Profile.person_id)).first()
    person = session.get(Person, profile.person_id)
    customer_number = session.exec(select(CustomerPerson.external_id)
                                   .where(CustomerPerson.person_id == person.id)).first()
    link = f'href="/staff/customers/{person.id}"'
    for query in (person.last_name, person.email.upper(), customer_number, f"{person.first_name} {person.last_name}",
                  str(person.id)):
        html = client.get("/staff/customers/", query_string={"q": query}).get_data(as_text=True)
        assert link in html, query
    html = client.get("/staff/customers/", query_string={"q": person.email}).get_data(as_text=True)
    row = re.search(rf"<tr>\s*<th scope=\"row\"><a {link}>.*?</tr>", html, re.S).group(0)
    assert f"<td>{TIER_TITLES[profile.value_tier]}</td>" in row and customer_number in row
    short = client.get("/staff/customers/?q=a")
    assert short.status_code == 400 and "at least 2 characters" in short.get_data(as_text=True)
    assert "0 matches" in client.get("/staff/customers/?q=zz%25_no-such").get_data(as_text=True)


def test_wildcards_in_a_search_are_literal(db_engine, session, loaded_questionnaires):
    session.add(Customer(external_id="C-100%", first_name="Ada", last_name="Percent", email="ada@example.com"))
    session.add(Customer(external_id="C-1000", first_name="Bea", last_name="Plain", email="bea@example.com"))
    session.commit()
    rows, more = customer_search.search_customers(session, "100%")
    assert [r["customer_ids"] for r in rows] == [["C-100%"]] and not more
    assert rows[0]["person_id"] is None and "not resolved" in rows[0]["matched"]
    assert len(customer_search.search_customers(session, "c-10")[0]) == 2
    assert customer_search.search_customers(session, "²²")[0] == []


def test_profile_shows_facets_reasons_notes_and_corrections(client, db_engine, session, tmp_path):
    _world(db_engine, tmp_path)
    make_staff(db_engine, "marketer")
    sign_in(client, "marketer")
    profile = session.exec(select(Profile).where(Profile.style_archetype.is_not(None)).order_by(Profile.person_id)).first()
    person_id = profile.person_id
    page = client.get(f"/staff/customers/{person_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    person = session.get(Person, person_id)
    assert f"{person.first_name} {person.last_name}" in html
    assert "Style archetype</title>" in html and "Relationship style</title>" in html
    assert "Factor scores</title>" in html
    from survey_engine.services.profiles import show_profile

    reasons = show_profile(session, person_id)["style_reasons"]
    assert reasons["factors"]
    for factor in reasons["factors"]:
        assert f'<th scope="row">{factor["factor"]}</th>' in html
    assert profile.next_best_action in html
    assert "Identity records" in html and re.search(r'<th scope="row">[a-z_]+:[^<]+</th>', html)

    token = csrf_from(html)
    client.post(f"/staff/customers/{person_id}/notes", data={"text": "Prefers <b>quiet</b> appointments.",
                                                            "csrf_token": token})
    html = client.get(f"/staff/customers/{person_id}").get_data(as_text=True)
    assert "Prefers &lt;b&gt;quiet&lt;/b&gt; appointments." in html and "marketer@example.com" in html
    other = "classic_heritage" if profile.style_archetype != "classic_heritage" else "modern_minimalist"
    corrected = client.post(f"/staff/customers/{person_id}/corrections",
                            data={"archetype": f"style_archetypes:{other}", "reason": "knows her well",
                                  "csrf_token": token})
    assert corrected.status_code == 303
    html = client.get(corrected.headers["Location"]).get_data(as_text=True)
    assert f"{profile.style_archetype} → <strong>{other}</strong>" in html and "advisor's correction" in html
    session.expire_all()
    assert session.get(Profile, person_id).style_archetype == other
    bad = client.post(f"/staff/customers/{person_id}/corrections", data={"archetype": "style_archetypes:nope",
                                                                        "csrf_token": token})
    assert bad.status_code == 400 and "has no archetype" in bad.get_data(as_text=True)
    empty = client.post(f"/staff/customers/{person_id}/notes", data={"text": "  ", "csrf_token": token})
    assert empty.status_code == 400
    assert client.get("/staff/customers/999999").status_code == 404
