"""Service-level guarantees of the respondent flow: one submission per token under concurrency,
versions kept by responses, and the app refusing to start on a broken questionnaire."""
import shutil
import threading
from pathlib import Path

import pytest
from sqlmodel import Session, select

from survey_engine.app import create_app
from survey_engine.definitions.errors import DefinitionError
from survey_engine.models import Response
from survey_engine.services import survey as service
from tests.helpers import complete_answers, invite

ROOT = Path(__file__).resolve().parents[2]


def test_concurrent_double_submit_stores_exactly_one_response(db_engine, session, loaded_questionnaires):
    issued = invite(session)
    barrier = threading.Barrier(4)
    outcomes = []

    def submit(value):
        with Session(db_engine, expire_on_commit=False) as own:
            invitation = service.find_invitation(own, issued.token, allow_completed=True)
            barrier.wait()
            outcome = service.submit_response(own, invitation, complete_answers(ch1=value), language="en")
            own.commit()
            outcomes.append(outcome.status)

    threads = [threading.Thread(target=submit, args=(v,)) for v in (1, 2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_submitted"] * 3 + ["submitted"]
    assert len(session.exec(select(Response)).all()) == 1


def test_responses_keep_the_version_they_answered(session, tmp_path, loaded_questionnaires):
    first = invite(session, customer="A", order="1")
    invitation = service.find_invitation(session, first.token)
    assert service.submit_response(session, invitation, complete_answers(), language="en").status == "submitted"
    session.commit()

    folder = tmp_path / "q"
    shutil.copytree(ROOT / "questionnaires", folder)
    path = folder / "post_purchase_luxury.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("What makes a purchase feel special to you?",
                                                             "What made this purchase special to you?"),
                    encoding="utf-8")
    results = service.sync_questionnaires(session, service.read_questionnaire_files(folder))
    session.commit()
    assert [r.version for r in results] == [2]

    second = invite(session, customer="B", order="2")
    assert second.invitation.questionnaire_version_id != first.invitation.questionnaire_version_id
    items, total = service.list_responses(session)
    assert total == 1 and items[0]["version"] == 1


def test_app_refuses_to_start_on_an_invalid_questionnaire(settings, tmp_path):
    from dataclasses import replace

    folder = tmp_path / "q"
    folder.mkdir()
    text = (ROOT / "questionnaires" / "post_purchase_luxury.yaml").read_text(encoding="utf-8")
    (folder / "bad.yaml").write_text(text.replace("name: es2", "name: es1"), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        create_app(replace(settings, questionnaires_dir=folder))
    assert "bad.yaml" in str(caught.value) and "es1" in str(caught.value)


def test_production_requires_a_secret_key(settings):
    from dataclasses import replace

    with pytest.raises(RuntimeError, match="SURVEY_ENGINE_SECRET_KEY"):
        create_app(replace(settings, env="production", secret_key=None))


def test_api_keys_are_checked_in_constant_time_and_can_be_revoked(session):
    from survey_engine.models import ApiKey
    from survey_engine.models.base import utcnow

    key = service.create_api_key(session, "admin")
    assert service.authenticate_api_key(session, key) is not None
    assert service.authenticate_api_key(session, "se_unknown_x") is None
    assert service.authenticate_api_key(session, "Bearer nonsense") is None
    stored = session.exec(select(ApiKey)).one()
    stored.revoked_at = utcnow()
    session.add(stored)
    session.commit()
    assert service.authenticate_api_key(session, key) is None
