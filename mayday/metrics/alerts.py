"""Alerts raised once per episode and cleared with a recovery message, before a breach.

``AlertRules.evaluate`` is pure: it says which alerts hold now. The ledger
remembers which are raised, so a raise or a clear is announced once per
episode, and, on Redis, once across every server process (the first process
to record a change is the one that announces it).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Protocol

from mayday.metrics.tally import Measures
from mayday.protocol.ops import OpsAlert
from mayday.stores.keys import Keys
from mayday.stores.scripts import RedisClient


@dataclass(frozen=True)
class Alert:
    name: str
    message: str
    value: float


@dataclass(frozen=True)
class AlertRules:
    target_s: float = 9.0
    # Warn when the oldest wait passes this share of the target and no advisor is free.
    warn_fraction: float = 2 / 3
    service_level_goal: float = 0.8
    abandonment_max: float = 0.1
    # Rates over fewer requests than this say nothing yet.
    min_volume: int = 5

    def evaluate(
        self,
        oldest_wait_s: float | None,
        advisors_available: int,
        recent: Measures,
        *,
        unoffered: int = 0,
        declined_by_all: int = 0,
    ) -> list[Alert]:
        """The alerts whose condition holds now; ``recent`` is the rolling five minutes;
        ``unoffered``: waiting requests no advisor holds an offer of (waiting - reserved);
        ``declined_by_all``: waiting requests every online advisor has declined."""
        alerts = self._stranded(oldest_wait_s, advisors_available, unoffered, declined_by_all)
        warn_at = self.warn_fraction * self.target_s
        wait = oldest_wait_s or 0.0
        if wait >= self.target_s or (wait >= warn_at and advisors_available == 0):
            alerts.append(
                Alert(
                    "oldest_wait",
                    f"a user has waited {_seconds(wait)} with no advisor free; "
                    f"the target is {_seconds(self.target_s)}",
                    wait,
                )
            )
        volume = recent.answered + recent.abandoned
        sl = recent.service_level
        if volume >= self.min_volume and sl is not None and sl < self.service_level_goal:
            alerts.append(
                Alert(
                    "service_level",
                    f"service level {sl:.0%} over 5 min, below the goal of "
                    f"{self.service_level_goal:.0%}",
                    sl,
                )
            )
        rate = recent.abandonment_rate_excl_short
        if volume >= self.min_volume and rate is not None and rate > self.abandonment_max:
            alerts.append(
                Alert(
                    "abandonment",
                    f"{rate:.0%} of users gave up over 5 min (more than "
                    f"{self.abandonment_max:.0%})",
                    rate,
                )
            )
        return alerts

    def _stranded(
        self, oldest_wait_s: float | None, free: int, unoffered: int, declined: int
    ) -> list[Alert]:
        """Requests no one is being offered although advisors are there: every online
        advisor declined one (its cooldown hides it from them), or one has waited past
        the warning share of the target while advisors are free (skills nobody free has,
        or declines). The oldest-wait alert only covers the case with nobody free."""
        alerts = []
        if declined > 0:
            alerts.append(
                Alert(
                    "declined_by_all",
                    f"{declined} waiting request(s) declined by every online advisor",
                    float(declined),
                )
            )
        wait = oldest_wait_s or 0.0
        if free > 0 and unoffered > 0 and wait >= self.warn_fraction * self.target_s:
            alerts.append(
                Alert(
                    "waiting_while_free",
                    f"a user has waited {_seconds(wait)} while {free} advisor(s) are free",
                    wait,
                )
            )
        return alerts


class AlertLedger(Protocol):
    async def raise_(self, alert: Alert, now: float) -> bool:
        """Record ``alert`` as raised; True if it was not raised already."""
        ...

    async def clear(self, name: str) -> bool:
        """Record ``name`` as cleared; True if it was raised."""
        ...

    async def active(self) -> dict[str, dict[str, object]]: ...


class MemoryLedger:
    def __init__(self) -> None:
        self._raised: dict[str, dict[str, object]] = {}

    async def raise_(self, alert: Alert, now: float) -> bool:
        if alert.name in self._raised:
            return False
        self._raised[alert.name] = {"message": alert.message, "value": alert.value, "since": now}
        return True

    async def clear(self, name: str) -> bool:
        return self._raised.pop(name, None) is not None

    async def active(self) -> dict[str, dict[str, object]]:
        return dict(self._raised)


class RedisLedger:
    """One hash of raised alerts; HSETNX and HDEL make each change happen once."""

    def __init__(self, redis: RedisClient, keys: Keys | None = None) -> None:
        self.redis, self.key = redis, (keys or Keys()).alerts

    async def raise_(self, alert: Alert, now: float) -> bool:
        body = json.dumps({"message": alert.message, "value": alert.value, "since": now})
        return bool(await self.redis.hsetnx(self.key, alert.name, body))

    async def clear(self, name: str) -> bool:
        return bool(await self.redis.hdel(self.key, name))

    async def active(self) -> dict[str, dict[str, object]]:
        raw = await self.redis.hgetall(self.key)
        return {str(k): json.loads(v) for k, v in raw.items()}


RECOVERED = {
    "oldest_wait": "every waiting user is back within the target",
    "service_level": "service level back at the goal",
    "abandonment": "abandonment back under the threshold",
    "declined_by_all": "no waiting request is declined by every online advisor",
    "waiting_while_free": "no user waits while advisors are free",
}


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


async def changes(
    rules: AlertRules, ledger: AlertLedger, holding: list[Alert], now: float | None = None
) -> list[OpsAlert]:
    """Record what holds now; return the raises and clears this call was first to record."""
    at = time.time() if now is None else now
    events = []
    names = {a.name for a in holding}
    for alert in holding:
        if await ledger.raise_(alert, at):
            events.append(OpsAlert(alert.name, "raised", alert.message, alert.value, at))
    for name in set(await ledger.active()) - names:
        if await ledger.clear(name):
            message = RECOVERED.get(name, f"{name} back within bounds")
            events.append(OpsAlert(name, "cleared", message, 0.0, at))
    return events
