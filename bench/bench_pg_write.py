"""PostgreSQL cost of storing one headless submission: the write the API does (one claim+insert
statement per submission) against the same write batched over several submissions (one
statement claiming and inserting N at once, as a group-commit writer would send it).

    .venv/bin/python bench/bench_pg_write.py [--submissions 4000] [--batch 4]

For each way it prints, per submission, the client's CPU (this process: psycopg and the
parameters), the server's CPU (the PostgreSQL backend serving the connection, read from /proc)
and the wall time, on a fresh database ``bench_pg_write_<pid>`` of ``--postgres-url`` that is
dropped at the end. It answers whether batching writes across requests would pay on this path:
only the backend's share of one submission's work can shrink.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH_SQL = """
WITH input AS (
  SELECT * FROM unnest(%(ids)s::int[], %(customers)s::int[], %(versions)s::int[], %(languages)s::text[],
                       %(answers)s::json[], %(started)s::timestamptz[], %(durations)s::float8[])
    AS t(invitation_id, customer_id, questionnaire_version_id, language, answers, started_at, duration_seconds)),
claimed AS (
  UPDATE invitation i SET completed_at = %(now)s, started_at = COALESCE(i.started_at, %(now)s)
  FROM input WHERE i.id = input.invitation_id AND i.completed_at IS NULL RETURNING i.id)
INSERT INTO response (invitation_id, customer_id, questionnaire_version_id, status, language, answers, channel,
                      started_at, updated_at, submitted_at, duration_seconds)
SELECT input.invitation_id, input.customer_id, input.questionnaire_version_id, 'submitted', input.language,
       input.answers, 'api', input.started_at, %(now)s, %(now)s, input.duration_seconds
FROM input JOIN claimed ON claimed.id = input.invitation_id
RETURNING id, invitation_id
"""


def backend_cpu(connection) -> float:
    fields = Path(f"/proc/{connection.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL")
                        or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    import psycopg
    import sqlalchemy as sa
    from psycopg.types.json import Json
    from sqlalchemy.engine import make_url

    from bench.bench_load import make_answers, prepare_database
    from survey_engine.models.base import utcnow
    from survey_engine.services.headless import _sql

    base = make_url(args.postgres_url)
    name = f"bench_pg_write_{os.getpid()}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name)
    try:
        n = args.submissions
        prepare_database(url.render_as_string(hide_password=False), 2 * n, seed=5)
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as connection:
            cursor = connection.cursor()
            rows = cursor.execute("SELECT id, customer_id, questionnaire_version_id FROM invitation ORDER BY id").fetchall()
            rng = random.Random(1)
            answers = [make_answers(rng) for _ in rows]
            single_sql = _sql("postgresql")["claim_and_insert"]

            def single(chunk):
                for (invitation_id, customer_id, version_id), given in chunk:
                    now = utcnow()
                    cursor.execute(single_sql, {
                        "invitation_id": invitation_id, "customer_id": customer_id,
                        "questionnaire_version_id": version_id, "language": "en", "answers": Json(given),
                        "channel": "api", "started_at": now, "now": now, "duration_seconds": 0.0})
                    assert cursor.fetchone() is not None

            def batched(chunk):
                for start in range(0, len(chunk), args.batch):
                    part, now = chunk[start:start + args.batch], utcnow()
                    cursor.execute(BATCH_SQL, {
                        "ids": [r[0] for r, _ in part], "customers": [r[1] for r, _ in part],
                        "versions": [r[2] for r, _ in part], "languages": ["en"] * len(part),
                        "answers": [json.dumps(a) for _, a in part], "started": [now] * len(part),
                        "durations": [0.0] * len(part), "now": now})
                    assert len(cursor.fetchall()) == len(part)

            work = list(zip(rows, answers))
            print(f"bench_pg_write: {n:,} submissions each way, PostgreSQL {connection.info.server_version}")
            for label, run, chunk in [("one statement per submission", single, work[:n]),
                                      (f"one statement per {args.batch} submissions", batched, work[n:2 * n])]:
                cpu, server, wall = time.process_time(), backend_cpu(connection), time.perf_counter()
                run(chunk)
                print(f"  {label:<36} client {(time.process_time() - cpu) / n * 1e6:6.0f} us  "
                      f"server {(backend_cpu(connection) - server) / n * 1e6:6.0f} us  "
                      f"wall {(time.perf_counter() - wall) / n * 1e6:6.0f} us per submission", flush=True)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
