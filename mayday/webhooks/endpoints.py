"""The webhook endpoints of ``MAYDAY_WEBHOOKS``, and the Standard Webhooks signature.

An endpoint is ``{"url", "secret", "events"}``: ``secret`` is ``whsec_`` and the base64 of
the key (as Svix and the Standard Webhooks libraries make them), ``events`` the types it
wants (all of ``EVENTS`` when left out). The old ``MAYDAY_ALERT_WEBHOOK_URL`` is one more
endpoint of the old form: alert events only, the alert frame as the body, unsigned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

EVENTS = (
    "help.requested",
    "help.closed",
    "session.started",
    "session.ended",
    "message.left",
    "message.replied",
    "alert.raised",
    "alert.cleared",
)
ALERT_EVENTS = frozenset({"alert.raised", "alert.cleared"})
SECRET_PREFIX = "whsec_"
MAX_ENDPOINTS = 20


class EndpointError(ValueError):
    """``MAYDAY_WEBHOOKS`` is not a list of valid endpoints; the message says where."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    # The signing key (the secret's base64 decoded); None for the old alert form.
    key: bytes | None = None
    events: frozenset[str] = frozenset(EVENTS)

    @property
    def legacy(self) -> bool:
        return self.key is None

    @property
    def id(self) -> str:
        """Stable while the URL and form stay: deliveries and the disabled list name it."""
        form = "alert" if self.legacy else "std"
        return "ep_" + hashlib.sha256(f"{form} {self.url}".encode()).hexdigest()[:16]

    def shown(self) -> str:
        """The URL without its query or user info: a webhook URL is often a credential."""
        parts = urlsplit(self.url)
        return (
            f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
        )

    def wants(self, event_type: str) -> bool:
        return event_type in self.events


def parse_endpoints(raw: str, alert_url: str = "") -> list[Endpoint]:
    """The endpoints configured; raises ``EndpointError`` with the reason."""
    endpoints = [_endpoint(item, n) for n, item in enumerate(_items(raw))]
    if alert_url:
        endpoints.append(Endpoint(_url(alert_url, "alert_webhook_url"), None, ALERT_EVENTS))
    if len({e.id for e in endpoints}) < len(endpoints):
        raise EndpointError("webhooks: an endpoint URL is listed twice")
    return endpoints


def _items(raw: str) -> list[Any]:
    if not raw.strip():
        return []
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise EndpointError(f"webhooks: not JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(items, list) or len(items) > MAX_ENDPOINTS:
        raise EndpointError(f"webhooks: must be a JSON list of at most {MAX_ENDPOINTS}")
    return items


def _endpoint(item: Any, n: int) -> Endpoint:
    where = f"webhooks[{n}]"
    if not isinstance(item, dict) or set(item) - {"url", "secret", "events"}:
        raise EndpointError(f"{where}: must be an object with url, secret and events")
    events = item.get("events", list(EVENTS))
    if not isinstance(events, list) or not events or not set(events) <= set(EVENTS):
        raise EndpointError(f"{where}.events: a non-empty list of {', '.join(EVENTS)}")
    return Endpoint(
        _url(item.get("url"), f"{where}.url"), _key(item.get("secret"), where), frozenset(events)
    )


def _url(url: Any, where: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(f"{where}: must be an http or https URL")
    return str(url)


def _key(secret: Any, where: str) -> bytes:
    """The key of a ``whsec_`` secret: 24 to 64 bytes, as the specification asks."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise EndpointError(f"{where}.secret: must be whsec_ and base64 (see docs/webhooks.md)")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise EndpointError(f"{where}.secret: the part after whsec_ is not base64") from None
    if not 24 <= len(key) <= 64:
        raise EndpointError(f"{where}.secret: the key must be 24 to 64 bytes")
    return key


def signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``."""
    signed = webhook_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(endpoint: Endpoint, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt (the timestamp is the attempt's: receivers refuse old
    ones, so a retry is signed anew)."""
    out = {"content-type": "application/json", "user-agent": "Mayday-Webhooks/1"}
    if endpoint.key is not None:
        out["webhook-id"] = webhook_id
        out["webhook-timestamp"] = str(timestamp)
        out["webhook-signature"] = signature(endpoint.key, webhook_id, timestamp, body)
    return out
