"""A respondent on a phone-sized headless Chromium opens an invitation, answers, submits, and is thanked."""
import pytest
from sqlmodel import select

from survey_engine.models import Response
from tests.helpers import LIKERT_ITEMS, invite

pytestmark = pytest.mark.browser


def test_respondent_answers_and_submits_in_a_real_browser(live_server, page, session, loaded_questionnaires):
    issued = invite(session, customer="C-browser", order="O-browser")
    page.goto(f"{live_server}/s/{issued.token}")
    assert page.locator("h1").inner_text()

    # Conditional item is hidden by the page script while NPS is high.
    for index, name in enumerate(LIKERT_ITEMS):
        page.check(f"input[name='{name}'][value='{4 + index % 3}']")
    page.check("input[name='attn1'][value='6']")
    page.check("input[name='nps'][value='9']")
    assert page.locator("#field-improve").is_hidden()
    page.check("input[name='nps'][value='3']")
    assert page.locator("#field-improve").is_visible()
    page.fill("#input-improve", "More private appointments.")
    page.check("input[name='category'][value='watches']")
    page.check("input[name='channels'][value='boutique']")
    page.fill("#input-style_words", "Understated, tailored, monochrome.")
    page.fill("#input-special_purchase", "Being known by name and a calm fitting room.")
    page.keyboard.press("Tab")
    page.click("button[value='submit']")
    page.wait_for_selector("#thank-you")
    assert "/thanks" in page.url

    stored = session.exec(select(Response)).one()
    assert stored.status == "submitted"
    assert stored.answers["category"] == "watches" and stored.answers["nps"] == 3
    assert stored.answers["improve"] == "More private appointments."


def test_missing_answers_are_shown_next_to_the_fields(live_server, page, session, loaded_questionnaires):
    issued = invite(session, customer="C-b2", order="O-b2")
    page.goto(f"{live_server}/s/{issued.token}?lang=it")
    assert page.locator("html").get_attribute("lang") == "it"
    page.click("button[value='submit']")
    page.wait_for_selector(".error-summary")
    assert page.locator("#ch1-error").is_visible()
    assert session.exec(select(Response)).all() == []
