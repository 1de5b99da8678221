"""Webhooks: subscribers receive profile changes as signed JSON, with retries and a dead-letter table.

Each material profile change (one that takes a change number) becomes one delivery per active
subscriber whose consent rule the person meets, holding only the fields the subscriber may see.
``deliver_due`` posts the deliveries that are due with the standard library's HTTP client (a
timeout per subscriber, redirects not followed), signs each body (see
:mod:`survey_engine.export.signing`), and schedules a failed one again with exponential backoff
and jitter; after the subscriber's last attempt the delivery is dead and copied to
``webhook_dead_letter``, from where ``replay`` sends it again.
"""
from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Sequence
from urllib.parse import urlparse

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from survey_engine.export.fields import CONSENTS, EXPORT_FIELDS
from survey_engine.export.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from survey_engine.models.base import row_id, utcnow
from survey_engine.models.profiles import DeadLetter, Profile, WebhookDelivery, WebhookSubscription
from survey_engine.services.survey import Conflict, NotFound, ServiceError

log = logging.getLogger(__name__)

#: Fields a new subscription receives unless others are named (no contact details by default).
DEFAULT_FIELDS = ("person_id", "customer_id", "value_tier", "clv", "p_alive", "rising", "lapse_risk",
                  "style_archetype", "relationship_style", "contact_cap", "contacts_remaining", "next_best_action",
                  "updated_at")
EVENT = "profile.changed"
USER_AGENT = "survey-engine-webhooks/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer we do not follow
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ServiceError(f"url must be an http(s) URL, got {url!r}", field="url")
    if len(url) > 1000:
        raise ServiceError("url is longer than 1000 characters", field="url")
    return url


