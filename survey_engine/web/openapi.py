"""The OpenAPI 3.1 description of ``/api/v1``; a test checks every API route is described here."""
from __future__ import annotations

from typing import Any

from survey_engine.models.base import MAX_ROW_ID


ERROR = {
    "type": "object",
    "required": ["ok", "status", "error", "errors"],
    "properties": {
        "ok": {"const": False},
        "status": {"type": "integer"},
        "error": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def _error_responses(*codes: int) -> dict[str, Any]:
    text = {400: "Invalid request", 401: "Missing or invalid API key", 403: "Role not allowed",
            404: "Not found", 409: "Conflict", 410: "Expired or already used", 413: "Body too large",
            422: "Invalid answers", 503: "Database unavailable"}
    return {str(code): {"description": text[code], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for code in codes}


def _ok(schema_ref: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


def _contributed() -> tuple[dict[str, Any], dict[str, Any]]:
    """``OPENAPI_PATHS`` and ``OPENAPI_SCHEMAS`` of every other module in ``survey_engine.web``."""
    import importlib
    import pkgutil

    import survey_engine.web as web

    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for info in sorted(pkgutil.iter_modules(web.__path__), key=lambda m: m.name):
        if info.name in {"openapi", "api"}:
            continue
        module = importlib.import_module(f"{web.__name__}.{info.name}")
        paths.update(getattr(module, "OPENAPI_PATHS", {}))
        schemas.update(getattr(module, "OPENAPI_SCHEMAS", {}))
    return paths, schemas


def openapi_document() -> dict[str, Any]:
    document = _core_document()
    paths, schemas = _contributed()
    document["paths"].update(paths)
    document["components"]["schemas"].update(schemas)
    return document


def _core_document() -> dict[str, Any]:
    staff = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Survey engine API", "version": "1",
                 "description": "Invitations, questionnaires and responses. Errors share one shape: "
                                "{ok: false, status, error, errors: {field: message}}."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Staff API key from `survey-engine create-api-key`."}},
            "schemas": {
                "Error": ERROR,
                "QuestionnaireList": {"type": "object", "required": ["ok", "questionnaires"], "properties": {
                    "ok": {"const": True},
                    "questionnaires": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "string"},
                        "versions": {"type": "array", "items": {"type": "object", "properties": {
                            "version": {"type": "integer"}, "file_version": {"type": "integer"},
                            "content_hash": {"type": "string"}, "created_at": {"type": "string"},
                            "responses": {"type": "integer"}}}}}}}}},
                "Questionnaire": {"type": "object", "required": ["ok", "id", "version", "spec"], "properties": {
                    "ok": {"const": True}, "id": {"type": "string"}, "version": {"type": "integer"},
                    "content_hash": {"type": "string"}, "spec": {"type": "object"}}},
                "InvitationCreate": {"type": "object", "required": ["customer", "order", "questionnaire"],
                                     "additionalProperties": False, "properties": {
                    "customer": {"type": "string", "minLength": 1, "maxLength": 100},
                    "order": {"type": "string", "minLength": 1, "maxLength": 100},
                    "questionnaire": {"type": "string", "minLength": 1, "maxLength": 100},
                    "language": {"type": "string", "minLength": 1, "maxLength": 10},
                    "reissue": {"type": "boolean"}}},
                "Invitation": {"type": "object", "required": ["ok", "id", "token", "url", "expires_at"], "properties": {
                    "ok": {"const": True}, "id": {"type": "integer"}, "token": {"type": "string"},
                    "url": {"type": "string"}, "expires_at": {"type": "string"},
                    "questionnaire_version": {"type": "integer"}}},
                "ResponseSubmit": {"type": "object", "required": ["token", "answers"], "additionalProperties": False,
                                   "properties": {
                    "token": {"type": "string", "minLength": 1, "maxLength": 200},
                    "answers": {"type": "object", "description": "{item name: answer}; integers for Likert and "
                                "NPS, option values for choices, strings for free text"},
                    "language": {"type": "string", "minLength": 1, "maxLength": 10}}},
                "SubmitResult": {"type": "object", "required": ["ok", "status", "response_id"], "properties": {
                    "ok": {"const": True}, "status": {"const": "submitted"}, "response_id": {"type": "integer"},
                    "submitted_at": {"type": "string"}}},
                "Response": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "questionnaire": {"type": ["string", "null"]},
                    "version": {"type": ["integer", "null"]}, "customer": {"type": ["string", "null"]},
                    "status": {"type": "string"}, "language": {"type": "string"}, "channel": {"type": "string"},
                    "answers": {"type": "object"}, "started_at": {"type": ["string", "null"]},
                    "submitted_at": {"type": ["string", "null"]},
                    "duration_seconds": {"type": ["number", "null"]}}},
                "ResponsePage": {"type": "object", "required": ["ok", "page", "per_page", "total", "items"],
                                 "properties": {
                    "ok": {"const": True}, "page": {"type": "integer"}, "per_page": {"type": "integer"},
                    "total": {"type": "integer"}, "pages": {"type": "integer"},
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Response"}}}},
            },
        },
        "paths": {
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {
                "200": {"description": "OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/api/v1/questionnaires": {"get": {
                "summary": "Questionnaires with their versions and response counts", "security": staff,
                "responses": {"200": _ok("QuestionnaireList"), **_error_responses(401, 403, 503)}}},
            "/api/v1/questionnaires/{questionnaire_id}": {"get": {
                "summary": "One questionnaire version (latest unless ?version=)", "security": staff,
                "parameters": [
                    {"name": "questionnaire_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "version", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}}],
                "responses": {"200": _ok("Questionnaire"), **_error_responses(400, 401, 403, 404, 503)}}},
            "/api/v1/invitations": {"post": {
                "summary": "Invite a customer after an order; returns the one-time survey link", "security": staff,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/InvitationCreate"}}}},
                "responses": {"201": _ok("Invitation", "Created"),
                              **_error_responses(400, 401, 403, 404, 409, 413, 503)}}},
            "/api/v1/responses": {
                "post": {
                    "summary": "Submit a response headlessly with its invitation token (same validation as the "
                               "form). A replay returns the same result and stores nothing.",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ResponseSubmit"}}}},
                    "responses": {"200": _ok("SubmitResult"), **_error_responses(400, 404, 410, 413, 422, 503)}},
                "get": {
                    "summary": "Responses, newest first, paginated and filtered", "security": staff,
                    "parameters": [
                        {"name": "questionnaire", "in": "query", "schema": {"type": "string"}},
                        {"name": "version", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}},
                        {"name": "status", "in": "query", "schema": {"enum": ["submitted", "draft", "all"]}},
                        {"name": "customer", "in": "query", "schema": {"type": "string"}},
                        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                        {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}},
                        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
                    "responses": {"200": _ok("ResponsePage"), **_error_responses(400, 401, 403, 503)}}},
        },
    }
