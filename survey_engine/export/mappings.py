"""Export destinations and their column mappings, read from a YAML file and validated: every
problem is reported with the file, the path inside it, the reason and the line.

See ``mappings.yaml`` next to this module for the shipped destinations (salesforce, hubspot,
csv, jsonl) and the file format.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from survey_engine.definitions.errors import DefinitionError, DefinitionIssue, format_path
from survey_engine.definitions.source import YamlDocument, read_yaml
from survey_engine.export.fields import CONSENTS, EXPORT_FIELDS

DEFAULT_MAPPINGS_FILE = Path(__file__).with_name("mappings.yaml")
FORMATS = ("salesforce", "hubspot", "csv", "jsonl")

#: Standard (non-custom) fields of the Salesforce objects an export may target.
SALESFORCE_STANDARD_FIELDS: dict[str, frozenset[str]] = {
    "Contact": frozenset({"Email", "FirstName", "LastName", "Salutation", "Phone", "MobilePhone", "HomePhone",
                          "MailingStreet", "MailingCity", "MailingPostalCode", "MailingState", "MailingCountry",
                          "Birthdate", "Title", "Description", "LeadSource", "HasOptedOutOfEmail", "DoNotCall"}),
    "Lead": frozenset({"Email", "FirstName", "LastName", "Salutation", "Phone", "MobilePhone", "Company", "Street",
                       "City", "PostalCode", "State", "Country", "Title", "Description", "LeadSource",
                       "HasOptedOutOfEmail", "DoNotCall"}),
}
_SALESFORCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_HUBSPOT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DESTINATION_NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")
_COLUMN_KEYS = {"name", "field", "decimals", "as"}


@dataclass(frozen=True)
class Column:
    name: str
    field: str
    decimals: int | None = None
    as_date: bool = False

    @property
    def type(self) -> str:
        return EXPORT_FIELDS[self.field]


@dataclass(frozen=True)
class Destination:
    """One export destination: where its columns come from and who may be exported."""

    name: str
    format: str
    columns: tuple[Column, ...]
    consent: tuple[str, ...]
    object: str | None = None
    external_id: str | None = None
    source_file: str = ""

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.field for c in self.columns))

    @property
    def key_field(self) -> str | None:
        """The profile field a row cannot be written without (HubSpot's email key)."""
        return "email" if self.format == "hubspot" else None


def _salesforce_name_problem(name: str, standard: frozenset[str]) -> str | None:
    if name in standard:
        return None
    if not name.endswith("__c"):
        return (f"'{name}' is not a standard field of this object; custom fields end in __c "
                f"(standard fields: {', '.join(sorted(standard))})")
    body = name[:-3]
    if not _SALESFORCE_NAME.match(body) or body.endswith("_") or "__" in body:
        return (f"'{name}' is not a valid Salesforce API name: letters, digits and single underscores, starting "
                "with a letter, not ending in an underscore")
    if len(body) > 40:
        return f"'{name}' is longer than 40 characters before __c"
    return None


def _destination(name: str, data: Any, doc: YamlDocument, problems: list[tuple[tuple, str]]) -> Destination | None:
    base = ("destinations", name)
    if not _DESTINATION_NAME.match(str(name)):
        problems.append((base, "a destination name is lower case letters, digits, - and _, starting with a letter"))
    if not isinstance(data, Mapping):
        problems.append((base, "must be a mapping with format, consent and columns"))
        return None
    allowed = {"format", "consent", "columns", "object", "external_id"}
    for key in data:
        if key not in allowed:
            problems.append(((*base, key), f"unknown key; expected {', '.join(sorted(allowed))}"))
    fmt = data.get("format")
    if fmt not in FORMATS:
        problems.append(((*base, "format"), f"must be one of {', '.join(FORMATS)}, got {fmt!r}"))
        return None
    consent = data.get("consent", list(CONSENTS))
    if not isinstance(consent, list) or any(c not in CONSENTS for c in consent):
        problems.append(((*base, "consent"), f"must be a list of {', '.join(CONSENTS)}"))
        consent = list(CONSENTS)
    columns_data = data.get("columns")
    if not isinstance(columns_data, list) or not columns_data:
        problems.append(((*base, "columns"), "must be a non-empty list of {name, field}"))
        return None
    obj = data.get("object")
    standard = frozenset()
    if fmt == "salesforce":
        if obj not in SALESFORCE_STANDARD_FIELDS:
            problems.append(((*base, "object"), f"must be one of {', '.join(SALESFORCE_STANDARD_FIELDS)}, got {obj!r}"))
        standard = SALESFORCE_STANDARD_FIELDS.get(obj, frozenset())
    elif obj is not None:
        problems.append(((*base, "object"), "only salesforce destinations name an object"))
    columns: list[Column] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(columns_data):
        path = (*base, "columns", index)
        if not isinstance(entry, Mapping):
            problems.append((path, "must be a mapping with name and field"))
            continue
        for key in entry:
            if key not in _COLUMN_KEYS:
                problems.append(((*path, key), f"unknown key; expected {', '.join(sorted(_COLUMN_KEYS))}"))
        column_name, field = entry.get("name"), entry.get("field")
        if not isinstance(column_name, str) or not column_name.strip():
            problems.append(((*path, "name"), "is required (the column written)"))
            continue
        if field not in EXPORT_FIELDS:
            problems.append(((*path, "field"), f"unknown profile field {field!r}; known fields: "
                                               f"{', '.join(EXPORT_FIELDS)}"))
            continue
        if column_name in seen:
            problems.append(((*path, "name"), f"column '{column_name}' is already written by columns[{seen[column_name]}]"))
            continue
        seen[column_name] = index
        if fmt == "salesforce":
            problem = _salesforce_name_problem(column_name, standard)
            if problem:
                problems.append(((*path, "name"), problem))
        elif fmt == "hubspot" and (not _HUBSPOT_NAME.match(column_name) or len(column_name) > 100):
            problems.append(((*path, "name"), f"'{column_name}' is not a HubSpot internal property name "
                                              "(lower case letters, digits and _, starting with a letter)"))
        decimals = entry.get("decimals")
        if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int)
                                     or not 0 <= decimals <= 10 or EXPORT_FIELDS[field] != "float"):
            problems.append(((*path, "decimals"), "must be an integer from 0 to 10, on a number field"))
            decimals = None
        as_value = entry.get("as")
        if as_value is not None and (as_value not in ("date", "datetime") or EXPORT_FIELDS[field] != "datetime"):
            problems.append(((*path, "as"), "must be date or datetime, on a timestamp field"))
            as_value = None
        if fmt in ("salesforce", "hubspot") and EXPORT_FIELDS[field] == "json":
            problems.append(((*path, "field"), f"{field} is structured data; a {fmt} column holds one value"))
        columns.append(Column(column_name, field, decimals, as_value == "date"))
    external_id = data.get("external_id")
    if fmt == "salesforce":
        by_name = {c.name: c for c in columns}
        if not isinstance(external_id, str) or not external_id.endswith("__c"):
            problems.append(((*base, "external_id"), "must name the custom External ID field used as the upsert "
                                                     "key (ending in __c)"))
        elif external_id not in by_name:
            problems.append(((*base, "external_id"), f"'{external_id}' is not one of the columns"))
        elif by_name[external_id].field not in ("person_id", "customer_id"):
            problems.append(((*base, "external_id"), "the upsert key must come from person_id or customer_id"))
    elif external_id is not None:
        problems.append(((*base, "external_id"), "only salesforce destinations name an external id"))
    if fmt == "hubspot" and not any(c.name == "email" and c.field == "email" for c in columns):
        problems.append(((*base, "columns"), "a HubSpot import needs the column email (from field email): it is "
                                             "the key that matches contacts"))
    return Destination(str(name), fmt, tuple(columns), tuple(dict.fromkeys(consent)), obj,
                       external_id if fmt == "salesforce" else None, doc.file)


