"""``python -m survey_engine.definitions``: the check and schema commands."""
from __future__ import annotations

import json
from pathlib import Path

from survey_engine.definitions.__main__ import main
from survey_engine.definitions.questionnaire import questionnaire_json_schema

ROOT = Path(__file__).resolve().parents[2]


def test_check_reports_valid_and_broken_files(capsys):
    assert main(["check", str(ROOT / "questionnaires")]) == 0
    assert "ok: post_purchase_luxury v1 (37 items, 8 constructs)" in capsys.readouterr().out
    assert main(["check", str(Path(__file__).parent / "data" / "many_errors.yaml")]) == 1
    assert "11 problems in definition files:" in capsys.readouterr().err


def test_schema_command_writes_the_generated_schema(tmp_path):
    target = tmp_path / "schema.json"
    assert main(["schema", "--output", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == questionnaire_json_schema()
