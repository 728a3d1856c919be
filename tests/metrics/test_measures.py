"""SLA measures on a scripted timeline with a hand-set clock: every formula of docs/metrics.md."""

from __future__ import annotations

import dataclasses

import pytest

from mayday.metrics.stats import MemoryStats
from mayday.metrics.tally import Rules, bucket_edges, measures, percentile, total
from mayday.routing.config import RouterConfig
from mayday.routing.core import Router
from mayday.routing.events import (
    Disconnected,
    Effect,
    GraceExpired,
    HelpCancelled,
    MediaReported,
    Observe,
    SessionEndRequested,
)
from tests.routing.helpers import accept, ask, available

RULES = Rules(target_s=9.0, short_abandon_s=5.0)


async def scripted_day() -> tuple[MemoryStats, list[Observe]]:
    """Four requests, one advisor: two answered (one in time), one short and one long abandon."""
    router, stats, seen = Router(RouterConfig(resume_grace_s=2.0)), MemoryStats(RULES), []

    async def at(now: float, effects: list[Effect]) -> None:
        obs = [e for e in effects if isinstance(e, Observe)]
        seen.extend(obs)
        await stats.record(obs, now)

    await at(0, available(router, "a1", 0))
    await at(1, ask(router, "u1", "r1", 1, topic="wifi"))
    await at(2, ask(router, "u2", "r2", 2, topic="printer"))
    await at(3, accept(router, "a1", "r1", 3))
    await at(4, ask(router, "u3", "r3", 4, topic="wifi"))
    await at(5, router.handle(MediaReported("user", "u1", "ses-r1", "first_frame"), 5))
    await at(5.5, router.handle(MediaReported("user", "u1", "ses-r1", "first_frame"), 5.5))
    await at(6, router.handle(Disconnected("user", "u3"), 6))
    await at(8, router.handle(GraceExpired("user", "u3", 1), 8))  # abandoned as of 6
    await at(7, ask(router, "u4", "r4", 7, topic="wifi"))
    await at(19, router.handle(HelpCancelled("u4", "r4"), 19))
    await at(20, router.handle(SessionEndRequested("advisor", "a1", "ses-r1", "done"), 20))
    await at(22, accept(router, "a1", "r2", 22))
    await at(25, router.handle(MediaReported("user", "u2", "ses-r2", "first_frame"), 25))
    await at(30, router.handle(SessionEndRequested("user", "u2", "ses-r2", "done"), 30))
    return stats, seen


async def test_the_core_observes_each_fact_once() -> None:
    """Accepts (and who answered), first frames (the repeated one ignored), outcomes and
    advisor time are observed."""
    _, seen = await scripted_day()
    kinds = [(o.metric, o.label, o.value) for o in seen if o.metric != "advisor_time"]
    assert kinds == [
        ("time_to_accept", "", 2.0),
        ("outcome", "answered", 2.0),
        ("answered_by", "a1", 1.0),
        ("time_to_advisor", "", 4.0),
        ("drop", "user", 1.0),
        ("grace_expired", "user", 1.0),
        ("outcome", "abandoned", 2.0),
        ("outcome", "cancelled", 12.0),
        ("time_to_accept", "", 20.0),
        ("outcome", "answered", 20.0),
        ("answered_by", "a1", 1.0),
        ("time_to_advisor", "", 23.0),
    ]


async def test_each_advisors_day_is_counted_apart() -> None:
    """Calls, declines and missed offers are counted per advisor and UTC day, and none of
    them changes the topic tallies."""
    stats, _ = await scripted_day()
    assert await stats.advisor_day(30) == {"a1": {"calls": 2.0}}
    await stats.record(
        [Observe("declined", 1.0, "", "a2"), Observe("missed_offer", 1.0, "", "a2")], 40
    )
    assert (await stats.advisor_day(50))["a2"] == {"declines": 1.0, "missed_offers": 1.0}
    assert await stats.advisor_day(86400 + 50) == {}
    window = await stats.window(0, 59)
    assert "a2" not in window and "a1" not in window


