"""Webhooks against a real local HTTP server: signed JSON with only the allowed fields, retries
with backoff after failures, the dead-letter table after the last attempt, replay, timeouts."""
import json
import random
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from sqlmodel import select

from survey_engine.export.signing import verify_signature
from survey_engine.models.base import utcnow
from survey_engine.models.profiles import DeadLetter, Profile, WebhookDelivery
from survey_engine.services import profiles as profile_service
from survey_engine.services.survey import Conflict, NotFound, ServiceError
from survey_engine.services.webhooks import add_subscription, deliver_due, find_subscription, replay_dead_letters
from tests.profiling.world import restore, shared_world

SECRET = "s3cret-for-the-webhook-tests"


class Receiver:
    """An HTTP server that answers 500 to the first ``failures`` posts, then 200 (after ``delay`` s),
    recording every request and whether its signature verified."""

    def __init__(self, failures: int = 0, delay: float = 0.0):
        self.failures, self.delay, self.requests = failures, delay, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({
                    "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                    "verified": verify_signature(SECRET, self.headers["X-SurveyEngine-Timestamp"], body,
                                                 self.headers["X-SurveyEngine-Signature"])})
                time.sleep(receiver.delay)
                failing = len(receiver.requests) <= receiver.failures
                self.send_response(500 if failing else 200)
                self.end_headers()
                self.wfile.write(b"no" if failing else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made = []

    def make(**kwargs):
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def world(db_engine):
    built = shared_world()
    restore(db_engine, built.rows)
    return built


def consenting_person(session, **conditions) -> int:
    query = sa.select(Profile.person_id).where(Profile.consent_marketing, Profile.consent_profiling)
    return session.execute(query.order_by(Profile.person_id)).scalars().first()


def change(session, person):
    profile_service.correct_archetype(session, person, catalog_id="relationship_styles",
                                      archetype_id="digital_community", author="advisor")
    session.commit()


def test_retries_with_backoff_until_delivered_and_signs_every_attempt(world, db_engine, session, receiver_factory):
    receiver = receiver_factory(failures=2)
    add_subscription(session, name="crm", url=receiver.url, secret=SECRET,
                     fields=["person_id", "value_tier", "relationship_style", "next_best_action"])
    session.commit()
    person = consenting_person(session)
    change(session, person)
    delivery = session.exec(select(WebhookDelivery)).one()
    assert (delivery.person_id, delivery.status, delivery.attempts) == (person, "pending", 0)

    start = utcnow()
    first = deliver_due(db_engine, now=start, base_delay=60, rng=random.Random(3))
    assert (first.attempted, first.failed, first.delivered) == (1, 1, 0)
    session.refresh(delivery)
    wait = (delivery.next_attempt_at - start).total_seconds()
    assert 30 <= wait <= 60 and delivery.last_status_code == 500 and delivery.last_error.startswith("HTTP 500")
    assert deliver_due(db_engine, now=start + timedelta(seconds=wait - 1)).attempted == 0  # not due yet
    second = deliver_due(db_engine, now=delivery.next_attempt_at, base_delay=60, rng=random.Random(3))
    assert second.failed == 1
    session.refresh(delivery)
    assert 60 <= (delivery.next_attempt_at - start).total_seconds() - wait <= 120  # doubled
    third = deliver_due(db_engine, now=delivery.next_attempt_at)
    assert third.delivered == 1
    session.refresh(delivery)
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len(receiver.requests) == 3 and all(r["verified"] for r in receiver.requests)
    payload = json.loads(receiver.requests[-1]["body"])
    assert payload["event"] == "profile.changed" and payload["person_id"] == person
    assert set(payload["profile"]) == {"person_id", "value_tier", "relationship_style", "next_best_action"}
    assert payload["profile"]["relationship_style"] == "digital_community"
    assert payload["change_seq"] == session.get(Profile, person).change_seq
    headers = receiver.requests[-1]["headers"]
    assert headers["x-surveyengine-delivery"] == str(delivery.id) and headers["content-type"] == "application/json"
    assert headers["x-surveyengine-event"] == "profile.changed"
    assert session.exec(select(DeadLetter)).all() == []


def test_the_last_failure_goes_to_dead_letters_and_replay_sends_it_again(world, db_engine, session, receiver_factory):
    receiver = receiver_factory(failures=3)
    add_subscription(session, name="fragile", url=receiver.url, secret=SECRET, max_attempts=3)
    session.commit()
    change(session, consenting_person(session))
    moment = utcnow()
    for _ in range(3):
        deliver_due(db_engine, now=moment, base_delay=0.0)
    letter = session.exec(select(DeadLetter)).one()
    delivery = session.get(WebhookDelivery, letter.delivery_id)
    assert (delivery.status, delivery.attempts, letter.attempts) == ("dead", 3, 3)
    assert deliver_due(db_engine, now=moment + timedelta(days=1)).attempted == 0
    assert replay_dead_letters(session, [letter.id]) == [delivery.id]
    session.commit()
    summary = deliver_due(db_engine)
    session.refresh(delivery)
    session.refresh(letter)
    assert summary.delivered == 1 and delivery.status == "delivered" and letter.replayed_at is not None
    assert len(receiver.requests) == 4 and all(r["verified"] for r in receiver.requests)
    with pytest.raises(Exception, match="no dead letter"):
        replay_dead_letters(session, [letter.id + 99])


def test_a_subscriber_that_hangs_times_out(world, db_engine, session, receiver_factory):
    receiver = receiver_factory(delay=2.0)
    add_subscription(session, name="slow", url=receiver.url, secret=SECRET, timeout_seconds=0.3)
    session.commit()
    change(session, consenting_person(session))
    summary = deliver_due(db_engine)
    assert summary.failed == 1 and "timed out" in summary.errors[0]


def test_consent_and_inactive_subscribers(world, db_engine, session, receiver_factory):
    receiver = receiver_factory()
    add_subscription(session, name="needs-profiling", url=receiver.url, secret=SECRET)
    add_subscription(session, name="marketing-only", url=receiver.url, secret=SECRET, consent=["marketing"])
    session.commit()
    person = session.execute(sa.select(Profile.person_id).where(Profile.consent_marketing,
                                                                sa.not_(Profile.consent_profiling))).scalars().first()
    assert person is not None
    change(session, person)
    queued = session.exec(select(WebhookDelivery)).all()
    assert [d.subscription_id for d in queued] == [2]


def test_subscription_validation(world, session):
    with pytest.raises(ServiceError, match="url must be an http"):
        add_subscription(session, name="x", url="ftp://example.com")
    with pytest.raises(ServiceError, match="unknown field"):
        add_subscription(session, name="x", url="https://example.com/h", fields=["password"])
    subscription, secret = add_subscription(session, name="x", url="https://example.com/h")
    assert len(secret) >= 32 and subscription.fields[0] == "person_id" and "email" not in subscription.fields
    with pytest.raises(Conflict, match="a subscription named 'x' exists"):
        add_subscription(session, name="x", url="https://example.com/h")
    assert find_subscription(session, str(subscription.id)) is subscription
    assert find_subscription(session, "x") is subscription
    for ref in ("²", "99999999999"):
        with pytest.raises(NotFound, match="no webhook subscription"):
            find_subscription(session, ref)
