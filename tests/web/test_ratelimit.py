"""The database-backed limit on failed survey-token lookups per client IP."""
from __future__ import annotations

from dataclasses import replace

import pytest

from survey_engine.app import create_app
from tests.helpers import complete_answers, invite


@pytest.fixture
def limited(settings, db_engine, loaded_questionnaires):
    """An app allowing 3 failed lookups per 600-second window."""
    return create_app(replace(settings, token_lookup_limit=(3, 600)), test_config={"TESTING": True})


def _get(client, path, ip="198.51.100.7", **kwargs):
    return client.get(path, environ_base={"REMOTE_ADDR": ip}, **kwargs)


def test_failed_lookups_block_the_address_for_every_token_route(limited, session):
    valid = invite(session, customer="RL1", order="O1")
    client = limited.test_client()
    assert [_get(client, f"/s/guess-{i}").status_code for i in range(3)] == [404, 404, 404]
    blocked = _get(client, f"/s/{valid.token}")
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 600
    api = client.post("/api/v1/responses", json={"token": valid.token, "answers": complete_answers()},
                      environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert api.status_code == 429 and api.get_json()["status"] == 429 and api.headers["Retry-After"]
    # Another client is not affected, and a valid token works for it.
    assert _get(client, f"/s/{valid.token}", ip="203.0.113.9").status_code == 200
    assert client.get("/healthz", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200


def test_the_counter_is_shared_by_every_process_on_the_database(limited, settings):
    other_worker = create_app(replace(settings, token_lookup_limit=(3, 600)), test_config={"TESTING": True})
    first, second = limited.test_client(), other_worker.test_client()
    assert _get(first, "/s/a").status_code == 404
    assert _get(second, "/s/b").status_code == 404
    assert _get(first, "/s/c").status_code == 404
    assert _get(second, "/s/d").status_code == 429


def test_the_block_ends_with_the_window(limited, monkeypatch):
    import survey_engine.web.ratelimit as ratelimit

    clock = [1_000_000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    client = limited.test_client()
    for i in range(3):
        _get(client, f"/s/x{i}")
    response = _get(client, "/s/x")
    assert response.status_code == 429
    clock[0] += int(response.headers["Retry-After"])
    assert _get(client, "/s/x").status_code == 404


def test_expired_or_answered_links_are_not_guesses(limited, session):
    from datetime import timedelta

    from survey_engine.models.base import utcnow

    expired = invite(session, customer="RL2", order="O2")
    expired.invitation.expires_at = utcnow() - timedelta(days=1)
    session.add(expired.invitation)
    session.commit()
    client = limited.test_client()
    assert [_get(client, f"/s/{expired.token}").status_code for _ in range(5)] == [410] * 5


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(settings, db_engine, loaded_questionnaires):
    direct = create_app(replace(settings, token_lookup_limit=(2, 600)), test_config={"TESTING": True}).test_client()
    statuses = [direct.get(f"/s/g{i}", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(3)]
    assert statuses == [404, 404, 429], "a spoofed X-Forwarded-For must not reset the count"

    proxied = create_app(replace(settings, token_lookup_limit=(2, 600), proxy_hops=1),
                         test_config={"TESTING": True}).test_client()
    via = {"REMOTE_ADDR": "127.0.0.1"}
    assert [proxied.get(f"/s/p{i}", headers={"X-Forwarded-For": "192.0.2.1"}, environ_base=via).status_code
            for i in range(3)] == [404, 404, 429]
    assert proxied.get("/s/p", headers={"X-Forwarded-For": "192.0.2.2"}, environ_base=via).status_code == 404


def test_limit_setting_is_parsed_and_checked(monkeypatch):
    from survey_engine.config import Settings

    monkeypatch.setenv("SURVEY_ENGINE_TOKEN_LOOKUP_LIMIT", "5/60")
    assert Settings.from_env().token_lookup_limit == (5, 60)
    for bad in ["5", "five/60", "0/60", "5/0", "-1/60"]:
        monkeypatch.setenv("SURVEY_ENGINE_TOKEN_LOOKUP_LIMIT", bad)
        with pytest.raises(ValueError, match="SURVEY_ENGINE_TOKEN_LOOKUP_LIMIT"):
            Settings.from_env()
