"""Profiles, advisor notes and corrections, contacts, CRM export runs and privacy requests in the
JSON API under ``/api/v1``. Marketers and admins read profiles and run exports; only admins
handle privacy requests."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, jsonify, request, send_file

from survey_engine.web import get_session, settings
from survey_engine.web.api import FieldErrors, api_actor, check_unknown_fields, json_body, require_role, string_field

bp = Blueprint("api_profiles", __name__, url_prefix="/api/v1")
CSRF_EXEMPT = True

PROFILE_ROLES = ("marketer", "admin")
PRIVACY_ROLES = ("admin",)


def _path_id(value: str, what: str) -> int:
    """An id from the URL path; anything but digits is a 404 naming what was looked for."""
    from survey_engine.services.survey import NotFound

    # ASCII digits only ("²".isdigit() is true, int() refuses it) and within the INTEGER id range.
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 2**31 - 1:
        raise NotFound(f"no {what} {value!r}", field=what.replace(" ", "_"))
    return int(value)


def _page_args(errors: dict) -> tuple[int, int]:
    def number(name: str, default: int, high: int) -> int:
        raw = request.args.get(name)
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= high:
            errors[name] = f"must be an integer from 1 to {high}"
            return default
        return int(raw)

    return number("page", 1, 1_000_000), number("per_page", 50, 500)


# ---- profiles ---------------------------------------------------------------------------------------

@bp.get("/profiles")
@require_role(*PROFILE_ROLES)
def list_profiles():
    from survey_engine.services.profiles import LIST_FILTERS, list_profiles as listing

    errors: dict[str, str] = {}
    for name in request.args:
        if name not in {*LIST_FILTERS, "page", "per_page"}:
            errors[name] = "unknown query parameter"
    filters: dict[str, Any] = {}
    for name in LIST_FILTERS:
        raw = request.args.get(name)
        if raw is None:
            continue
        if name in ("rising", "lapse_risk"):
            if raw not in ("true", "false"):
                errors[name] = "must be true or false"
                continue
            filters[name] = raw == "true"
        else:
            filters[name] = raw
    page, per_page = _page_args(errors)
    if errors:
        raise FieldErrors(errors)
    items, total = listing(get_session(), filters=filters, page=page, per_page=per_page)
    return jsonify({"ok": True, "page": page, "per_page": per_page, "total": total,
                    "pages": (total + per_page - 1) // per_page, "items": items})


@bp.get("/profiles/<person_id>")
@require_role(*PROFILE_ROLES)
def show_profile(person_id: str):
    person_id = _path_id(person_id, "person")
    from survey_engine.services.profiles import show_profile as show

    return jsonify({"ok": True, "profile": show(get_session(), person_id)})


@bp.post("/profiles/<person_id>/notes")
@require_role(*PROFILE_ROLES)
def add_note(person_id: str):
    person_id = _path_id(person_id, "person")
    from survey_engine.services.profiles import add_note as add

    body = json_body()
    errors: dict[str, str] = {}
    check_unknown_fields(body, {"text", "author"}, errors)
    text = string_field(body, "text", errors, required=True, max_length=5000)
    author = string_field(body, "author", errors, required=False, max_length=200)
    if errors:
        raise FieldErrors(errors)
    session = get_session()
    note = add(session, person_id, author=author or api_actor(), text=text)
    session.commit()
    return jsonify({"ok": True, "id": note.id, "person_id": note.person_id, "author": note.author,
                    "created_at": note.created_at.isoformat()}), 201


@bp.post("/profiles/<person_id>/corrections")
@require_role(*PROFILE_ROLES)
def add_correction(person_id: str):
    person_id = _path_id(person_id, "person")
    from survey_engine.services.profiles import correct_archetype, profile_public, get_profile

    body = json_body()
    errors: dict[str, str] = {}
    check_unknown_fields(body, {"catalog", "archetype", "reason", "author"}, errors)
    catalog = string_field(body, "catalog", errors, required=True, max_length=100)
    archetype = string_field(body, "archetype", errors, required=True, max_length=100)
    reason = string_field(body, "reason", errors, required=False, max_length=1000)
    author = string_field(body, "author", errors, required=False, max_length=200)
    if errors:
        raise FieldErrors(errors)
    session = get_session()
    correction = correct_archetype(session, person_id, catalog_id=catalog, archetype_id=archetype,
                                   author=author or api_actor(), reason=reason,
                                   catalogs_dir=settings().archetypes_dir)
    session.commit()
    return jsonify({"ok": True, "id": correction.id, "previous": correction.previous_archetype,
                    "profile": profile_public(get_profile(session, person_id))}), 201


@bp.post("/profiles/<person_id>/contacts")
@require_role(*PROFILE_ROLES)
def add_contact(person_id: str):
    person_id = _path_id(person_id, "person")
    from survey_engine.services.profiles import get_profile, record_contact

    body = json_body()
    errors: dict[str, str] = {}
    check_unknown_fields(body, {"channel", "note", "occurred_at", "over_cap", "recorded_by"}, errors)
    channel = string_field(body, "channel", errors, required=True, max_length=50)
    note = string_field(body, "note", errors, required=False, max_length=1000)
    recorded_by = string_field(body, "recorded_by", errors, required=False, max_length=200)
    occurred_at = None
    raw = body.get("occurred_at")
    if raw is not None:
        try:
            occurred_at = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            if occurred_at.tzinfo is None:
                errors["occurred_at"] = "must include a time zone, e.g. 2026-05-01T10:00:00Z"
        except ValueError:
            errors["occurred_at"] = "must be an ISO 8601 timestamp"
    over_cap = body.get("over_cap", False)
    if not isinstance(over_cap, bool):
        errors["over_cap"] = "must be true or false"
    if errors:
        raise FieldErrors(errors)
    session = get_session()
    event = record_contact(session, person_id, channel=channel, recorded_by=recorded_by or api_actor(), note=note,
                           occurred_at=occurred_at, allow_over_cap=over_cap)
    session.commit()
    profile = get_profile(session, person_id)
    return jsonify({"ok": True, "id": event.id, "contacts_used": profile.contacts_used,
                    "contacts_remaining": profile.contacts_remaining, "contact_cap": profile.contact_cap}), 201


# ---- exports ----------------------------------------------------------------------------------------

def _exports_dir() -> Path:
    folder = settings().instance_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@bp.get("/exports")
@require_role(*PROFILE_ROLES)
def list_exports():
    from survey_engine.services.exports import list_export_runs

    unknown = {name: "unknown query parameter" for name in request.args if name != "destination"}
    if unknown:
        raise FieldErrors(unknown)
    return jsonify({"ok": True, "items": list_export_runs(get_session(), destination=request.args.get("destination"))})


@bp.post("/exports")
@require_role(*PROFILE_ROLES)
def run_export():
    from survey_engine.export.mappings import FORMATS
    from survey_engine.services.exports import export_profiles

    body = json_body()
    errors: dict[str, str] = {}
    check_unknown_fields(body, {"format", "destination", "since"}, errors)
    fmt = body.get("format")
    if fmt not in FORMATS:
        errors["format"] = f"must be one of {', '.join(FORMATS)}"
    destination = string_field(body, "destination", errors, required=False, max_length=100)
    if destination is not None and not re.fullmatch(r"[a-z][a-z0-9_\-]*", destination):
        errors["destination"] = "must be a destination name from the mappings file"
    since = body.get("since")
    if since is not None and not (isinstance(since, int) and not isinstance(since, bool) and 0 <= since <= 2**63 - 1) \
            and since != "last":
        errors["since"] = "must be a cursor (integer from 0 to 2^63-1) or 'last'"
    if errors:
        raise FieldErrors(errors)
    name = destination or fmt
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    out = _exports_dir() / f"{name}-{stamp}.{'jsonl' if fmt == 'jsonl' else 'csv'}"
    result = export_profiles(current_app.extensions["engine"], fmt=fmt, out=out, since=since,
                             destination=destination, triggered_by=api_actor())
    response = send_file(out, mimetype="application/x-ndjson" if fmt == "jsonl" else "text/csv",
                         as_attachment=True, download_name=out.name)
    response.status_code = 201
    response.headers.update({"X-Export-Run": str(result.run_id), "X-Next-Cursor": str(result.next_cursor),
                             "X-Rows": str(result.rows), "X-Rows-Without-Consent": str(result.without_consent)})
    return response


# ---- privacy ----------------------------------------------------------------------------------------

@bp.get("/privacy/persons/<person_id>")
@require_role(*PRIVACY_ROLES)
def privacy_export(person_id: str):
    person_id = _path_id(person_id, "person")
    from survey_engine.services.identity import find_person
    from survey_engine.services.privacy import export_person

    session = get_session()
    return jsonify({"ok": True, "data": export_person(session, find_person(session, person_id).id)})


@bp.delete("/privacy/persons/<person_id>")
@require_role(*PRIVACY_ROLES)
def privacy_erase(person_id: str):
    person_id = _path_id(person_id, "person")
    from survey_engine.services.identity import find_person
    from survey_engine.services.privacy import erase_person

    session = get_session()
    entry = erase_person(session, find_person(session, person_id).id, requested_by=api_actor())
    session.commit()
    return jsonify({"ok": True, "erasure_id": entry.id, "erased_at": entry.erased_at.isoformat(),
                    "rows_deleted": entry.rows_deleted})


# ---- OpenAPI ----------------------------------------------------------------------------------------

def _ok(ref: str, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _errors(*codes: int) -> dict:
    text = {400: "Invalid request", 401: "Missing or invalid API key", 403: "Role not allowed", 404: "Not found",
            409: "Conflict"}
    return {str(c): {"description": text[c], "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for c in codes}


_PERSON = {"name": "person_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_STAFF = [{"bearer": []}]

OPENAPI_SCHEMAS = {
    "Profile": {"type": "object", "description": "A combined client profile (see survey_engine.models.profiles.Profile).",
                "required": ["person_id", "change_seq"], "properties": {
                    "person_id": {"type": "integer"}, "customer_id": {"type": ["string", "null"]},
                    "customer_ids": {"type": "array", "items": {"type": "string"}},
                    "value_tier": {"type": ["string", "null"]}, "past_spend_tier": {"type": ["string", "null"]},
                    "clv": {"type": ["number", "null"]}, "p_alive": {"type": ["number", "null"]},
                    "rising": {"type": "boolean"}, "lapse_risk": {"type": "boolean"},
                    "style_archetype": {"type": ["string", "null"]}, "style_membership": {"type": ["number", "null"]},
                    "style_source": {"type": ["string", "null"], "enum": ["model", "advisor", None]},
                    "style_memberships": {"type": "object"}, "style_reasons": {"type": "object"},
                    "relationship_style": {"type": ["string", "null"]},
                    "relationship_membership": {"type": ["number", "null"]},
                    "relationship_memberships": {"type": "object"}, "relationship_reasons": {"type": "object"},
                    "factor_scores": {"type": "object", "additionalProperties": {"type": "number"}},
                    "themes": {"type": "array"}, "themes_text": {"type": ["string", "null"]},
                    "last_survey_at": {"type": ["string", "null"], "format": "date-time"},
                    "consent_marketing": {"type": "boolean"}, "consent_profiling": {"type": "boolean"},
                    "contact_cap": {"type": "integer"}, "contacts_used": {"type": "integer"},
                    "contacts_remaining": {"type": "integer"}, "contact_month": {"type": ["string", "null"]},
                    "preferred_channel": {"type": ["string", "null"]},
                    "next_best_action": {"type": ["string", "null"]}, "model_versions": {"type": "object"},
                    "updated_at": {"type": "string", "format": "date-time"}, "change_seq": {"type": "integer"}}},
    "ProfileDetail": {"type": "object", "required": ["ok", "profile"], "properties": {
        "ok": {"const": True},
        "profile": {"allOf": [{"$ref": "#/components/schemas/Profile"}, {"type": "object", "properties": {
            "notes": {"type": "array"}, "corrections": {"type": "array"}, "contacts": {"type": "array"},
            "history": {"type": "array"}}}]}}},
    "ProfilePage": {"type": "object", "required": ["ok", "page", "per_page", "total", "items"], "properties": {
        "ok": {"const": True}, "page": {"type": "integer"}, "per_page": {"type": "integer"},
        "total": {"type": "integer"}, "pages": {"type": "integer"},
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Profile"}}}},
    "NoteCreate": {"type": "object", "required": ["text"], "additionalProperties": False, "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 5000},
        "author": {"type": "string", "maxLength": 200, "description": "default: the API key"}}},
    "CorrectionCreate": {"type": "object", "required": ["catalog", "archetype"], "additionalProperties": False,
                         "properties": {"catalog": {"type": "string"}, "archetype": {"type": "string"},
                                        "reason": {"type": "string", "maxLength": 1000},
                                        "author": {"type": "string", "maxLength": 200}}},
    "ContactCreate": {"type": "object", "required": ["channel"], "additionalProperties": False, "properties": {
        "channel": {"type": "string"}, "note": {"type": "string", "maxLength": 1000},
        "occurred_at": {"type": "string", "format": "date-time"}, "over_cap": {"type": "boolean"},
        "recorded_by": {"type": "string", "maxLength": 200}}},
    "Created": {"type": "object", "required": ["ok", "id"], "properties": {"ok": {"const": True}, "id": {"type": "integer"}}},
    "ExportCreate": {"type": "object", "required": ["format"], "additionalProperties": False, "properties": {
        "format": {"enum": ["salesforce", "hubspot", "csv", "jsonl"]},
        "destination": {"type": ["string", "null"], "maxLength": 100,
                        "description": "destination in the mappings file; default (or null) the format"},
        "since": {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 2**63 - 1}, {"const": "last"}]}}},
    "ExportRun": {"type": "object", "properties": {
        "id": {"type": "integer"}, "format": {"type": "string"}, "destination": {"type": "string"},
        "since": {"type": "integer"}, "next_cursor": {"type": ["integer", "null"]}, "file": {"type": ["string", "null"]},
        "status": {"type": "string"}, "rows": {"type": "integer"}, "without_consent": {"type": "integer"},
        "without_key": {"type": "integer"}, "started_at": {"type": "string"},
        "finished_at": {"type": ["string", "null"]}, "triggered_by": {"type": "string"},
        "error": {"type": ["string", "null"]}}},
    "ExportList": {"type": "object", "required": ["ok", "items"], "properties": {
        "ok": {"const": True}, "items": {"type": "array", "items": {"$ref": "#/components/schemas/ExportRun"}}}},
    "PrivacyExport": {"type": "object", "required": ["ok", "data"], "properties": {
        "ok": {"const": True}, "data": {"type": "object", "properties": {
            "person_id": {"type": "integer"}, "tables": {"type": "object",
                                                         "additionalProperties": {"type": "array"}}}}}},
    "Erasure": {"type": "object", "required": ["ok", "erasure_id", "rows_deleted"], "properties": {
        "ok": {"const": True}, "erasure_id": {"type": "integer"}, "erased_at": {"type": "string"},
        "rows_deleted": {"type": "object", "additionalProperties": {"type": "integer"}}}},
}

OPENAPI_PATHS = {
    "/api/v1/profiles": {"get": {
        "summary": "Profiles, by person id, filtered and paginated (marketer, admin)", "security": _STAFF,
        "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}}
                       for n in ("value_tier", "style_archetype", "relationship_style")]
        + [{"name": n, "in": "query", "schema": {"enum": ["true", "false"]}} for n in ("rising", "lapse_risk")]
        + [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
           {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
        "responses": {"200": _ok("ProfilePage"), **_errors(400, 401, 403)}}},
    "/api/v1/profiles/{person_id}": {"get": {
        "summary": "One profile with its notes, corrections, contacts and assignment history", "security": _STAFF,
        "parameters": [_PERSON], "responses": {"200": _ok("ProfileDetail"), **_errors(401, 403, 404)}}},
    "/api/v1/profiles/{person_id}/notes": {"post": {
        "summary": "Attach an advisor's note", "security": _STAFF, "parameters": [_PERSON],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/NoteCreate"}}}},
        "responses": {"201": _ok("Created", "Created"), **_errors(400, 401, 403, 404, 409)}}},
    "/api/v1/profiles/{person_id}/corrections": {"post": {
        "summary": "Correct the person's archetype in a catalog (shown at once; a label in the next archetype fit)",
        "security": _STAFF, "parameters": [_PERSON],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/CorrectionCreate"}}}},
        "responses": {"201": _ok("Created", "Created"), **_errors(400, 401, 403, 404, 409)}}},
    "/api/v1/profiles/{person_id}/contacts": {"post": {
        "summary": "Record an outreach (counts against the monthly contact cap; 409 when it is used up)",
        "security": _STAFF, "parameters": [_PERSON],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ContactCreate"}}}},
        "responses": {"201": _ok("Created", "Created"), **_errors(400, 401, 403, 404, 409)}}},
    "/api/v1/exports": {
        "get": {"summary": "CRM export runs, newest first", "security": _STAFF,
                "parameters": [{"name": "destination", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": _ok("ExportList"), **_errors(400, 401, 403)}},
        "post": {"summary": "Run a CRM export and download its file; the headers X-Export-Run, X-Next-Cursor "
                            "(pass it as since next time), X-Rows and X-Rows-Without-Consent describe it",
                 "security": _STAFF, "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/ExportCreate"}}}},
                 "responses": {"201": {"description": "The export file", "content": {
                     "text/csv": {"schema": {"type": "string"}},
                     "application/x-ndjson": {"schema": {"type": "string"}}}}, **_errors(400, 401, 403)}}},
    "/api/v1/privacy/persons/{person_id}": {
        "get": {"summary": "Everything held about a person, as JSON (admin)", "security": _STAFF,
                "parameters": [_PERSON], "responses": {"200": _ok("PrivacyExport"), **_errors(401, 403, 404)}},
        "delete": {"summary": "Erase everything held about a person (admin); aggregates stay, the erasure is logged "
                              "without personal data", "security": _STAFF, "parameters": [_PERSON],
                   "responses": {"200": _ok("Erasure"), **_errors(401, 403, 404)}}},
}
