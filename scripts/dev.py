#!/usr/bin/env python3
"""One-command set-up for a fresh machine with only Python 3.11 (standard library only).

    python3.11 scripts/dev.py demo   # install, create the SQLite database, seed a demo, serve on :5000
    python3.11 scripts/dev.py test   # install what is missing, then run the whole test suite

The virtual environment lives in .venv and is reinstalled only when pyproject.toml or
constraints.txt change. torch is held at the local CPU wheel by constraints.txt.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".survey-engine-installed"


def run(*args: str | Path, env: dict | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT, env=env)


def ensure_venv() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Python 3.11 is required (this is {sys.version.split()[0]}); run it with python3.11.")
    if not PYTHON.exists():
        run(sys.executable, "-m", "venv", VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    run(PYTHON, "-m", "pip", "install", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "-c", "constraints.txt", "-e", ".[test]")
    STAMP.write_text(digest)


def ensure_chromium() -> None:
    """The browser tests drive Debian's Chromium; install it when missing (as root, through apt)."""
    if Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists():
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        sys.exit("The browser tests need Debian's chromium and chromium-driver: "
                 "sudo apt-get install -y chromium chromium-driver")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(apt, "update", env=env)
    run(apt, "install", "-y", "--no-install-recommends", "chromium", "chromium-driver", env=env)


def app_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def demo(argv: list[str]) -> None:
    ensure_venv()
    cli = VENV / "bin" / "survey-engine"
    env = app_env()
    run(cli, "init-db", env=env)
    run(cli, "load-questionnaires", env=env)
    run(cli, "demo", "--customers", "600", "--seed", "7", env=env)
    os.execve(str(cli), [str(cli), "serve", "--host", "127.0.0.1", "--port", "5000", *argv], env)


def test(argv: list[str]) -> None:
    ensure_venv()
    ensure_chromium()
    env = app_env()
    os.chdir(ROOT)
    # Both cores by default (pytest-xdist); pass -n 0 to run in one process.
    parallel = [] if any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in argv) else ["-n", "auto"]
    os.execve(str(PYTHON), [str(PYTHON), "-m", "pytest", *parallel, *argv], env)


def main() -> None:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
