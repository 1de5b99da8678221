"""Identity service on the database: CSV import with line-numbered errors, resolution with stable
person ids, manual merges and splits that later runs never undo, and customers attached to persons."""
from datetime import datetime, timezone

import pandas as pd
import pytest
from sqlmodel import select

from survey_engine.identity.evaluation import pairwise_scores
from survey_engine.models.clv import Transaction
from survey_engine.models.identity import CustomerPerson, IdentityRun, ManualDecision, Person, PersonLink, SourceRecord
from survey_engine.services import identity as service
from survey_engine.services.survey import Conflict, NotFound, ServiceError, get_or_create_customer
from tests.identity.records import demo_records, write_csv

HEADER = "source,source_record_id,customer_ref,first_name,last_name,email,phone,postcode,city,country,created_at\n"


@pytest.fixture(scope="module")
def demo():
    records, truth, _ = demo_records(150, seed=11)
    return records, truth


@pytest.fixture
def resolved(session, demo, tmp_path):
    records, truth = demo
    service.import_csv(session, write_csv(records, tmp_path / "records.csv"))
    summary = service.resolve_persons(session, triggered_by="test")
    session.commit()
    return summary


def membership(session):
    rows = session.execute(select(SourceRecord.source_record_id, SourceRecord.person_id)).all()
    return pd.Series({rid: pid for rid, pid in rows})


