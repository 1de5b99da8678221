"""Settings read from the environment, with defaults that suit a laptop and a demo."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"

#: Every environment variable the engine reads, with its meaning. The README documents each one
#: and a test fails when one is missing there.
ENVIRONMENT_VARIABLES = {
    "DATABASE_URL": "SQLAlchemy URL of the database (default: SQLite file instance/survey_engine.db).",
    "SURVEY_ENGINE_SECRET_KEY": "Key that signs session cookies and CSRF tokens (required in production).",
    "SURVEY_ENGINE_ENV": "`development` (default) or `production` (secure cookies, secret key required).",
    "SURVEY_ENGINE_INSTANCE_DIR": "Folder for the SQLite file, demo ground truth and exports (default: instance/).",
    "SURVEY_ENGINE_BASE_URL": "Public base URL used in invitation links (default http://127.0.0.1:5000).",
    "SURVEY_ENGINE_QUESTIONNAIRES_DIR": "Folder of questionnaire YAML files (default: questionnaires/).",
    "SURVEY_ENGINE_ARCHETYPES_DIR": "Folder of archetype catalogs (default: archetypes/).",
    "SURVEY_ENGINE_INVITATION_TTL_DAYS": "Days an invitation link stays valid (default 60).",
    "SURVEY_ENGINE_MAX_BODY_BYTES": "Largest accepted request body in bytes (default 1048576).",
    "SURVEY_ENGINE_EMBEDDING_MODEL": "Path of a sentence-transformers model (default: the bundled all-MiniLM-L6-v2).",
    "SURVEY_ENGINE_CURRENCY_RATES": "Path of a currency-rates YAML file (default: the packaged survey_engine/clv/currency_rates.yaml).",
    "SURVEY_ENGINE_LOG_LEVEL": "Logging level (default INFO).",
    "SURVEY_ENGINE_TOKEN_LOOKUP_LIMIT": "Failed survey-link lookups allowed per client IP and window, as "
                                        "`COUNT/SECONDS` (default 30/600); then 429 until the window ends.",
    "SURVEY_ENGINE_PROXY_HOPS": "Number of trusted reverse proxies in front of the app whose X-Forwarded-For "
                                "gives the client IP (default 0: the peer address is the client).",
    "TEST_DATABASE_URL": "Tests only: run the suite against this database too (e.g. PostgreSQL); must be reachable.",
}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


def _env_rate(name: str, default: tuple[int, int]) -> tuple[int, int]:
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    count, _, seconds = raw.partition("/")
    count, seconds = count.strip(), seconds.strip()
    if not (count.isascii() and count.isdigit() and seconds.isascii() and seconds.isdigit()
            and int(count) > 0 and int(seconds) > 0):
        raise ValueError(f"environment variable {name} must look like COUNT/SECONDS, e.g. 30/600; got {raw!r}")
    return int(count), int(seconds)


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Build it with :meth:`from_env`; tests pass overrides."""

    database_url: str
    secret_key: str | None = None
    env: str = "development"
    instance_dir: Path = DEFAULT_INSTANCE
    base_url: str = "http://127.0.0.1:5000"
    questionnaires_dir: Path = PROJECT_ROOT / "questionnaires"
    archetypes_dir: Path = PROJECT_ROOT / "archetypes"
    invitation_ttl_days: int = 60
    max_body_bytes: int = 1024 * 1024
    log_level: str = "INFO"
    token_lookup_limit: tuple[int, int] = (30, 600)
    proxy_hops: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        instance_dir = Path(env.get("SURVEY_ENGINE_INSTANCE_DIR") or DEFAULT_INSTANCE)
        mode = env.get("SURVEY_ENGINE_ENV", "development").strip().lower()
        if mode not in {"development", "production"}:
            raise ValueError(f"SURVEY_ENGINE_ENV must be 'development' or 'production', got {mode!r}")
        values = dict(
            database_url=env.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'survey_engine.db'}",
            secret_key=env.get("SURVEY_ENGINE_SECRET_KEY") or None,
            env=mode,
            instance_dir=instance_dir,
            base_url=(env.get("SURVEY_ENGINE_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            questionnaires_dir=Path(env.get("SURVEY_ENGINE_QUESTIONNAIRES_DIR") or PROJECT_ROOT / "questionnaires"),
            archetypes_dir=Path(env.get("SURVEY_ENGINE_ARCHETYPES_DIR") or PROJECT_ROOT / "archetypes"),
            invitation_ttl_days=_env_int("SURVEY_ENGINE_INVITATION_TTL_DAYS", 60),
            max_body_bytes=_env_int("SURVEY_ENGINE_MAX_BODY_BYTES", 1024 * 1024),
            log_level=env.get("SURVEY_ENGINE_LOG_LEVEL", "INFO").upper(),
            token_lookup_limit=_env_rate("SURVEY_ENGINE_TOKEN_LOOKUP_LIMIT", (30, 600)),
            proxy_hops=_env_int("SURVEY_ENGINE_PROXY_HOPS", 0),
        )
        values.update(overrides)
        return cls(**values)
