"""Helpers shared by the command modules: settings and the database engine from the environment,
with a bad setting reported as a usage error naming the variable."""
from __future__ import annotations

import click

from survey_engine.config import Settings


def settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def engine():
    from survey_engine.db import get_engine

    return get_engine(settings().database_url)
