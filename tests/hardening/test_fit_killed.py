"""``survey-engine factors fit`` killed with SIGKILL mid-way: the previously active factor model
stays active and unchanged, nothing of the killed fit remains, and the next fit works."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.hardening.servers import PROJECT_ROOT

QUESTIONNAIRE = "post_purchase_luxury"
APP_NAME = "killed-fit-under-test"


def _models(engine) -> list[tuple]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT id, status, is_active, data_hash, results, options FROM factor_model ORDER BY id")).all()
    return [(i, status, bool(active), digest,
             hashlib.sha256(json.dumps(results if not isinstance(results, str) else json.loads(results),
                                       sort_keys=True).encode()).hexdigest(), str(options))
            for i, status, active, digest, results, options in rows]


def _start_fit(cli_env: dict) -> subprocess.Popen:
    env = {**os.environ, **cli_env, "PYTHONPATH": str(PROJECT_ROOT), "PGAPPNAME": APP_NAME,
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "survey_engine.cli", "factors", "fit", "--questionnaire",
                             QUESTIONNAIRE, "--correlation", "polychoric"],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_until(predicate, process: subprocess.Popen, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            pytest.fail(f"the fit ended before {what}:\n{process.stdout.read().decode()}")
        time.sleep(0.005)
    process.kill()
    pytest.fail(f"timed out waiting for {what}")


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(10) == -signal.SIGKILL


def _backend_state(engine) -> tuple | None:
    with engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT state, wait_event_type, query FROM pg_stat_activity "
            "WHERE application_name = :name AND datname = current_database()"),
            {"name": APP_NAME}).first()


def _sqlite_file_open(process: subprocess.Popen, database: str) -> bool:
    fd_dir = Path(f"/proc/{process.pid}/fd")
    try:
        return any(os.path.realpath(fd) == database for fd in fd_dir.iterdir())
    except OSError:
        return False


@pytest.fixture
def fitted(db_engine, cli_env, loaded_questionnaires, tmp_path):
    """Demo survey responses (no other demo steps) and one active model, fitted in-process."""
    from survey_engine.db import session_scope
    from survey_engine.services.demo import seed_demo
    from survey_engine.services.factors import fit_factor_model

    with session_scope(db_engine) as session:
        seed_demo(session, customers=360, seed=3, instance_dir=tmp_path / "instance", steps=())
    with session_scope(db_engine) as session:
        record = fit_factor_model(session, QUESTIONNAIRE, correlation="pearson")
    assert record.status == "fitted" and record.is_active
    return _models(db_engine)


def _assert_untouched_and_refit(db_engine, before) -> None:
    from survey_engine.db import session_scope
    from survey_engine.services.factors import fit_factor_model

    assert _models(db_engine) == before
    assert [m[0] for m in before if m[2]] == [before[-1][0]]
    if db_engine.dialect.name == "sqlite":
        with db_engine.connect() as connection:
            assert connection.execute(sa.text("PRAGMA integrity_check")).scalar_one() == "ok"
    with session_scope(db_engine) as session:
        record = fit_factor_model(session, QUESTIONNAIRE, correlation="pearson")
    after = _models(db_engine)
    assert record.status == "fitted" and [m[0] for m in after if m[2]] == [record.id]
    assert after[:-1] == [(m[0], m[1], False if m[0] == before[-1][0] else m[2], *m[3:]) for m in before]


def test_fit_killed_while_computing(fitted, db_engine, cli_env):
    process = _start_fit(cli_env)
    if db_engine.dialect.name == "postgresql":
        # The fit has read its responses and holds its transaction open while it computes.
        _wait_until(lambda: (_backend_state(db_engine) or ("",))[0] == "idle in transaction", process,
                    "the fit read the responses")
        time.sleep(0.3)
    else:
        database = os.path.realpath(db_engine.url.database)
        _wait_until(lambda: _sqlite_file_open(process, database), process, "the fit opened the database")
        time.sleep(1.0)
    assert process.poll() is None, "the fit finished before it could be killed"
    _kill(process)
    if db_engine.dialect.name == "postgresql":
        deadline = time.monotonic() + 10
        while _backend_state(db_engine) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    _assert_untouched_and_refit(db_engine, fitted)


def test_fit_killed_between_deactivating_the_old_model_and_committing(fitted, db_engine, cli_env):
    """PostgreSQL: hold the fit inside its write (the new row's foreign-key check waits on a row
    lock taken here), after it has already switched the old model off, then kill it."""
    if db_engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL row locks to stop the fit inside its write transaction")
    blocker = db_engine.connect()
    transaction = blocker.begin()
    blocker.execute(sa.text("SELECT id FROM questionnaire_version WHERE questionnaire_id = :q FOR UPDATE"),
                    {"q": QUESTIONNAIRE})
    process = _start_fit(cli_env)
    try:
        def inside_write() -> bool:
            state = _backend_state(db_engine)
            return state is not None and state[1] == "Lock" and "INSERT INTO factor_model" in state[2]

        _wait_until(inside_write, process, "the fit reached its INSERT")
        _kill(process)
    finally:
        transaction.rollback()
        blocker.close()
    deadline = time.monotonic() + 10
    while _backend_state(db_engine) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _backend_state(db_engine) is None, "the killed fit's database session lingers"
    _assert_untouched_and_refit(db_engine, fitted)
