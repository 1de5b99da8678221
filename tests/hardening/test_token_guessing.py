"""Token guessing: the limit holds across gunicorn workers, and lookup time says nothing about how
close a guess is to a real token (statistical comparison of interleaved timings)."""
from __future__ import annotations

import gc
import random
import secrets
import statistics
import time

from scipy.stats import kruskal, mannwhitneyu

from bench.bench_load import prepare_database
from tests.hardening.servers import Gunicorn, request

SAMPLES = 400


def test_limit_holds_across_gunicorn_workers(production_env, db_url, loaded_questionnaires, tmp_path):
    tokens, _ = prepare_database(db_url, 3, seed=1)
    env = {**production_env, "SURVEY_ENGINE_TOKEN_LOOKUP_LIMIT": "5/600"}
    with Gunicorn(env, workers=3, threads=2, log_dir=tmp_path) as server:
        # Every request on a new connection, so the workers take turns.
        statuses = [request(server.port, "GET", f"/s/{secrets.token_urlsafe(32)}")[0] for _ in range(15)]
        blocked = request(server.port, "POST", "/api/v1/responses", {"token": tokens[0], "answers": {}})
        page = request(server.port, "GET", f"/s/{tokens[1]}")
    assert statuses == [404] * 5 + [429] * 10
    assert blocked[0] == 429 and blocked[1]["Retry-After"] and blocked[2]["status"] == 429
    assert page[0] == 429 and b"<html" in page[2].lower()


def _near_miss(token: str, keep: int, salt: int) -> str:
    """A wrong token sharing its first ``keep`` characters with ``token`` (a new one per ``salt``)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    rng = random.Random(f"{token}/{keep}/{salt}")
    first = rng.choice(alphabet.replace(token[keep], ""))
    return token[:keep] + first + "".join(rng.choice(alphabet) for _ in range(len(token) - keep - 1))


def test_lookup_time_does_not_depend_on_how_close_a_guess_is(db_url, db_engine, loaded_questionnaires):
    from sqlmodel import Session

    from survey_engine.services.survey import NotFound, find_invitation

    tokens, _ = prepare_database(db_url, 200, seed=2)
    valid = tokens[:40]
    groups = {
        "valid": lambda i: valid[i % 40],
        "shares 42 of 43 characters": lambda i: _near_miss(valid[i % 40], 42, i),
        "shares 21 characters": lambda i: _near_miss(valid[i % 40], 21, i),
        "random": lambda i: secrets.token_urlsafe(32),
    }
    order = [name for name in groups for _ in range(SAMPLES)]
    random.Random(3).shuffle(order)  # interleaved, so drift in machine load hits every group alike
    timings: dict[str, list[float]] = {name: [] for name in groups}
    with Session(db_engine) as session:
        for _ in range(50):  # warm the connection, statement caches and index pages
            try:
                find_invitation(session, secrets.token_urlsafe(32))
            except NotFound:
                pass
        # Every token is made before timing starts, so no group pays for its own generation.
        planned = [(name, groups[name](i)) for i, name in enumerate(order)]
        gc.collect()
        gc.disable()
        try:
            for name, token in planned:
                started = time.perf_counter()
                try:
                    find_invitation(session, token, allow_completed=True)
                    found = True
                except NotFound:
                    found = False
                timings[name].append(time.perf_counter() - started)
                session.rollback()
                assert found == (name == "valid")
        finally:
            gc.enable()
    invalid = {name: values for name, values in timings.items() if name != "valid"}
    # The lookup is by SHA-256 digest: a guess sharing a prefix with a real token is no faster or
    # slower than a random one.
    assert kruskal(*invalid.values()).pvalue > 0.001, {k: statistics.median(v) for k, v in timings.items()}
    assert mannwhitneyu(timings["shares 42 of 43 characters"], timings["random"]).pvalue > 0.001
    # A valid token costs loading one row more; the status code already tells the client that the
    # link is valid, so this difference leaks nothing, but it must stay small and bounded.
    difference = statistics.median(timings["valid"]) - statistics.median(timings["random"])
    assert abs(difference) < 0.002, f"valid lookups differ by {difference * 1e6:.0f} µs"
