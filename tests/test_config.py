from pathlib import Path

import pytest

from survey_engine.config import Settings


def test_defaults_use_a_sqlite_file_in_the_instance_folder(monkeypatch, tmp_path):
    for name in ["DATABASE_URL", "SURVEY_ENGINE_SECRET_KEY", "SURVEY_ENGINE_ENV"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SURVEY_ENGINE_INSTANCE_DIR", str(tmp_path))
    settings = Settings.from_env()
    assert settings.database_url == f"sqlite:///{tmp_path / 'survey_engine.db'}"
    assert settings.secret_key is None and not settings.production
    assert settings.questionnaires_dir == Path(__file__).resolve().parent.parent / "questionnaires"


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("SURVEY_ENGINE_ENV", "production")
    monkeypatch.setenv("SURVEY_ENGINE_INVITATION_TTL_DAYS", "7")
    monkeypatch.setenv("SURVEY_ENGINE_BASE_URL", "https://survey.example.com/")
    settings = Settings.from_env()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.production and settings.invitation_ttl_days == 7
    assert settings.base_url == "https://survey.example.com"


@pytest.mark.parametrize("name, value, message", [
    ("SURVEY_ENGINE_INVITATION_TTL_DAYS", "soon", "SURVEY_ENGINE_INVITATION_TTL_DAYS must be an integer"),
    ("SURVEY_ENGINE_ENV", "staging", "SURVEY_ENGINE_ENV must be"),
    ("SURVEY_ENGINE_TOKEN_LOOKUP_LIMIT", "³/600", "SURVEY_ENGINE_TOKEN_LOOKUP_LIMIT must look like COUNT/SECONDS"),
    ("SURVEY_ENGINE_TOKEN_LOOKUP_LIMIT", "30/0", "SURVEY_ENGINE_TOKEN_LOOKUP_LIMIT must look like COUNT/SECONDS"),
])
def test_bad_values_name_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        Settings.from_env()
