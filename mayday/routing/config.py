"""What the routing core can be configured with: the one definition of the routing settings.

``mayday.settings.Settings`` extends this class, so each setting is written once:
here, with its default; the server's settings, the memory store's router and the
Redis scripts (``lua_config``) all read these same fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from mayday.auth import IMPLIED_LEVEL, MAX_LEVEL, MIN_LEVEL


class SettingsError(ValueError):
    """A setting has a value the server cannot run with."""


MATCHES = ("all", "any", "none")


@dataclass(frozen=True)
class Step:
    """One step of the escalation: from ``after_s`` of waiting, an advisor fits a request
    with ``all`` of its skills, ``any`` one of them, or ``none`` needed, each at
    ``min_level`` at least (TaskRouter's workflow targets, timed from the request's age)."""

    after_s: float = 0.0
    skills: str = "all"
    min_level: int = MIN_LEVEL

    def to_json(self) -> dict[str, Any]:
        return {"after_s": self.after_s, "skills": self.skills, "min_level": self.min_level}


# Today's behaviour: all of the request's skills, at any level, for as long as it waits.
DEFAULT_ESCALATION = (Step(),)


def parse_escalation(raw: str) -> tuple[Step, ...]:
    """``MAYDAY_ESCALATION``: a JSON list of ``{after_s, skills, min_level?}``."""
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"escalation must be JSON: {exc}") from None
    if not isinstance(items, list) or not items or len(items) > 20:
        raise SettingsError("escalation must be a JSON list of 1 to 20 steps")
    steps = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or set(item) - {"after_s", "skills", "min_level"}:
            raise SettingsError(
                f"escalation step {n} must be an object of after_s, skills and min_level"
            )
        after, skills = item.get("after_s"), item.get("skills", "all")
        level = item.get("min_level", MIN_LEVEL)
        if isinstance(after, bool) or not isinstance(after, int | float):
            raise SettingsError(f"escalation step {n}: after_s must be a number of seconds")
        if isinstance(level, bool) or not isinstance(level, int):
            raise SettingsError(f"escalation step {n}: min_level must be an integer")
        steps.append(Step(float(after), skills, level))
    return tuple(steps)


def check_escalation(steps: tuple[Step, ...]) -> None:
    if not steps or steps[0].after_s != 0:
        raise SettingsError("escalation: the first step must have after_s 0")
    for n, step in enumerate(steps, 1):
        if step.skills not in MATCHES:
            raise SettingsError(f'escalation step {n}: skills must be "all", "any" or "none"')
        if not MIN_LEVEL <= step.min_level <= MAX_LEVEL:
            raise SettingsError(f"escalation step {n}: min_level must be from 1 to 5")
        if n > 1 and not steps[n - 2].after_s < step.after_s <= 86400:
            raise SettingsError(
                f"escalation step {n}: after_s must be more than the step before's, "
                "and at most 86400"
            )


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
    # The steps by which a waiting request's skill match widens with its age.
    escalation: tuple[Step, ...] = DEFAULT_ESCALATION
    # A decline hides the request from that advisor this long, not for good.
    decline_cooldown_s: float = 60.0
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
        check_escalation(self.escalation)
        if not 0 < self.decline_cooldown_s <= 3600:
            raise SettingsError("decline_cooldown_s must be more than 0 and at most 3600")
        if self.turn_urls and not self.turn_secret:
            raise SettingsError("turn_urls need a turn_secret")

    def lua_config(self) -> str:
        """The scalar routing settings as JSON, for the Redis scripts (``cfg`` in Lua)."""
        scalars = {
            f.name: getattr(self, f.name)
            for f in fields(RouterConfig)
            if isinstance(getattr(self, f.name), str | int | float) and f.name != "turn_secret"
        }
        steps = [step.to_json() for step in self.escalation]
        extra = {
            "media_kept": MEDIA_ENTRIES_KEPT,
            "escalation": steps,
            "implied_level": IMPLIED_LEVEL,
        }
        return json.dumps({**scalars, **extra}, sort_keys=True)
