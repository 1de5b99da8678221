"""Fixtures for the hardening tests: production-like environments, a throwaway PostgreSQL cluster."""
from __future__ import annotations

import os

import pytest

from tests.hardening.servers import ThrowawayPostgres


@pytest.fixture
def production_env(db_url, tmp_path) -> dict[str, str]:
    """Environment of a production start against the test database of the current backend."""
    return {"DATABASE_URL": db_url, "SURVEY_ENGINE_ENV": "production",
            "SURVEY_ENGINE_SECRET_KEY": "hardening-secret-" + "x" * 32,
            "SURVEY_ENGINE_INSTANCE_DIR": str(tmp_path / "instance"), "SURVEY_ENGINE_LOG_LEVEL": "INFO"}


@pytest.fixture(scope="session")
def throwaway_postgres():
    """A private PostgreSQL cluster that tests may stop and start (never the shared server)."""
    try:
        cluster = ThrowawayPostgres()
    except FileNotFoundError as exc:
        if os.environ.get("TEST_DATABASE_URL") or os.environ.get("CI"):
            pytest.fail(f"{exc}: the fault tests need them")
        pytest.skip(str(exc))
    cluster.start()
    yield cluster
    cluster.destroy()
