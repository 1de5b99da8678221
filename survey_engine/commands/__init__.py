"""CLI command modules; each defines ``commands`` (a list of click commands) picked up by ``survey_engine.cli``."""
