"""The tallies in this process and in Redis (a real redis-server) add up the same way: topic
windows, and each advisor's day apart from them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mayday.metrics.stats import MemoryStats, RedisStats, StatsStore
from mayday.metrics.tally import Rules
from mayday.routing.events import Observe
from mayday.stores.scripts import connect
from tests.redis_server import RedisServer

RULES = Rules(target_s=9.0)
DAY = 86400.0 * 20_000  # a UTC midnight


@pytest.fixture(params=["memory", "redis"])
async def stats(request: pytest.FixtureRequest) -> AsyncIterator[StatsStore]:
    if request.param == "memory":
        yield MemoryStats(RULES)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis = connect(server.url)
    await redis.flushall()
    yield RedisStats(redis, RULES)
    await redis.aclose()


async def test_advisor_days_are_counted_apart_from_the_topics(stats: StatsStore) -> None:
    """Calls, declines and missed offers count per advisor (ids with "|" too) and per UTC
    day; the topic window still has the missed offer once, under the advisors' row."""
    await stats.record(
        [
            Observe("time_to_accept", 2.0, "wifi"),
            Observe("outcome", 2.0, "wifi", "answered"),
            Observe("answered_by", 1.0, "", "a|1"),
        ],
        DAY + 10,
    )
    await stats.record([Observe("declined", 1.0, "", "a2")], DAY + 20)
    await stats.record([Observe("missed_offer", 1.0, "", "a2")], DAY + 30)
    await stats.record([Observe("answered_by", 1.0, "", "a2")], DAY - 10)  # the day before

    assert await stats.advisor_day(DAY + 50) == {
        "a|1": {"calls": 1.0},
        "a2": {"declines": 1.0, "missed_offers": 1.0},
    }
    assert await stats.advisor_day(DAY - 1) == {"a2": {"calls": 1.0}}
    window = await stats.window(DAY, DAY + 59)
    assert set(window) == {"wifi", "(advisors)"}
    assert window["(advisors)"] == {"missed_offers": 1.0}
    assert window["wifi"]["accepted"] == 1.0
