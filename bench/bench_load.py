"""Load benchmark: survey submissions through the production server against PostgreSQL and SQLite.

    .venv/bin/python bench/bench_load.py [--requests 10000] [--concurrency 50] [--backends postgresql,sqlite]

For each backend: a fresh database is migrated (``init-db``), the questionnaires loaded and
``--requests`` invitations seeded; gunicorn starts with ``survey_engine/gunicorn_conf.py`` on
127.0.0.1 (workers from the CPU count, as in production), and a separate client process drives one
``POST /api/v1/responses`` per invitation, with valid and varied answers, over ``--concurrency``
keep-alive connections (asyncio). A share of the tokens is sent twice at the same moment with
different answers (a concurrent double submit), and after the run a share of the submitted tokens
is replayed concurrently with different answers. The database is then checked: every token
submitted exactly once, no response lost, none duplicated, stored answers equal to what the
winning request sent, replays changed nothing, no 5xx.

The ceiling is ``bench/ceiling_app.py`` (a bare Flask JSON route parsing the same bodies) under
the same gunicorn configuration and client, measured in the same run; the submit throughput is
printed as a ratio of it (target >= 0.5).

PostgreSQL: a database ``bench_load_<pid>`` is created on ``--postgres-url`` (default
``TEST_DATABASE_URL`` or postgresql+psycopg://postgres@127.0.0.1:5432/test) and dropped at the end;
``--own-postgres`` runs a private cluster (fsync on) instead, away from other users of the server;
with ``--database-cpus N`` it gets the last N CPUs to itself and everything else the rest, as if
the database ran on its own host.
The ceiling is measured before and after the submissions and the ratio uses their mean.

Every phase also prints its CPU per request, read from /proc: the server (gunicorn master and
workers), the database (every PostgreSQL process on the machine; SQLite runs inside the server)
and the client. On a machine where client, server and database share the cores, throughput is
close to cores / total CPU per request, so these figures say where a low ratio comes from.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LIKERT = [f"{p}{i}" for p, n in [("ch", 4), ("es", 4), ("nt", 4), ("mi", 4), ("su", 4), ("dc", 4), ("ps", 3),
                                  ("pr", 3)] for i in range(1, n + 1)]
CATEGORIES = ["leather_goods", "jewellery", "watches", "ready_to_wear", "shoes", "fragrance_beauty"]
CHANNELS = ["boutique", "website", "app", "social_media", "events"]
WORDS = ["quiet", "tailored", "bold", "vintage", "timeless", "colourful", "minimal", "romantic", "sharp",
         "relaxed", "sculptural", "heritage", "playful", "discreet"]


WARM_UP = 500


def make_answers(rng: random.Random) -> dict:
    answers = {name: rng.randint(1, 7) for name in LIKERT}
    nps = rng.randint(0, 10)
    answers.update({
        "attn1": 6, "nps": nps, "category": rng.choice(CATEGORIES),
        "channels": sorted(rng.sample(CHANNELS, rng.randint(1, 3))),
        "style_words": " ".join(rng.sample(WORDS, 3)).capitalize() + ".",
        "special_purchase": "An advisor who remembers me; " + " ".join(rng.sample(WORDS, 5)) + ".",
    })
    if nps <= 6 and rng.random() < 0.5:
        answers["improve"] = "Shorter waiting time at the boutique."
    return answers


def answers_digest(answers: dict) -> str:
    return hashlib.sha256(json.dumps(answers, sort_keys=True).encode()).hexdigest()


# ------------------------------------------------------------------------------------------------
# Client (a separate process): asyncio keep-alive connections
# ------------------------------------------------------------------------------------------------

async def _one_connection(port: int, queue: asyncio.Queue, results: list) -> None:
    reader = writer = None
    while True:
        try:
            index, body = queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        request = (b"POST /api/v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            payload = await reader.readexactly(length)
            elapsed = time.perf_counter() - started
            try:
                parsed = json.loads(payload)
                response_id = parsed.get("response_id")
            except ValueError:
                response_id = None
            results.append((index, status, elapsed, response_id))
            if close:
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            results.append((index, -1, time.perf_counter() - started, repr(exc)))
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _drive(port: int, bodies: list[bytes], concurrency: int) -> tuple[list, float]:
    queue: asyncio.Queue = asyncio.Queue()
    for item in enumerate(bodies):
        queue.put_nowait(item)
    results: list = []
    started = time.perf_counter()
    await asyncio.gather(*(_one_connection(port, queue, results) for _ in range(concurrency)))
    return results, time.perf_counter() - started


def client_main(port: int, input_path: str, output_path: str, concurrency: int) -> None:
    bodies = [line.encode() for line in Path(input_path).read_text().splitlines()]
    results, wall = asyncio.run(_drive(port, bodies, concurrency))
    cpu = time.process_time()
    Path(output_path).write_text(json.dumps({"wall": wall, "client_cpu": cpu, "results": results}))


def run_client(port: int, bodies: list[str], concurrency: int, workdir: Path, name: str) -> dict:
    """Drive ``bodies`` from a separate process; returns its timings and per-request results."""
    input_path, output_path = workdir / f"{name}.in.jsonl", workdir / f"{name}.out.json"
    input_path.write_text("\n".join(bodies))
    subprocess.run([sys.executable, __file__, "client", "--port", str(port), "--input", str(input_path),
                    "--output", str(output_path), "--concurrency", str(concurrency)], check=True)
    return json.loads(output_path.read_text())


# ------------------------------------------------------------------------------------------------
# CPU accounting (Linux /proc): where each request's CPU goes
# ------------------------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int | str) -> tuple[str, int, float, float] | None:
    """(command, parent pid, own CPU seconds, CPU seconds of reaped children) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK, (int(fields[13]) + int(fields[14])) / _TICK


