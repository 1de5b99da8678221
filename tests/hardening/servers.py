"""Real processes for the hardening tests and the load benchmark: the production gunicorn server on
a free loopback port, and a throwaway PostgreSQL cluster that a test may stop and start."""
from __future__ import annotations

import glob
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
VENV_BIN = Path(sys.executable).parent
GUNICORN_CONF = PROJECT_ROOT / "survey_engine" / "gunicorn_conf.py"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body=None, headers=None, timeout: float = 10.0):
    """One HTTP request on a fresh connection: ``(status, headers, parsed JSON or raw bytes)``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        sent = {"Content-Type": "application/json"} if payload is not None else {}
        sent.update(headers or {})
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        data = response.read()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data
        return response.status, dict(response.getheaders()), parsed
    finally:
        connection.close()


class Gunicorn:
    """``gunicorn -c survey_engine/gunicorn_conf.py`` on 127.0.0.1:<free port>, as in production.

    ``app`` is the WSGI target (default ``wsgi:app``); logs go to files under ``log_dir``.
    """

    def __init__(self, env: dict[str, str], *, workers: int = 2, threads: int = 4, app: str = "wsgi:app",
                 log_dir: Path | None = None, extra_args: tuple[str, ...] = ()):
        self.port = free_port()
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **env}
        self.env.pop("FLASK_DEBUG", None)
        self.args = [str(VENV_BIN / "gunicorn"), "-c", str(GUNICORN_CONF), "-b", f"127.0.0.1:{self.port}",
                     "-w", str(workers), "--threads", str(threads), *extra_args, app]
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="gunicorn-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / "stdout.log"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / "stderr.log"

    def start(self, wait_path: str = "/healthz", timeout: float = 60.0) -> "Gunicorn":
        self.process = subprocess.Popen(self.args, cwd=PROJECT_ROOT, env=self.env,
                                        stdout=self.stdout_path.open("wb"), stderr=self.stderr_path.open("wb"),
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.logs()}")
            try:
                request(self.port, "GET", wait_path, timeout=2)
                return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer {wait_path} within {timeout} s:\n{self.logs()}")

    def run_to_exit(self, timeout: float = 60.0) -> int:
        """Start and wait for gunicorn to exit by itself (for start-up refusals)."""
        self.process = subprocess.Popen(self.args, cwd=PROJECT_ROOT, env=self.env,
                                        stdout=self.stdout_path.open("wb"), stderr=self.stderr_path.open("wb"))
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.stop()

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(10)

    def logs(self) -> str:
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def __enter__(self) -> "Gunicorn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class ThrowawayPostgres:
    """A private PostgreSQL cluster in a temporary folder on a free port, so a test can stop and
    start the real server without disturbing anyone else's database."""

    def __init__(self, *, durable: bool = False):
        self.durable = durable  # fsync on, as a production server runs (tests turn it off for speed)
        self.initdb, self.pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
        if self.initdb is None or self.pg_ctl is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="throwaway-pg-"))
        self.data = self.dir / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, self.user)
        self._run([self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--no-sync"])

    def _run(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess:
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   f"-c fsync={'on' if self.durable else 'off'} -c max_connections=200")
        self._run([self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"),
                   "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends sessions and shuts down cleanly; ``immediate`` is a crash (WAL recovery at start)."""
        self._run([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"], check=False)

    def create_database(self, name: str) -> str:
        import sqlalchemy as sa

        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
