"""The headless submit path (driver-level SQL) against the ORM path it stands in for: the same
rows, exactly once, the same answers to replays, drafts and races handed to the ORM path, and
the rate-limit count read in the lookup."""
from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select

from survey_engine.models import Invitation, Response
from survey_engine.models.ratelimit import RateLimitCounter
from survey_engine.services import headless
from survey_engine.services import survey as service
from tests.helpers import complete_answers, invite

KEY = "token-lookup:203.0.113.9"


def _autocommit(db_engine) -> sa.Connection:
    return db_engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _raw_rows(db_engine, invitation_ids):
    """Stored values as the driver returns them (SQLite: the text of timestamps and JSON)."""
    columns = ("customer_id, questionnaire_version_id, status, language, answers, channel, "
               "started_at IS NOT NULL, submitted_at = updated_at")
    with db_engine.connect() as connection:
        rows = connection.exec_driver_sql(
            f"SELECT invitation_id, {columns}, submitted_at FROM response ORDER BY invitation_id").all()
    return {row[0]: row[1:] for row in rows if row[0] in invitation_ids}


def test_headless_rows_are_what_the_orm_path_writes(db_engine, session, loaded_questionnaires):
    by_orm = invite(session, customer="C1", order="O1")
    by_driver = invite(session, customer="C1", order="O2")
    answers = complete_answers(style_words="Précis, calme — 静か", improve="Nothing at all.")
    orm = service.submit_response(session, by_orm.invitation, answers, language="it", channel="api")
    session.commit()
    with _autocommit(db_engine) as connection:
        found = headless.lookup(connection, by_driver.token, counter_key=KEY, window_start=0)
        assert found.failures == 0 and found.invitation.id == by_driver.invitation.id
        assert found.invitation.person_id is None and found.invitation.completed_at is None
        assert found.invitation.expires_at == by_driver.invitation.expires_at  # timezone-aware UTC
        cleaned = dict(service.validate_answers(service.spec_for(connection, found.invitation.questionnaire_version_id),
                                                answers).answers)
        fast = headless.submit(connection, found.invitation, cleaned, language="it")
    assert orm.status == fast.status == "submitted" and fast.response_id != orm.response_id
    raw = _raw_rows(db_engine, {by_orm.invitation.id, by_driver.invitation.id})
    orm_row, fast_row = raw[by_orm.invitation.id], raw[by_driver.invitation.id]
    assert orm_row[:-1] == fast_row[:-1]  # every column the same, JSON text included
    assert type(orm_row[-1]) is type(fast_row[-1])
    if isinstance(orm_row[-1], str):  # SQLite: the same timestamp format
        assert len(orm_row[-1]) == len(fast_row[-1]) and orm_row[-1][10] == fast_row[-1][10] == " "
    session.expire_all()
    stored = session.exec(select(Response).where(Response.id == fast.response_id)).one()
    assert stored.answers == cleaned and stored.submitted_at == fast.submitted_at
    assert stored.submitted_at.tzinfo is not None and stored.channel == "api"
    invitation = session.get(Invitation, by_driver.invitation.id)
    assert invitation.completed_at == fast.submitted_at and invitation.started_at == fast.submitted_at


def test_a_second_submit_stores_nothing_and_reports_the_first(db_engine, session, loaded_questionnaires):
    issued = invite(session)
    with _autocommit(db_engine) as connection:
        first_seen = headless.lookup(connection, issued.token, counter_key=KEY, window_start=0).invitation
        first = headless.submit(connection, first_seen, complete_answers(), language="en")
        # the second request read the invitation before the first one claimed it
        second = headless.submit(connection, first_seen, complete_answers(ch1=1), language="en")
        replay_seen = headless.lookup(connection, issued.token, counter_key=KEY, window_start=0).invitation
        replay = headless.submit(connection, replay_seen, complete_answers(ch1=2), language="en")
    assert first.status == "submitted"
    assert second.status == replay.status == "already_submitted"
    assert (second.response_id, second.submitted_at) == (replay.response_id, replay.submitted_at) \
        == (first.response_id, first.submitted_at)
    assert replay_seen.completed_at == first.submitted_at
    stored = session.exec(select(Response)).all()
    assert len(stored) == 1 and stored[0].answers["ch1"] == complete_answers()["ch1"]


def test_a_draft_goes_to_the_orm_path(db_engine, session, loaded_questionnaires):
    issued = invite(session)
    service.save_draft(session, issued.invitation, {"ch1": 2}, language="en")
    session.commit()
    with _autocommit(db_engine) as connection:
        seen = headless.lookup(connection, issued.token, counter_key=KEY, window_start=0).invitation
        assert seen.started_at is not None
        assert headless.submit(connection, seen, complete_answers(), language="en") is None
    assert session.exec(select(Response)).one().status == "draft"


def test_a_draft_saved_after_the_lookup_is_not_overwritten(db_engine, session, loaded_questionnaires):
    issued = invite(session)
    with _autocommit(db_engine) as connection:
        seen = headless.lookup(connection, issued.token, counter_key=KEY, window_start=0).invitation
        # the respondent's form saves a draft between this request's lookup and its write
        service.save_draft(session, issued.invitation, {"ch1": 2}, language="en")
        session.commit()
        assert headless.submit(connection, seen, complete_answers(), language="en") is None
    session.expire_all()
    assert session.exec(select(Response)).one().status == "draft"
    assert session.get(Invitation, issued.invitation.id).completed_at is None  # the claim rolled back too


def test_lookup_reads_the_failure_count_and_refuses_unknown_and_expired_tokens(db_engine, session,
                                                                              loaded_questionnaires):
    from datetime import timedelta

    import pytest

    session.add(RateLimitCounter(key=KEY, window_start=600, count=7))
    session.commit()
    issued = invite(session)
    with _autocommit(db_engine) as connection:
        assert headless.lookup(connection, issued.token, counter_key=KEY, window_start=600).failures == 7
        assert headless.lookup(connection, issued.token, counter_key=KEY, window_start=1200).failures == 0
        unknown = headless.lookup(connection, "no-such-token", counter_key=KEY, window_start=600)
        assert unknown == headless.Lookup(7, None)
        assert headless.lookup(connection, "x" * 201, counter_key=KEY, window_start=600) == headless.Lookup(7, None)
        with pytest.raises(service.NotFound):
            headless.check_usable(unknown.invitation)
        seen = headless.lookup(connection, issued.token, counter_key=KEY, window_start=600).invitation
        with pytest.raises(service.Gone):
            headless.check_usable(seen, now=seen.expires_at + timedelta(seconds=1))
        assert headless.check_usable(seen) is seen
