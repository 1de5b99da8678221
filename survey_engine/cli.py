"""The ``survey-engine`` command line: one group, with commands gathered from ``survey_engine.commands``.

Every module in ``survey_engine/commands/`` that defines a module-level ``commands`` list of click
commands or groups is added to the top-level group, so each concern keeps its CLI beside itself.
Command modules must keep heavy imports (torch, sentence-transformers) inside the command bodies.
"""
from __future__ import annotations

import importlib
import pkgutil

import click

from survey_engine import commands as _commands_pkg


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="survey-engine")
def cli() -> None:
    """Survey and psychographic archetype engine.

    Serve post-purchase questionnaires, derive psychographic factors and archetypes, value clients
    by predicted lifetime value and export combined profiles to CRM. Configuration comes from the
    environment (DATABASE_URL, SURVEY_ENGINE_SECRET_KEY, ...); see the README.
    """


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(_commands_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{_commands_pkg.__name__}.{info.name}")
        for command in getattr(module, "commands", []):
            cli.add_command(command)


_register_commands()


def main() -> None:
    cli(prog_name="survey-engine")


if __name__ == "__main__":
    main()
