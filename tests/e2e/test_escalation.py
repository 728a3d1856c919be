"""Never stranded by declines, and skills that widen with the wait: end to end over
sockets on both backends, with no client frame needed for the timers (issue 11)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from mayday.client import HelpOffer, HelpQueued, OpsAlert, QueueSummary, SessionStarted
from mayday.routing.config import parse_escalation
from tests.conftest import Harness, StartServer
from tests.redis_server import RedisServer

ESCALATION = '[{"after_s": 0, "skills": "all", "min_level": 4}, {"after_s": 1, "skills": "any"}]'


@pytest.fixture(params=["memory", "redis"])
async def server(request: pytest.FixtureRequest, start_server: StartServer) -> Harness:
    overrides = {
        "decline_cooldown_s": 1.0,
        "escalation": parse_escalation(ESCALATION),
        "ops_interval_s": 0.2,
        "summary_interval_s": 0.1,
    }
    if request.param == "memory":
        return await start_server(**overrides)
    redis: RedisServer = request.getfixturevalue("redis_server")
    client = Redis.from_url(redis.url)
    await client.flushall()
    await client.aclose()
    return await start_server(redis_url=redis.url, **overrides)


async def test_two_declines_leave_it_waiting_then_it_is_offered_again(server: Harness) -> None:
    """Two advisors who each declined see it waiting with 2 free, shown to both as one
    they can still take, and ops get the declined_by_all alert; when the cooldown ends it
    is offered again by itself."""
    ops = await server.client("ops", "ops-1")
    a1 = await server.client("advisor", "a1", name="Ada")
    a2 = await server.client("advisor", "a2", name="Bo")
    await a1.set_available()
    await a2.set_available()
    user = await server.client("user", "u1", name="Tab")
    queued = await user.request_help()
    for advisor in (a1, a2):
        offer = await advisor.next(HelpOffer)
        assert offer.request_id == queued.request_id
        await advisor.decline(offer.request_id)
    waiting = await user.next(HelpQueued, where=lambda e: e.state == "queued")
    assert waiting.advisors_available == 2
    summary = await a1.next(QueueSummary, where=lambda s: s.declined_by_all == 1)
    assert (summary.waiting, summary.advisors_available) == (1, 2)
    for advisor in (a1, a2):
        takeable = await advisor.next(HelpOffer, where=lambda o: o.mode == "claim")
        assert (takeable.request_id, takeable.expires_in_s) == (queued.request_id, None)
    alert = await ops.next(OpsAlert, where=lambda a: a.name == "declined_by_all", timeout=5)
    assert alert.state == "raised"
    again = await a1.next(HelpOffer, where=lambda o: o.mode == "offer", timeout=5)
    assert again.request_id == queued.request_id
    cleared = await ops.next(OpsAlert, where=lambda a: a.name == "declined_by_all", timeout=5)
    assert cleared.state == "cleared"


async def test_the_match_widens_on_time_to_a_lower_level(server: Harness) -> None:
    """No one online at level 4 of the skill: the first step is skipped on arrival and
    the request is offered at once to the level-2 advisor, its help.queued saying "any"."""
    expert = await server.client("advisor", "a1", name="Ada", skills={"scan": 2})
    await expert.set_available()
    user = await server.client("user", "u1", name="Tab")
    queued = await user.request_help(skills=["scan"])
    assert queued.match == "any"
    offer = await expert.next(HelpOffer)
    assert offer.request_id == queued.request_id


async def test_a_step_waits_for_its_age_while_an_expert_is_busy(server: Harness) -> None:
    """With a level-5 expert online but busy, the request waits at "all" and is offered
    to the level-2 advisor one second later, without any frame from a client."""
    expert = await server.client("advisor", "a5", name="Eve", skills={"scan": 5})
    await expert.set_available()
    first = await server.client("user", "u0", name="First")
    taken = await first.request_help()
    await expert.accept((await expert.next(HelpOffer)).request_id)
    novice = await server.client("advisor", "a2", name="Bo", skills=["scan"])
    await novice.set_available()
    user = await server.client("user", "u1", name="Tab")
    queued = await user.request_help(skills=["scan"])
    assert (queued.match, queued.state) == ("all", "queued")
    offer = await novice.next(HelpOffer, timeout=5)
    assert offer.request_id == queued.request_id != taken.request_id
    widened = await user.next(HelpQueued, where=lambda e: e.match == "any")
    assert widened.state == "offered"


async def test_a_request_everyone_declined_can_still_be_taken(server: Harness) -> None:
    """One of the advisors who declined takes it back with help.accept: the call starts."""
    a1 = await server.client("advisor", "a1", name="Ada")
    a2 = await server.client("advisor", "a2", name="Bo")
    await a1.set_available()
    await a2.set_available()
    user = await server.client("user", "u1", name="Tab")
    queued = await user.request_help()
    for advisor in (a1, a2):
        await advisor.decline((await advisor.next(HelpOffer)).request_id)
    await a2.next(HelpOffer, where=lambda o: o.mode == "claim")
    started = await a2.accept(queued.request_id)
    assert started.peer["id"] == "u1"
    assert (await user.next(SessionStarted)).peer["id"] == "a2"
