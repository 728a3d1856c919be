"""MAYDAY_WEBHOOKS read and refused, signatures the reference library accepts, and the
retry schedule."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from mayday.settings import Settings, SettingsError
from mayday.settings_report import effective_lines, secret_values
from mayday.webhooks.endpoints import EVENTS, Endpoint, EndpointError, headers, parse_endpoints
from mayday.webhooks.schedule import RETRY_SCHEDULE_S, retry_after_s, retry_delay
from mayday.webhooks.sender import body_of
from tests.webhooks.receiver import SECRET


def test_an_endpoint_is_read_with_its_key_and_events() -> None:
    """url, secret (whsec_ and base64) and events are read; events default to all."""
    raw = json.dumps([{"url": "https://a.example/h", "secret": SECRET, "events": ["help.closed"]},
                      {"url": "http://b.example:8000/h?k=1", "secret": SECRET}])  # fmt: skip
    first, second = parse_endpoints(raw)
    assert first.key == b"k" * 32 and first.events == {"help.closed"}
    assert second.events == set(EVENTS)
    assert second.shown() == "http://b.example:8000/h"  # no query: it may be a credential
    assert first.id != second.id and first.id == parse_endpoints(raw)[0].id


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{", "not JSON"),
        ('{"url": "x"}', "JSON list"),
        (f'[{{"url": "ftp://a/h", "secret": "{SECRET}"}}]', "http or https"),
        ('[{"url": "https://a/h", "secret": "abc"}]', "whsec_"),
        ('[{"url": "https://a/h", "secret": "whsec_!!"}]', "not base64"),
        ('[{"url": "https://a/h", "secret": "whsec_YWJj"}]', "24 to 64 bytes"),
        (f'[{{"url": "https://a/h", "secret": "{SECRET}", "events": ["help.nope"]}}]', "events"),
        (f'[{{"url": "https://a/h", "secret": "{SECRET}", "extra": 1}}]', "must be an object"),
    ],
)
def test_a_bad_endpoint_stops_the_start_with_its_reason(raw: str, reason: str) -> None:
    """A wrong MAYDAY_WEBHOOKS is a settings error naming what is wrong, not a silent no-op."""
    with pytest.raises(EndpointError, match=reason):
        parse_endpoints(raw)
    with pytest.raises(SettingsError, match=reason):
        Settings(webhooks=raw)


def test_the_webhooks_setting_is_never_shown() -> None:
    """check-config masks MAYDAY_WEBHOOKS whole, and the log redaction knows each secret
    and URL credential in it."""
    raw = json.dumps([{"url": "https://a.example/h?key=k1", "secret": SECRET}])
    settings = Settings(webhooks=raw)
    shown = "\n".join(effective_lines(settings))
    assert "MAYDAY_WEBHOOKS=*** (set" in shown
    assert SECRET not in shown and "a.example" not in shown
    assert {SECRET, "key=k1"} <= set(secret_values(settings))


def test_the_old_alert_url_is_an_unsigned_endpoint_for_alerts() -> None:
    """MAYDAY_ALERT_WEBHOOK_URL keeps working: alert events only, the old body, no signature."""
    (old,) = parse_endpoints("", "https://hooks.example/alert")
    assert old.legacy and old.events == {"alert.raised", "alert.cleared"}
    frame = {"type": "ops.alert", "name": "oldest_wait", "state": "raised"}
    assert json.loads(body_of(old, "alert.raised", frame, 0.0)) == frame
    assert "webhook-signature" not in headers(old, "msg_1", 0, b"{}")


def test_the_reference_library_verifies_the_signature() -> None:
    """webhook-id, webhook-timestamp and webhook-signature as the specification says: the
    Standard Webhooks library accepts them, and refuses a body changed by one byte."""
    (endpoint,) = parse_endpoints(json.dumps([{"url": "https://a.example/h", "secret": SECRET}]))
    now = datetime.now(UTC).timestamp()
    body = body_of(endpoint, "help.closed", {"request_id": "r1"}, now).encode()
    sent = headers(endpoint, "msg_abc", int(now), body)
    verified = Webhook(SECRET).verify(body, sent)
    assert verified["type"] == "help.closed" and verified["data"] == {"request_id": "r1"}
    assert verified["timestamp"].endswith("Z")
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"r1", b"r2"), sent)
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, sent)


def test_retries_follow_the_schedule_with_jitter_then_stop() -> None:
    """Attempt n waits the n-th delay within ±20 %; after the last delay there is none."""
    rng = random.Random(7)
    for n, base in enumerate(RETRY_SCHEDULE_S, start=1):
        delays = [retry_delay(n, RETRY_SCHEDULE_S, None, rng) for _ in range(50)]
        assert all(d is not None and 0.8 * base <= d <= 1.2 * base for d in delays)
        assert len(set(delays)) > 40  # jitter: not one fixed value
    assert retry_delay(len(RETRY_SCHEDULE_S) + 1, RETRY_SCHEDULE_S, None, rng) is None


def test_retry_after_is_the_least_wait() -> None:
    """Retry-After in seconds or as an HTTP date lengthens the wait, never shortens it."""
    rng = random.Random(1)
    assert retry_delay(1, (5.0,), 120.0, rng) == 120.0
    shorter = retry_delay(1, (5.0,), 1.0, rng)
    assert shorter is not None and shorter >= 4.0
    assert retry_after_s("30", 0.0) == 30.0
    stamp = datetime(2026, 12, 3, 10, 0, 30, tzinfo=UTC).timestamp() - 30
    assert retry_after_s("Thu, 03 Dec 2026 10:00:30 GMT", stamp) == pytest.approx(30.0)
    assert retry_after_s("soon", 0.0) is None


def test_an_endpoint_wants_only_its_events() -> None:
    """An endpoint subscribed to some events is not sent the others."""
    e = Endpoint("https://a.example/h", b"k" * 32, frozenset({"message.left"}))
    assert e.wants("message.left") and not e.wants("help.closed")