def test_import_counts_new_updated_and_unchanged_records(session, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "crm,CRM1,C1,Anna,Rossi,anna@libero.it,+39 320 111 2233,20121,Milano,IT,2024-01-02\n"
                             "store,POS1,,ANNA,ROSSI,,320 111 2233,,Milano,it,2024-03-01T10:00:00\n", encoding="utf-8")
    first = service.import_csv(session, path)
    assert (first.read, first.inserted, first.updated, first.unchanged) == (2, 2, 0, 0)
    stored = session.execute(select(SourceRecord).where(SourceRecord.source == "store")).scalar_one()
    assert stored.country == "IT" and stored.external_id is None
    assert stored.source_created_at == datetime(2024, 3, 1, 10, tzinfo=timezone.utc)
    again = service.import_csv(session, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    path.write_text(HEADER + "crm,CRM1,C1,Anna,Rossi,anna.rossi@gmail.com,+39 320 111 2233,20121,Milano,IT,2024-01-02\n",
                    encoding="utf-8")
    changed = service.import_csv(session, path)
    assert (changed.inserted, changed.updated) == (0, 1)
    assert session.execute(select(SourceRecord.email).where(SourceRecord.source_record_id == "CRM1")).scalar_one() \
        == "anna.rossi@gmail.com"


def test_bad_rows_are_refused_with_line_numbers_and_nothing_is_stored(session, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER
                    + "crm,CRM1,C1,Anna,Rossi,anna@libero.it,,20121,Milano,IT,2024-01-02\n"      # line 2: fine
                    + "crm,,C2,Marco,Bianchi,,,,,IT,\n"                                          # line 3
                    + "store,POS1,,Léa,Martin,,,,Paris,France,\n"                                # line 4
                    + "store,POS2,,Hugo,Petit,,,,Paris,FR,yesterday\n"                           # line 5
                    + "crm,CRM1,C1,Anna,Rossi,,,,,IT,\n"                                         # line 6
                    + "Web Shop,W1,,Tom,Hall,,,,,GB,\n", encoding="utf-8")                       # line 7
    with pytest.raises(service.RecordsRejected) as caught:
        service.import_csv(session, path)
    problems = caught.value.problems
    assert problems["line 3 source_record_id"] == "is required"
    assert "'France'" in problems["line 4 country"]
    assert "'yesterday'" in problems["line 5 created_at"]
    assert problems["line 6 source_record_id"] == "crm:CRM1 appears again (first at line 2)"
    assert "lower-case" in problems["line 7 source"]
    assert len(problems) == 5
    assert session.execute(select(SourceRecord)).first() is None


def test_a_broken_header_names_the_columns(session, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("system,id,name\ncrm,1,Anna\n", encoding="utf-8")
    with pytest.raises(service.RecordsRejected) as caught:
        service.import_csv(session, path)
    message = caught.value.problems["line 1 header"]
    assert "missing column(s) source, source_record_id" in message and "unknown column(s) system, id, name" in message
    with pytest.raises(NotFound):
        service.import_csv(session, tmp_path / "missing.csv")


def test_resolution_is_stored_and_matches_the_truth(session, demo, resolved):
    records, truth = demo
    predicted = membership(session)
    scores = pairwise_scores(predicted, truth.set_index("source_record_id")["customer_id"])
    assert scores["precision"] >= 0.99 and scores["recall"] >= 0.95, scores
    persons = session.execute(select(Person).where(Person.retired_at.is_(None))).scalars().all()
    assert len(persons) == resolved.persons == predicted.nunique()
    assert all(p.n_records >= 1 and p.provenance for p in persons)
    links = session.execute(select(PersonLink)).scalars().all()
    assert {l.rule for l in links} <= {"external_id", "email", "phone_name", "fuzzy"}
    assert len(links) == sum(resolved.links_by_rule.values())
    by_id = {r.id: r.person_id for r in session.execute(select(SourceRecord)).scalars()}
    assert all(by_id[l.record_a_id] == by_id[l.record_b_id] == l.person_id for l in links)
    run = session.get(IdentityRun, resolved.run_id)
    assert run.n_records == len(records) and run.finished_at is not None and run.triggered_by == "test"
    assert run.model["prior"] > 0 and run.model["match_weights"]


def test_person_ids_are_kept_across_runs(session, demo, resolved, tmp_path):
    before = membership(session)
    again = service.resolve_persons(session)
    assert again.new_persons == 0 and again.retired_persons == 0
    assert membership(session).equals(before)
    records, _ = demo
    extra = records[records["source"] == "crm"].head(1).assign(source="loyalty", source_record_id="LOY-NEW-1",
                                                               external_id=None)
    service.import_csv(session, write_csv(extra, tmp_path / "more.csv"))
    third = service.resolve_persons(session)
    after = membership(session)
    assert third.new_persons == 0
    assert after.drop("LOY-NEW-1").equals(before)
    original = records[records["source"] == "crm"].iloc[0]["source_record_id"]
    assert after["LOY-NEW-1"] == after[original]


def test_customers_transactions_and_surveys_attach_to_the_resolved_person(session, demo, resolved):
    records, _ = demo
    crm = records[records["source"] == "crm"].iloc[0]
    person = service.person_for_customer(session, crm["external_id"])
    assert person is not None and person.id == membership(session)[crm["source_record_id"]]
    customer = get_or_create_customer(session, crm["external_id"])
    session.add(Transaction(customer_external_id=crm["external_id"], order_id="O1", line_id="1",
                            purchased_at=datetime(2025, 1, 1, tzinfo=timezone.utc), amount=100.0, currency="EUR",
                            original_amount=100.0))
    session.commit()
    # the map is a plain join for anything keyed by the customer's external id
    spend = session.execute(
        select(CustomerPerson.person_id, Transaction.amount)
        .join(Transaction, Transaction.customer_external_id == CustomerPerson.external_id)).all()
    assert spend == [(person.id, 100.0)]
    assert session.get(CustomerPerson, customer.external_id).person_id == person.id
    assert service.person_for_customer(session, "NO-SUCH-CUSTOMER") is None


def _two_persons(session):
    persons = session.execute(select(Person).where(Person.retired_at.is_(None), Person.n_records >= 2)
                              .order_by(Person.id).limit(2)).scalars().all()
    return persons[0], persons[1]


def test_manual_merge_is_recorded_and_never_undone(session, resolved):
    a, b = _two_persons(session)
    ids_b = [r.id for r in session.execute(select(SourceRecord).where(SourceRecord.person_id == b.id)).scalars()]
    merged = service.merge(session, str(a.id), str(b.id), reason="same client per boutique", decided_by="advisor:eva")
    session.commit()
    assert merged.id == a.id
    assert session.get(Person, b.id).retired_at is not None and session.get(Person, b.id).merged_into_id == a.id
    decision = session.execute(select(ManualDecision)).scalar_one()
    assert (decision.kind, decision.decided_by, decision.reason) == ("merge", "advisor:eva", "same client per boutique")
    assert decision.decided_at is not None and decision.person_ids == [a.id, b.id]
    for _ in range(2):
        service.resolve_persons(session)
        session.commit()
        persons = {r.person_id for r in session.execute(select(SourceRecord).where(
            SourceRecord.id.in_(ids_b + [decision.record_a_id]))).scalars()}
        assert persons == {a.id}
    assert service.find_person(session, b.id).id == a.id  # a retired person leads to where it went
    with pytest.raises(Conflict, match="already the same person"):
        service.merge(session, str(a.id), str(a.id), reason="x", decided_by="t")
    with pytest.raises(Conflict, match="retired"):
        service.merge(session, str(b.id), str(a.id), reason="x", decided_by="t")
    with pytest.raises(ServiceError, match="reason"):
        service.merge(session, str(a.id), str(b.id), reason=" ", decided_by="t")


def test_manual_split_is_recorded_and_never_undone(session, resolved):
    person = session.execute(select(Person).where(Person.n_records >= 3).order_by(Person.id)).scalars().first()
    members = session.execute(select(SourceRecord).where(SourceRecord.person_id == person.id)
                              .order_by(SourceRecord.id)).scalars().all()
    target = members[-1]
    ref = f"{target.source}:{target.source_record_id}"
    moved = service.split(session, ref, reason="another client with the same name", decided_by="advisor:eva")
    session.commit()
    assert moved.id != person.id
    decision = session.execute(select(ManualDecision)).scalar_one()
    assert decision.kind == "split" and len(decision.pairs) == len(members) - 1
    for _ in range(2):
        summary = service.resolve_persons(session)
        session.commit()
        session.refresh(target)
        others = {session.get(SourceRecord, m.id).person_id for m in members if m.id != target.id}
        assert target.person_id not in others
        assert summary.rejected_links >= 1 and summary.constraints == len(members) - 1
    with pytest.raises(Conflict, match="only record"):
        service.split(session, ref, reason="again", decided_by="t")
    with pytest.raises(NotFound):
        service.split(session, "store:NOPE", reason="x", decided_by="t")


def test_a_later_merge_lifts_an_earlier_split(session, resolved):
    person = session.execute(select(Person).where(Person.n_records >= 2).order_by(Person.id)).scalars().first()
    members = session.execute(select(SourceRecord).where(SourceRecord.person_id == person.id)
                              .order_by(SourceRecord.id)).scalars().all()
    target = members[-1]
    ref = f"{target.source}:{target.source_record_id}"
    service.split(session, ref, reason="looked different", decided_by="t")
    merged = service.merge(session, f"{members[0].source}:{members[0].source_record_id}", ref,
                           reason="same after all", decided_by="t")
    session.commit()
    must, cannot = service.active_constraints(session)
    assert not any(target.id in pair for pair in cannot)
    service.resolve_persons(session)
    session.commit()
    assert {session.get(SourceRecord, m.id).person_id for m in members} == {merged.id}


def test_person_detail_lists_records_links_and_decisions(session, resolved):
    person = session.execute(select(Person).where(Person.n_records >= 2).order_by(Person.id)).scalars().first()
    detail = service.person_public(session, person)
    assert detail["id"] == person.id and detail["n_records"] == len(detail["records"]) >= 2
    assert all(":" in link["a"] and link["rule"] for link in detail["links"])
    assert set(detail["provenance"].values()) <= {r["ref"] for r in detail["records"]}
    record = detail["records"][0]
    assert service.find_record(session, record["ref"]).id == record["id"]
    assert service.find_record(session, record["source_record_id"]).id == record["id"]


def test_resolve_without_records_says_what_to_do(session):
    with pytest.raises(ServiceError, match="import some first"):
        service.resolve_persons(session)
