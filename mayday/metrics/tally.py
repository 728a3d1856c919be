"""Counts that add up: one ``Tally`` per minute (or hour) and topic, summed over any window.

Every measure in docs/metrics.md is a function of these sums, so a window of
five minutes, an hour or a day, on one process or summed from Redis, gives
the same numbers by the same formulas. Time histograms keep counts per
bucket, with buckets dense around the target, and percentiles are read off
them by linear interpolation inside the bucket.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mayday.routing.events import Observe

# Bucket upper bounds as fractions of the target: dense from half the target to
# a little past it, where the service level is decided.
FRACTIONS = (
    0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95,
    1.0, 1.05, 1.1, 1.2, 1.35, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0,
)  # fmt: skip


@functools.cache
def bucket_edges(target_s: float) -> tuple[float, ...]:
    """Histogram upper bounds in seconds for a target; the last bucket is +Inf. Cached:
    the ops view reads them for every topic and window each second."""
    return tuple(round(f * target_s, 6) for f in FRACTIONS)


@functools.cache
def _bucket_names(prefix: str, buckets: int) -> tuple[str, ...]:
    return tuple(f"{prefix}:{i}" for i in range(buckets))


@dataclass(frozen=True)
class Rules:
    """What the measures are judged against."""

    target_s: float = 9.0
    short_abandon_s: float = 5.0

    @property
    def edges(self) -> tuple[float, ...]:
        return bucket_edges(self.target_s)


Tally = dict[str, float]


def increments(ob: Observe, rules: Rules) -> Tally:
    """The counters one observation adds to its minute's tally."""
    c: defaultdict[str, float] = defaultdict(float)
    if ob.metric == "time_to_accept":
        c["accepted"] += 1
        c["accept_sum"] += ob.value
        c[f"tta:{_bucket(ob.value, rules.edges)}"] += 1
    elif ob.metric == "time_to_advisor":
        c["first_frames"] += 1
        c["advisor_sum"] += ob.value
        c[f"ttadv:{_bucket(ob.value, rules.edges)}"] += 1
        c["within"] += float(ob.value <= rules.target_s)
    elif ob.metric == "outcome" and ob.label in ("cancelled", "abandoned"):
        c["abandoned"] += 1
        c["abandon_sum"] += ob.value
        c["short_abandoned"] += float(ob.value < rules.short_abandon_s)
        c["abandoned_within"] += float(ob.value <= rules.target_s)
    elif ob.metric == "outcome" and ob.label == "expired":
        c["expired"] += 1
    elif ob.metric == "outcome" and ob.label == "message":
        # Left a message instead of waiting: not answered, and not given up either (the
        # request is answered later, by a reply); counted apart from both.
        c["messages"] += 1
    elif ob.metric == "missed_offer":
        c["missed_offers"] += 1
    elif ob.metric == "advisor_time" and ob.label == "busy":
        c["busy_s"] += ob.value
    elif ob.metric == "advisor_time" and ob.label in ("available", "reserved"):
        c["available_s"] += ob.value
    return {k: v for k, v in c.items() if v}


def _bucket(value: float, edges: tuple[float, ...]) -> int:
    for i, edge in enumerate(edges):
        if value <= edge:
            return i
    return len(edges)


@dataclass(frozen=True)
class Measures:
    """The SLA measures of one window (overall or one topic); formulas in docs/metrics.md."""

    answered: int
    first_frames: int
    abandoned: int
    short_abandoned: int
    expired: int
    messages: int  # requests the user replaced by a message (``message.leave``)
    missed_offers: int
    service_level: float | None
    service_level_answered: float | None
    average_speed_of_answer_s: float | None
    abandonment_rate: float | None
    abandonment_rate_excl_short: float | None
    average_time_to_abandon_s: float | None
    occupancy: float | None
    time_to_accept_p50_s: float | None
    time_to_accept_p90_s: float | None
    time_to_accept_p99_s: float | None
    time_to_advisor_p50_s: float | None
    time_to_advisor_p90_s: float | None
    time_to_advisor_p99_s: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        """The fields by name (``dataclasses.asdict`` without its deep copy: every field is
        a number)."""
        return dict(vars(self))


def measures(sums: Mapping[str, float], rules: Rules) -> Measures:
    """Turn summed counters into the measures."""

    def g(name: str) -> float:
        return float(sums.get(name, 0.0))

    answered, abandoned, short = g("accepted"), g("abandoned"), g("short_abandoned")
    within, abandoned_within = g("within"), g("abandoned_within")
    buckets = len(rules.edges) + 1
    tta = [g(name) for name in _bucket_names("tta", buckets)]
    ttadv = [g(name) for name in _bucket_names("ttadv", buckets)]
    return Measures(
        answered=int(answered),
        first_frames=int(g("first_frames")),
        abandoned=int(abandoned),
        short_abandoned=int(short),
        expired=int(g("expired")),
        messages=int(g("messages")),
        missed_offers=int(g("missed_offers")),
        service_level=_ratio(within + abandoned_within, answered + abandoned),
        service_level_answered=_ratio(within, answered + abandoned - short),
        average_speed_of_answer_s=_ratio(g("accept_sum"), answered),
        abandonment_rate=_ratio(abandoned, answered + abandoned),
        abandonment_rate_excl_short=_ratio(abandoned - short, answered + abandoned - short),
        average_time_to_abandon_s=_ratio(g("abandon_sum"), abandoned),
        occupancy=_ratio(g("busy_s"), g("busy_s") + g("available_s")),
        time_to_accept_p50_s=percentile(tta, rules.edges, 0.50),
        time_to_accept_p90_s=percentile(tta, rules.edges, 0.90),
        time_to_accept_p99_s=percentile(tta, rules.edges, 0.99),
        time_to_advisor_p50_s=percentile(ttadv, rules.edges, 0.50),
        time_to_advisor_p90_s=percentile(ttadv, rules.edges, 0.90),
        time_to_advisor_p99_s=percentile(ttadv, rules.edges, 0.99),
    )


def _ratio(part: float, whole: float) -> float | None:
    return None if whole <= 0 else part / whole


def percentile(counts: list[float], edges: tuple[float, ...], q: float) -> float | None:
    """The q-quantile from bucket counts, interpolating linearly inside its bucket.

    The first bucket starts at 0; a quantile in the +Inf bucket is reported as
    the last finite edge (the histogram cannot say more).
    """
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for i, n in enumerate(counts):
        if n and seen + n >= rank:
            if i == len(edges):
                return edges[-1]
            low = 0.0 if i == 0 else edges[i - 1]
            return low + (edges[i] - low) * (rank - seen) / n
        seen += n
    return edges[-1]


def add(into: Tally, more: Mapping[str, float]) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0.0) + value


def total(tallies: Iterable[Mapping[str, float]]) -> Tally:
    out: Tally = {}
    for t in tallies:
        add(out, t)
    return out


def minute_of(t: float) -> int:
    return math.floor(t / 60)


def hour_of(t: float) -> int:
    return math.floor(t / 3600)
