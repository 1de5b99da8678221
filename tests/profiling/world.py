"""A seeded world for the profile tests: a demo population stored and modelled by the real services
(identity resolution, factor model, CLV model, archetype assignment with the bundled embedding
model) and a first profile refresh. It is built once per test session on a scratch SQLite
database, captured row by row, and restored into each test's clean database (SQLite or
PostgreSQL), so every test starts from the same state in a fraction of a second.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
QUESTIONNAIRE = "post_purchase_luxury"
CUSTOMERS = 200
SEED = 7
END = date(2026, 6, 30)


@dataclass(frozen=True)
class World:
    rows: dict[str, list[dict[str, Any]]]
    as_of: date
    truth: Any  # DataFrame of the demo's hidden truth per customer
    steps: dict[str, str]  # what each demo step reported

    def count(self, table: str) -> int:
        return len(self.rows[table])


def _tables():
    from sqlmodel import SQLModel

    import survey_engine.models  # noqa: F401

    return SQLModel.metadata.sorted_tables


def capture(engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as connection:
        return {t.name: [dict(r) for r in connection.execute(sa.select(t)).mappings()] for t in _tables()}


def restore(engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Insert captured rows into an empty database and move PostgreSQL id sequences past them."""
    with engine.begin() as connection:
        for table in _tables():
            data = rows.get(table.name) or []
            for start in range(0, len(data), 1000):
                connection.execute(table.insert(), data[start:start + 1000])
            if engine.dialect.name == "postgresql" and data:
                key = list(table.primary_key.columns)
                if len(key) == 1 and isinstance(key[0].type, sa.Integer) and key[0].autoincrement in (True, "auto"):
                    sequence = connection.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                                  {"t": table.name, "c": key[0].name}).scalar()
                    if sequence:
                        connection.execute(sa.text(f"SELECT setval('{sequence}', (SELECT MAX({key[0].name}) FROM "
                                                   f"{table.name}))"))


def build(directory: Path) -> World:
    """``survey-engine demo`` (all its steps, the last being a profile refresh as of its last day)."""
    import pandas as pd

    from survey_engine.db import make_engine, session_scope, upgrade
    from survey_engine.services.demo import seed_demo
    from survey_engine.services.survey import read_questionnaire_files, sync_questionnaires

    engine = make_engine(f"sqlite:///{directory / 'world.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        sync_questionnaires(session, read_questionnaire_files(ROOT / "questionnaires"))
    with session_scope(engine) as session:
        summary = seed_demo(session, customers=CUSTOMERS, seed=SEED, instance_dir=directory, end=END)
    rows = capture(engine)
    engine.dispose()
    return World(rows, END, pd.read_csv(summary.truth_file), summary.contributed)


_built: World | None = None


def shared_world() -> World:
    """The world of this test process (built on first use). With ``PROFILE_TEST_WORLD=FILE`` the
    world is kept in that pickle between runs (for working on these tests; delete it after a change
    to the models or the demo)."""
    global _built
    if _built is None:
        import os
        import pickle
        import tempfile

        cache = os.environ.get("PROFILE_TEST_WORLD")
        if cache and Path(cache).is_file():
            _built = pickle.loads(Path(cache).read_bytes())
        else:
            _built = build(Path(tempfile.mkdtemp(prefix="profile-world-")))
            if cache:
                Path(cache).write_bytes(pickle.dumps(_built))
    return _built
