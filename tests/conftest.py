"""Shared fixtures: a clean, migrated database per test on SQLite and, when TEST_DATABASE_URL is set,
on PostgreSQL as well (database tests run once per backend); the Flask app, client and CLI runner."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import make_url

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip() or None
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])


def pytest_sessionstart(session: pytest.Session) -> None:
    """With TEST_DATABASE_URL set, an unreachable database fails the run instead of skipping tests."""
    if TEST_DATABASE_URL is None:
        return
    engine = sa.create_engine(TEST_DATABASE_URL, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect ends the run
        pytest.exit(f"TEST_DATABASE_URL is set but the database cannot be reached: {exc}", returncode=3)
    finally:
        engine.dispose()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_admin(statement: str) -> None:
    admin = sa.create_engine(make_url(TEST_DATABASE_URL), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(statement))
    admin.dispose()


def _postgres_database_for_worker() -> str:
    """A private database per test process (xdist worker), created fresh and dropped at the end,
    so parallel workers and concurrent runs never share rows."""
    base = make_url(TEST_DATABASE_URL)
    name = f"{base.database}_{_worker()}_{os.getpid()}"
    _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _postgres_admin(f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def migrated_databases():
    databases: dict[str, str] = {}
    yield databases
    from survey_engine.db import dispose_engines

    dispose_engines()
    if "postgresql" in databases:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{make_url(databases["postgresql"]).database}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def db_url(request, migrated_databases, tmp_path_factory) -> str:
    """URL of a migrated database of the parametrised backend (migrations run once per session)."""
    from survey_engine.db import get_engine, upgrade

    backend = request.param
    url = migrated_databases.get(backend)
    if url is None:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        else:
            url = _postgres_database_for_worker()
        upgrade(get_engine(url))
        migrated_databases[backend] = url
    return url


def _clean(engine) -> None:
    from sqlmodel import SQLModel

    import survey_engine.models  # noqa: F401

    tables = [t for t in SQLModel.metadata.sorted_tables]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                connection.execute(table.delete())


@pytest.fixture
def db_engine(db_url):
    """An engine on a database emptied before the test."""
    from survey_engine.db import get_engine

    engine = get_engine(db_url)
    _clean(engine)
    yield engine


@pytest.fixture
def session(db_engine):
    from sqlmodel import Session

    with Session(db_engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def settings(db_url, tmp_path):
    from survey_engine.config import Settings

    return Settings.from_env(database_url=db_url, instance_dir=tmp_path / "instance", secret_key="test-secret",
                             questionnaires_dir=PROJECT_ROOT / "questionnaires",
                             archetypes_dir=PROJECT_ROOT / "archetypes")


@pytest.fixture
def cli_env(db_url, tmp_path) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "SURVEY_ENGINE_INSTANCE_DIR": str(tmp_path / "instance"),
            "SURVEY_ENGINE_SECRET_KEY": "test-secret"}


@pytest.fixture
def runner(cli_env, db_engine):
    """Invoke the CLI against the test database: ``runner.invoke(cli, [...])``."""

    class _Runner(CliRunner):
        def invoke(self, cli=None, args=None, **kwargs):
            from survey_engine.cli import cli as root

            env = {**cli_env, **(kwargs.pop("env", None) or {})}
            return super().invoke(root if cli is None else cli, args, env=env, catch_exceptions=False, **kwargs)

    return _Runner()


@pytest.fixture
def loaded_questionnaires(db_engine):
    """The shipped questionnaires stored in the test database."""
    from survey_engine.db import session_scope
    from survey_engine.services.survey import read_questionnaire_files, sync_questionnaires

    with session_scope(db_engine) as session:
        return sync_questionnaires(session, read_questionnaire_files(PROJECT_ROOT / "questionnaires"))


@pytest.fixture
def app(settings, db_engine):
    from survey_engine.app import create_app

    app = create_app(settings, test_config={"TESTING": True})
    yield app


@pytest.fixture
def client(app):
    return app.test_client()
