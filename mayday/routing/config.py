"""What the routing core can be configured with: the one definition of the routing settings.

``mayday.settings.Settings`` extends this class, so each setting is written once:
here, with its default; the server's settings, the memory store's router and the
Redis scripts (``lua_config``) all read these same fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any


class SettingsError(ValueError):
    """A setting has a value the server cannot run with."""


# At most this many media.state reports on one request's timeline (both stores): a client
# that reports many times a second must not grow it, and the store, without bound.
MEDIA_ENTRIES_KEPT = 64


@dataclass(frozen=True)
class RouterConfig:
    # "offer": each request is reserved for one advisor at a time. "claim": every free
    # advisor sees the waiting requests and the first to accept one wins it.
    routing_mode: str = "offer"
    reservation_timeout_s: float = 15.0
    offerer: str = "advisor"
    ice_servers: tuple[dict[str, Any], ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = ""
    turn_ttl_s: int = 3600
    default_handle_time_s: float = 300.0
    request_ttl_s: float = 900.0
    # Each level of a user's priority claim counts as this many seconds of waiting more:
    # the queue is ordered by enqueue time - priority * step (0: arrival order only).
    priority_step_s: float = 60.0
    # How long a dropped identity keeps its place: its request, its session, its presence.
    resume_grace_s: float = 30.0
    # How many finished requests the memory store keeps; Redis keeps them for a time.
    history_limit: int = 10_000
    history_ttl_s: float = 7 * 24 * 3600.0

    def __post_init__(self) -> None:
        if self.offerer not in ("user", "advisor"):
            raise SettingsError(f'offerer must be "user" or "advisor", not "{self.offerer}"')
        if self.routing_mode not in ("offer", "claim"):
            raise SettingsError(
                f'routing_mode must be "offer" or "claim", not "{self.routing_mode}"'
            )
        if self.reservation_timeout_s <= 0:
            raise SettingsError("reservation_timeout_s must be positive")
        if not 0 <= self.priority_step_s <= 3600:
            raise SettingsError("priority_step_s must be from 0 to 3600")
        if not 0 < self.resume_grace_s <= 3600:
            raise SettingsError("resume_grace_s must be more than 0 and at most 3600")
        if self.turn_urls and not self.turn_secret:
            raise SettingsError("turn_urls need a turn_secret")

    def lua_config(self) -> str:
        """The scalar routing settings as JSON, for the Redis scripts (``cfg`` in Lua)."""
        scalars = {
            f.name: getattr(self, f.name)
            for f in fields(RouterConfig)
            if isinstance(getattr(self, f.name), str | int | float) and f.name != "turn_secret"
        }
        return json.dumps({**scalars, "media_kept": MEDIA_ENTRIES_KEPT}, sort_keys=True)
