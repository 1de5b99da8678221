"""Alembic migrations produce exactly the tables the models declare, on every backend."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import survey_engine.models  # noqa: F401
from survey_engine.db import alembic_config, current_revision


def test_migrations_match_the_models(db_engine):
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], f"run `survey-engine db-revision -m ...`: {differences}"


def test_database_is_at_the_single_head(db_engine):
    heads = ScriptDirectory.from_config(alembic_config(db_engine)).get_heads()
    assert len(heads) == 1, f"migration history has several heads: {heads}"
    assert current_revision(db_engine) == heads[0]
