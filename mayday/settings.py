"""Server settings: one frozen dataclass, read from ``MAYDAY_*`` variables and CLI flags."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mayday.routing.config import RouterConfig, SettingsError
from mayday.security_settings import check_security, normal_origins

WEB_ROOT = Path(__file__).resolve().parent.parent / "webclient"

__all__ = ["Settings", "SettingsError"]


@dataclass(frozen=True)
class Settings(RouterConfig):
    """Everything the server reads at start; nothing else is configurable at run time.
    The routing settings are those of ``RouterConfig``, which this class extends."""

    host: str = "127.0.0.1"
    port: int = 8080
    jwt_secret: str = ""
    jwt_audience: str = "mayday"
    redis_url: str | None = None
    max_frame_bytes: int = 65536
    outbound_queue_limit: int = 512
    rate_limit_per_s: float = 50.0
    rate_limit_burst: int = 200
    # Annotations and control input, per advisor (all their sockets on one process), on
    # top of each socket's own budget: a pen at 60 points a second sends about 30 frames.
    annotation_rate_per_s: float = 40.0
    annotation_burst: int = 80
    summary_interval_s: float = 1.0
    sla_target_s: float = 9.0
    short_abandon_s: float = 5.0
    service_level_goal: float = 0.8
    abandonment_max: float = 0.1
    alert_webhook_url: str = ""
    ops_interval_s: float = 1.0
    position_interval_s: float = 1.0
    gc_sweep_s: float = 600.0
    # Topics are free text: at most this many get a metric label of their own (the first
    # seen); the rest count under "other". ``topics`` (MAYDAY_TOPICS, a comma list) fixes
    # the labels instead.
    max_topic_labels: int = 100
    topics: tuple[str, ...] = ()
    # permessage-deflate for clients that offer it (browsers do). Off by default, as in
    # PeerJS: it doubled the server's CPU per relayed frame and rules out batched writes
    # (docs/performance.md, benchmark 1 with --compress), for little gain on signaling.
    ws_compress: bool = False
    web_root: Path = field(default=WEB_ROOT)
    # Security (issue 16; docs/security.md). Tokens: ``iss`` required and checked when
    # set; clock skew allowed on exp, nbf and iat; no token may expire further ahead than
    # the max TTL (a day: an advisor's shift with room to spare, and a stolen token's
    # worst case). RS256/EdDSA keys of an integrator's backend: a PEM key or a JWKS file.
    jwt_issuer: str = ""
    jwt_leeway_s: int = 30
    jwt_max_ttl_s: int = 86400
    jwt_public_key: str = ""
    jwks_file: str = ""
    # Exact origins (scheme://host[:port]) a browser may call /ws and the APIs from; empty
    # lets any through (the token is still needed).
    allowed_origins: tuple[str, ...] = ()
    # A connection must have sent a whole request head this long after it opened (or after
    # the first byte of its next request); an idle keep-alive connection closes after
    # ``http_idle_timeout_s``.
    http_header_timeout_s: float = 10.0
    http_idle_timeout_s: float = 75.0
    # /metrics: open on the main port by default; "ops" needs an ops token or the scrape
    # token; with ``metrics_port`` it is served on its own listener only.
    metrics_auth: str = "none"
    metrics_token: str = ""
    metrics_host: str = ""
    metrics_port: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_security(self)
        object.__setattr__(self, "allowed_origins", normal_origins(self.allowed_origins))
        if self.gc_sweep_s < 1:
            raise SettingsError("gc_sweep_s must be at least 1 second")
        if self.max_frame_bytes < 1024:
            raise SettingsError("max_frame_bytes must be at least 1024")
        if self.jwt_secret and len(self.jwt_secret.encode()) < 32:
            raise SettingsError("jwt_secret must be at least 32 bytes (HS256 key length)")
        if not 1 <= self.max_topic_labels <= 10_000:
            raise SettingsError("max_topic_labels must be from 1 to 10000")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``MAYDAY_<FIELD>`` variables, then apply explicit overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"MAYDAY_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)


def _parse(name: str, raw: str) -> Any:
    default = getattr(Settings(), name)
    try:
        if name == "ice_servers":
            servers = json.loads(raw)
            if not isinstance(servers, list) or not all(isinstance(s, dict) for s in servers):
                raise SettingsError("MAYDAY_ICE_SERVERS must be a JSON list of objects")
            return tuple(servers)
        if name in ("turn_urls", "topics", "allowed_origins"):
            return tuple(u.strip() for u in raw.split(",") if u.strip())
        if name == "metrics_port":
            return int(raw)
        if name == "web_root":
            return Path(raw)
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise SettingsError(f"MAYDAY_{name.upper()}: {exc}") from exc
    return raw
