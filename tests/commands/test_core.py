"""The set-up commands: init-db, load-questionnaires (versions, refusal of broken files), invite, API keys."""
import shutil
from pathlib import Path

from sqlmodel import select

from survey_engine.models import ApiKey, QuestionnaireVersion
from survey_engine.services.survey import authenticate_api_key

ROOT = Path(__file__).resolve().parents[2]


def test_init_db_is_idempotent(runner):
    first = runner.invoke(args=["init-db"])
    second = runner.invoke(args=["init-db"])
    assert first.exit_code == 0 and second.exit_code == 0
    assert "schema revision" in second.output


def test_load_questionnaires_versions_only_changed_files(runner, session, tmp_path):
    folder = tmp_path / "q"
    shutil.copytree(ROOT / "questionnaires", folder, ignore=shutil.ignore_patterns("*.json"))
    result = runner.invoke(args=["load-questionnaires", str(folder)])
    assert result.exit_code == 0, result.output
    assert "post_purchase_luxury: version 1 (new version)" in result.output
    assert "version 1 (unchanged)" in runner.invoke(args=["load-questionnaires", str(folder)]).output

    path = folder / "post_purchase_luxury.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("Describe your personal style in a few words",
                                                             "Describe your personal style in three words"),
                    encoding="utf-8")
    assert "version 2 (new version)" in runner.invoke(args=["load-questionnaires", str(folder)]).output
    versions = session.exec(select(QuestionnaireVersion.version)).all()
    assert sorted(versions) == [1, 2]


def test_broken_questionnaire_is_refused_with_every_problem_and_nothing_stored(runner, session, tmp_path):
    folder = tmp_path / "q"
    folder.mkdir()
    text = (ROOT / "questionnaires" / "post_purchase_luxury.yaml").read_text(encoding="utf-8")
    broken = text.replace("name: ch2", "name: ch1").replace("type: nps", "type: net_promoter")
    (folder / "broken.yaml").write_text(broken, encoding="utf-8")
    (folder / "syntax.yaml").write_text("id: x\n  pages: [\n", encoding="utf-8")
    result = runner.invoke(args=["load-questionnaires", str(folder)])
    assert result.exit_code == 1
    assert "broken.yaml" in result.output and "syntax.yaml" in result.output
    assert "ch1" in result.output and "net_promoter" in result.output
    assert session.exec(select(QuestionnaireVersion)).all() == []


def test_invite_prints_a_working_url(runner, loaded_questionnaires, client):
    result = runner.invoke(args=["invite", "--customer", "C9", "--order", "O9", "--questionnaire",
                                 "post_purchase_luxury"])
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert url.startswith("http://127.0.0.1:5000/s/")
    assert client.get(url.removeprefix("http://127.0.0.1:5000")).status_code == 200
    again = runner.invoke(args=["invite", "--customer", "C9", "--order", "O9", "--questionnaire",
                                "post_purchase_luxury"], standalone_mode=True)
    assert again.exit_code != 0 and "already invited" in again.output


def test_invite_unknown_questionnaire_names_it(runner, loaded_questionnaires):
    result = runner.invoke(args=["invite", "--customer", "C9", "--order", "O9", "--questionnaire", "nope"])
    assert result.exit_code != 0 and "unknown questionnaire 'nope'" in result.output


def test_create_api_key_prints_a_key_that_authenticates(runner, session):
    result = runner.invoke(args=["create-api-key", "--role", "marketer", "--name", "crm sync"])
    assert result.exit_code == 0
    key = result.output.strip()
    stored = session.exec(select(ApiKey)).one()
    assert stored.role == "marketer" and key.split("_")[2] not in stored.key_hash
    assert authenticate_api_key(session, key).id == stored.id
    assert authenticate_api_key(session, key[:-1] + ("a" if key[-1] != "a" else "b")) is None
    assert runner.invoke(args=["create-api-key", "--role", "king"]).exit_code == 2
