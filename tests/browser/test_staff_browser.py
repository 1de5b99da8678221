"""The staff pages in a real headless Chromium (Playwright): sign in, open every page on the demo
population, run a factor fit, accept a candidate archetype and download an export. Each step saves
a screenshot under test-artifacts/screenshots/staff-*.png; any browser console error (a blocked
inline style or script, a missing file) fails the test."""
from __future__ import annotations

import dataclasses
import re
import shutil

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.web.staff_support import (
    PASSWORD,
    PROJECT_ROOT,
    assign_archetypes,
    email_for,
    fit_clv,
    fit_factors,
    make_staff,
    seed_population,
)

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}


@pytest.fixture
def catalogs(tmp_path):
    folder = tmp_path / "archetypes"
    shutil.copytree(PROJECT_ROOT / "archetypes", folder)
    return folder


@pytest.fixture
def app(settings, db_engine, catalogs):
    """The app of conftest's live server, with a copy of the catalogs (accepting writes into it)."""
    from survey_engine.app import create_app

    return create_app(dataclasses.replace(settings, archetypes_dir=catalogs), test_config={"TESTING": True})


@pytest.fixture
def demo(db_engine, tmp_path, catalogs):
    """The demo population with its models fitted and profiles built, and an account per role."""
    from survey_engine.services.profiles import refresh_profiles

    seed_population(db_engine, tmp_path, customers=100)
    model_id = fit_factors(db_engine)
    fit_clv(db_engine)
    assign_archetypes(db_engine, catalogs)
    refresh_profiles(db_engine, catalogs_dir=catalogs)
    make_staff(db_engine)
    return {"model_id": model_id}


class Session:
    """A browser context of one size that records console errors and takes named screenshots."""

    def __init__(self, browser, base_url, viewport, device):
        self.context = browser.new_context(viewport=viewport, locale="en-GB", accept_downloads=True)
        self.page = self.context.new_page()
        self.base_url, self.device, self.errors = base_url, device, []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("response", self._response)

    def _console(self, message) -> None:
        # failed loads are reported with their URL by _response
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response) -> None:
        # the respondent pages (shown in the preview) declare no icon, so Chromium asks for /favicon.ico
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.errors.append(f"{response.status} {response.url}")

    def open(self, path: str):
        response = self.page.goto(self.base_url + path)
        assert response.status == 200, (path, response.status)
        return response

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"staff-{name}-{self.device}.png"), full_page=True)

    def sign_in(self, role: str) -> None:
        self.open("/staff/")
        assert "/staff/sign-in" in self.page.url
        self.page.fill("#email", email_for(role))
        self.page.fill("#password", PASSWORD)
        self.page.click("form button.primary")
        self.page.wait_for_url(self.base_url + "/staff/")

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"browser console errors: {self.errors}"


def walk_on_a_tablet(browser, live_server, demo):
    """Every page as an admin on a tablet: nothing scrolls sideways."""
    session = Session(browser, live_server, TABLET, "tablet")
    session.sign_in("admin")
    for name, path in [("home", "/staff/"), ("questionnaires", "/staff/questionnaires/"),
                       ("fieldwork", "/staff/fieldwork/"), ("factors", "/staff/factors/"),
                       ("factor-model", f"/staff/factors/{demo['model_id']}"), ("archetypes", "/staff/archetypes/"),
                       ("customers", "/staff/customers/?q=an"), ("customer-profile", "/staff/customers/1"),
                       ("drift-exports", "/staff/exports/"), ("users", "/staff/admin/users"),
                       ("api-keys", "/staff/admin/api-keys"), ("webhooks", "/staff/admin/webhooks/")]:
        session.open(path)
        overflow = session.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px on a tablet"
        session.shot(name)
    session.close()


