"""Admin › Webhooks: add a subscriber (secret shown once), pause and resume, replay dead letters."""
from __future__ import annotations

import re

from sqlmodel import select

from survey_engine.models.profiles import DeadLetter, WebhookDelivery, WebhookSubscription
from tests.helpers import csrf_from
from tests.web.staff_support import fit_clv, form_token, make_staff, seed_population, sign_in


def test_add_pause_resume_a_subscriber(client, db_engine, session, loaded_questionnaires):
    make_staff(db_engine, "admin")
    sign_in(client, "admin")
    token = form_token(client, "/staff/admin/webhooks/")
    created = client.post("/staff/admin/webhooks/", data={"name": "crm", "url": "https://crm.example.com/hook",
                                                          "consent": ["marketing"], "fields": ["person_id", "value_tier"],
                                                          "csrf_token": token})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<p class="secret" id="new-secret-value">([^<]+)</p>', created.get_data(as_text=True)).group(1)
    subscription = session.exec(select(WebhookSubscription)).one()
    assert subscription.secret == secret and subscription.fields == ["person_id", "value_tier"]
    assert subscription.consent == ["marketing"]
    listing = client.get("/staff/admin/webhooks/").get_data(as_text=True)
    assert secret not in listing and "https://crm.example.com/hook" in listing
    client.post(f"/staff/admin/webhooks/{subscription.id}/state", data={"action": "pause", "csrf_token": token})
    session.expire_all()
    assert not session.get(WebhookSubscription, subscription.id).active
    assert "crm is paused" in client.get("/staff/admin/webhooks/").get_data(as_text=True)
    client.post(f"/staff/admin/webhooks/{subscription.id}/state", data={"action": "resume", "csrf_token": token})
    session.expire_all()
    assert session.get(WebhookSubscription, subscription.id).active
    for form, message in [({"name": "crm", "url": "https://x.example.com"}, "exists"),
                          ({"name": "other", "url": "ftp://x.example.com"}, "http(s) URL")]:
        refused = client.post("/staff/admin/webhooks/", data={**form, "csrf_token": token})
        assert refused.status_code in (400, 409) and message in refused.get_data(as_text=True)


def test_replay_requeues_dead_letters(client, db_engine, session, tmp_path):
    from survey_engine.services import webhooks
    from survey_engine.services.profiles import refresh_profiles

    seed_population(db_engine, tmp_path, customers=30)
    fit_clv(db_engine)
    webhooks.add_subscription(session, name="down", url="http://127.0.0.1:9/hook", max_attempts=1,
                              timeout_seconds=2, consent=[])
    session.commit()
    refresh_profiles(db_engine)
    assert webhooks.deliver_due(db_engine, limit=2).dead == 2
    make_staff(db_engine, "admin")
    sign_in(client, "admin")
    page = client.get("/staff/admin/webhooks/").get_data(as_text=True)
    assert "Replay all 2" in page and "URLError" in page
    replayed = client.post("/staff/admin/webhooks/replay", data={"csrf_token": csrf_from(page)})
    assert "2 dead letters queued again" in client.get(replayed.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    letters = session.exec(select(DeadLetter)).all()
    assert len(letters) == 2 and all(letter.replayed_at is not None for letter in letters)
    assert all(session.get(WebhookDelivery, letter.delivery_id).status == "pending" for letter in letters)
