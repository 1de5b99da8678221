"""``survey-engine identity``: import, resolve, show, merge and split from the command line."""
import json

from sqlmodel import select

from survey_engine.models.identity import ManualDecision, Person, SourceRecord
from tests.identity.records import demo_records, write_csv


def _imported(runner, tmp_path):
    records, _, _ = demo_records(60, seed=3)
    path = write_csv(records, tmp_path / "records.csv")
    result = runner.invoke(args=["identity", "import", "--csv", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{len(records)} record(s) read, {len(records)} new" in result.output
    return records


def test_import_resolve_show(runner, session, tmp_path):
    records = _imported(runner, tmp_path)
    result = runner.invoke(args=["identity", "resolve", "--by", "tester"])
    assert result.exit_code == 0, result.output
    assert f"{len(records)} record(s) ->" in result.output and "email" in result.output
    crm = records[records["source"] == "crm"].iloc[0]
    shown = runner.invoke(args=["identity", "show", f"customer:{crm['external_id']}"])
    assert shown.exit_code == 0, shown.output
    assert f"crm:{crm['source_record_id']}" in shown.output and crm["external_id"] in shown.output
    as_json = json.loads(runner.invoke(args=["identity", "show", f"crm:{crm['source_record_id']}", "--json"]).output)
    by_id = json.loads(runner.invoke(args=["identity", "show", str(as_json["id"]), "--json"]).output)
    assert as_json == by_id and as_json["golden"]["external_id"] == crm["external_id"]


def test_merge_and_split(runner, session, tmp_path):
    _imported(runner, tmp_path)
    runner.invoke(args=["identity", "resolve"])
    a, b = session.execute(select(Person.id).order_by(Person.id).limit(2)).scalars().all()
    merged = runner.invoke(args=["identity", "merge", str(a), str(b), "--reason", "one client", "--by", "eva"])
    assert merged.exit_code == 0, merged.output
    assert f"person {a}" in merged.output
    record = session.execute(select(SourceRecord).where(SourceRecord.person_id == a)
                             .order_by(SourceRecord.id.desc())).scalars().first()
    ref = f"{record.source}:{record.source_record_id}"
    split = runner.invoke(args=["identity", "split", ref, "--reason", "not her"])
    assert split.exit_code == 0, split.output
    assert f"{ref} is now in person" in split.output
    decisions = session.execute(select(ManualDecision).order_by(ManualDecision.id)).scalars().all()
    assert [(d.kind, d.decided_by) for d in decisions][0] == ("merge", "eva")
    assert decisions[1].kind == "split" and decisions[1].decided_by.startswith("cli:")
    shown = runner.invoke(args=["identity", "show", ref])
    assert "split" in shown.output and "not her" in shown.output


def test_errors_name_the_line_or_the_record_and_exit_non_zero(runner, session, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("source,source_record_id,country\ncrm,1,IT\ncrm,2,Italia\n", encoding="utf-8")
    result = runner.invoke(args=["identity", "import", "--csv", str(path)])
    assert result.exit_code == 1
    assert "line 3 country: must be a two-letter ISO 3166 code, got 'Italia'" in result.output
    missing = runner.invoke(args=["identity", "split", "store:NOPE", "--reason", "x"])
    assert missing.exit_code == 1 and "no source record 'store:NOPE'" in missing.output
    empty = runner.invoke(args=["identity", "resolve"])
    assert empty.exit_code == 1 and "import some first" in empty.output
    assert runner.invoke(args=["identity", "merge", "1", "2"]).exit_code == 2  # --reason is required
