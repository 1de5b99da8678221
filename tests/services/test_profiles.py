"""Profiles on the database: the full refresh against the models it combines, change numbers and
history, dynamic updates after a response or a transaction import (no refit), corrections as
labels of the next archetype fit, notes, contacts against the cap, merged persons."""
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlmodel import select

from survey_engine.models import Customer
from survey_engine.models.archetypes import ArchetypeAssignment
from survey_engine.models.clv import CLVModelRecord, CustomerValue
from survey_engine.models.identity import CustomerPerson
from survey_engine.models.profiles import (
    AdvisorNote,
    FittedAssigner,
    Profile,
    ProfileHistory,
    ProfileRefresh,
)
from survey_engine.services import profiles as service
from survey_engine.services.survey import Conflict, ServiceError
from tests.helpers import complete_answers, invite
from tests.profiling.world import QUESTIONNAIRE, restore, shared_world


@pytest.fixture
def world(db_engine):
    built = shared_world()
    restore(db_engine, built.rows)
    return built


def profiles(session) -> pd.DataFrame:
    rows = session.execute(sa.select(Profile.__table__)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows]).set_index("person_id").sort_index()


def test_refresh_combines_every_concern(world, session):
    frame = profiles(session)
    assert len(frame) == 200
    assert frame["value_tier"].value_counts().to_dict() == {"entry": 140, "premium": 40, "luxury": 16, "ultra_luxury": 4}
    assert sorted(frame["change_seq"]) == list(range(1, 201))
    # consent as stored on the customer rows
    consent = dict(session.execute(sa.select(CustomerPerson.person_id, Customer.consent_marketing)
                                   .join(Customer, Customer.external_id == CustomerPerson.external_id)).all())
    assert all(frame.loc[p, "consent_marketing"] == c for p, c in consent.items())
    # archetypes: the current assignment of each person's latest response
    assigned = session.execute(sa.select(CustomerPerson.person_id, ArchetypeAssignment.catalog_id,
                                         ArchetypeAssignment.top_archetype, ArchetypeAssignment.top_membership)
                               .join(Customer, Customer.external_id == CustomerPerson.external_id)
                               .join(ArchetypeAssignment, ArchetypeAssignment.customer_id == Customer.id)
                               .where(ArchetypeAssignment.is_current)).all()
    assert len(assigned) == 308
    for person, catalog, top, membership in assigned:
        column = "style_archetype" if catalog == "style_archetypes" else "relationship_style"
        assert frame.loc[person, column] == top
        assert frame.loc[person, column.split("_")[0] + "_membership"] == pytest.approx(membership, abs=1e-4)
    surveyed = frame["response_id"].notna()
    assert surveyed.sum() == 154 and (frame.loc[surveyed, "surveys_completed"] >= 1).all()
    assert all(len(scores) == 8 for scores in frame.loc[surveyed, "factor_scores"])
    assert frame.loc[surveyed, "themes_text"].notna().mean() > 0.9
    assert frame["next_best_action"].str.len().min() > 20
    # contact cap: the smallest of the two archetype caps and the tier cap, 0 without consent
    from survey_engine.definitions.archetypes import load_archetype_catalogs
    from tests.profiling.world import ROOT

    caps = {a.id: a.engagement.monthly_contact_cap
            for c in load_archetype_catalogs(ROOT / "archetypes", known_factors=None).values() for a in c.archetypes}
    tier_caps = {"ultra_luxury": 6, "luxury": 4, "premium": 3, "entry": 2}
    for person, row in frame.iterrows():
        expected = min([tier_caps[row["value_tier"]]] + [caps[a] for a in (row["style_archetype"],
                                                                           row["relationship_style"]) if isinstance(a, str)])
        assert row["contact_cap"] == (expected if row["consent_marketing"] else 0), person
    versions = frame.loc[surveyed].iloc[0]["model_versions"]
    run = session.execute(sa.select(FittedAssigner.run_id)).scalars().first()
    assert versions["clv_model"] == 1 and versions["factor_model"] == 1 and versions["style_archetypes"]["run"] == run
    history = session.exec(select(ProfileHistory)).all()
    assert len(history) == 200 and {h.source for h in history} == {"demo"}