def test_researcher_journey_then_every_page_on_a_tablet(browser, live_server, demo):
    session = Session(browser, live_server, LAPTOP, "laptop")
    page = session.page
    session.open("/staff/sign-in")
    session.shot("sign-in")
    page.fill("#email", email_for("researcher"))
    page.fill("#password", "not the password")
    page.click("form button.primary")
    assert "The email or password is not right" in page.inner_text("#sign-in-error")
    session.sign_in("researcher")
    session.shot("home")

    session.open("/staff/questionnaires/")
    assert page.locator("table.sortable th button.sort").count() >= 5
    session.shot("questionnaires")
    page.click("text=FR")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert "Staff preview" in page.inner_text("#preview-notice")
    session.shot("preview-fr")

    session.open("/staff/fieldwork/")
    assert page.locator("figure.chart svg[role=img]").count() == 3
    session.shot("fieldwork")

    session.open(f"/staff/factors/{demo['model_id']}")
    assert page.locator("svg title", has_text="Factor loadings").count() == 1
    session.shot("factor-model")
    # sortable tables: sorting the reliability table by alpha puts the smallest first
    header = page.locator("#reliability thead th", has_text="Cronbach")
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    alphas = [float(v) for v in page.locator("#reliability tbody tr td:nth-child(4)").all_inner_texts()]
    assert alphas == sorted(alphas)

    session.open("/staff/factors/")
    page.select_option("#correlation", "pearson")
    page.fill("#n_factors", "6")
    page.click("#fit-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/staff/factors/\d+$"))
    assert "fitted: 6 factors" in page.inner_text(".flash")
    assert "active model" in page.inner_text("main")
    session.shot("factor-fit")

    session.open("/staff/archetypes/")
    assert page.locator("svg title", has_text="value tier").count() == 2
    session.shot("archetypes")
    page.click("#discover-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/staff/archetypes/.*#candidates"), timeout=120_000)
    form = page.locator("form.accept").first
    form.locator("input[name=new_id]").fill("quiet_sustainer")
    form.locator("input[name=name]").fill("Quiet sustainer")
    form.locator("button").click()
    page.wait_for_url(re.compile(r".*/staff/archetypes/\?questionnaire=.*"))
    assert "Added quiet_sustainer" in page.inner_text(".flash")
    assert page.locator("text=accepted as quiet_sustainer").count() == 1
    session.shot("archetypes-accepted")
    session.close()
    walk_on_a_tablet(browser, live_server, demo)


def test_marketer_journey_customer_profile_and_export_download(browser, live_server, demo, db_engine):
    from sqlmodel import Session as DbSession, select

    from survey_engine.models.identity import Person
    from survey_engine.models.profiles import Profile

    with DbSession(db_engine) as db:
        profile = db.exec(select(Profile).where(Profile.style_archetype.is_not(None))
                          .order_by(Profile.person_id)).first()
        person = db.get(Person, profile.person_id)
    session = Session(browser, live_server, LAPTOP, "laptop")
    page = session.page
    session.sign_in("marketer")
    session.open("/staff/customers/")
    page.fill("#q", person.last_name)
    page.click("#customer-search button")
    page.wait_for_url(re.compile(r".*/staff/customers/\?q=.*"))
    session.shot("customer-search")
    page.click(f"a[href='/staff/customers/{person.id}']")
    page.wait_for_url(f"{live_server}/staff/customers/{person.id}")
    assert person.last_name in page.inner_text("h1")
    assert page.locator("svg title", has_text="Style archetype").count() == 1
    page.fill("#note-text", "Likes to be called before new watch launches.")
    page.click("#note-form button")
    page.wait_for_url(re.compile(r".*#notes$"))
    assert "Likes to be called before new watch launches." in page.inner_text("#notes")
    session.shot("customer-profile")

    session.open("/staff/exports/")
    session.shot("drift-exports")
    page.select_option("#format", "salesforce")
    page.fill("#export-since", "0")
    page.click("#export-form button")
    page.wait_for_url(re.compile(r".*/staff/exports/#exports"))
    assert "written:" in page.inner_text(".flash")
    with page.expect_download() as info:
        page.locator("#export-runs a", has_text="Download").first.click()
    download = info.value
    assert download.suggested_filename.startswith("salesforce-") and download.suggested_filename.endswith(".csv")
    text = open(download.path(), encoding="utf-8").read()
    assert text.splitlines()[0].startswith("SE_Person_Id__c") and len(text.splitlines()) > 1
    session.shot("export-downloaded")
    session.close()