def add_subscription(session: Session, *, name: str, url: str, fields: Sequence[str] | None = None,
                     consent: Sequence[str] = CONSENTS, secret: str | None = None, max_attempts: int = 6,
                     timeout_seconds: float = 10.0) -> tuple[WebhookSubscription, str]:
    """Create a subscriber; returns it and its signing secret (generated unless given)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ServiceError("name must be 1 to 100 characters", field="name")
    if session.exec(select(WebhookSubscription).where(WebhookSubscription.name == name)).first() is not None:
        raise Conflict(f"a subscription named {name!r} exists", field="name")
    fields = list(dict.fromkeys(fields or DEFAULT_FIELDS))
    unknown = [f for f in fields if f not in EXPORT_FIELDS]
    if unknown:
        raise ServiceError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(EXPORT_FIELDS)}", field="fields")
    bad = [c for c in consent if c not in CONSENTS]
    if bad:
        raise ServiceError(f"unknown consent(s) {', '.join(bad)}; choose from {', '.join(CONSENTS)}", field="consent")
    if not 1 <= int(max_attempts) <= 20:
        raise ServiceError("max_attempts must be from 1 to 20", field="max_attempts")
    if not 0.1 <= float(timeout_seconds) <= 60:
        raise ServiceError("timeout must be from 0.1 to 60 seconds", field="timeout")
    secret = secret or secrets.token_urlsafe(32)
    if len(secret) < 16:
        raise ServiceError("a secret needs at least 16 characters", field="secret")
    subscription = WebhookSubscription(name=name, url=_check_url(url), secret=secret, fields=fields,
                                       consent=list(dict.fromkeys(consent)), max_attempts=int(max_attempts),
                                       timeout_seconds=float(timeout_seconds))
    session.add(subscription)
    session.flush()
    return subscription, secret


def find_subscription(session: Session, ref: str | int) -> WebhookSubscription:
    text = str(ref).strip()
    subscription_id = row_id(text)
    found = session.get(WebhookSubscription, subscription_id) if subscription_id is not None else session.exec(
        select(WebhookSubscription).where(WebhookSubscription.name == text)).first()
    if found is None:
        raise NotFound(f"no webhook subscription {text!r}", field="subscription")
    return found


def set_active(session: Session, ref: str | int, active: bool) -> WebhookSubscription:
    subscription = find_subscription(session, ref)
    subscription.active = active
    session.add(subscription)
    session.flush()
    return subscription


def subscription_public(subscription: WebhookSubscription, session: Session | None = None) -> dict[str, Any]:
    out = {"id": subscription.id, "name": subscription.name, "url": subscription.url, "fields": subscription.fields,
           "consent": subscription.consent, "active": subscription.active,
           "max_attempts": subscription.max_attempts, "timeout_seconds": subscription.timeout_seconds,
           "created_at": subscription.created_at.isoformat()}
    if session is not None:
        counts = dict(session.execute(sa.select(WebhookDelivery.status, sa.func.count())
                                      .where(WebhookDelivery.subscription_id == subscription.id)
                                      .group_by(WebhookDelivery.status)).all())
        out["deliveries"] = {s: int(counts.get(s, 0)) for s in ("pending", "delivered", "dead")}
    return out


def _jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def enqueue_changes(session: Session, person_ids: Sequence[int], subscriptions: Sequence[WebhookSubscription],
                    *, now: datetime | None = None) -> int:
    """Queue one delivery per changed person and subscriber allowed to receive it; returns how many."""
    from survey_engine.services.exports import profile_columns, profile_source

    if not person_ids or not subscriptions:
        return 0
    now = now or utcnow()
    needed = list(dict.fromkeys(["person_id", "change_seq", "consent_marketing", "consent_profiling"]
                                + [f for s in subscriptions for f in s.fields]))
    rows = []
    ids = list(person_ids)
    for start in range(0, len(ids), 500):
        rows += session.execute(sa.select(*profile_columns(needed, json_as_text=False)).select_from(profile_source())
                                .where(Profile.__table__.c.person_id.in_(ids[start:start + 500]))).mappings().all()
    deliveries = []
    for row in rows:
        for subscription in subscriptions:
            if not all(row[f"consent_{c}"] for c in subscription.consent):
                continue
            deliveries.append({
                "subscription_id": subscription.id, "person_id": row["person_id"], "change_seq": row["change_seq"],
                "event": EVENT, "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
                "payload": {"event": EVENT, "person_id": row["person_id"], "change_seq": row["change_seq"],
                            "changed_at": now.isoformat(),
                            "profile": {f: _jsonable(row[f]) for f in subscription.fields}},
            })
    if deliveries:
        session.execute(sa.insert(WebhookDelivery), deliveries)
    return len(deliveries)


@dataclass
class DeliverySummary:
    attempted: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def _post(subscription: WebhookSubscription, delivery: WebhookDelivery) -> tuple[int | None, str | None]:
    """POST one delivery; returns (HTTP status or None, error text or None)."""
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    stamp = int(time.time())
    request = urllib.request.Request(subscription.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": USER_AGENT, EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.id), TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: sign(subscription.secret, stamp, body)})
    try:
        with _opener.open(request, timeout=subscription.timeout_seconds) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(exc).__name__}: {reason}"
    if 200 <= status < 300:
        return status, None
    return status, f"HTTP {status}"


def deliver_due(engine: Engine, *, now: datetime | None = None, limit: int = 1000, base_delay: float = 30.0,
                max_delay: float = 6 * 3600.0, rng: random.Random | None = None,
                stop: threading.Event | None = None) -> DeliverySummary:
    """Send the deliveries that are due (oldest first), at most ``limit``, or until ``stop`` is
    set (checked between deliveries).

    One delivery per transaction; on PostgreSQL the row is locked with SKIP LOCKED, so several
    workers can deliver side by side without sending a delivery twice.
    """
    from survey_engine.export.signing import backoff_delay

    summary = DeliverySummary()
    rng = rng or random.Random()
    while summary.attempted < limit and not (stop is not None and stop.is_set()):
        moment = now or utcnow()
        with Session(engine, expire_on_commit=False) as session, session.begin():
            query = (select(WebhookDelivery)
                     .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                     .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= moment,
                            WebhookSubscription.active)
                     .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(1)
                     .with_for_update(skip_locked=True, of=WebhookDelivery))
            delivery = session.exec(query).first()
            if delivery is None:
                break
            subscription = session.get(WebhookSubscription, delivery.subscription_id)
            status, error = _post(subscription, delivery)
            summary.attempted += 1
            delivery.attempts += 1
            delivery.last_status_code = status
            if error is None:
                delivery.status, delivery.delivered_at, delivery.last_error = "delivered", utcnow(), None
                summary.delivered += 1
            else:
                delivery.last_error = error[:1000]
                summary.failed += 1
                summary.errors.append(f"delivery {delivery.id} to {subscription.name}: {error}")
                if delivery.attempts >= subscription.max_attempts:
                    delivery.status = "dead"
                    session.add(DeadLetter(delivery_id=delivery.id, subscription_id=subscription.id,
                                           person_id=delivery.person_id, attempts=delivery.attempts,
                                           last_error=delivery.last_error))
                    summary.dead += 1
                else:
                    wait = backoff_delay(delivery.attempts, base=base_delay, cap=max_delay, rng=rng)
                    delivery.next_attempt_at = moment + timedelta(seconds=wait)
            session.add(delivery)
    return summary


def replay_dead_letters(session: Session, ids: Sequence[int] | None = None) -> list[int]:
    """Put dead deliveries back in the queue (attempts reset); returns the delivery ids requeued.

    ``ids`` are dead-letter ids; without them every dead letter not replayed yet is replayed.
    """
    query = select(DeadLetter).order_by(DeadLetter.id)
    if ids:
        query = query.where(DeadLetter.id.in_(list(ids)))
        found = session.exec(query).all()
        missing = sorted(set(ids) - {d.id for d in found})
        if missing:
            raise NotFound(f"no dead letter(s) {', '.join(map(str, missing))}", field="id")
    else:
        found = session.exec(query.where(DeadLetter.replayed_at.is_(None))).all()
    now = utcnow()
    requeued = []
    for letter in found:
        delivery = session.get(WebhookDelivery, letter.delivery_id)
        if delivery.status == "pending":
            continue
        delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
        letter.replayed_at = now
        session.add(delivery)
        session.add(letter)
        requeued.append(delivery.id)
    session.flush()
    return requeued


def list_dead_letters(session: Session, *, include_replayed: bool = False) -> list[dict[str, Any]]:
    query = select(DeadLetter).order_by(DeadLetter.id)
    if not include_replayed:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return [{"id": d.id, "delivery_id": d.delivery_id, "subscription_id": d.subscription_id,
             "person_id": d.person_id, "attempts": d.attempts, "last_error": d.last_error,
             "failed_at": d.failed_at.isoformat(), "replayed_at": d.replayed_at.isoformat() if d.replayed_at else None}
            for d in session.exec(query).all()]