def test_values_equal_the_clv_model_at_its_observation_end(world, db_engine, session):
    model = session.exec(select(CLVModelRecord)).one()
    end = datetime.fromisoformat(model.options["observation_end"]).date()
    summary = service.refresh_profiles(db_engine, as_of=end)
    assert summary.persons == 200
    frame = profiles(session).set_index("customer_id")
    stored = pd.DataFrame([r.model_dump() for r in session.exec(select(CustomerValue)).all()]).set_index(
        "customer_external_id")
    stored = stored.loc[frame.index]
    assert (frame["clv"] - stored["clv"]).abs().max() <= 0.005
    assert (frame["p_alive"] - stored["p_alive"]).abs().max() <= 5e-5
    assert (frame["value_tier"] == stored["tier"]).all()
    assert (frame["rising"] == stored["rising"]).all() and (frame["lapse_risk"] == stored["lapse_risk"]).all()


def test_a_second_refresh_changes_nothing_and_time_drift_takes_no_change_number(world, db_engine, session):
    before = profiles(session)
    again = service.refresh_profiles(db_engine, as_of=world.as_of)
    assert (again.created, again.updated, again.material, again.history) == (0, 0, 0, 0)
    later = service.refresh_profiles(db_engine, as_of=world.as_of + timedelta(days=3))
    after = profiles(session)
    moved = after["p_alive"] != before["p_alive"]
    assert moved.sum() > 50 and later.updated >= moved.sum()
    renumbered = after["change_seq"] != before["change_seq"]
    assert later.material == renumbered.sum() < later.updated
    drift_only = moved & ~renumbered
    assert drift_only.sum() > 0
    assert ((after.loc[drift_only, "p_alive"] - before.loc[drift_only, "p_alive"]).abs() <= 0.10).all()
    assert (after.loc[renumbered, "change_seq"] > 200).all()
    history = session.exec(select(ProfileHistory).where(ProfileHistory.source == "refresh")).all()
    assert len(history) == later.history
    for entry in history:
        assert entry.model_versions["as_of"] == (world.as_of + timedelta(days=3)).isoformat()
        assert set(entry.changes) <= set(service.TRACKED_FIELDS)
    assert session.exec(select(ProfileRefresh).order_by(ProfileRefresh.id.desc())).first().status == "completed"


def _person_with_response(session):
    return session.execute(sa.select(Profile.person_id, Profile.customer_id, Profile.response_id)
                           .where(Profile.response_id.is_not(None)).order_by(Profile.person_id)).first()


def test_correction_shows_at_once_is_kept_in_history_and_labels_the_next_fit(world, session):
    from survey_engine.services.archetypes import assign_archetypes
    from tests.profiling.world import ROOT

    person, customer, _ = _person_with_response(session)
    profile = session.get(Profile, person)
    target = "vintage_romantic" if profile.style_archetype != "vintage_romantic" else "modern_minimalist"
    previous = profile.style_archetype
    correction = service.correct_archetype(session, person, catalog_id="style_archetypes", archetype_id=target,
                                           author="Giulia (advisor)", reason="Buys only antique jewellery")
    session.commit()
    session.refresh(profile)
    assert (profile.style_archetype, profile.style_source, correction.previous_archetype) == (target, "advisor", previous)
    shown = service.show_profile(session, person)
    assert shown["style_reasons"]["advisor_correction"]["archetype"] == target
    assert shown["style_reasons"]["archetype"] == previous  # the model's explanation, kept beside the correction
    assert shown["style_reasons"]["factors"] and "phrases" in shown["style_reasons"]
    entry = session.exec(select(ProfileHistory).where(ProfileHistory.person_id == person,
                                                      ProfileHistory.source == "correction")).one()
    assert entry.changes == {"style_archetype": [previous, target]}
    assert entry.model_versions["style_archetypes"]["correction"] == correction.id
    assert entry.change_seq == profile.change_seq > 200
    shown = service.show_profile(session, person)
    assert shown["corrections"][0]["archetype"] == target and shown["history"][0]["source"] == "correction"
    with pytest.raises(ServiceError, match="has no archetype 'dandy'"):
        service.correct_archetype(session, person, catalog_id="style_archetypes", archetype_id="dandy", author="x")

    customer_id = session.execute(sa.select(Customer.id).where(Customer.external_id == customer)).scalar()
    assert service.correction_labels(session, "style_archetypes", [customer_id, -1]) == [target, None]
    summary = assign_archetypes(session, QUESTIONNAIRE, catalogs_dir=ROOT / "archetypes")
    session.commit()
    assert summary["catalogs"]["style_archetypes"]["labelled_by_advisors"] == 1
    assert summary["catalogs"]["relationship_styles"]["labelled_by_advisors"] == 0
    session.refresh(correction)
    assert correction.used_in_run == summary["run_id"]
    fitted = session.exec(select(FittedAssigner).where(FittedAssigner.run_id == summary["run_id"])).all()
    by_catalog = {f.catalog_id: f.params["temperature_fitted"] for f in fitted}
    assert by_catalog["relationship_styles"] == 1.0  # no labels: the calibrated likelihood
    assert by_catalog["style_archetypes"] != 1.0  # fitted to the advisor's label (Guo et al. 2017)


