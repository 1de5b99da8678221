"""The real PostgreSQL stopped during load: the production server answers 503 with Retry-After,
writes nothing by halves, and serves again without a restart once the database is back."""
from __future__ import annotations

import json
import random
import threading
import time

import pytest

from bench.bench_load import answers_digest, database_state, make_answers, prepare_database
from tests.hardening.servers import Gunicorn, request

N_INVITATIONS = 400
CLIENTS = 8
#: Each client's pause between submissions: the load lasts about 5 s whatever the server's speed,
#: so it spans the outage (stop after 1 s, start 1.5 s later).
PACE_SECONDS = 0.1


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_outage_during_load_gives_503_then_recovers_without_restart(throwaway_postgres, tmp_path, mode):
    url = throwaway_postgres.create_database(f"outage_{mode}")
    tokens, _ = prepare_database(url, N_INVITATIONS, seed=5)
    rng = random.Random(9)
    answers = [make_answers(rng) for _ in tokens]
    env = {"DATABASE_URL": url + "?connect_timeout=2", "SURVEY_ENGINE_ENV": "production",
           "SURVEY_ENGINE_SECRET_KEY": "k" * 40, "SURVEY_ENGINE_INSTANCE_DIR": str(tmp_path),
           "SURVEY_ENGINE_LOG_LEVEL": "WARNING"}
    outcomes: dict[int, list[tuple[int, dict, object]]] = {i: [] for i in range(len(tokens))}
    pending = list(range(len(tokens)))
    lock = threading.Lock()

    def submit(i: int) -> None:
        status, headers, body = request(server.port, "POST", "/api/v1/responses",
                                        {"token": tokens[i], "answers": answers[i]}, timeout=30)
        with lock:
            outcomes[i].append((status, headers, body))

    def client() -> None:
        while True:
            with lock:
                if not pending:
                    return
                i = pending.pop()
            submit(i)
            time.sleep(PACE_SECONDS)

    with Gunicorn(env, workers=2, threads=4, log_dir=tmp_path) as server:
        master_pid = server.process.pid
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        throwaway_postgres.stop(mode)
        time.sleep(1.5)
        during = request(server.port, "GET", "/healthz")
        throwaway_postgres.start()
        for thread in threads:
            thread.join(120)
        # No restart: the same master serves, and the database is back within a few seconds.
        deadline = time.monotonic() + 20
        while request(server.port, "GET", "/healthz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert request(server.port, "GET", "/healthz")[0] == 200
        # The client follows Retry-After: everything refused during the outage is sent again.
        refused = [i for i, seen in outcomes.items() if seen[-1][0] != 200]
        for i in refused:
            submit(i)
        assert server.process.pid == master_pid and server.process.poll() is None

    assert during[0] == 503 and during[1]["Retry-After"]
    statuses = [status for seen in outcomes.values() for status, _, _ in seen]
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert statuses.count(503) > 0, "the outage was not observed by any request"
    for seen in outcomes.values():
        for status, headers, body in seen:
            if status == 503:
                assert headers["Retry-After"] == "5"
                assert body == {"ok": False, "status": 503, "errors": {}, "error": body["error"]}
    assert all(seen[-1][0] == 200 for seen in outcomes.values()), "a submission never succeeded"

    state = database_state(url)
    stored = {i: digest for i, (_, digest) in state["stored"].items()}
    duplicates, half = state["duplicates"], state["half_written"]
    assert duplicates == 0 and half == 0
    assert stored == {i: answers_digest(answers[i]) for i in range(len(tokens))}
    # One response id per token, whichever attempt stored it.
    for i, seen in outcomes.items():
        ids = {body["response_id"] for status, _, body in seen if status == 200}
        assert len(ids) == 1, (i, seen)
    booted = [json.loads(line)["message"] for line in server.stderr_path.read_text().splitlines()
              if "Booting worker" in line]
    assert len(booted) == 2, "a worker crashed and was replaced during the outage"
