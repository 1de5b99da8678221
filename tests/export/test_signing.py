"""Webhook signatures against an independent reference (OpenSSL), verification, and the backoff schedule."""
import random

import pytest

from survey_engine.export.signing import backoff_delay, sign, verify_signature

SECRET = "whsec_test_secret_123"
BODY = b'{"a":1}'
# printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec_test_secret_123'
OPENSSL = "e89dcbfdce3392fb275033fb083d8c81e095a63bf687d9a2cd50e7d5f55e21f6"


def test_signature_matches_openssl():
    assert sign(SECRET, 1700000000, BODY) == "v1=" + OPENSSL


def test_verification_accepts_only_the_right_secret_body_and_time():
    signature = sign(SECRET, 1700000000, BODY)
    assert verify_signature(SECRET, "1700000000", BODY, signature, now=1700000100)
    assert not verify_signature("another-secret-123", "1700000000", BODY, signature, now=1700000100)
    assert not verify_signature(SECRET, "1700000000", b'{"a":2}', signature, now=1700000100)
    assert not verify_signature(SECRET, "1700000001", BODY, signature, now=1700000100)
    assert not verify_signature(SECRET, "1700000000", BODY, signature, now=1700000000 + 301)  # replayed late
    assert not verify_signature(SECRET, "soon", BODY, signature, now=1700000000)


def test_backoff_doubles_with_equal_jitter_and_a_cap():
    rng = random.Random(1)
    for attempt, full in [(1, 30.0), (2, 60.0), (3, 120.0), (4, 240.0)]:
        delays = [backoff_delay(attempt, base=30.0, rng=rng) for _ in range(2000)]
        assert min(delays) >= full / 2 and max(delays) <= full
        assert sum(delays) / len(delays) == pytest.approx(0.75 * full, rel=0.02)
    assert backoff_delay(30, base=30.0, cap=3600.0, rng=rng) <= 3600.0
    with pytest.raises(ValueError, match="attempt counts from 1"):
        backoff_delay(0)
