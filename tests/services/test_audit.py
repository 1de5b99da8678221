"""Drift audit on the database: migration matrices and stability from the profile history, and the
clients whose recent behaviour no longer fits their segment."""
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from survey_engine.models.profiles import Profile, ProfileHistory
from survey_engine.services import profiles as profile_service
from survey_engine.services.audit import drift_audit
from tests.helpers import complete_answers, invite
from tests.profiling.world import restore, shared_world

SINCE = date(2026, 3, 1)


@pytest.fixture
def world(db_engine, session):
    built = shared_world()
    restore(db_engine, built.rows)
    # the demo's assignments become the segments clients had before the audit period
    session.execute(sa.update(ProfileHistory).values(changed_at=datetime(2026, 1, 15, tzinfo=timezone.utc)))
    session.commit()
    return built


def test_matrix_and_stability_count_every_move(world, session):
    people = session.execute(sa.select(Profile.person_id, Profile.style_archetype)
                             .where(Profile.style_archetype.is_not(None)).order_by(Profile.person_id)).all()
    moves = {}
    for person, style in people[:3]:
        target = "avant_garde_creative" if style != "avant_garde_creative" else "classic_heritage"
        profile_service.correct_archetype(session, person, catalog_id="style_archetypes", archetype_id=target,
                                          author="advisor")
        moves[person] = (style, target)
    session.commit()
    report = drift_audit(session, SINCE, sample=500)
    matrix = pd.DataFrame(report["dimensions"]["style_archetype"]["matrix"]).T.fillna(0)
    assert int(matrix.to_numpy().sum()) == report["n_profiles"] == 200
    off_diagonal = sum(matrix.loc[r, c] for r in matrix.index for c in matrix.columns if r != c and r != "(new)")
    assert off_diagonal == 3
    for style, target in moves.values():
        assert matrix.loc[style, target] >= 1
    stability = report["dimensions"]["style_archetype"]["stability"]
    for style in {s for s, _ in moves.values()}:
        start = stability[style]["n_start"]
        left = sum(1 for s, _ in moves.values() if s == style)
        assert stability[style]["stayed"] == start - left
        assert stability[style]["stability"] == pytest.approx(round((start - left) / start, 4))
    tiers = report["dimensions"]["value_tier"]
    # only the three corrected profiles were updated (valued as of today), so at most they moved tier
    assert sum(v["left"] for v in tiers["stability"].values()) <= 3
    assert list(tiers["matrix"]) == ["ultra_luxury", "luxury", "premium", "entry"]


def test_misfits_name_what_changed(world, db_engine, session):
    from survey_engine.services.survey import submit_response

    # a year on, P(alive) falls for clients who stopped buying
    later = world.as_of + timedelta(days=365)
    ids = list(session.execute(sa.select(Profile.person_id).order_by(Profile.person_id)).scalars())
    before = dict(session.execute(sa.select(Profile.person_id, Profile.p_alive)).all())
    profile_service.refresh_persons(session, ids, source="refresh", as_of=later)
    session.commit()
    after = dict(session.execute(sa.select(Profile.person_id, Profile.p_alive)).all())
    fell = {p for p in ids if before[p] - after[p] >= 0.25}
    assert fell
    # a client writes like a modern minimalist although an advisor made them a bold maximalist
    person, customer = session.execute(sa.select(Profile.person_id, Profile.customer_id)
                                       .where(Profile.response_id.is_not(None)).order_by(Profile.person_id)).first()
    issued = invite(session, customer=customer, order="O-AUDIT")
    answers = complete_answers(style_words="pared back and precise, a monochrome capsule wardrobe, nothing superfluous")
    submit_response(session, issued.invitation, answers, language="en")
    session.commit()
    profile_service.correct_archetype(session, person, catalog_id="style_archetypes", archetype_id="bold_maximalist",
                                      author="advisor")
    session.commit()

    report = drift_audit(session, SINCE, sample=1000)
    misfits = report["misfits"]
    assert misfits["counts"]["p_alive_fell"] == len({p for p in fell})
    sampled = {(m["person_id"], m["kind"]): m for m in misfits["sample"]}
    assert all((p, "p_alive_fell") in sampled for p in fell)
    one = sampled[(min(fell), "p_alive_fell")]
    assert one["reason"].startswith(f"P(alive) fell from {before[min(fell)]:.2f}")
    text = sampled[(person, "text_closer_to_other")]
    assert text["reason"].startswith("recent answers read closer to modern_minimalist")
    assert text["segment"]["style_archetype"] == "bold_maximalist"
    small = drift_audit(session, SINCE, sample=3)["misfits"]["sample"]
    assert len(small) == 3 and len({m["kind"] for m in small}) >= 2  # the sample spreads over the kinds
