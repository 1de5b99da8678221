"""The profiles, audit, export, webhooks and privacy commands end to end on the test database."""
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from sqlmodel import select

from survey_engine.models.profiles import DeadLetter, Profile, WebhookDelivery
from tests.profiling.world import restore, shared_world


@pytest.fixture
def world(db_engine):
    built = shared_world()
    restore(db_engine, built.rows)
    return built


def ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def test_refresh_and_show(world, runner, session):
    output = ok(runner.invoke(args=["profiles", "refresh", "--as-of", world.as_of.isoformat()]))
    assert re.search(r"Refresh \d+: 200 persons \(200 with purchases: entry 140, luxury 16, premium 40, "
                     r"ultra_luxury 4\); 0 profiles created, 0 updated", output)
    person, customer = session.execute(sa.select(Profile.person_id, Profile.customer_id)
                                       .where(Profile.style_archetype.is_not(None)).order_by(Profile.person_id)).first()
    text = ok(runner.invoke(args=["profiles", "show", customer]))
    profile = session.get(Profile, person)
    assert text.startswith(f"Person {person} (customer {customer};")
    assert f"tier {profile.value_tier}" in text and profile.style_archetype in text
    assert profile.next_best_action in text and "why style:" in text
    data = json.loads(ok(runner.invoke(args=["profiles", "show", str(person), "--json"])))
    assert data["person_id"] == person and data["history"][0]["source"] == "demo"
    missing = runner.invoke(args=["profiles", "show", "nobody"])
    assert missing.exit_code == 1 and "no person, customer number or source record 'nobody'" in missing.output


def test_note_correct_contact(world, runner, session):
    ok(runner.invoke(args=["profiles", "note", "1", "--author", "Giulia", "--text", "Prefers Saturdays"]))
    out = ok(runner.invoke(args=["profiles", "correct", "1", "--catalog", "relationship_styles",
                                 "--archetype", "discreet_privacy", "--author", "Giulia"]))
    assert "person 1 is discreet_privacy in relationship_styles" in out
    assert session.get(Profile, 1).relationship_style == "discreet_privacy"
    person = session.execute(sa.select(Profile.person_id).where(Profile.contact_cap == 1)
                             .order_by(Profile.person_id)).scalar()
    out = ok(runner.invoke(args=["profiles", "contact", str(person), "--channel", "email", "--by", "Giulia"]))
    assert out.strip() == "Contact recorded; 0 of 1 left this month."
    refused = runner.invoke(args=["profiles", "contact", str(person), "--channel", "email", "--by", "Giulia"])
    assert refused.exit_code == 1 and "no contacts left this month" in refused.output
    bad = runner.invoke(args=["profiles", "correct", "1", "--catalog", "styles", "--archetype", "x", "--author", "G"])
    assert bad.exit_code == 1 and "catalog: unknown catalog 'styles'" in bad.output


def test_audit_prints_matrices_and_writes_json(world, runner, tmp_path):
    out = ok(runner.invoke(args=["audit", "--since", "2020-01-01", "--json", str(tmp_path / "audit.json")]))
    assert "Drift since 2020-01-01: 200 profiles" in out and "value_tier: from (rows) -> to (columns)" in out
    report = json.loads((tmp_path / "audit.json").read_text())
    assert set(report["dimensions"]) == {"value_tier", "style_archetype", "relationship_style"}