def _processes() -> dict[int, tuple[str, int, float, float]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(entry)) is not None:
            table[int(entry)] = stat
    return table


def cpu_snapshot(server_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of the server (gunicorn master, workers alive, workers reaped) and of the
    PostgreSQL servers on this machine (postmasters with their reaped backends, live backends):
    take one before and one after a phase and divide the difference by its requests. The
    database figure counts every PostgreSQL process here, so on a shared server it includes
    other users' work (``--own-postgres`` avoids that)."""
    table = _processes()
    server = database = 0.0
    for pid, (name, parent, own, reaped) in table.items():
        if server_pid is not None and (pid == server_pid or parent == server_pid):
            server += own + (reaped if pid == server_pid else 0.0)
        if name == "postgres":
            postmaster = table.get(parent, ("",))[0] != "postgres"
            database += own + (reaped if postmaster else 0.0)
    return {"server": server, "database": database}


def cpu_per_request(before: dict[str, float], after: dict[str, float], run: dict) -> dict[str, float]:
    n = len(run["results"])
    return {"server_ms": (after["server"] - before["server"]) / n * 1000,
            "database_ms": (after["database"] - before["database"]) / n * 1000,
            "client_ms": run["client_cpu"] / n * 1000}


def summarise(name: str, run: dict, cpu: dict[str, float] | None = None) -> dict:
    results = run["results"]
    latencies = sorted(r[2] for r in results)
    statuses: dict[int, int] = {}
    for r in results:
        statuses[r[1]] = statuses.get(r[1], 0) + 1
    quantile = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    summary = {
        "name": name, "requests": len(results), "wall_s": run["wall"], "throughput": len(results) / run["wall"],
        "p50_ms": quantile(0.50), "p99_ms": quantile(0.99), "max_ms": latencies[-1] * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000, "statuses": dict(sorted(statuses.items())),
        "n_5xx": sum(v for k, v in statuses.items() if k >= 500), "n_failed": statuses.get(-1, 0),
        "client_cpu_s": run["client_cpu"],
    }
    print(f"  {name:<34} {summary['requests']:>6} req  {summary['throughput']:>8.1f} req/s  "
          f"p50 {summary['p50_ms']:>7.2f} ms  p99 {summary['p99_ms']:>7.2f} ms  "
          f"statuses {summary['statuses']}  (client CPU {summary['client_cpu_s']:.1f} s)", flush=True)
    if cpu is not None:
        summary["cpu"] = cpu
        total = cpu["server_ms"] + cpu["database_ms"] + cpu["client_ms"]
        print(f"  {'':<34} CPU per request: server {cpu['server_ms']:.3f} ms + database {cpu['database_ms']:.3f} ms "
              f"+ client {cpu['client_ms']:.3f} ms = {total:.3f} ms", flush=True)
    return summary


# ------------------------------------------------------------------------------------------------
# Server side: database, seeding, verification
# ------------------------------------------------------------------------------------------------

def prepare_database(url: str, n: int, seed: int) -> tuple[list[str], int]:
    """Migrate, load the questionnaires and seed ``n`` invitations; returns their tokens."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from survey_engine.db import make_engine, upgrade
    from survey_engine.models import Customer, Invitation
    from survey_engine.models.base import utcnow
    from survey_engine.services.survey import hash_token, read_questionnaire_files, sync_questionnaires

    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        result = sync_questionnaires(session, read_questionnaire_files(ROOT / "questionnaires"))
        session.commit()
        version_id = session.execute(sa.text(
            "SELECT id FROM questionnaire_version WHERE questionnaire_id = 'post_purchase_luxury' "
            "ORDER BY version DESC LIMIT 1")).scalar_one()
    assert any(r.questionnaire_id == "post_purchase_luxury" for r in result)
    rng = random.Random(seed)
    tokens = [secrets.token_urlsafe(32) for _ in range(n)]
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(sa.insert(Customer.__table__), [
            {"external_id": f"LOAD{i:06d}", "created_at": now, "consent_marketing": False,
             "consent_profiling": False} for i in range(n)])
        ids = dict(connection.execute(sa.select(Customer.__table__.c.external_id, Customer.__table__.c.id)).all())
        connection.execute(sa.insert(Invitation.__table__), [
            {"token_hash": hash_token(token), "customer_id": ids[f"LOAD{i:06d}"], "order_id": f"ORD{i:06d}",
             "questionnaire_id": "post_purchase_luxury", "questionnaire_version_id": version_id,
             "language": rng.choice(["en", "it", "fr"]), "created_at": now, "expires_at": now + timedelta(days=30)}
            for i, token in enumerate(tokens)])
    engine.dispose()
    return tokens, version_id


def database_state(url: str) -> dict:
    """Per-token stored answers and the integrity counts the benchmark asserts on."""
    import sqlalchemy as sa

    from survey_engine.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT i.order_id, r.id, r.status, r.answers, i.completed_at IS NOT NULL "
            "FROM invitation i LEFT JOIN response r ON r.invitation_id = i.id")).all()
        duplicates = connection.execute(sa.text(
            "SELECT COUNT(*) FROM (SELECT invitation_id FROM response GROUP BY invitation_id "
            "HAVING COUNT(*) > 1) d")).scalar_one()
        n_responses = connection.execute(sa.text("SELECT COUNT(*) FROM response")).scalar_one()
    engine.dispose()
    stored = {}
    half_written = 0
    for order_id, response_id, status, answers, completed in rows:
        if isinstance(answers, str):
            answers = json.loads(answers)
        if (status == "submitted") != bool(completed):
            half_written += 1
        if status == "submitted":
            stored[int(order_id[3:])] = (response_id, answers_digest(answers))
    return {"stored": stored, "duplicates": duplicates, "n_responses": n_responses, "half_written": half_written}


def bench_backend(backend: str, url: str, args, workdir: Path) -> dict:
    from tests.hardening.servers import Gunicorn

    print(f"\n[{backend}] seeding {args.requests:,} invitations (+{WARM_UP} for warm-up) ...", flush=True)
    started = time.perf_counter()
    # The last WARM_UP invitations warm the server up (connections, caches) and are not timed.
    tokens, _ = prepare_database(url, args.requests + WARM_UP, args.seed)
    warm_tokens, tokens = tokens[args.requests:], tokens[:args.requests]
    print(f"[{backend}] seeded in {time.perf_counter() - started:.1f} s", flush=True)
    rng = random.Random(args.seed + 1)
    n = len(tokens)
    answers = [make_answers(rng) for _ in range(n)]
    rivals = {i: make_answers(rng) for i in rng.sample(range(n), int(n * args.double_share))}
    bodies, owners = [], []
    for i, token in enumerate(tokens):
        bodies.append(json.dumps({"token": token, "answers": answers[i]}))
        owners.append(i)
        if i in rivals:  # the same token again, right behind: two connections send it at once
            bodies.append(json.dumps({"token": token, "answers": rivals[i]}))
            owners.append(i)
    env = {"DATABASE_URL": url, "SURVEY_ENGINE_ENV": "production", "SURVEY_ENGINE_SECRET_KEY": secrets.token_hex(32),
           "SURVEY_ENGINE_INSTANCE_DIR": str(workdir / "instance"), "SURVEY_ENGINE_LOG_LEVEL": "WARNING"}
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)
    workers = args.workers or (os.cpu_count() or 1) * 2 + 1

    def measure_ceiling(label: str) -> dict:
        server = Gunicorn(env, workers=workers, threads=args.threads, app="bench.ceiling_app:app",
                          log_dir=workdir / f"{backend}-ceiling-{label}")
        with server:
            run_client(server.port, bodies[:500], args.concurrency, workdir, f"{backend}-ceiling-warm")
            cpu_before = cpu_snapshot(server.process.pid)
            run = run_client(server.port, bodies, args.concurrency, workdir, f"{backend}-ceiling")
            cpu = cpu_per_request(cpu_before, cpu_snapshot(server.process.pid), run)
            return summarise(f"ceiling {label} (bare Flask, same gunicorn)", run, cpu)

    # The ceiling is measured before and after the submissions, so a change in the machine's load
    # during the run shows as a gap between the two instead of skewing the ratio unseen.
    ceiling_before = measure_ceiling("before")
    server = Gunicorn(env, workers=workers, threads=args.threads, log_dir=workdir / f"{backend}-app")
    with server:
        warm_rng = random.Random(args.seed + 2)
        warm = run_client(server.port, [json.dumps({"token": t, "answers": make_answers(warm_rng)}) for t in warm_tokens],
                          args.concurrency, workdir, f"{backend}-warm")
        warm_ok = all(status == 200 for _, status, _, _ in warm["results"])
        cpu_before = cpu_snapshot(server.process.pid)
        run = run_client(server.port, bodies, args.concurrency, workdir, f"{backend}-submit")
        submit = summarise(f"submit ({backend})", run, cpu_per_request(cpu_before, cpu_snapshot(server.process.pid), run))
        before = database_state(url)
        replay_ids = rng.sample(range(n), int(n * args.replay_share))
        replay_bodies = []
        for i in replay_ids:  # each replayed twice at once, with answers that differ from the stored ones
            for _ in range(2):
                replay_bodies.append(json.dumps({"token": tokens[i], "answers": make_answers(rng)}))
        replay_run = run_client(server.port, replay_bodies, args.concurrency, workdir, f"{backend}-replay")
        replay = summarise(f"replay of submitted ({backend})", replay_run)
        after = database_state(url)
    server_errors = [line for line in server.stderr_path.read_text().splitlines() if '"ERROR"' in line]
    ceiling_after = measure_ceiling("after")
    ceiling = {"throughput": (ceiling_before["throughput"] + ceiling_after["throughput"]) / 2,
               "n_5xx": ceiling_before["n_5xx"] + ceiling_after["n_5xx"]}

    # Verification against the database.
    by_request = {}
    for index, status, _, response_id in run["results"]:
        by_request[index] = (status, response_id)
    accepted = {owners[index] for index, (status, _) in by_request.items() if status == 200}
    stored = before["stored"]
    lost = sorted(accepted - set(stored))
    wrong = 0
    for i, (response_id, digest) in stored.items():
        if i >= n:  # a warm-up invitation
            continue
        candidates = {answers_digest(answers[i])} | ({answers_digest(rivals[i])} if i in rivals else set())
        if digest not in candidates:
            wrong += 1
    ids_agree = all(response_id == stored[owners[index]][0] for index, (status, response_id) in by_request.items()
                    if status == 200 and owners[index] in stored)
    checks = {
        "every invitation submitted exactly once": len(stored) == n + WARM_UP and warm_ok
        and before["n_responses"] == n + WARM_UP,
        "zero lost responses (every 200 is stored)": not lost,
        "zero duplicates (responses per invitation <= 1)": before["duplicates"] == 0,
        "nothing half-written (completed invitation <=> submitted response)": before["half_written"] == 0,
        "stored answers are what the accepted request sent": wrong == 0,
        "response ids returned match the stored rows": ids_agree,
        "replays changed nothing": after["stored"] == stored and after["n_responses"] == before["n_responses"],
        "replays answered 200 with the original response id": replay["statuses"] == {200: len(replay_bodies)}
        and all(response_id == stored[replay_ids[index // 2]][0] for index, _, _, response_id in replay_run["results"]),
        "zero 5xx and zero connection failures": submit["n_5xx"] == 0 and submit["n_failed"] == 0
        and replay["n_5xx"] == 0 and ceiling["n_5xx"] == 0,
        "no ERROR lines in the server log": not server_errors,
    }
    ratio = submit["throughput"] / ceiling["throughput"]
    print(f"[{backend}] {n:,} invitations, {len(bodies):,} submit requests "
          f"({len(rivals):,} tokens sent twice concurrently), {len(replay_bodies):,} replays; "
          f"workers={workers} threads={args.threads} concurrency={args.concurrency}")
    for label, ok in checks.items():
        print(f"[{backend}]   {'ok  ' if ok else 'FAIL'} {label}")
    if server_errors:
        print("\n".join(server_errors[:5]))
    print(f"[{backend}] submit throughput / mean ceiling = {submit['throughput']:.1f} / {ceiling['throughput']:.1f} "
          f"= {ratio:.2f} (target >= 0.5; ceiling before {ceiling_before['throughput']:.1f}, "
          f"after {ceiling_after['throughput']:.1f} req/s)", flush=True)
    return {"backend": backend, "ratio": ratio, "checks": checks, "submit": submit, "ceiling": ceiling}


def pin_cluster(cluster, cpus: set[int]) -> None:
    """Pin a running PostgreSQL cluster (postmaster and its processes; backends forked later
    inherit the postmaster's CPUs) to ``cpus``."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    for pid, (_name, parent, _own, _reaped) in _processes().items():
        if pid == postmaster or parent == postmaster:
            os.sched_setaffinity(pid, cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode")
    client = sub.add_parser("client", help="internal: the load-generating process")
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--input", required=True)
    client.add_argument("--output", required=True)
    client.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (default: the config's rule)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--double-share", type=float, default=0.05,
                        help="share of tokens sent twice at the same moment with different answers")
    parser.add_argument("--replay-share", type=float, default=0.10,
                        help="share of submitted tokens replayed (twice, concurrently) after the run")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL")
                        or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--own-postgres", action="store_true",
                        help="run a private PostgreSQL cluster (fsync on) for the benchmark instead of "
                             "--postgres-url, away from other users of the shared server")
    parser.add_argument("--database-cpus", type=int, default=0, metavar="N",
                        help="with --own-postgres: pin the private cluster to the last N CPUs and this "
                             "benchmark (servers, clients) to the others, as if the database ran on a host "
                             "of its own; ceiling and submit then run on the same remaining CPUs")
    args = parser.parse_args()
    if args.mode == "client":
        client_main(args.port, args.input, args.output, args.concurrency)
        return 0
    database_cpus: set[int] = set()
    if args.database_cpus:
        cpus = sorted(os.sched_getaffinity(0))
        if not args.own_postgres or not 0 < args.database_cpus < len(cpus):
            parser.error(f"--database-cpus needs --own-postgres and 1..{len(cpus) - 1} of the {len(cpus)} CPUs")
        database_cpus = set(cpus[-args.database_cpus:])
        # Inherited by the gunicorn servers and the client processes started from here.
        os.sched_setaffinity(0, set(cpus) - database_cpus)

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    if database_cpus:
        print(f"bench_load: {args.requests:,} submissions at {args.concurrency} concurrent clients; "
              f"client and server on CPUs {sorted(os.sched_getaffinity(0))}, the private PostgreSQL on "
              f"CPUs {sorted(database_cpus)} (SQLite runs inside the server)")
    else:
        print(f"bench_load: {args.requests:,} submissions at {args.concurrency} concurrent clients; "
              f"{os.cpu_count()} CPU cores (client, server and database share them)")
    outcomes = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "sqlite":
            outcomes.append(bench_backend(backend, f"sqlite:///{workdir / 'bench.db'}", args, workdir))
            continue
        own = None
        if args.own_postgres:
            from tests.hardening.servers import ThrowawayPostgres

            own = ThrowawayPostgres(durable=True)
            own.start()
            args.postgres_url = own.url()
            if database_cpus:
                pin_cluster(own, database_cpus)
        base = make_url(args.postgres_url)
        name = f"bench_load_{os.getpid()}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            outcomes.append(bench_backend(backend, base.set(database=name).render_as_string(hide_password=False),
                                          args, workdir))
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
            if own is not None:
                own.destroy()
    print("\nsummary")
    for outcome in outcomes:
        s = outcome["submit"]
        print(f"  {outcome['backend']:<10} {s['throughput']:8.1f} req/s  p50 {s['p50_ms']:.2f} ms  "
              f"p99 {s['p99_ms']:.2f} ms  ratio to ceiling {outcome['ratio']:.2f}  "
              f"checks {'all ok' if all(outcome['checks'].values()) else 'FAILED'}")
    return 0 if all(all(o["checks"].values()) for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
