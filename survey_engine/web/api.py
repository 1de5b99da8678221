"""The JSON API under ``/api/v1``. Staff endpoints need ``Authorization: Bearer <api key>``;
headless submission is authorised by the invitation token itself."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, g, jsonify, request

from sqlmodel import select

from survey_engine.definitions.answers import validate_answers
from survey_engine.models import QuestionnaireVersion
from survey_engine.models.base import MAX_ROW_ID, utcnow
from survey_engine.services import headless
from survey_engine.services import survey as service
from survey_engine.web import first_read, get_connection, get_session, ratelimit, settings
from survey_engine.web.errors import error_response
from survey_engine.web.openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ALL_STAFF = ("researcher", "marketer", "admin")


def is_number(raw: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts "²" or "٣", which ``int`` refuses."""
    return raw.isascii() and raw.isdigit()


def require_role(*roles: str) -> Callable:
    """Check the bearer API key and its role; 401 without a valid key, 403 for the wrong role."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, presented = header.partition(" ")
            if scheme.lower() != "bearer" or not presented.strip():
                return error_response(401, "An API key is required: send 'Authorization: Bearer <key>'.",
                                      headers={"WWW-Authenticate": "Bearer"})
            session = get_session()
            key = service.authenticate_api_key(session, presented.strip())
            if key is None:
                return error_response(401, "The API key is not valid or was revoked.",
                                      headers={"WWW-Authenticate": "Bearer"})
            if key.role not in roles:
                return error_response(403, f"The role {key.role!r} may not use this endpoint "
                                           f"(needs {' or '.join(roles)}).")
            key.last_used_at = utcnow()
            session.add(key)
            session.commit()
            g.api_key = key
            return view(*args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorator


def api_actor() -> str:
    """Who made the current API request, for audit fields (the key's prefix and name)."""
    key = g.api_key
    return f"api-key:{key.prefix}" + (f" ({key.name})" if key.name else "")


def json_body() -> dict[str, Any]:
    if not request.is_json:
        raise service.ServiceError("The body must be JSON (Content-Type: application/json).", field="body")
    body = request.get_json(silent=True)
    if body is None:
        raise service.ServiceError("The body is not valid JSON.", field="body")
    if not isinstance(body, dict):
        raise service.ServiceError("The body must be a JSON object.", field="body")
    return body


class FieldErrors(Exception):
    def __init__(self, errors: dict[str, str], status: int = 400, message: str = "The request has invalid fields."):
        super().__init__(message)
        self.errors, self.status, self.message = errors, status, message


@bp.app_errorhandler(FieldErrors)
def _field_errors(exc: FieldErrors):
    return error_response(exc.status, exc.message, exc.errors)


def string_field(body: dict, name: str, errors: dict, *, required: bool = True, max_length: int = 100) -> str | None:
    """A trimmed, non-empty string field of a JSON body, or None with the problem added to ``errors``."""
    value = body.get(name)
    if value is None:
        if required:
            errors[name] = "is required"
        return None
    if not isinstance(value, str) or not value.strip():
        errors[name] = "must be a non-empty string"
        return None
    if len(value) > max_length:
        errors[name] = f"must be at most {max_length} characters"
        return None
    return value.strip()


def check_unknown_fields(body: dict, allowed: set[str], errors: dict) -> None:
    for name in body:
        if name not in allowed:
            errors[name] = "unknown field"


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/questionnaires")
@require_role(*ALL_STAFF)
def questionnaires():
    return jsonify({"ok": True, "questionnaires": service.list_questionnaires(get_session())})


@bp.get("/questionnaires/<questionnaire_id>")
@require_role(*ALL_STAFF)
def questionnaire(questionnaire_id: str):
    session = get_session()
    version_arg = request.args.get("version")
    if version_arg is not None:
        if not is_number(version_arg) or not 1 <= int(version_arg) <= MAX_ROW_ID:
            raise FieldErrors({"version": "must be a positive integer"})
        version = session.exec(select(QuestionnaireVersion).where(
            QuestionnaireVersion.questionnaire_id == questionnaire_id,
            QuestionnaireVersion.version == int(version_arg))).first()
        if version is None:
            raise service.NotFound(f"questionnaire {questionnaire_id!r} has no version {version_arg}",
                                   field="version")
    else:
        version = service.latest_version(session, questionnaire_id)
    return jsonify({"ok": True, "id": questionnaire_id, "version": version.version,
                    "content_hash": version.content_hash, "spec": version.spec})


@bp.post("/invitations")
@require_role(*ALL_STAFF)
def create_invitation():
    body = json_body()
    errors: dict[str, str] = {}
    check_unknown_fields(body, {"customer", "order", "questionnaire", "language", "reissue"}, errors)
    customer = string_field(body, "customer", errors)
    order = string_field(body, "order", errors)
    questionnaire_id = string_field(body, "questionnaire", errors)
    language = string_field(body, "language", errors, required=False, max_length=10)
    reissue = body.get("reissue", False)
    if not isinstance(reissue, bool):
        errors["reissue"] = "must be true or false"
    if errors:
        raise FieldErrors(errors)
    session = get_session()
    issued = service.create_invitation(session, customer_external_id=customer, order_id=order,
                                       questionnaire_id=questionnaire_id, language=language, reissue=reissue,
                                       ttl_days=settings().invitation_ttl_days)
    session.commit()
    invitation = issued.invitation
    return jsonify({"ok": True, "id": invitation.id, "token": issued.token, "url": issued.url(settings().base_url),
                    "expires_at": invitation.expires_at.isoformat(),
                    "questionnaire_version": session.get(QuestionnaireVersion,
                                                         invitation.questionnaire_version_id).version}), 201


@bp.post("/responses")
def submit_response():
    body = json_body()
    errors: dict[str, str] = {}
    check_unknown_fields(body, {"token", "answers", "language"}, errors)
    token = string_field(body, "token", errors, max_length=200)
    answers = body.get("answers")
    if not isinstance(answers, dict):
        errors["answers"] = "must be an object mapping item names to answers"
    language = string_field(body, "language", errors, required=False, max_length=10)
    if errors:
        raise FieldErrors(errors)
    window = ratelimit.window_now()
    found = first_read(lambda connection: headless.lookup(connection, token, counter_key=ratelimit.client_key(),
                                                           window_start=window))
    connection = get_connection()
    refused = ratelimit.refusal(found.failures, window)
    if refused is not None:
        return refused
    invitation = headless.check_usable(found.invitation)
    spec = service.spec_for(connection, invitation.questionnaire_version_id)
    language = language or invitation.language or spec.languages[0]
    if language not in spec.languages:
        raise FieldErrors({"language": f"must be one of {', '.join(spec.languages)}"})
    if invitation.completed_at is None:
        result = validate_answers(spec, answers)
        if result.errors:
            raise _invalid_answers(result.errors)
        answers = dict(result.answers)
    outcome = headless.submit(connection, invitation, answers, language=language)
    if outcome is None:  # a draft exists: the general path merges it
        outcome = _submit_through_session(token, body["answers"], language)
    elif outcome.status == "submitted" and invitation.person_id is not None:
        # The person's profile follows at once, in its own transaction once the submission is
        # committed (a failure there is logged; the next refresh catches up).
        from survey_engine.services.profiles import on_response_submitted

        session = get_session()
        on_response_submitted(session, outcome.response_id)
        session.commit()
    return jsonify({"ok": True, "status": "submitted", "response_id": outcome.response_id,
                    "submitted_at": outcome.submitted_at.isoformat()}), 200


def _invalid_answers(errors: dict[str, str]) -> FieldErrors:
    return FieldErrors({f"answers.{name}": message for name, message in errors.items()}, status=422,
                       message="Some answers are invalid; nothing was stored.")


def _submit_through_session(token: str, answers: dict, language: str) -> service.SubmitOutcome:
    session = get_session()
    invitation = service.find_invitation(session, token, allow_completed=True)
    outcome = service.submit_response(session, invitation, answers, language=language, channel="api")
    if outcome.status == "invalid":
        session.rollback()
        raise _invalid_answers(outcome.errors)
    session.commit()
    if outcome.response_id is None:  # lost a concurrent double submit: report the stored one
        stored = service.draft_for(session, invitation)
        outcome.response_id, outcome.submitted_at = stored.id, stored.submitted_at
    return outcome


def _datetime_arg(name: str, errors: dict) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = "must be an ISO 8601 date or timestamp"
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _int_arg(name: str, default: int | None, errors: dict, *, low: int = 1, high: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    high = MAX_ROW_ID if high is None else high
    if not is_number(raw) or not low <= int(raw) <= high:
        errors[name] = f"must be an integer between {low} and {high}"
        return default
    return int(raw)


@bp.get("/responses")
@require_role("researcher", "admin")
def list_responses():
    errors: dict[str, str] = {}
    allowed = {"questionnaire", "version", "status", "customer", "since", "until", "page", "per_page"}
    for name in request.args:
        if name not in allowed:
            errors[name] = "unknown query parameter"
    page = _int_arg("page", 1, errors)
    per_page = _int_arg("per_page", 50, errors, high=500)
    version = _int_arg("version", None, errors)
    status = request.args.get("status", "submitted")
    if status not in {"submitted", "draft", "all"}:
        errors["status"] = "must be submitted, draft or all"
    since, until = _datetime_arg("since", errors), _datetime_arg("until", errors)
    if errors:
        raise FieldErrors(errors)
    items, total = service.list_responses(
        get_session(), questionnaire_id=request.args.get("questionnaire"), version=version,
        status=None if status == "all" else status, customer_external_id=request.args.get("customer"),
        submitted_since=since, submitted_until=until, page=page, per_page=per_page)
    return jsonify({"ok": True, "page": page, "per_page": per_page, "total": total,
                    "pages": (total + per_page - 1) // per_page, "items": items})