def test_export_prints_the_next_cursor(world, runner, tmp_path):
    out = ok(runner.invoke(args=["export", "--format", "salesforce", "--out", str(tmp_path / "sf.csv")]))
    cursor = int(re.search(r"next cursor: (\d+)", out).group(1))
    assert cursor == 200 and (tmp_path / "sf.csv").read_text().startswith("SE_Person_Id__c,")
    out = ok(runner.invoke(args=["export", "--format", "salesforce", "--since", str(cursor),
                                 "--out", str(tmp_path / "sf2.csv")]))
    assert out.startswith("Wrote 0 profiles") and f"next cursor: {cursor}" in out
    bad = runner.invoke(args=["export", "--format", "csv", "--destination", "hubspot", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "destination 'hubspot' writes hubspot, not csv" in bad.output


def test_webhooks_commands(world, runner, session):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200 if len(received) > 1 else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/h"
        out = ok(runner.invoke(args=["webhooks", "add", "--name", "crm", "--url", url, "--field", "person_id",
                                     "--field", "style_archetype", "--max-attempts", "1"]))
        assert re.search(r"secret: \S{32,}", out)
        person = session.execute(sa.select(Profile.person_id).where(Profile.consent_marketing, Profile.consent_profiling)
                                 .order_by(Profile.person_id)).scalar()
        ok(runner.invoke(args=["profiles", "correct", str(person), "--catalog", "style_archetypes",
                               "--archetype", "bold_maximalist", "--author", "G"]))
        out = ok(runner.invoke(args=["webhooks", "deliver"]))
        assert "1 attempted: 0 delivered, 1 failed (1 moved to dead letters)." in out
        listing = ok(runner.invoke(args=["webhooks", "list"]))
        assert "0 pending, 0 delivered, 1 dead" in listing and "dead letter 1:" in listing
        out = ok(runner.invoke(args=["webhooks", "replay"]))
        assert "1 deliveries back in the queue." in out and "1 delivered, 0 failed." in out
        assert json.loads(received[-1])["profile"] == {"person_id": person, "style_archetype": "bold_maximalist"}
        assert session.exec(select(WebhookDelivery)).one().status == "delivered"
        assert session.exec(select(DeadLetter)).one().replayed_at is not None
    finally:
        server.shutdown()
        server.server_close()


def test_privacy_commands(world, runner, session, tmp_path):
    out = ok(runner.invoke(args=["privacy", "export", "--person", "4", "--out", str(tmp_path / "p4.json")]))
    data = json.loads((tmp_path / "p4.json").read_text())
    assert data["person_id"] == 4 and data["tables"]["customer"] and out.startswith("Wrote ")
    refused = runner.invoke(args=["privacy", "erase", "--person", "4", "--by", "dpo"], input="n\n")
    assert refused.exit_code == 1 and session.get(Profile, 4) is not None
    out = ok(runner.invoke(args=["privacy", "erase", "--person", "4", "--by", "dpo", "--yes"]))
    assert "logged as erasure 1" in out
    session.expire_all()
    assert session.get(Profile, 4) is None
    both = runner.invoke(args=["privacy", "erase", "--person", "5", "--customer", "C1", "--by", "dpo", "--yes"])
    assert both.exit_code != 0 and "exactly one of --person or --customer" in both.output


def _worker(env: dict, *args: str):
    import os
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    return subprocess.Popen([sys.executable, "-m", "survey_engine.cli", "webhooks", "deliver", *args],
                            cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_the_delivery_worker_delivers_as_changes_come_and_stops_on_sigterm(world, cli_env, session):
    import signal
    import time

    from survey_engine.services import profiles as profile_service
    from survey_engine.services.webhooks import add_subscription

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    worker = _worker(cli_env, "--every", "0.2")
    try:
        add_subscription(session, name="crm", url=f"http://127.0.0.1:{server.server_address[1]}/h",
                         fields=["person_id", "style_archetype"])
        session.commit()
        persons = session.execute(sa.select(Profile.person_id).where(Profile.consent_marketing,
                                                                      Profile.consent_profiling)
                                  .order_by(Profile.person_id).limit(2)).scalars().all()
        for person in persons:  # changes made while the worker runs reach the subscriber on their own
            profile_service.correct_archetype(session, person, catalog_id="style_archetypes",
                                              archetype_id="bold_maximalist", author="advisor")
            session.commit()
            deadline = time.monotonic() + 20
            while not any(body["profile"]["person_id"] == person for body in received) and time.monotonic() < deadline:
                time.sleep(0.05)
        assert sorted(body["profile"]["person_id"] for body in received) == sorted(persons)
        session.expire_all()
        assert {d.status for d in session.exec(select(WebhookDelivery)).all()} == {"delivered"}
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
        server.shutdown()
        server.server_close()
    assert worker.returncode == 0, err
    assert out.startswith("Delivering due webhooks every 0.2 s") and out.rstrip().endswith("Stopped.")
    assert out.count("1 attempted: 1 delivered, 0 failed") == 2


def test_the_delivery_worker_rides_out_an_unreachable_database(tmp_path):
    import signal
    import time

    # nothing listens on port 1: every pass fails to connect, and the worker keeps trying
    worker = _worker({"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2",
                      "SURVEY_ENGINE_INSTANCE_DIR": str(tmp_path)}, "--every", "0.1")
    time.sleep(2.0)
    assert worker.poll() is None, worker.communicate()
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=15)
    assert worker.returncode == 0, err
    assert err.count("database unavailable (OperationalError); trying again in 0.1 s") >= 3
    assert out.rstrip().endswith("Stopped.")
