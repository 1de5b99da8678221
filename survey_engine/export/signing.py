"""Signatures of webhook deliveries (HMAC-SHA256) and the retry schedule.

A delivery is a POST whose body is the JSON event. It carries

``X-SurveyEngine-Timestamp``: Unix time in seconds when it was signed, and
``X-SurveyEngine-Signature``: ``v1=`` followed by the hex HMAC-SHA256, keyed with the
subscription's secret, of ``"<timestamp>.<raw body>"`` (UTF-8).

To verify (any language): read the raw body bytes before parsing them, recompute the HMAC of
``timestamp + "." + body`` with your secret, compare it with the header in constant time, and
reject timestamps more than five minutes from your clock (a replayed old delivery). In Python::

    expected = "v1=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, signature) and abs(time.time() - int(timestamp)) <= 300

which is :func:`verify_signature`. Deliveries can arrive more than once (a retry after a lost
answer) and out of order after a replay: de-duplicate on ``X-SurveyEngine-Delivery`` and keep the
highest ``change_seq`` per person.
"""
from __future__ import annotations

import hashlib
import hmac
import random
import time

SIGNATURE_HEADER = "X-SurveyEngine-Signature"
TIMESTAMP_HEADER = "X-SurveyEngine-Timestamp"
DELIVERY_HEADER = "X-SurveyEngine-Delivery"
EVENT_HEADER = "X-SurveyEngine-Event"
#: Largest accepted difference between the signing time and the receiver's clock, in seconds.
DEFAULT_TOLERANCE = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``."""
    digest = hmac.new(secret.encode("utf-8"), f"{int(timestamp)}.".encode("ascii") + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def verify_signature(secret: str, timestamp: str | int, body: bytes, signature: str, *,
                     tolerance: int = DEFAULT_TOLERANCE, now: float | None = None) -> bool:
    """True when ``signature`` is ours for ``body`` and ``timestamp`` is within ``tolerance`` seconds."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature or "")


def backoff_delay(attempt: int, *, base: float = 30.0, cap: float = 6 * 3600.0,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): exponential backoff
    ``min(cap, base * 2**(attempt-1))`` with equal jitter (half fixed, half uniformly random), so
    receivers that recover are not hit by every sender at once (Brooker, "Exponential Backoff And
    Jitter", AWS Architecture Blog, 2015)."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    delay = min(cap, base * 2.0 ** (attempt - 1))
    return delay / 2.0 + (rng or random).uniform(0.0, delay / 2.0)
