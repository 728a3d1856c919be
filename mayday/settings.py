"""Server settings: one frozen dataclass, read from ``MAYDAY_*`` variables and CLI flags."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mayday.routing.config import RouterConfig, SettingsError, parse_escalation
from mayday.routing.hours import Hours
from mayday.security_settings import check_security, normal_origins
from mayday.stores.topology import RedisUrlError, parse_redis_url
from mayday.webassets import default_root
from mayday.webhooks.endpoints import EndpointError, parse_endpoints
from mayday.webhooks.schedule import RETRY_SCHEDULE_S

# The pages packaged in the wheel, else those of the source checkout (mayday/webassets.py).
WEB_ROOT = default_root()

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
    # The old form of the alert webhook: alert events only, unsigned (docs/webhooks.md).
    alert_webhook_url: str = ""
    # Standard Webhooks endpoints, JSON [{url, secret, events}] (mayday/webhooks/), and
    # the delays between attempts of one delivery (Svix's schedule by default).
    webhooks: str = ""
    webhook_retry_s: tuple[float, ...] = RETRY_SCHEDULE_S
    webhook_timeout_s: float = 15.0
    ops_interval_s: float = 1.0
    position_interval_s: float = 1.0
    gc_sweep_s: float = 600.0
    # Topics are free text: at most this many get a metric label of their own (the first
    # seen); the rest count under "other". ``topics`` (MAYDAY_TOPICS, a comma list) fixes
    # the labels instead.
    max_topic_labels: int = 100
    max_sockets_per_identity: int = 5
    # A clean stop (SIGTERM): each client is told to reconnect after a delay drawn from
    # [0, drain_spread_s] (a node's clients do not all come back in the same moment),
    # and the process exits once every socket closed or after drain_timeout_s.
    drain_spread_s: float = 2.0
    drain_timeout_s: float = 10.0
    topics: tuple[str, ...] = ()
    # Business hours (mayday/routing/hours.py), JSON; empty: always open. Outside them, or
    # with nobody online who could take a request, help.queued says offline and back_at.
    hours: str = ""
    # A request that expires while its user is away (dropped, in the grace period) becomes
    # a message in the advisors' inbox, so nobody who pressed Help is forgotten.
    expired_to_message: bool = True
    # permessage-deflate for clients that offer it (browsers do). Off by default, as in
    # PeerJS: it doubled the server's CPU per relayed frame and rules out batched writes
    # (docs/performance.md, benchmark 1 with --compress), for little gain on signaling.
    ws_compress: bool = False
    web_root: Path = field(default=WEB_ROOT)
    # Where the memory store keeps what must outlive the process (the advisors' notes);
    # unused with Redis, which keeps them itself. The default is per user, not the
    # working directory, so `make run` from any folder finds the same notes again.
    data_dir: Path = field(default_factory=lambda: default_data_dir())
    # Security (issue 16; docs/security.md). Tokens: ``iss`` required and checked when
    # set; clock skew allowed on exp, nbf and iat; no token may expire further ahead than
    # the max TTL (a day: an advisor's shift with room to spare, and a stolen token's
    # worst case). RS256/EdDSA keys of an integrator's backend: a PEM key or a JWKS file.
    jwt_issuer: str = ""
    jwt_leeway_s: int = 30
    jwt_max_ttl_s: int = 86400
    jwt_public_key: str = ""
    jwks_file: str = ""
    # An open socket ends with its token: ``auth.expiring`` this long before its exp, and a
    # close with 4401 ``token_expiry_grace_s`` after it unless ``auth.refresh`` came with a
    # new token (docs/protocol.md, "Token expiry and refresh").
    token_expiry_notice_s: float = 60.0
    token_expiry_grace_s: float = 30.0
    # Exact origins (scheme://host[:port]) a browser may call /ws and the APIs from; empty
    # lets any through (the token is still needed).
    allowed_origins: tuple[str, ...] = ()
    # Origins (or "self") allowed to show the pages in a frame, e.g. an integrator's app
    # that embeds the tablet page; none by default (frame-ancestors 'none').
    frame_ancestors: tuple[str, ...] = ()
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
    log_level: str = "INFO"
    log_format: str = "plain"
    api_only: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_security(self)
        object.__setattr__(self, "allowed_origins", normal_origins(self.allowed_origins))
        others = tuple(a for a in self.frame_ancestors if a != "self")
        framing = ("self",) * (len(others) < len(self.frame_ancestors)) + normal_origins(others)
        object.__setattr__(self, "frame_ancestors", framing)
        if self.gc_sweep_s < 1:
            raise SettingsError("gc_sweep_s must be at least 1 second")
        if self.max_frame_bytes < 1024:
            raise SettingsError("max_frame_bytes must be at least 1024")
        if self.jwt_secret and len(self.jwt_secret.encode()) < 32:
            raise SettingsError("jwt_secret must be at least 32 bytes (HS256 key length)")
        if not 1 <= self.max_sockets_per_identity <= 1000:
            raise SettingsError("max_sockets_per_identity must be from 1 to 1000")
        if not 0 <= self.drain_spread_s <= 60 or not 0 < self.drain_timeout_s <= 600:
            raise SettingsError("drain_spread_s must be 0 to 60, drain_timeout_s 0 to 600")
        Hours.parse(self.hours)  # a bad schedule stops the start with its reason
        _check_webhooks(self)
        if not 1 <= self.max_topic_labels <= 10_000:
            raise SettingsError("max_topic_labels must be from 1 to 10000")
        _check_logging(self)
        _check_redis_url(self.redis_url)

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
        if name in _PARSERS:
            return _PARSERS[name](raw)
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise SettingsError(f"MAYDAY_{name.upper()}: {exc}") from exc
    return raw


def _ice_servers(raw: str) -> tuple[dict[str, Any], ...]:
    servers = json.loads(raw)
    if not isinstance(servers, list) or not all(isinstance(s, dict) for s in servers):
        raise SettingsError("MAYDAY_ICE_SERVERS must be a JSON list of objects")
    return tuple(servers)


def _comma_list(raw: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in raw.split(",") if u.strip())


# Settings whose variable is not read by the type of their default.
_PARSERS: dict[str, Callable[[str], Any]] = {
    "ice_servers": _ice_servers,
    "escalation": parse_escalation,
    "turn_urls": _comma_list,
    "topics": _comma_list,
    "allowed_origins": _comma_list,
    "frame_ancestors": _comma_list,
    "webhook_retry_s": lambda raw: tuple(float(u) for u in _comma_list(raw)),
    "metrics_port": int,
    "web_root": Path,
    "data_dir": Path,
}


def default_data_dir() -> Path:
    """``./mayday-data``: beside where the server is started (issue 12 names it), so
    ``make run`` in the checkout keeps its data there; a service sets its own."""
    return Path("mayday-data")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("plain", "json")


def _check_webhooks(settings: Settings) -> None:
    try:
        parse_endpoints(settings.webhooks, settings.alert_webhook_url)
    except EndpointError as exc:
        raise SettingsError(str(exc)) from None
    if (
        not all(0 < d <= 86400 for d in settings.webhook_retry_s)
        or len(settings.webhook_retry_s) > 20
    ):
        raise SettingsError("webhook_retry_s: at most 20 delays, each over 0 and at most a day")


def _check_redis_url(url: str | None) -> None:
    """A Redis URL that names no topology stops the start (its message shows no password)."""
    if url:
        try:
            parse_redis_url(url)
        except RedisUrlError as exc:
            raise SettingsError(f"redis_url: {exc}") from None


def _check_logging(settings: Settings) -> None:
    if settings.log_level.upper() not in LOG_LEVELS:
        raise SettingsError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
    if settings.log_format not in LOG_FORMATS:
        raise SettingsError(f'log_format must be "plain" or "json", not "{settings.log_format}"')


# What each setting does, for ``mayday serve --help`` and ``mayday check-config``: one line
# each, the variable and the default are added from the field. Every field of Settings
# (and of RouterConfig) has one; tests/test_settings_help.py fails on a field without.
SETTING_HELP: dict[str, str] = {
    "resume_grace_s": "seconds a dropped socket's identity keeps its request, session and place",
    "jwt_issuer": "when set, tokens must carry this iss (and mayday token writes it)",
    "jwt_leeway_s": "clock skew allowed on exp, nbf and iat, in seconds",
    "jwt_max_ttl_s": "no token may expire further ahead than this many seconds",
    "jwt_public_key": "RS256/EdDSA public key of the integrator's backend: PEM text or a file",
    "jwks_file": "a JWKS file of public keys, re-read when it changes (kid rotation)",
    "token_expiry_notice_s": "seconds before a socket's token expires that it is sent "
    "auth.expiring",
    "token_expiry_grace_s": "seconds after its token's exp that a socket not refreshed with "
    "auth.refresh is closed with 4401",
    "allowed_origins": "exact browser origins allowed to call /ws and the APIs (comma list)",
    "frame_ancestors": "origins (or self) that may show the pages in a frame (comma list)",
    "http_header_timeout_s": "seconds a connection has to send a whole request head",
    "http_idle_timeout_s": "seconds an idle keep-alive connection stays open",
    "metrics_auth": "none (open) or ops: /metrics needs an ops token or the scrape token",
    "metrics_token": "a scrape token /metrics accepts when metrics_auth is ops",
    "metrics_host": "address of a listener of its own for /metrics (with metrics_port)",
    "metrics_port": "port of a listener of its own for /metrics; the main port then has none",
    "routing_mode": "offer: each request reserved for one advisor at a time; claim: first wins",
    "reservation_timeout_s": "seconds an offer holds before it moves to the next advisor",
    "offerer": "who sends the first SDP offer in a session: advisor or user",
    "ice_servers": "ICE servers given to both peers, a JSON list of RTCIceServer objects",
    "turn_urls": "TURN server URLs (comma list); short-lived credentials from turn_secret",
    "turn_secret": "shared secret of the TURN server (coturn use-auth-secret)",
    "turn_ttl_s": "seconds the TURN credentials of a session are valid",
    "default_handle_time_s": "handle time assumed for wait estimates before any is measured",
    "request_ttl_s": "seconds a request waits for an advisor before it expires",
    "priority_step_s": "seconds of waiting one level of a user's priority claim is worth "
    "in the queue order (0: arrival order only)",
    "escalation": "how a waiting request's skill match widens with its age, a JSON list of "
    "{after_s, skills: all|any|none, min_level 1-5}; a step no online advisor fits is skipped",
    "decline_cooldown_s": "seconds a decline hides the request from that advisor",
    "history_limit": "finished requests the memory store keeps",
    "history_ttl_s": "seconds Redis keeps a finished request",
    "host": "address to bind",
    "port": "port to bind (0 picks a free one)",
    "jwt_secret": "HS256 secret that signs and checks tokens, at least 32 bytes (required)",
    "jwt_audience": "the aud claim tokens must carry",
    "redis_url": "share the queue and relay through Redis at this URL (empty: in memory): "
    "redis://HOST:PORT/DB, redis+sentinel://HOST:PORT[,HOST:PORT...]/SERVICE_NAME or "
    "redis+cluster://HOST:PORT[,HOST:PORT...]; credentials as [USER]:PASSWORD@ before the hosts",
    "max_frame_bytes": "largest client frame accepted, in UTF-8 bytes",
    "outbound_queue_limit": "frames queued for one socket before it is cut off as slow",
    "rate_limit_per_s": "frames per second one socket may send, on average",
    "rate_limit_burst": "frames one socket may send at once",
    "annotation_rate_per_s": "annotation and control frames per second, per advisor",
    "annotation_burst": "annotation and control frames one advisor may send at once",
    "summary_interval_s": "seconds between queue summaries to advisors and ops",
    "sla_target_s": "time-to-advisor target, seconds",
    "short_abandon_s": "users who give up sooner than this are short abandons, seconds",
    "service_level_goal": "share of requests to answer within the target (0..1)",
    "abandonment_max": "abandonment share above which an alert is raised (0..1)",
    "alert_webhook_url": "old form: URL that receives alert events as JSON, unsigned (empty: none)",
    "webhooks": "Standard Webhooks endpoints as JSON [{url, secret, events}] (docs/webhooks.md)",
    "webhook_retry_s": "seconds between a failed webhook delivery's attempts (comma list)",
    "webhook_timeout_s": "seconds a webhook endpoint has to answer one attempt",
    "ops_interval_s": "seconds between ops views, alert checks and request expiry",
    "position_interval_s": "seconds between queue position updates to waiting users",
    "gc_sweep_s": "seconds between full sweeps of the garbage collector (sooner, at most "
    "every 30 s, once 250 sockets or a quarter of the open ones closed)",
    "max_sockets_per_identity": "open sockets one identity may hold on one server process; "
    "a new one past it is closed with 4429",
    "drain_spread_s": "a stopping node tells each client to reconnect within this many seconds",
    "drain_timeout_s": "seconds a stopping node waits for its sockets to close before exiting",
    "max_topic_labels": "topics with a metric label of their own; the rest count as other",
    "hours": "business hours as JSON (timezone, weekly windows, dated exceptions); empty: always",
    "expired_to_message": "a request that expires while its user is away becomes a message "
    "for the advisors (origin expired)",
    "topics": "the topics with metric labels (comma list), instead of the first seen",
    "ws_compress": "permessage-deflate for clients that offer it",
    "data_dir": "folder where the memory store keeps finished requests, notes, ratings, "
    "messages and the webhook outbox (*.sqlite3); unused with redis_url",
    "web_root": "folder of the web pages (default: those in the package, or webclient/)",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
    "log_format": "plain (one line a record) or json (one JSON object a line)",
    "api_only": "serve the API and /ws without the web pages",
}


def is_secret(name: str) -> bool:
    """Whether a setting's value must never be shown (check-config masks it)."""
    # The webhooks' JSON holds their secrets (and URLs that are often credentials).
    words = ("secret", "password", "private", "token")
    return name == "webhooks" or any(word in name for word in words)