async def test_measures_over_the_scripted_window() -> None:
    """Service level both ways, ASA, abandonment, time to abandon and occupancy by hand."""
    stats, _ = await scripted_day()
    m = measures(total((await stats.window(0, 59)).values()), RULES)
    assert (m.answered, m.first_frames, m.abandoned, m.short_abandoned) == (2, 2, 2, 1)
    assert m.service_level == pytest.approx((1 + 1) / (2 + 2))  # r1 in time, r3 left in time
    assert m.service_level_answered == pytest.approx(1 / (2 + 2 - 1))  # short abandon excluded
    assert m.average_speed_of_answer_s == pytest.approx((2 + 20) / 2)
    assert m.abandonment_rate == pytest.approx(2 / 4)
    assert m.abandonment_rate_excl_short == pytest.approx(1 / 3)
    assert m.average_time_to_abandon_s == pytest.approx((2 + 12) / 2)
    # a1: available 0-1, reserved 1-3, busy 3-20, reserved 20-22, busy 22-30.
    assert m.occupancy == pytest.approx((17 + 8) / (17 + 8 + 1 + 2 + 2))


async def test_percentiles_interpolate_inside_dense_buckets() -> None:
    """Percentiles come from bucket counts; the edges sit at fractions of the target."""
    stats, _ = await scripted_day()
    m = measures(total((await stats.window(0, 59)).values()), RULES)
    edges = bucket_edges(9.0)
    assert 9.0 in edges and edges.index(9.0) > len(edges) // 2 - 3  # dense around the target
    assert m.time_to_accept_p50_s == pytest.approx(2.7)  # 2 s lies in (1.8, 2.7]
    assert m.time_to_accept_p90_s == pytest.approx(18 + 9 * 0.8)  # 20 s lies in (18, 27]
    assert m.time_to_advisor_p50_s == pytest.approx(4.5)  # 4 s lies in (3.6, 4.5]


async def test_topics_are_measured_apart() -> None:
    """Per-topic tallies keep wifi and printer apart; they add up to the whole."""
    stats, _ = await scripted_day()
    by_topic = await stats.window(0, 59)
    wifi, printer = measures(by_topic["wifi"], RULES), measures(by_topic["printer"], RULES)
    assert (wifi.answered, wifi.abandoned, printer.answered, printer.abandoned) == (1, 2, 1, 0)
    assert printer.service_level == 0.0


async def test_windows_keep_to_their_span() -> None:
    """A five-minute window two hours later holds nothing; the day still holds everything."""
    stats, _ = await scripted_day()
    assert await stats.window(7200, 7500) == {}
    day = measures(total((await stats.window(0, 7500)).values()), RULES)
    assert day.answered == 2


def test_percentile_edge_cases() -> None:
    """No data gives None; values past the last edge report the last edge."""
    edges = (1.0, 2.0)
    assert percentile([0, 0, 0], edges, 0.5) is None
    assert percentile([0, 0, 4], edges, 0.5) == 2.0
    assert percentile([2, 2, 0], edges, 0.5) == pytest.approx(1.0)
    assert percentile([2, 2, 0], edges, 0.75) == pytest.approx(1.5)


async def test_a_request_replaced_by_a_message_is_counted_apart() -> None:
    """message.leave closing a request is observed as outcome message: counted in
    ``messages``, and neither answered nor abandoned (service level and abandonment rate
    unchanged)."""
    router, stats = Router(RouterConfig()), MemoryStats(RULES)
    effects = ask(router, "u1", "r1", 1) + router.handle(HelpCancelled("u1", "r1", "message"), 31)
    obs = [e for e in effects if isinstance(e, Observe)]
    assert [(o.metric, o.label, o.value) for o in obs] == [("outcome", "message", 30.0)]
    await stats.record(obs, 31)
    m = measures(total((await stats.window(0, 59)).values()), RULES)
    assert (m.messages, m.answered, m.abandoned, m.expired) == (1, 0, 0, 0)
    assert m.abandonment_rate is None and m.service_level is None


async def test_as_dict_is_every_field_by_name_and_the_edges_are_the_targets() -> None:
    stats, _ = await scripted_day()
    found = measures(total((await stats.window(0, 10**9)).values()), RULES)
    assert found.as_dict() == dataclasses.asdict(found)
    assert found.as_dict()["answered"] == 2
    # Cached per target, and a different target has edges of its own.
    assert bucket_edges(9.0) is bucket_edges(9.0)
    assert bucket_edges(20.0)[13] == 20.0 and bucket_edges(9.0)[13] == 9.0
