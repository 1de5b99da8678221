"""CPU per survey submission in one process, against the bare Flask ceiling in the same run.

    .venv/bin/python bench/bench_submit_cpu.py [--requests 2000] [--backend sqlite|postgresql]

Both apps are driven through the Flask test client in one thread, so the figure is the Python CPU
time a worker spends per request (plus the database's, for SQLite, which runs in-process), free of
the network, the load generator and the scheduling noise that dominate ``bench_load.py`` on a
small shared machine. The submit path is the production one (``POST /api/v1/responses`` with
valid, varied answers, one new invitation each); the ceiling is ``bench/ceiling_app.py`` parsing
the same bodies.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu_per_request(client, bodies: list[str]) -> float:
    """Seconds of process CPU per request over ``bodies`` (each must answer 200)."""
    started = time.process_time()
    for body in bodies:
        response = client.post("/api/v1/responses", data=body, content_type="application/json")
        assert response.status_code == 200, response.get_data()[:300]
    return (time.process_time() - started) / len(bodies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL")
                        or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from bench.bench_load import make_answers, prepare_database
    from bench.ceiling_app import app as ceiling_app
    from survey_engine.app import create_app
    from survey_engine.config import Settings

    warm = 200
    admin = None
    if args.backend == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-cpu-')}/bench.db"
    else:
        base = make_url(args.postgres_url)
        name = f"bench_cpu_{os.getpid()}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
    try:
        tokens, _ = prepare_database(url, args.requests + warm, seed=5)
        rng = random.Random(6)
        bodies = [json.dumps({"token": token, "answers": make_answers(rng)}) for token in tokens]
        app = create_app(Settings.from_env(database_url=url, secret_key="bench", env="production",
                                           log_level="WARNING", instance_dir=Path(tempfile.mkdtemp())))
        submit_client, ceiling_client = app.test_client(), ceiling_app.test_client()
        cpu_per_request(submit_client, bodies[:warm])
        cpu_per_request(ceiling_client, bodies[:warm])
        submit = cpu_per_request(submit_client, bodies[warm:])
        ceiling = cpu_per_request(ceiling_client, bodies[warm:])
    finally:
        if admin is not None:
            from survey_engine.db import dispose_engines

            dispose_engines()
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"bench_submit_cpu ({args.backend}, {args.requests:,} requests each, one thread, Flask test client)")
    print(f"  ceiling (bare Flask JSON route)  {ceiling * 1000:7.3f} ms CPU per request")
    print(f"  submit  (POST /api/v1/responses) {submit * 1000:7.3f} ms CPU per request")
    print(f"  ceiling / submit = {ceiling / submit:.2f}  (application CPU alone; the HTTP, server and client "
          "costs that both pay bring the end-to-end ratio of bench_load.py slightly closer to 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
