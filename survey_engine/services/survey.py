"""Questionnaire versions, invitations and responses: the respondent flow as service functions."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, func, select

from survey_engine.definitions.errors import DefinitionError, DefinitionIssue
from survey_engine.definitions.questionnaire import (
    QuestionnaireSpec,
    load_questionnaire,
    validate_answers,
)
from survey_engine.models import (
    ROLES,
    ApiKey,
    Customer,
    Invitation,
    Questionnaire,
    QuestionnaireVersion,
    Response,
)
from survey_engine.models.base import utcnow


class ServiceError(Exception):
    """A request that cannot be carried out; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    status = 404


class Gone(ServiceError):
    status = 410


class Conflict(ServiceError):
    status = 409


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# Questionnaires
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SyncResult:
    questionnaire_id: str
    version: int
    created: bool
    source_file: str


def read_questionnaire_files(directory: Path) -> list[tuple[Path, QuestionnaireSpec]]:
    """Parse every questionnaire file in ``directory``; raise one DefinitionError listing all problems."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DefinitionError([DefinitionIssue(str(directory), "", "questionnaire folder does not exist")])
    files = sorted(p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
    issues: list[DefinitionIssue] = []
    loaded: list[tuple[Path, QuestionnaireSpec]] = []
    seen: dict[str, Path] = {}
    for path in files:
        try:
            spec = load_questionnaire(path)
        except DefinitionError as exc:
            issues.extend(exc.issues)
            continue
        if spec.id in seen:
            issues.append(DefinitionIssue(str(path), "id", f"questionnaire id {spec.id!r} is also defined in {seen[spec.id]}"))
            continue
        seen[spec.id] = path
        loaded.append((path, spec))
    if issues:
        raise DefinitionError(issues)
    if not loaded:
        raise DefinitionError([DefinitionIssue(str(directory), "", "no questionnaire files (*.yaml) found")])
    return loaded


def sync_questionnaires(session: Session, files: list[tuple[Path, QuestionnaireSpec]]) -> list[SyncResult]:
    """Upsert validated questionnaires: a changed file becomes a new version, an unchanged one is kept."""
    results = []
    for path, spec in files:
        digest = spec.content_hash()
        questionnaire = session.get(Questionnaire, spec.id)
        title = spec.text(spec.title, spec.languages[0])
        if questionnaire is None:
            questionnaire = Questionnaire(id=spec.id, title=title)
            session.add(questionnaire)
            session.flush()
        else:
            questionnaire.title = title
        existing = session.exec(
            select(QuestionnaireVersion).where(
                QuestionnaireVersion.questionnaire_id == spec.id,
                QuestionnaireVersion.content_hash == digest,
            )
        ).first()
        if existing is not None:
            results.append(SyncResult(spec.id, existing.version, False, str(path)))
            continue
        latest = session.exec(
            select(func.max(QuestionnaireVersion.version)).where(QuestionnaireVersion.questionnaire_id == spec.id)
        ).one()
        version = QuestionnaireVersion(
            questionnaire_id=spec.id,
            version=(latest or 0) + 1,
            file_version=spec.version,
            content_hash=digest,
            source_file=str(path),
            spec=spec.to_dict(),
        )
        session.add(version)
        session.flush()
        results.append(SyncResult(spec.id, version.version, True, str(path)))
    return results


def latest_version(session: Session, questionnaire_id: str) -> QuestionnaireVersion:
    version = session.exec(
        select(QuestionnaireVersion)
        .where(QuestionnaireVersion.questionnaire_id == questionnaire_id)
        .order_by(QuestionnaireVersion.version.desc())
    ).first()
    if version is None:
        raise NotFound(f"unknown questionnaire {questionnaire_id!r}; run `survey-engine load-questionnaires`",
                       field="questionnaire")
    return version


_spec_cache: dict[int, QuestionnaireSpec] = {}


def spec_of(version: QuestionnaireVersion) -> QuestionnaireSpec:
    """The parsed spec of a stored version (cached: versions are immutable)."""
    spec = _spec_cache.get(version.id)
    if spec is None:
        spec = _spec_cache[version.id] = QuestionnaireSpec.from_dict(version.spec)
    return spec


_SPEC_OF_VERSION = sa.select(QuestionnaireVersion.__table__.c.spec).where(
    QuestionnaireVersion.__table__.c.id == sa.bindparam("version_id"))


def spec_for(session: Session | sa.Connection, version_id: int) -> QuestionnaireSpec:
    """The parsed spec of the stored version ``version_id``; the row (and its large JSON) is read
    only the first time, since versions are immutable. ``session`` may be a Core connection."""
    spec = _spec_cache.get(version_id)
    if spec is None:
        stored = session.execute(_SPEC_OF_VERSION, {"version_id": version_id}).scalar()
        if stored is None:
            raise NotFound(f"questionnaire version {version_id} does not exist", field="questionnaire")
        spec = _spec_cache[version_id] = QuestionnaireSpec.from_dict(stored)
    return spec


def list_questionnaires(session: Session) -> list[dict[str, Any]]:
    rows = session.exec(select(QuestionnaireVersion).order_by(QuestionnaireVersion.questionnaire_id,
                                                               QuestionnaireVersion.version)).all()
    counts = dict(session.exec(
        select(Response.questionnaire_version_id, func.count()).where(Response.status == "submitted")
        .group_by(Response.questionnaire_version_id)).all())
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = out.setdefault(row.questionnaire_id, {"id": row.questionnaire_id, "versions": []})
        entry["versions"].append({"version": row.version, "file_version": row.file_version,
                                  "content_hash": row.content_hash, "created_at": row.created_at.isoformat(),
                                  "responses": counts.get(row.id, 0)})
    return list(out.values())


# --------------------------------------------------------------------------------------------
# Customers and invitations
# --------------------------------------------------------------------------------------------

def get_or_create_customer(session: Session, external_id: str, **attributes: Any) -> Customer:
    external_id = (external_id or "").strip()
    if not external_id:
        raise ServiceError("customer id must not be empty", field="customer")
    if len(external_id) > 100:
        raise ServiceError("customer id is longer than 100 characters", field="customer")
    customer = session.exec(select(Customer).where(Customer.external_id == external_id)).first()
    if customer is None:
        customer = Customer(external_id=external_id, **attributes)
        session.add(customer)
        session.flush()
    return customer


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/s/{self.token}"


def create_invitation(session: Session, *, customer_external_id: str, order_id: str, questionnaire_id: str,
                      ttl_days: int, language: str | None = None, reissue: bool = False,
                      now: datetime | None = None) -> IssuedInvitation:
    """Invite one customer to answer the latest version of a questionnaire after one order.

    A second invitation for the same customer, order and questionnaire is refused unless
    ``reissue`` is set, which replaces the token of an unanswered invitation (the old link stops
    working).
    """
    order_id = (order_id or "").strip()
    if not order_id:
        raise ServiceError("order id must not be empty", field="order")
    if len(order_id) > 100:
        raise ServiceError("order id is longer than 100 characters", field="order")
    version = latest_version(session, questionnaire_id)
    spec = spec_of(version)
    if language is not None and language not in spec.languages:
        raise ServiceError(f"language {language!r} is not offered; choose one of {', '.join(spec.languages)}",
                           field="language")
    now = now or utcnow()
    customer = get_or_create_customer(session, customer_external_id)
    token = secrets.token_urlsafe(32)
    existing = session.exec(select(Invitation).where(
        Invitation.customer_id == customer.id, Invitation.order_id == order_id,
        Invitation.questionnaire_id == questionnaire_id)).first()
    if existing is not None:
        if not reissue:
            raise Conflict(f"customer {customer_external_id!r} is already invited for order {order_id!r}; "
                           "use reissue to replace the link", field="order")
        if existing.completed_at is not None:
            raise Conflict("this invitation was already answered; it cannot be reissued", field="order")
        existing.token_hash = hash_token(token)
        existing.expires_at = now + timedelta(days=ttl_days)
        session.add(existing)
        session.flush()
        return IssuedInvitation(existing, token)
    invitation = Invitation(
        token_hash=hash_token(token), customer_id=customer.id, order_id=order_id,
        questionnaire_id=questionnaire_id, questionnaire_version_id=version.id, language=language,
        created_at=now, expires_at=now + timedelta(days=ttl_days),
    )
    session.add(invitation)
    session.flush()
    return IssuedInvitation(invitation, token)


# Statements of the submit path, built once: the respondent flow runs them on every request.
_INVITATION_BY_TOKEN = select(Invitation).where(Invitation.token_hash == sa.bindparam("token_hash"))
_invitations = Invitation.__table__
_CLAIM_INVITATION = (
    sa.update(_invitations)
    .where(_invitations.c.id == sa.bindparam("invitation_id"), _invitations.c.completed_at.is_(None))
    .values(completed_at=sa.bindparam("now"),
            started_at=sa.func.coalesce(_invitations.c.started_at,
                                       sa.bindparam("now", type_=_invitations.c.started_at.type)))
)
_INSERT_RESPONSE = sa.insert(Response.__table__)


def find_invitation(session: Session, token: str, *, now: datetime | None = None,
                    allow_completed: bool = False) -> Invitation:
    """The invitation behind a token, or NotFound / Gone with a message for the respondent."""
    if not token or len(token) > 200:
        raise NotFound("This survey link is not valid.")
    invitation = session.exec(_INVITATION_BY_TOKEN, params={"token_hash": hash_token(token)}).first()
    if invitation is None:
        raise NotFound("This survey link is not valid.")
    if invitation.completed_at is not None and not allow_completed:
        raise Gone("This survey has already been completed. Thank you for your answers.")
    if invitation.completed_at is None and invitation.expires_at <= (now or utcnow()):
        raise Gone("This survey link has expired.")
    return invitation


def mark_opened(session: Session, invitation: Invitation) -> None:
    if invitation.opened_at is None:
        invitation.opened_at = utcnow()
        session.add(invitation)
        session.flush()


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------

@dataclass
class SubmitOutcome:
    """What a save or submit did: ``status`` is saved, submitted, already_submitted or invalid."""

    status: str
    errors: dict[str, str] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    response: Response | None = None
    #: Id and time of the stored submission (submitted, or already_submitted when known).
    response_id: int | None = None
    submitted_at: datetime | None = None


def draft_for(session: Session, invitation: Invitation) -> Response | None:
    return session.exec(select(Response).where(Response.invitation_id == invitation.id)).first()


def save_draft(session: Session, invitation: Invitation, raw: Mapping[str, Any], *, language: str,
               from_form: bool = False) -> SubmitOutcome:
    """Store partial answers so the respondent can resume; invalid fields are reported, valid ones kept."""
    result = validate_answers(spec_for(session, invitation.questionnaire_version_id), raw, partial=True,
                              from_form=from_form)
    now = utcnow()
    response = draft_for(session, invitation)
    if response is None:
        response = Response(invitation_id=invitation.id, customer_id=invitation.customer_id,
                            questionnaire_version_id=invitation.questionnaire_version_id,
                            language=language, answers={}, started_at=invitation.opened_at or now)
    if response.status == "submitted":
        return SubmitOutcome("already_submitted", response=response, answers=dict(response.answers))
    response.answers = dict(result.answers)
    response.language = language
    response.updated_at = now
    if invitation.started_at is None:
        invitation.started_at = now
        session.add(invitation)
    session.add(response)
    session.flush()
    return SubmitOutcome("saved", errors=dict(result.errors), answers=dict(result.answers), response=response)


def submit_response(session: Session, invitation: Invitation, raw: Mapping[str, Any], *, language: str,
                    from_form: bool = False, channel: str = "web", _retry: bool = False) -> SubmitOutcome:
    """Validate and store the final answers. Exactly one submission per invitation: a replay or
    a concurrent double submit stores nothing and reports ``already_submitted``."""
    if invitation.completed_at is not None:
        stored = draft_for(session, invitation)
        return SubmitOutcome("already_submitted", response=stored, response_id=stored.id if stored else None,
                             submitted_at=stored.submitted_at if stored else None)
    result = validate_answers(spec_for(session, invitation.questionnaire_version_id), raw, partial=False,
                              from_form=from_form)
    if result.errors:
        return SubmitOutcome("invalid", errors=dict(result.errors), answers=dict(result.answers))
    # A draft exists only once the respondent saved (save_draft sets started_at in the same
    # transaction), so a headless submit skips that query; a draft saved concurrently surfaces
    # as a unique violation below and the submit is retried with the draft in view.
    may_have_draft = invitation.started_at is not None or _retry
    now = utcnow()
    claimed = session.connection().execute(_CLAIM_INVITATION, {"invitation_id": invitation.id, "now": now}).rowcount
    if claimed != 1:
        session.rollback()
        return SubmitOutcome("already_submitted")
    response = draft_for(session, invitation) if may_have_draft else None
    started = (response.started_at if response is not None else None) or invitation.opened_at or now
    values = dict(answers=dict(result.answers), language=language, status="submitted", channel=channel,
                  updated_at=now, submitted_at=now, duration_seconds=max((now - started).total_seconds(), 0.0))
    try:
        if response is None:
            # A plain INSERT: no ORM object to build and flush on the hot path of headless submits.
            response_id = session.connection().execute(_INSERT_RESPONSE.values(
                invitation_id=invitation.id, customer_id=invitation.customer_id,
                questionnaire_version_id=invitation.questionnaire_version_id, started_at=started,
                **values)).inserted_primary_key[0]
        else:
            for key, value in values.items():
                setattr(response, key, value)
            session.add(response)
            session.flush()
            response_id = response.id
    except IntegrityError:
        session.rollback()
        if _retry:
            return SubmitOutcome("already_submitted")
        # Nothing was written (the claim rolled back too): a draft appeared meanwhile; go again.
        session.refresh(invitation)
        return submit_response(session, invitation, raw, language=language, from_form=from_form,
                               channel=channel, _retry=True)
    # The claim changed the row behind the session's back; keep the loaded object truthful
    # without marking it dirty (which would write the same values again at commit).
    set_committed_value(invitation, "completed_at", now)
    set_committed_value(invitation, "started_at", invitation.started_at or now)
    # The person's profile follows at once; profiles build on this module, hence the late import.
    from survey_engine.services.profiles import on_response_submitted

    on_response_submitted(session, response_id)
    return SubmitOutcome("submitted", answers=dict(result.answers), response=response, response_id=response_id,
                         submitted_at=now)


def response_public(response: Response, *, questionnaire_id: str | None = None, version: int | None = None,
                    customer_external_id: str | None = None) -> dict[str, Any]:
    return {
        "id": response.id,
        "questionnaire": questionnaire_id,
        "version": version,
        "customer": customer_external_id,
        "status": response.status,
        "language": response.language,
        "channel": response.channel,
        "answers": response.answers,
        "started_at": response.started_at.isoformat() if response.started_at else None,
        "submitted_at": response.submitted_at.isoformat() if response.submitted_at else None,
        "duration_seconds": response.duration_seconds,
    }


def list_responses(session: Session, *, questionnaire_id: str | None = None, version: int | None = None,
                   status: str | None = "submitted", customer_external_id: str | None = None,
                   submitted_since: datetime | None = None, submitted_until: datetime | None = None,
                   page: int = 1, per_page: int = 50) -> tuple[list[dict[str, Any]], int]:
    """One page of responses, newest first, with the total count for the filters."""
    query = (select(Response, QuestionnaireVersion.questionnaire_id, QuestionnaireVersion.version,
                    Customer.external_id)
             .join(QuestionnaireVersion, QuestionnaireVersion.id == Response.questionnaire_version_id)
             .join(Customer, Customer.id == Response.customer_id))
    conditions = []
    if questionnaire_id is not None:
        conditions.append(QuestionnaireVersion.questionnaire_id == questionnaire_id)
    if version is not None:
        conditions.append(QuestionnaireVersion.version == version)
    if status is not None:
        conditions.append(Response.status == status)
    if customer_external_id is not None:
        conditions.append(Customer.external_id == customer_external_id)
    if submitted_since is not None:
        conditions.append(Response.submitted_at >= submitted_since)
    if submitted_until is not None:
        conditions.append(Response.submitted_at < submitted_until)
    if conditions:
        query = query.where(*conditions)
    count_query = (select(func.count()).select_from(Response)
                   .join(QuestionnaireVersion, QuestionnaireVersion.id == Response.questionnaire_version_id)
                   .join(Customer, Customer.id == Response.customer_id))
    if conditions:
        count_query = count_query.where(*conditions)
    total = session.exec(count_query).one()
    rows = session.exec(query.order_by(Response.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
    items = [response_public(r, questionnaire_id=q, version=v, customer_external_id=c) for r, q, v, c in rows]
    return items, total


# --------------------------------------------------------------------------------------------
# API keys
# --------------------------------------------------------------------------------------------

def create_api_key(session: Session, role: str, name: str = "") -> str:
    """Create a key and return it in full; only its hash is stored, so it is shown once."""
    if role not in ROLES:
        raise ServiceError(f"role must be one of {', '.join(ROLES)}", field="role")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    session.add(ApiKey(prefix=prefix, key_hash=hash_token(secret), role=role, name=name))
    session.flush()
    return f"se_{prefix}_{secret}"


def authenticate_api_key(session: Session, presented: str) -> ApiKey | None:
    """The active key matching ``presented`` or None; compares hashes in constant time."""
    parts = presented.split("_", 2) if presented else []
    if len(parts) != 3 or parts[0] != "se":
        return None
    key = session.exec(select(ApiKey).where(ApiKey.prefix == parts[1])).first()
    candidate = hash_token(parts[2])
    if key is None:
        hmac.compare_digest(candidate, candidate)
        return None
    if not hmac.compare_digest(key.key_hash, candidate) or key.revoked_at is not None:
        return None
    return key
