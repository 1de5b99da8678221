"""Archetypes page: catalogs, distributions, archetype × value tier, respondent map, discovery and
accepting a candidate into a catalog file (in a copy of the catalogs, never the shipped ones)."""
from __future__ import annotations

import dataclasses
import re
import shutil

import pytest
import yaml

from survey_engine.definitions.archetypes import load_archetype_catalogs
from survey_engine.services import archetypes as archetype_service
from tests.helpers import csrf_from
from tests.web.staff_support import (
    PROJECT_ROOT,
    QUESTIONNAIRE,
    fit_factors,
    make_staff,
    seed_population,
    sign_in,
    store_tiers,
)


@pytest.fixture
def catalogs(tmp_path):
    folder = tmp_path / "archetypes"
    shutil.copytree(PROJECT_ROOT / "archetypes", folder)
    return folder


@pytest.fixture
def archetype_client(settings, db_engine, catalogs, tmp_path):
    from survey_engine.app import create_app

    app = create_app(dataclasses.replace(settings, archetypes_dir=catalogs), test_config={"TESTING": True})
    make_staff(db_engine, "researcher")
    client = app.test_client()
    sign_in(client, "researcher")
    return client


def _table(html: str, title: str) -> str:
    start = html.index(f"Data behind “{title}”")
    return html[start:html.index("</table>", start)]


def test_assign_view_discover_and_accept_a_candidate(archetype_client, db_engine, session, catalogs, tmp_path):
    client = archetype_client
    seed_population(db_engine, tmp_path, customers=100)
    fit_factors(db_engine)
    tiers = store_tiers(db_engine)
    page = client.get("/staff/archetypes/").get_data(as_text=True)
    assert "Assign customers now" in page and "Modern minimalist" in page and "Heritage appreciation" in page

    assigned = client.post("/staff/archetypes/assign", data={"questionnaire": QUESTIONNAIRE, "csrf_token": csrf_from(page)})
    assert assigned.status_code == 303
    html = client.get(assigned.headers["Location"]).get_data(as_text=True)
    report = archetype_service.archetype_report(session, QUESTIONNAIRE)
    style = report["catalogs"]["style_archetypes"]
    assert re.search(rf"Assigned {style['n_customers']} customers in 2 catalogs", html)
    counts = _table(html, "Customers per Style archetypes")
    assert re.search(rf'<th scope="row">Modern minimalist</th><td class="num">{style["distribution"]["modern_minimalist"]}</td>',
                     counts)
    assert "Customers per Relationship styles</title>" in html
    table = _table(html, "Style archetypes × value tier")
    assert re.findall(r'<th scope="col">([^<]+)</th>', table) == ["Archetype", "Ultra luxury", "Luxury", "Premium",
                                                                   "Entry"]
    from sqlmodel import select

    from survey_engine.models import Customer
    from survey_engine.models.archetypes import ArchetypeAssignment

    expected = {}
    for top, number in session.exec(select(ArchetypeAssignment.top_archetype, Customer.external_id)
                                    .join(Customer, Customer.id == ArchetypeAssignment.customer_id)
                                    .where(ArchetypeAssignment.catalog_id == "style_archetypes",
                                           ArchetypeAssignment.is_current)).all():
        expected.setdefault(top, {}).setdefault(tiers[number], 0)
        expected[top][tiers[number]] += 1
    row = re.search(r'<th scope="row">Classic heritage</th>(.*?)</tr>', table, re.S).group(1)
    assert [int(v) for v in re.findall(r'<td class="num">(\d+)</td>', row)] == [
        expected.get("classic_heritage", {}).get(t, 0) for t in ("ultra_luxury", "luxury", "premium", "entry")]
    assert "Respondents by Style archetypes</title>" in html and "Component 1 (" in html

    discovered = client.post("/staff/archetypes/discover", data={"questionnaire": QUESTIONNAIRE, "text_item": "style_words",
                                                                 "csrf_token": csrf_from(html)})
    assert discovered.status_code == 303
    html = client.get("/staff/archetypes/").get_data(as_text=True)
    candidate = re.search(r'name="candidate" value="([a-z0-9_]+)"', html).group(1)
    proposal = re.search(r'name="proposal" value="([^"]+)"', html).group(1)
    assert proposal == f"{QUESTIONNAIRE}.style_words.yaml" and "Nearest archetype" in html
    form = {"questionnaire": QUESTIONNAIRE, "proposal": proposal, "candidate": candidate, "catalog": "style_archetypes",
            "new_id": "quiet_sustainer", "name": "Quiet sustainer", "csrf_token": csrf_from(html)}

    bad = client.post("/staff/archetypes/accept", data={**form, "new_id": "Quiet Sustainer"})
    assert bad.status_code == 400 and "<strong>new_id</strong>" in bad.get_data(as_text=True)
    taken = client.post("/staff/archetypes/accept", data={**form, "new_id": "modern_minimalist"})
    assert taken.status_code == 400 and "already has an archetype" in taken.get_data(as_text=True)
    before = (catalogs / "style_archetypes.yaml").read_text(encoding="utf-8")
    assert (catalogs / "style_archetypes.yaml").read_text(encoding="utf-8") == before

    accepted = client.post("/staff/archetypes/accept", data=form)
    assert accepted.status_code == 303
    text = (catalogs / "style_archetypes.yaml").read_text(encoding="utf-8")
    assert text.startswith(before.splitlines()[0])  # the researchers' comments stay
    assert f"# accepted from {proposal} ({candidate}) by researcher@example.com" in text
    data = yaml.safe_load(text)
    assert data["catalog"]["version"] == yaml.safe_load(before)["catalog"]["version"] + 1
    added = data["archetypes"][-1]
    assert added["id"] == "quiet_sustainer" and added["name"]["en"] == "Quiet sustainer" and "discovery" not in added
    loaded = load_archetype_catalogs(catalogs, known_factors=None)
    assert "quiet_sustainer" in loaded["style_archetypes"].archetype_ids
    html = client.get("/staff/archetypes/").get_data(as_text=True)
    assert "accepted as quiet_sustainer in style_archetypes" in html
    assert "Quiet sustainer" in html and "Added quiet_sustainer to style_archetypes.yaml" in html


def test_catalog_problems_are_listed(archetype_client, catalogs, loaded_questionnaires):
    path = catalogs / "relationship_styles.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("craftsmanship_heritage:", "craftmanship_heritage:", 1),
                    encoding="utf-8")
    html = archetype_client.get("/staff/archetypes/").get_data(as_text=True)
    problems = re.search(r'<section class="form-error" id="catalog-problems">.*?</section>', html, re.S).group(0)
    assert "relationship_styles.yaml" in problems and "craftmanship_heritage" in problems
    assert "craftsmanship_heritage" in problems  # the suggestion
