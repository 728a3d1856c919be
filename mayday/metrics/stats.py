"""Where the tallies live: in this process, or in Redis so every process adds to the same ones.

Minute tallies serve windows up to an hour, hour tallies the day. Both are
written on every observation (one script call on Redis) and expire by
themselves. Each advisor's calls, declines and missed offers are counted apart,
by UTC day, for the ops table (a second round trip on Redis, only for the
operations that have them: an accept, a decline, an offer timing out).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from mayday.metrics.tally import Rules, Tally, add, hour_of, increments, minute_of
from mayday.routing.events import Observe
from mayday.stores.keys import Keys
from mayday.stores.scripts import RedisClient, Script

MINUTE_KEEP_S = 2 * 3600
HOUR_KEEP_S = 2 * 86400
DAY_KEEP_S = 2 * 86400
# Observations that name an advisor (``label``), and the counter each adds to.
ADVISOR_COUNTERS = {"answered_by": "calls", "declined": "declines", "missed_offer": "missed_offers"}

ByTopic = dict[str, Tally]


def _slots(since: float, now: float) -> tuple[str, range]:
    if now - since <= 3600:
        return "m", range(minute_of(since), minute_of(now) + 1)
    return "h", range(hour_of(since), hour_of(now) + 1)


# Advisor time and missed offers belong to no request: they are kept apart from the topics.
ADVISORS = "(advisors)"


def day_of(t: float) -> int:
    """The UTC day of ``t``, in days since the epoch."""
    return math.floor(t / 86400)


def _per_advisor(observations: Iterable[Observe]) -> dict[str, Tally]:
    out: defaultdict[str, Tally] = defaultdict(dict)
    for ob in observations:
        counter = ADVISOR_COUNTERS.get(ob.metric)
        if counter is not None and ob.label:
            add(out[ob.label], {counter: 1.0})
    return dict(out)


def _topic(ob: Observe) -> str:
    if ob.metric in ("advisor_time", "missed_offer"):
        return ADVISORS
    return ob.topic or "none"


class StatsStore(Protocol):
    async def record(self, observations: Iterable[Observe], now: float) -> None: ...

    async def window(self, since: float, now: float) -> ByTopic:
        """Tallies from ``since`` to ``now`` (whole minutes, or whole hours past an hour)."""
        ...

    async def advisor_day(self, now: float) -> dict[str, Tally]:
        """Each advisor's counters (``ADVISOR_COUNTERS``) on the UTC day of ``now``."""
        ...


class MemoryStats:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._slots: dict[tuple[str, int], defaultdict[str, Tally]] = {}
        self._days: dict[int, defaultdict[str, Tally]] = {}

    async def record(self, observations: Iterable[Observe], now: float) -> None:
        observations = list(observations)
        for advisor, tally in _per_advisor(observations).items():
            add(self._days.setdefault(day_of(now), defaultdict(dict))[advisor], tally)
        for ob in observations:
            inc = increments(ob, self.rules)
            if not inc:
                continue
            for kind, slot in (("m", minute_of(now)), ("h", hour_of(now))):
                add(self._slots.setdefault((kind, slot), defaultdict(dict))[_topic(ob)], inc)
        self._prune(now)

    async def window(self, since: float, now: float) -> ByTopic:
        kind, slots = _slots(since, now)
        out: ByTopic = defaultdict(dict)
        for slot in slots:
            for topic, tally in self._slots.get((kind, slot), {}).items():
                add(out[topic], tally)
        return dict(out)

    async def advisor_day(self, now: float) -> dict[str, Tally]:
        return {a: dict(t) for a, t in self._days.get(day_of(now), {}).items()}

    def _prune(self, now: float) -> None:
        oldest = {"m": minute_of(now - MINUTE_KEEP_S), "h": hour_of(now - HOUR_KEEP_S)}
        for key in [k for k in self._slots if k[1] < oldest[k[0]]]:
            del self._slots[key]
        for day in [d for d in self._days if d < day_of(now - DAY_KEEP_S)]:
            del self._days[day]


class RedisStats:
    """Tallies as Redis hashes, field ``topic|counter``, added to with HINCRBYFLOAT."""

    def __init__(self, redis: RedisClient, rules: Rules, keys: Keys | None = None) -> None:
        self.redis, self.rules, self.keys = redis, rules, keys or Keys()
        # One script call per operation (it was a pipeline of two commands per counter).
        self._add = Script(redis, "stats_add")

    async def record(self, observations: Iterable[Observe], now: float) -> None:
        observations = list(observations)
        await self._record_advisors(_per_advisor(observations), now)
        summed: Tally = {}
        for ob in observations:
            topic = _topic(ob)
            add(summed, {f"{topic}|{name}": v for name, v in increments(ob, self.rules).items()})
        if not summed:
            return
        args: list[str | float] = [MINUTE_KEEP_S, HOUR_KEEP_S]
        for field, value in summed.items():
            args += [field, value]
        keys = [self.keys.stats("m", minute_of(now)), self.keys.stats("h", hour_of(now))]
        await self._add(keys, args)

    async def _record_advisors(self, per_advisor: dict[str, Tally], now: float) -> None:
        if not per_advisor:
            return
        key = self.keys.advisor_day(day_of(now))
        async with self.redis.pipeline(transaction=False) as pipe:
            for advisor, tally in per_advisor.items():
                for counter, value in tally.items():
                    pipe.hincrbyfloat(key, f"{advisor}|{counter}", value)
            pipe.expire(key, DAY_KEEP_S)
            await pipe.execute()

    async def advisor_day(self, now: float) -> dict[str, Tally]:
        raw = await self.redis.hgetall(self.keys.advisor_day(day_of(now)))
        out: defaultdict[str, Tally] = defaultdict(dict)
        for field, value in raw.items():
            advisor, counter = str(field).rsplit("|", 1)
            add(out[advisor], {counter: float(value)})
        return dict(out)

    async def window(self, since: float, now: float) -> ByTopic:
        kind, slots = _slots(since, now)
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                pipe.hgetall(self.keys.stats(kind, slot))
            hashes = await pipe.execute()
        out: ByTopic = defaultdict(dict)
        for fields in hashes:
            for field, value in fields.items():
                topic, name = str(field).rsplit("|", 1)
                add(out[topic], {name: float(value)})
        return dict(out)
