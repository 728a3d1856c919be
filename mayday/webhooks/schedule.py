"""When a failed webhook delivery is tried again: a schedule with jitter, and the
receiver's ``Retry-After`` honoured as the least wait."""

from __future__ import annotations

import contextlib
import random
from email.utils import parsedate_to_datetime

# After the first attempt fails: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h (Svix's schedule);
# seven attempts over about 17.5 hours, each delay drawn within ±20 %.
RETRY_SCHEDULE_S = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0)
JITTER = 0.2
RETRY_AFTER_MAX_S = 86400.0


def retry_delay(
    attempt: int, schedule: tuple[float, ...], retry_after: float | None, rng: random.Random
) -> float | None:
    """How long after failed attempt ``attempt`` (1 for the first) to try again; None
    once the schedule is spent. ``Retry-After`` is honoured as the least wait."""
    if attempt > len(schedule):
        return None
    delay = schedule[attempt - 1] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_MAX_S))
    return delay


def retry_after_s(value: str | None, now: float) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    return None
