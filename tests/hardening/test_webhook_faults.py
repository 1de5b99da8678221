"""Webhook receivers that are down, slow or failing: deliveries are retried with backoff, then
dead-lettered, each attempt bounded by the subscriber's timeout; a healthy receiver beside them is
served, and the app keeps answering while a delivery waits on a slow receiver."""
from __future__ import annotations

import http.server
import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from survey_engine.models.base import utcnow
from survey_engine.models.profiles import DeadLetter, WebhookDelivery
from survey_engine.services.webhooks import add_subscription, deliver_due, replay_dead_letters
from tests.hardening.servers import free_port
from tests.helpers import complete_answers, invite

SLOW_SECONDS = 2.0
TIMEOUT = 0.3


class _Receiver(http.server.BaseHTTPRequestHandler):
    behaviour = "ok"
    received: list[bytes] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.behaviour == "slow":
            time.sleep(SLOW_SECONDS)
        self.server.received.append(body)
        self.send_response(500 if self.server.behaviour == "error" else 204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receivers():
    servers = {}
    for behaviour in ("ok", "slow", "error"):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        server.daemon_threads = True
        server.behaviour, server.received = behaviour, []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers[behaviour] = server
    yield servers
    for server in servers.values():
        server.shutdown()
        server.server_close()


def _subscribe(session, receivers, max_attempts=3):
    urls = {name: f"http://127.0.0.1:{server.server_address[1]}/hook" for name, server in receivers.items()}
    urls["down"] = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    subscriptions = {}
    for name, url in urls.items():
        subscription, _ = add_subscription(session, name=name, url=url, max_attempts=max_attempts,
                                           timeout_seconds=TIMEOUT)
        session.add(WebhookDelivery(subscription_id=subscription.id, person_id=1, change_seq=1,
                                    payload={"person_id": 1, "value_tier": "gold"}))
        subscriptions[name] = subscription
    session.commit()
    return subscriptions


def _deliveries(session):
    session.expire_all()
    return {d.subscription_id: d for d in session.exec(select(WebhookDelivery)).all()}


def test_failed_deliveries_are_retried_with_backoff_then_dead_lettered(session, db_engine, receivers):
    subscriptions = _subscribe(session, receivers)
    first = deliver_due(db_engine)  # default backoff: each failure waits >= 15 s before its next try
    assert (first.attempted, first.delivered, first.failed, first.dead) == (4, 1, 3, 0)
    deliveries = _deliveries(session)
    assert deliveries[subscriptions["ok"].id].status == "delivered"
    for name in ("slow", "error", "down"):
        delivery = deliveries[subscriptions[name].id]
        assert delivery.status == "pending" and delivery.attempts == 1
        assert delivery.next_attempt_at >= utcnow() + timedelta(seconds=14)
    assert "HTTP 500" in deliveries[subscriptions["error"].id].last_error
    assert "refused" in deliveries[subscriptions["down"].id].last_error.lower()
    assert "timed out" in deliveries[subscriptions["slow"].id].last_error.lower()
    assert deliver_due(db_engine).attempted == 0, "nothing is due before its backoff ends"

    later = utcnow() + timedelta(hours=1)
    started = time.perf_counter()
    while deliver_due(db_engine, now=later).attempted:
        later += timedelta(hours=7)
    elapsed = time.perf_counter() - started
    deliveries = _deliveries(session)
    dead = session.exec(select(DeadLetter)).all()
    assert {d.subscription_id for d in dead} == {subscriptions[n].id for n in ("slow", "error", "down")}
    for name in ("slow", "error", "down"):
        assert deliveries[subscriptions[name].id].status == "dead"
        assert deliveries[subscriptions[name].id].attempts == 3
    assert len(receivers["ok"].received) == 1 and len(receivers["error"].received) == 3
    # Each attempt on the slow receiver gave up after the subscriber's timeout, not its 2 s reply.
    assert elapsed < 2 * (TIMEOUT + 0.5) + 1.5

    receivers["error"].behaviour = "ok"
    requeued = replay_dead_letters(session, [d.id for d in dead if d.subscription_id == subscriptions["error"].id])
    session.commit()
    assert deliver_due(db_engine).delivered == 1 and len(requeued) == 1
    assert _deliveries(session)[subscriptions["error"].id].status == "delivered"


def test_the_app_answers_while_a_delivery_waits_on_a_slow_receiver(app, session, db_engine, receivers,
                                                                   loaded_questionnaires):
    from survey_engine.models.profiles import WebhookSubscription

    subscriptions = _subscribe(session, {"slow": receivers["slow"]}, max_attempts=1)
    row = session.get(WebhookSubscription, subscriptions["slow"].id)
    row.timeout_seconds = 5.0  # the delivery now waits out the receiver's full 2 s
    session.add(row)
    session.commit()
    issued = invite(session, customer="WH1", order="O1")
    worker = threading.Thread(target=deliver_due, args=(db_engine,))
    worker.start()
    time.sleep(0.3)
    assert worker.is_alive(), "the delivery should still be waiting on the receiver"
    client = app.test_client()
    started = time.perf_counter()
    health = client.get("/healthz")
    submitted = client.post("/api/v1/responses", json={"token": issued.token, "answers": complete_answers()})
    took = time.perf_counter() - started
    still_waiting = worker.is_alive()
    worker.join(10)
    assert health.status_code == 200 and submitted.status_code == 200
    assert still_waiting and took < 1.0, f"the app took {took:.2f} s while a delivery was in flight"
    assert _deliveries(session)[subscriptions["slow"].id].status == "delivered"
