"""Export mappings: the shipped file, and every kind of problem named with file, path, reason and line."""
import textwrap

import pytest

from survey_engine.definitions.errors import DefinitionError
from survey_engine.export.mappings import DEFAULT_MAPPINGS_FILE, choose_destination, load_mappings


def write(tmp_path, text):
    path = tmp_path / "mappings.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path, text):
    with pytest.raises(DefinitionError) as info:
        load_mappings(write(tmp_path, text))
    return {(i.path, i.line): i.reason for i in info.value.issues}, info.value.issues


def test_shipped_destinations():
    destinations = load_mappings()
    assert set(destinations) == {"salesforce", "hubspot", "csv", "jsonl"}
    salesforce = destinations["salesforce"]
    assert salesforce.object == "Contact" and salesforce.external_id == "SE_Person_Id__c"
    names = [c.name for c in salesforce.columns]
    assert {"Email", "FirstName", "LastName"} <= set(names)
    assert all(n.endswith("__c") or n in {"Email", "FirstName", "LastName", "Phone", "MailingCountry"} for n in names)
    hubspot = destinations["hubspot"]
    assert hubspot.key_field == "email" and all(c.name == c.name.lower() for c in hubspot.columns)
    assert all(d.consent == ("marketing", "profiling") for d in destinations.values())
    assert str(DEFAULT_MAPPINGS_FILE).endswith("survey_engine/export/mappings.yaml")


def test_every_problem_has_path_reason_and_line(tmp_path):
    found, issues = problems(tmp_path, """\
        version: 1
        destinations:
          sf:
            format: salesforce
            object: Contact
            external_id: Person_Id
            columns:
              - {name: Email, field: email}
              - {name: Tier, field: value_tier}
              - {name: Bad__Name__c, field: clv}
              - {name: Scores__c, field: factor_scores}
              - {name: Email, field: first_name}
              - {name: Colour__c, field: colour}
              - {name: Clv__c, field: clv, decimals: 12}
              - {name: Tier2__c, field: value_tier, as: date}
          hs:
            format: hubspot
            columns:
              - {name: Email, field: email}
          other:
            format: xml
            columns: []
        """)
    assert found[("destinations.sf.external_id", 6)].startswith("must name the custom External ID field")
    assert "not a standard field" in found[("destinations.sf.columns[1].name", 9)]
    assert "not a valid Salesforce API name" in found[("destinations.sf.columns[2].name", 10)]
    assert "structured data" in found[("destinations.sf.columns[3].field", 11)]
    assert found[("destinations.sf.columns[4].name", 12)] == "column 'Email' is already written by columns[0]"
    assert found[("destinations.sf.columns[5].field", 13)].startswith("unknown profile field 'colour'")
    assert "from 0 to 10" in found[("destinations.sf.columns[6].decimals", 14)]
    assert "timestamp field" in found[("destinations.sf.columns[7].as", 15)]
    assert "not a HubSpot internal property name" in found[("destinations.hs.columns[0].name", 19)]
    assert "needs the column email" in found[("destinations.hs.columns", 18)]
    assert "must be one of salesforce, hubspot, csv, jsonl" in found[("destinations.other.format", 21)]
    assert all(i.file.endswith("mappings.yaml") for i in issues)
    assert str(issues[0]).startswith(str(tmp_path / "mappings.yaml") + ": destinations.sf")


def test_external_id_must_be_a_column_from_an_identifier(tmp_path):
    found, _ = problems(tmp_path, """\
        version: 1
        destinations:
          a:
            format: salesforce
            object: Contact
            external_id: Missing__c
            columns: [{name: Email, field: email}]
          b:
            format: salesforce
            object: Account
            external_id: Tier__c
            columns: [{name: Tier__c, field: value_tier}]
        """)
    assert found[("destinations.a.external_id", 6)] == "'Missing__c' is not one of the columns"
    assert found[("destinations.b.external_id", 11)] == "the upsert key must come from person_id or customer_id"
    assert found[("destinations.b.object", 10)].startswith("must be one of Contact, Lead")


def test_document_level_problems(tmp_path):
    found, _ = problems(tmp_path, "version: 2\nextra: 1\ndestinations: {}\n")
    assert found[("version", 1)] == "must be 1, got 2"
    assert found[("extra", 2)] == "unknown key; expected version and destinations"
    assert "must be a mapping of destination name" in found[("destinations", 3)]
    _, issues = problems(tmp_path, "version: 1\ndestinations: [unclosed\n")
    assert issues and issues[0].line is not None


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DefinitionError, match="mappings file does not exist"):
        load_mappings(tmp_path / "nope.yaml")


def test_choose_destination():
    destinations = load_mappings()
    assert choose_destination(destinations, "hubspot", None).name == "hubspot"
    with pytest.raises(ValueError, match="destination 'csv' writes csv, not jsonl"):
        choose_destination(destinations, "jsonl", "csv")
    with pytest.raises(ValueError, match="no destination 'crm2'"):
        choose_destination(destinations, "csv", "crm2")
    with pytest.raises(ValueError, match="format must be one of"):
        choose_destination(destinations, "xml", None)