def _strong_minimalist_answers():
    answers = complete_answers(style_words="pared back and precise; a monochrome capsule wardrobe",
                               special_purchase="discretion and plain packaging with no logo on the bag")
    for item in ("mi1", "mi3", "mi4"):
        answers[item] = 7
    answers["mi2"] = 1  # reverse keyed
    for item in ("es1", "es2", "es4", "nt1", "nt2", "nt3"):
        answers[item] = 1
    return answers


def test_a_new_response_updates_the_person_at_once_without_refit(world, session):
    from survey_engine.services.survey import submit_response

    person, customer, old_response = _person_with_response(session)
    before = session.get(Profile, person).model_dump()
    fitted = session.exec(select(FittedAssigner)).all()
    issued = invite(session, customer=customer, order="O-NEW-1")
    outcome = submit_response(session, issued.invitation, _strong_minimalist_answers(), language="en")
    session.commit()
    assert outcome.status == "submitted"
    profile = session.get(Profile, person)
    session.refresh(profile)
    assert profile.response_id == outcome.response_id != old_response
    assert profile.surveys_completed == before["surveys_completed"] + 1
    assert profile.style_archetype == "modern_minimalist" and profile.style_source == "model"
    assert profile.style_memberships["modern_minimalist"] > 0.5
    assert profile.factor_scores["minimalism"] > before["factor_scores"]["minimalism"]
    assert profile.change_seq > before["change_seq"]
    assert session.exec(select(FittedAssigner)).all() == fitted  # no refit
    current = session.exec(select(ArchetypeAssignment).where(ArchetypeAssignment.response_id == outcome.response_id)).all()
    assert {a.catalog_id for a in current} == {"style_archetypes", "relationship_styles"}
    assert all(a.is_current and a.run_id == fitted[0].run_id for a in current)
    old = session.exec(select(ArchetypeAssignment).where(ArchetypeAssignment.response_id == old_response)).all()
    assert old and not any(a.is_current for a in old)
    history = session.exec(select(ProfileHistory).where(ProfileHistory.person_id == person,
                                                        ProfileHistory.source == "response")).all()
    assert len(history) == (1 if before["style_archetype"] != "modern_minimalist" or before["value_tier"] != profile.value_tier
                            else len(history))


def test_a_headless_api_submission_updates_the_person_at_once(world, session, client):
    person, customer, old_response = _person_with_response(session)
    before = session.get(Profile, person).model_dump()
    issued = invite(session, customer=customer, order="O-API-1")
    reply = client.post("/api/v1/responses", json={"token": issued.token, "answers": _strong_minimalist_answers()})
    assert reply.status_code == 200, reply.get_json()
    profile = session.get(Profile, person)
    session.refresh(profile)
    assert profile.response_id == reply.get_json()["response_id"] != old_response
    assert profile.surveys_completed == before["surveys_completed"] + 1
    assert profile.style_archetype == "modern_minimalist"
    assert profile.change_seq > before["change_seq"]


def test_a_response_of_an_unresolved_customer_changes_no_profile(world, session):
    from survey_engine.services.survey import submit_response

    before = profiles(session)
    issued = invite(session, customer="C-NOT-RESOLVED", order="O-1")
    assert submit_response(session, issued.invitation, complete_answers(), language="en").status == "submitted"
    session.commit()
    after = profiles(session)
    assert len(after) == len(before) and (after["change_seq"] == before["change_seq"]).all()


