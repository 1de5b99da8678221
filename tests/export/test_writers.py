"""Cell formatting per CRM convention and the streaming CSV / JSON Lines writers."""
import csv
import io
import json
from datetime import datetime, timedelta, timezone

from survey_engine.export.mappings import Column, Destination
from survey_engine.export.writers import ProfileWriter, csv_formatter, json_formatter

WHEN = datetime(2026, 3, 1, 23, 30, 5, tzinfo=timezone(timedelta(hours=2)))


def test_csv_cells():
    assert csv_formatter(Column("x", "rising"))(True) == "true"
    assert csv_formatter(Column("x", "rising"))(False) == "false"
    assert csv_formatter(Column("x", "clv", decimals=2))(1234.5) == "1234.50"
    assert csv_formatter(Column("x", "p_alive"))(0.123456789) == "0.123457"
    assert csv_formatter(Column("x", "updated_at"))(WHEN) == "2026-03-01T21:30:05Z"  # converted to UTC
    assert csv_formatter(Column("x", "last_survey_at", as_date=True))(WHEN) == "2026-03-01"
    assert csv_formatter(Column("x", "updated_at"))("2026-03-01T21:30:05Z") == "2026-03-01T21:30:05Z"
    for column in (Column("x", "rising"), Column("x", "clv", decimals=2), Column("x", "updated_at")):
        assert csv_formatter(column)(None) == ""
    # text, integers and JSON text are written as they come, and timestamps the database formatted
    for column in (Column("x", "email"), Column("x", "n_orders"), Column("x", "factor_scores")):
        assert csv_formatter(column) is None
    assert csv_formatter(Column("x", "updated_at"), preformatted_datetimes=True) is None


def test_json_values():
    assert json_formatter(Column("x", "email"))('a"b') == '"a\\"b"'
    assert json_formatter(Column("x", "clv", decimals=2))(10.456) == "10.46"
    assert json_formatter(Column("x", "updated_at"))(WHEN) == '"2026-03-01T21:30:05Z"'
    assert json_formatter(Column("x", "rising"))(None) == "null"


def destination(fmt):
    columns = (Column("Id__c", "person_id"), Column("Email", "email"), Column("Tier__c", "value_tier"),
               Column("Clv__c", "clv", decimals=2), Column("Rising__c", "rising"), Column("Seen__c", "last_survey_at", as_date=True),
               *((Column("scores", "factor_scores"),) if fmt == "jsonl" else ()))
    return Destination("d", fmt, columns, ("marketing",))


def test_csv_writer_header_and_rows_round_trip():
    stream = io.StringIO()
    writer = ProfileWriter(destination("salesforce"), stream)
    writer.write((7, "zoë@example.com", "luxury", 1500.0, True, WHEN))
    writer.write((8, None, None, None, False, None))
    rows = list(csv.reader(io.StringIO(stream.getvalue())))
    assert rows == [["Id__c", "Email", "Tier__c", "Clv__c", "Rising__c", "Seen__c"],
                    ["7", "zoë@example.com", "luxury", "1500.00", "true", "2026-03-01"],
                    ["8", "", "", "", "false", ""]]
    assert writer.rows == 2


def test_jsonl_writer_nests_json_fields():
    stream = io.StringIO()
    writer = ProfileWriter(destination("jsonl"), stream)
    writer.write((7, "a@b.c", "entry", 12.345, False, None, '{"minimalism": 1.2}'))
    line = json.loads(stream.getvalue().strip())
    assert line == {"Id__c": 7, "Email": "a@b.c", "Tier__c": "entry", "Clv__c": 12.35, "Rising__c": False,
                    "Seen__c": None, "scores": {"minimalism": 1.2}}
