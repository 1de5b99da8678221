"""The README documents every setting and command, and its quick start is what CI runs."""
import re
from pathlib import Path

from survey_engine.cli import cli
from survey_engine.config import ENVIRONMENT_VARIABLES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_environment_variable_is_documented():
    for name in ENVIRONMENT_VARIABLES:
        assert f"`{name}`" in README, f"{name} is not documented in README.md"


def test_every_visible_command_is_documented():
    for name, command in cli.commands.items():
        if not command.hidden:
            assert f"`{name}" in README, f"command {name!r} is not documented in README.md"
            assert command.help, f"command {name!r} has no help text"


def test_quick_start_has_two_one_line_commands_and_ci_runs_the_second():
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1).strip().splitlines()
    assert len(block) == 2
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert block[1] in ci
    assert "TEST_DATABASE_URL" in ci and "postgresql+psycopg://postgres@127.0.0.1:5432/test" in ci


def test_torch_and_scikit_learn_are_pinned_for_install():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    constraints = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    assert '"torch==2.13.0"' in pyproject and "torch==2.13.0" in constraints
    assert "scikit-learn>=1.6,<1.8" in pyproject


def test_every_environment_variable_read_by_the_code_is_declared():
    used = set()
    for path in (ROOT / "survey_engine").rglob("*.py"):
        used.update(re.findall(r"\b(SURVEY_ENGINE_[A-Z_]+|DATABASE_URL)\b", path.read_text(encoding="utf-8")))
    missing = used - set(ENVIRONMENT_VARIABLES)
    assert not missing, f"declare and document these in config.ENVIRONMENT_VARIABLES: {sorted(missing)}"
