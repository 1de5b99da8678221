"""CRM export: each format's conventions, consent, incremental cursors (each change once), fields
limited per destination, and no half file after a failure."""
import csv
import json
import textwrap

import pytest
import sqlalchemy as sa
from sqlmodel import select

from survey_engine.models import Customer
from survey_engine.models.identity import CustomerPerson, Person
from survey_engine.models.profiles import ExportRun, Profile
from survey_engine.services import profiles as profile_service
from survey_engine.services.exports import export_profiles
from survey_engine.services.survey import ServiceError
from tests.profiling.world import restore, shared_world


@pytest.fixture
def world(db_engine):
    built = shared_world()
    restore(db_engine, built.rows)
    return built


def consenting(session) -> set[int]:
    return set(session.execute(sa.select(Profile.person_id).where(Profile.consent_marketing,
                                                                  Profile.consent_profiling)).scalars())


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_salesforce_csv_is_ready_for_an_upsert(world, db_engine, session, tmp_path):
    result = export_profiles(db_engine, fmt="salesforce", out=tmp_path / "sf.csv")
    rows = read_csv(tmp_path / "sf.csv")
    allowed = consenting(session)
    assert 0 < len(allowed) < 200
    assert (result.rows, result.without_consent, result.since, result.next_cursor) == (len(allowed), 200 - len(allowed), 0, 200)
    assert {int(r["SE_Person_Id__c"]) for r in rows} == allowed  # the upsert key, unique
    assert list(rows[0])[:4] == ["SE_Person_Id__c", "SE_Customer_Number__c", "Email", "FirstName"]
    assert all(name.endswith("__c") or name in {"Email", "FirstName", "LastName", "Phone", "MailingCountry"}
               for name in rows[0])
    by_id = {int(r["SE_Person_Id__c"]): r for r in rows}
    profile = session.get(Profile, min(allowed))
    person = session.get(Person, min(allowed))
    row = by_id[min(allowed)]
    assert row["Email"] == person.email and row["LastName"] == person.last_name
    assert row["SE_Value_Tier__c"] == profile.value_tier
    assert row["SE_Predicted_CLV__c"] == f"{profile.clv:.2f}"
    assert row["SE_Rising_Client__c"] == ("true" if profile.rising else "false")
    assert row["SE_Profile_Updated__c"] == profile.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    dates = [r["SE_Last_Purchase_Date__c"] for r in rows]
    assert all(len(d) == 10 and d[4] == "-" and d[7] == "-" for d in dates)
    run = session.get(ExportRun, result.run_id)
    assert (run.status, run.rows_written, run.next_cursor, run.destination) == ("completed", len(allowed), 200, "salesforce")


def test_each_change_is_exported_once(world, db_engine, session, tmp_path):
    first = export_profiles(db_engine, fmt="jsonl", out=tmp_path / "1.jsonl")
    again = export_profiles(db_engine, fmt="jsonl", out=tmp_path / "2.jsonl", since=first.next_cursor)
    assert (again.rows, again.next_cursor) == (0, first.next_cursor)
    assert (tmp_path / "2.jsonl").read_text() == ""
    changed = sorted(consenting(session))[:2]
    for person in changed:
        profile_service.add_note(session, person, author="a", text="notes are not exported")
        profile_service.correct_archetype(session, person, catalog_id="relationship_styles",
                                          archetype_id="discreet_privacy", author="a")
    session.commit()
    third = export_profiles(db_engine, fmt="jsonl", out=tmp_path / "3.jsonl", since=first.next_cursor)
    lines = [json.loads(line) for line in (tmp_path / "3.jsonl").read_text().splitlines()]
    assert [line["person_id"] for line in lines] == changed
    assert all(line["relationship_style"] == "discreet_privacy" for line in lines)
    assert third.next_cursor == first.next_cursor + 2
    assert isinstance(lines[0]["factor_scores"], dict) and isinstance(lines[0]["relationship_memberships"], dict)
    last = export_profiles(db_engine, fmt="jsonl", out=tmp_path / "4.jsonl", since="last")
    assert (last.since, last.rows) == (third.next_cursor, 0)


def test_withdrawn_consent_leaves_a_person_out(world, db_engine, session, tmp_path):
    person = min(consenting(session))
    customer = session.execute(sa.select(CustomerPerson.external_id).where(CustomerPerson.person_id == person)).scalar()
    session.execute(sa.update(Customer).where(Customer.external_id == customer).values(consent_profiling=False))
    profile_service.refresh_persons(session, [person], source="refresh")
    session.commit()
    result = export_profiles(db_engine, fmt="csv", out=tmp_path / "all.csv")
    assert person not in {int(r["person_id"]) for r in read_csv(tmp_path / "all.csv")}
    assert result.rows == len(consenting(session))


def test_hubspot_uses_email_as_the_key_and_counts_people_without_one(world, db_engine, session, tmp_path):
    person = min(consenting(session))
    session.execute(sa.update(Person).where(Person.id == person).values(email=None))
    session.commit()
    result = export_profiles(db_engine, fmt="hubspot", out=tmp_path / "hs.csv")
    rows = read_csv(tmp_path / "hs.csv")
    assert result.without_key == 1 and result.rows == len(consenting(session)) - 1
    assert all(r["email"] for r in rows) and person not in {int(r["se_person_id"]) for r in rows}
    assert list(rows[0])[:3] == ["email", "firstname", "lastname"]
    assert {r["se_rising_client"] for r in rows} <= {"true", "false"}


def test_a_mappings_file_limits_the_fields_of_a_destination(world, db_engine, session, tmp_path):
    mappings = tmp_path / "mappings.yaml"
    mappings.write_text(textwrap.dedent("""\
        version: 1
        destinations:
          analytics:
            format: csv
            consent: [profiling]
            columns:
              - {name: id, field: person_id}
              - {name: tier, field: value_tier}
        """), encoding="utf-8")
    result = export_profiles(db_engine, fmt="csv", destination="analytics", mappings=mappings, out=tmp_path / "a.csv")
    rows = read_csv(tmp_path / "a.csv")
    assert list(rows[0]) == ["id", "tier"]
    profiling = session.execute(sa.select(sa.func.count()).select_from(Profile).where(Profile.consent_profiling)).scalar()
    assert result.rows == len(rows) == profiling


def test_bad_requests_write_nothing(world, db_engine, session, tmp_path):
    with pytest.raises(ServiceError, match="no destination 'crm'"):
        export_profiles(db_engine, fmt="csv", destination="crm", out=tmp_path / "x.csv")
    with pytest.raises(ServiceError, match="does not exist"):
        export_profiles(db_engine, fmt="csv", out=tmp_path / "missing" / "x.csv")
    with pytest.raises(ServiceError, match="cursor must be a number"):
        export_profiles(db_engine, fmt="csv", since="yesterday", out=tmp_path / "x.csv")
    assert not list(tmp_path.iterdir())
    assert session.exec(select(ExportRun)).all() == []
