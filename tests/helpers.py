"""Small helpers shared by the web, service and CLI tests."""
from __future__ import annotations

import re

QUESTIONNAIRE = "post_purchase_luxury"

LIKERT_ITEMS = [f"{prefix}{i}" for prefix, n in
                [("ch", 4), ("es", 4), ("nt", 4), ("mi", 4), ("su", 4), ("dc", 4), ("ps", 3), ("pr", 3)]
                for i in range(1, n + 1)]


def complete_answers(**overrides):
    """A complete, valid set of answers to the shipped questionnaire (JSON types)."""
    answers = {name: 3 + (i % 3) for i, name in enumerate(LIKERT_ITEMS)}
    answers.update({
        "attn1": 6,
        "nps": 9,
        "category": "jewellery",
        "channels": ["boutique", "website"],
        "style_words": "Quiet, tailored, a few very good pieces.",
        "special_purchase": "An advisor who remembers me and a beautifully wrapped box.",
    })
    answers.update(overrides)
    return {k: v for k, v in answers.items() if v is not None}


def as_form(answers, action="submit", csrf_token=None, lang=None):
    """The same answers as an HTML form would post them."""
    from werkzeug.datastructures import MultiDict

    data = []
    for name, value in answers.items():
        if isinstance(value, list):
            data.extend((name, str(v)) for v in value)
        else:
            data.append((name, str(value)))
    data.append(("action", action))
    if csrf_token is not None:
        data.append(("csrf_token", csrf_token))
    if lang is not None:
        data.append(("lang", lang))
    return MultiDict(data)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def invite(session, customer="C1", order="O1", questionnaire=QUESTIONNAIRE, ttl_days=30, **kwargs):
    from survey_engine.services.survey import create_invitation

    issued = create_invitation(session, customer_external_id=customer, order_id=order,
                               questionnaire_id=questionnaire, ttl_days=ttl_days, **kwargs)
    session.commit()
    return issued