def test_a_transaction_import_updates_the_buyers_at_once(world, db_engine, session):
    from survey_engine.clv.transactions import load_currency_rates
    from survey_engine.services.clv import import_transaction_records

    entry = session.execute(sa.select(Profile.person_id, Profile.customer_id, Profile.total_spend, Profile.n_orders)
                            .where(Profile.value_tier == "entry").order_by(Profile.person_id)).first()
    person, customer, spend, orders = entry
    records = [{"customer_id": customer, "order_id": "BIG-1", "line_id": "1", "timestamp": "2026-06-29T12:00:00Z",
                "amount": "250000", "currency": "EUR", "category": "watches"}]
    import_transaction_records(db_engine, records, load_currency_rates())
    profile = session.get(Profile, person)
    session.refresh(profile)
    assert profile.total_spend == pytest.approx(spend + 250000, abs=0.01)
    assert profile.n_orders == orders + 1
    assert profile.last_purchase_at.date().isoformat() == "2026-06-29"
    assert profile.value_tier in ("ultra_luxury", "luxury")
    entry = session.exec(select(ProfileHistory).where(ProfileHistory.person_id == person,
                                                      ProfileHistory.source == "transactions")).one()
    assert entry.changes["value_tier"] == ["entry", profile.value_tier]
    assert entry.model_versions["tier_reference"] == session.exec(select(ProfileRefresh)).first().id


def test_contacts_count_against_the_monthly_cap(world, session):
    person = session.execute(sa.select(Profile.person_id).where(Profile.contact_cap == 2)
                             .order_by(Profile.person_id)).scalar()
    now = datetime.now(timezone.utc)
    first = now.replace(day=1, hour=9, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    for hours in (0, 5):
        service.record_contact(session, person, channel="email", recorded_by="advisor",
                               occurred_at=first + timedelta(hours=hours))
    session.commit()
    profile = session.get(Profile, person)
    assert (profile.contacts_used, profile.contacts_remaining) == (2, 0)
    assert profile.next_best_action == (f"Hold: this month's contact cap (2) is used. Next contact from "
                                        f"{following.date().isoformat()}.")
    with pytest.raises(Conflict, match="no contacts left this month"):
        service.record_contact(session, person, channel="email", recorded_by="advisor", occurred_at=first)
    service.record_contact(session, person, channel="phone", recorded_by="advisor", occurred_at=first,
                           allow_over_cap=True)
    service.record_contact(session, person, channel="phone", recorded_by="advisor",
                           occurred_at=first - timedelta(days=3))  # last month: does not count
    with pytest.raises(ServiceError, match="unknown channel 'pigeon'"):
        service.record_contact(session, person, channel="pigeon", recorded_by="advisor")
    session.refresh(profile)
    assert (profile.contacts_used, profile.contacts_remaining) == (3, 0)
    assert len(service.show_profile(session, person)["contacts"]) == 4


def test_notes_are_kept_and_shown(world, session):
    note = service.add_note(session, 3, author="Marco", text="Prefers Thursday appointments.")
    session.commit()
    assert [n["text"] for n in service.show_profile(session, 3)["notes"]] == ["Prefers Thursday appointments."]
    assert note.id is not None
    with pytest.raises(ServiceError, match="a note needs text"):
        service.add_note(session, 3, author="Marco", text="  ")


def test_merged_persons_lose_their_profile_and_hand_over_notes(world, db_engine, session):
    from survey_engine.services.identity import merge

    service.add_note(session, 5, author="Marco", text="Same client as person 4.")
    session.commit()
    merge(session, 4, 5, reason="same client, two CRM numbers", decided_by="test")
    session.commit()
    summary = service.refresh_profiles(db_engine, as_of=world.as_of)
    assert summary.removed == 1 and summary.persons == 199
    assert session.get(Profile, 5) is None
    assert len(session.get(Profile, 4).customer_ids) == 2
    assert [n.person_id for n in session.exec(select(AdvisorNote)).all()] == [4]
    assert service.resolve_person(session, "5") == 4


def test_resolve_person_accepts_ids_customer_numbers_and_records(world, session):
    person, customer, _ = _person_with_response(session)
    assert service.resolve_person(session, customer) == person
    assert service.resolve_person(session, str(person)) == person
    with pytest.raises(ServiceError, match="no person, customer number or source record 'nobody'"):
        service.resolve_person(session, "nobody")
    # digits that name no row: not a crash ("²" passes str.isdigit, int() refuses it; a number past
    # PostgreSQL's INTEGER would be an out-of-range error), but "no such person"
    for ref in ("²", "٣", "99999999999"):
        with pytest.raises(ServiceError, match="no person, customer number or source record"):
            service.resolve_person(session, ref)
