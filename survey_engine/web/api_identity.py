"""The identity part of the JSON API under ``/api/v1/identity``: import source records, resolve
them into persons, merge and split by hand, and look persons up. Staff API keys only."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from survey_engine.models.base import MAX_ROW_ID
from survey_engine.services.identity import RecordsRejected
from survey_engine.web import get_session
from survey_engine.web.api import FieldErrors, api_actor, check_unknown_fields, is_number, json_body, require_role
from survey_engine.web.errors import error_response

bp = Blueprint("api_identity", __name__, url_prefix="/api/v1/identity")
CSRF_EXEMPT = True

ALL_STAFF = ("researcher", "marketer", "admin")
DECIDERS = ("admin", "marketer")
MAX_RECORDS_PER_REQUEST = 5000


@bp.errorhandler(RecordsRejected)
def _records_rejected(exc: RecordsRejected):
    return error_response(exc.status, exc.message, exc.problems)


def _reference(body: dict, name: str, errors: dict) -> str | None:
    value = body.get(name)
    if isinstance(value, bool) or value is None:
        errors[name] = "is required: a person id or a record reference SOURCE:ID"
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip() and len(value) <= 160:
        return value.strip()
    errors[name] = "must be a person id or a record reference SOURCE:ID"
    return None


def _reason(body: dict, errors: dict) -> str | None:
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = "is required: why (kept with the decision)"
        return None
    if len(reason) > 2000:
        errors["reason"] = "must be at most 2000 characters"
        return None
    return reason.strip()


@bp.post("/records")
@require_role("admin", "marketer")
def import_records():
    from survey_engine.services.identity import import_records as store, validate_records

    body = json_body()
    errors: dict[str, str] = {}
    check_unknown_fields(body, {"records"}, errors)
    records = body.get("records")
    if not isinstance(records, list) or not records:
        errors["records"] = "must be a non-empty list of record objects"
    elif len(records) > MAX_RECORDS_PER_REQUEST:
        errors["records"] = f"at most {MAX_RECORDS_PER_REQUEST} records per request"
    elif not all(isinstance(r, dict) for r in records):
        errors["records"] = "every item must be an object"
    if errors:
        raise FieldErrors(errors)
    valid, problems = validate_records((f"records[{k}]", r) for k, r in enumerate(records))
    if problems:
        raise RecordsRejected({key.replace(" ", "."): v for key, v in problems.items()}, "records")
    session = get_session()
    result = store(session, valid, source="api")
    session.commit()
    return jsonify({"ok": True, "read": result.read, "inserted": result.inserted, "updated": result.updated,
                    "unchanged": result.unchanged}), 200


@bp.post("/resolve")
@require_role("admin")
def resolve():
    from survey_engine.services.identity import resolve_persons

    body = json_body() if request.get_data() else {}
    errors: dict[str, str] = {}
    check_unknown_fields(body, {"threshold"}, errors)
    threshold = body.get("threshold", 0.9)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        errors["threshold"] = "must be a number strictly between 0 and 1"
    if errors:
        raise FieldErrors(errors)
    session = get_session()
    summary = resolve_persons(session, threshold=float(threshold), triggered_by=api_actor())
    session.commit()
    return jsonify({"ok": True, "run_id": summary.run_id, "records": summary.records, "persons": summary.persons,
                    "new_persons": summary.new_persons, "retired_persons": summary.retired_persons,
                    "links_by_rule": summary.links_by_rule, "rejected_links": summary.rejected_links,
                    "constraints": summary.constraints})


@bp.post("/merge")
@require_role(*DECIDERS)
def merge():
    from survey_engine.services.identity import merge as merge_persons, person_public

    body = json_body()
    errors: dict[str, Any] = {}
    check_unknown_fields(body, {"a", "b", "reason"}, errors)
    a, b = _reference(body, "a", errors), _reference(body, "b", errors)
    reason = _reason(body, errors)
    if errors:
        raise FieldErrors(errors)
    session = get_session()
    person = merge_persons(session, a, b, reason=reason, decided_by=api_actor())
    detail = person_public(session, person)
    session.commit()
    return jsonify({"ok": True, "person": detail})


@bp.post("/split")
@require_role(*DECIDERS)
def split():
    from survey_engine.services.identity import person_public, split as split_record

    body = json_body()
    errors: dict[str, Any] = {}
    check_unknown_fields(body, {"record", "reason"}, errors)
    record = body.get("record")
    if not isinstance(record, str) or not record.strip() or len(record) > 160:
        errors["record"] = "is required: a record reference SOURCE:ID"
    reason = _reason(body, errors)
    if errors:
        raise FieldErrors(errors)
    session = get_session()
    person = split_record(session, record.strip(), reason=reason, decided_by=api_actor())
    detail = person_public(session, person)
    session.commit()
    return jsonify({"ok": True, "person": detail})


@bp.get("/persons/<person_id>")
@require_role(*ALL_STAFF)
def person(person_id: str):
    from survey_engine.services.identity import find_person, person_public

    if not is_number(person_id) or not 1 <= int(person_id) <= MAX_ROW_ID:
        raise FieldErrors({"person_id": "must be a positive integer"})
    session = get_session()
    return jsonify({"ok": True, "person": person_public(session, find_person(session, int(person_id)))})


@bp.get("/customers/<external_id>")
@require_role(*ALL_STAFF)
def customer(external_id: str):
    from survey_engine.services.identity import person_for_customer, person_public
    from survey_engine.services.survey import NotFound

    session = get_session()
    found = person_for_customer(session, external_id)
    if found is None:
        raise NotFound(f"no resolved person for customer {external_id!r}", field="external_id")
    return jsonify({"ok": True, "customer": external_id, "person": person_public(session, found)})


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    from survey_engine.web.openapi import _error_responses

    return _error_responses(*codes)


_STAFF = [{"bearer": []}]
_REFERENCE = {"oneOf": [{"type": "integer", "minimum": 1, "description": "person id"},
                        {"type": "string", "maxLength": 160, "description": "record SOURCE:ID, or a person id"}]}
_PERSON = {"type": "object", "required": ["id", "golden", "records", "links", "decisions"], "properties": {
    "id": {"type": "integer"},
    "golden": {"type": "object", "description": "first_name, last_name, email, phone (E.164), postcode, city, "
                                                "country, external_id: the surviving values"},
    "sources": {"type": "array", "items": {"type": "string"}},
    "n_records": {"type": "integer"},
    "first_seen": {"type": ["string", "null"]}, "last_seen": {"type": ["string", "null"]},
    "provenance": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "golden field -> record SOURCE:ID it came from"},
    "retired_at": {"type": ["string", "null"]}, "merged_into": {"type": ["integer", "null"]},
    "customer_ids": {"type": "array", "items": {"type": "string"}},
    "records": {"type": "array", "items": {"type": "object"}},
    "links": {"type": "array", "items": {"type": "object", "properties": {
        "a": {"type": "string"}, "b": {"type": "string"},
        "rule": {"enum": ["external_id", "email", "phone_name", "fuzzy", "manual"]},
        "score": {"type": "number"}, "detail": {"type": ["string", "null"]}}}},
    "decisions": {"type": "array", "items": {"type": "object"}}}}
_PERSON_RESULT = {"type": "object", "required": ["ok", "person"], "properties": {"ok": {"const": True}, "person": _PERSON}}
_RECORD = {"type": "object", "required": ["source", "source_record_id"], "additionalProperties": False, "properties": {
    "source": {"type": "string", "maxLength": 50, "description": "crm, loyalty, ecommerce, store, ..."},
    "source_record_id": {"type": "string", "maxLength": 100},
    "external_id": {"type": ["string", "null"], "maxLength": 100, "description": "id shared across systems "
                    "(the CRM customer number); customer_ref is accepted as well"},
    **{name: {"type": ["string", "null"], "maxLength": limit} for name, limit in (
        ("first_name", 200), ("last_name", 200), ("email", 320), ("phone", 50), ("postcode", 30), ("city", 200))},
    "country": {"type": ["string", "null"], "minLength": 2, "maxLength": 2},
    "created_at": {"type": ["string", "null"], "format": "date-time"}}}

#: Paths merged into the OpenAPI document by ``survey_engine.web.openapi``.
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/identity/records": {"post": {
        "summary": "Import source records (all or nothing; a known SOURCE:ID is updated). Roles: admin, marketer.",
        "security": _STAFF,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["records"], "additionalProperties": False, "properties": {
                "records": {"type": "array", "minItems": 1, "maxItems": MAX_RECORDS_PER_REQUEST, "items": _RECORD}}}}}},
        "responses": {"200": _json({"type": "object", "properties": {
            "ok": {"const": True}, "read": {"type": "integer"}, "inserted": {"type": "integer"},
            "updated": {"type": "integer"}, "unchanged": {"type": "integer"}}}),
            **_errors(400, 401, 403, 413, 422, 503)}}},
    "/api/v1/identity/resolve": {"post": {
        "summary": "Resolve all source records into persons, manual decisions first. Role: admin.",
        "security": _STAFF,
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False,
            "properties": {"threshold": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}}}}}},
        "responses": {"200": _json({"type": "object", "properties": {
            "ok": {"const": True}, "run_id": {"type": "integer"}, "records": {"type": "integer"},
            "persons": {"type": "integer"}, "new_persons": {"type": "integer"},
            "retired_persons": {"type": "integer"},
            "links_by_rule": {"type": "object", "additionalProperties": {"type": "integer"}},
            "rejected_links": {"type": "integer"}, "constraints": {"type": "integer"}}}),
            **_errors(400, 401, 403, 409, 503)}}},
    "/api/v1/identity/merge": {"post": {
        "summary": "Merge two persons (never undone by a later run). Roles: admin, marketer.",
        "security": _STAFF,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["a", "b", "reason"], "additionalProperties": False, "properties": {
                "a": _REFERENCE, "b": _REFERENCE, "reason": {"type": "string", "minLength": 1, "maxLength": 2000}}}}}},
        "responses": {"200": _json(_PERSON_RESULT), **_errors(400, 401, 403, 404, 409, 503)}}},
    "/api/v1/identity/split": {"post": {
        "summary": "Take a record out of its person (never undone by a later run). Roles: admin, marketer.",
        "security": _STAFF,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["record", "reason"], "additionalProperties": False, "properties": {
                "record": {"type": "string", "maxLength": 160, "description": "SOURCE:ID"},
                "reason": {"type": "string", "minLength": 1, "maxLength": 2000}}}}}},
        "responses": {"200": _json(_PERSON_RESULT, "The person the record is now in"),
                      **_errors(400, 401, 403, 404, 409, 503)}}},
    "/api/v1/identity/persons/{person_id}": {"get": {
        "summary": "A person: golden record, source records, links, manual decisions (a retired person is "
                   "followed to the one it merged into)",
        "security": _STAFF,
        "parameters": [{"name": "person_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}],
        "responses": {"200": _json(_PERSON_RESULT), **_errors(400, 401, 403, 404, 503)}}},
    "/api/v1/identity/customers/{external_id}": {"get": {
        "summary": "The resolved person of a customer external id (the id used by invitations and transactions)",
        "security": _STAFF,
        "parameters": [{"name": "external_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _json({"type": "object", "required": ["ok", "customer", "person"], "properties": {
            "ok": {"const": True}, "customer": {"type": "string"}, "person": _PERSON}}),
            **_errors(401, 403, 404, 503)}}},
}
