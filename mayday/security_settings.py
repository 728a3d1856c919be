"""Checks of the security settings (tokens, origins, HTTP timeouts, /metrics access).

Kept apart from ``mayday/settings.py`` so that file stays a list of fields; every
refusal names the ``MAYDAY_*`` variable to fix.
"""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import urlsplit

from mayday.routing.config import SettingsError

MAX_LEEWAY_S = 300
# A socket outlives its token by at most the grace: past ten minutes it would not be
# ending with its token any more.
MAX_EXPIRY_NOTICE_S, MAX_EXPIRY_GRACE_S = 3600, 600
MIN_TTL_S, MAX_TTL_S = 60, 31 * 86400
METRICS_AUTH = ("none", "ops")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


class SecuritySettings(Protocol):
    @property
    def port(self) -> int: ...
    @property
    def jwt_leeway_s(self) -> int: ...
    @property
    def jwt_max_ttl_s(self) -> int: ...
    @property
    def jwt_public_key(self) -> str: ...
    @property
    def jwks_file(self) -> str: ...
    @property
    def token_expiry_notice_s(self) -> float: ...
    @property
    def token_expiry_grace_s(self) -> float: ...
    @property
    def http_header_timeout_s(self) -> float: ...
    @property
    def http_idle_timeout_s(self) -> float: ...
    @property
    def metrics_auth(self) -> str: ...
    @property
    def metrics_token(self) -> str: ...
    @property
    def metrics_port(self) -> int | None: ...


def check_security(s: SecuritySettings) -> None:
    """Refuse security settings the server cannot run with, naming the variable."""
    _check_tokens(s)
    _check_http(s)
    _check_metrics(s)


def _check_tokens(s: SecuritySettings) -> None:
    if not 0 <= s.jwt_leeway_s <= MAX_LEEWAY_S:
        raise SettingsError(f"MAYDAY_JWT_LEEWAY_S must be from 0 to {MAX_LEEWAY_S} seconds")
    if not MIN_TTL_S <= s.jwt_max_ttl_s <= MAX_TTL_S:
        raise SettingsError(f"MAYDAY_JWT_MAX_TTL_S must be from {MIN_TTL_S} to {MAX_TTL_S}")
    if s.jwt_public_key and s.jwks_file:
        raise SettingsError("set MAYDAY_JWT_PUBLIC_KEY or MAYDAY_JWKS_FILE, not both")
    if not 0 < s.token_expiry_notice_s <= MAX_EXPIRY_NOTICE_S:
        raise SettingsError(
            f"MAYDAY_TOKEN_EXPIRY_NOTICE_S must be above 0 and at most {MAX_EXPIRY_NOTICE_S}"
        )
    if not 0 <= s.token_expiry_grace_s <= MAX_EXPIRY_GRACE_S:
        raise SettingsError(
            f"MAYDAY_TOKEN_EXPIRY_GRACE_S must be from 0 to {MAX_EXPIRY_GRACE_S} seconds"
        )


def _check_http(s: SecuritySettings) -> None:
    if not 0 < s.http_header_timeout_s <= 300:
        raise SettingsError("MAYDAY_HTTP_HEADER_TIMEOUT_S must be above 0 and at most 300")
    if not 0 < s.http_idle_timeout_s <= 3600:
        raise SettingsError("MAYDAY_HTTP_IDLE_TIMEOUT_S must be above 0 and at most 3600")


def _check_metrics(s: SecuritySettings) -> None:
    if s.metrics_auth not in METRICS_AUTH:
        raise SettingsError('MAYDAY_METRICS_AUTH must be "none" or "ops"')
    token = s.metrics_token
    if token and (len(token) < 32 or not _TOKEN_CHARS.fullmatch(token)):
        raise SettingsError(
            "MAYDAY_METRICS_TOKEN must be at least 32 printable ASCII characters, no spaces"
        )
    port = s.metrics_port
    if port is not None and not 0 <= port <= 65535:
        raise SettingsError("MAYDAY_METRICS_PORT must be a port number")
    if port and port == s.port:
        raise SettingsError("MAYDAY_METRICS_PORT must differ from MAYDAY_PORT")


def normal_origins(origins: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(normal_origin(o) for o in origins)


def normal_origin(text: str) -> str:
    """An origin as browsers write it in the ``Origin`` header: lower case, no default
    port, no path; anything else is refused rather than silently never matching."""
    raw = text.strip()
    parts = urlsplit(raw)
    if raw in ("*", "null") or parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise SettingsError(
            f"MAYDAY_ALLOWED_ORIGINS: {raw!r} is not an origin like https://app.example.com"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise SettingsError(f"MAYDAY_ALLOWED_ORIGINS: {raw!r} must have no path or query")
    try:
        port = parts.port
    except ValueError:
        raise SettingsError(f"MAYDAY_ALLOWED_ORIGINS: {raw!r} has a bad port") from None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"