def parse_mappings(doc: YamlDocument) -> dict[str, Destination]:
    """Validate a parsed mappings document; raises :class:`DefinitionError` listing every problem."""
    issues = list(doc.issues)
    problems: list[tuple[tuple, str]] = []
    destinations: dict[str, Destination] = {}
    data = doc.data
    if data is not None:
        if not isinstance(data, Mapping):
            problems.append(((), "must be a mapping with version and destinations"))
        else:
            for key in data:
                if key not in ("version", "destinations"):
                    problems.append(((key,), "unknown key; expected version and destinations"))
            if data.get("version") != 1:
                problems.append((("version",), f"must be 1, got {data.get('version')!r}"))
            entries = data.get("destinations")
            if not isinstance(entries, Mapping) or not entries:
                problems.append((("destinations",), "must be a mapping of destination name to its mapping"))
            else:
                for name, entry in entries.items():
                    destination = _destination(name, entry, doc, problems)
                    if destination is not None:
                        destinations[str(name)] = destination
    issues += [DefinitionIssue(doc.file, format_path(path), reason, doc.line_of(path)) for path, reason in problems]
    if issues:
        raise DefinitionError(issues)
    return destinations


def load_mappings(path: str | Path | None = None) -> dict[str, Destination]:
    """Read and validate a mappings file (the shipped ``mappings.yaml`` by default)."""
    path = Path(path) if path is not None else DEFAULT_MAPPINGS_FILE
    if not path.is_file():
        raise DefinitionError([DefinitionIssue(str(path), "", "mappings file does not exist")])
    return parse_mappings(read_yaml(path))


def choose_destination(destinations: Mapping[str, Destination], fmt: str, name: str | None) -> Destination:
    """The destination ``name`` (default: the one named like the format), checked against ``fmt``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    name = name or fmt
    destination = destinations.get(name)
    if destination is None:
        raise ValueError(f"no destination {name!r} in the mappings file; defined: {', '.join(sorted(destinations))}")
    if destination.format != fmt:
        raise ValueError(f"destination {name!r} writes {destination.format}, not {fmt}")
    return destination
