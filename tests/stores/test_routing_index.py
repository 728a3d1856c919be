"""The routing indices (free advisors per skill, waiting requests by what they need, fit
counters), checked through the store contract: the same answers from both stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from redis.asyncio import Redis

from mayday.protocol.errors import ProtocolError
from mayday.protocol.messages import HelpOffer, HelpQueued, HelpRequest, HelpWithdrawn
from mayday.routing.config import Step
from mayday.routing.core import Router
from mayday.routing.events import (
    AdvisorConnected,
    AdvisorStateSet,
    Disconnected,
    Effect,
    GraceExpired,
    HelpCancelled,
    HelpRequested,
    OfferAccepted,
    OfferDeclined,
    Send,
)
from mayday.routing.model import AdvisorStatus, RequestState
from mayday.stores import MemoryStore, Store
from mayday.stores.keys import Keys
from mayday.stores.redis import RedisStore
from tests.redis_server import RedisServer
from tests.routing.test_properties import COOLDOWN_S, ESCALATION, PRIORITY_STEP_S, Driver, history
from tests.stores.test_contract import CONFIG

# Advisors in idle order (each comes free a second after the one before) and the
# levels they hold: a0 nothing, a1 printers at 5, a2 printers 2 and scanners 5, a3 both 3.
TEAM: list[tuple[str, tuple[tuple[str, int], ...]]] = [
    ("a0", ()),
    ("a1", (("printer", 5),)),
    ("a2", (("printer", 2), ("scanner", 5))),
    ("a3", (("printer", 3), ("scanner", 3))),
]
BOTH = HelpRequest(skills=("printer", "scanner"))
PRINTER = HelpRequest(skills=("printer",))


async def make_store(
    request: pytest.FixtureRequest, kind: str, **changes: Any
) -> AsyncIterator[Store]:
    config = replace(CONFIG, request_ttl_s=900.0, **changes)
    if kind == "memory":
        yield MemoryStore(config)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis_store = RedisStore.from_url(server.url, config)
    await redis_store.redis.flushall()
    yield redis_store
    await redis_store.close()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Offer mode, skills matched all at level 3 (a single step)."""
    async for s in make_store(request, request.param, escalation=(Step(0.0, "all", 3),)):
        yield s


@pytest.fixture(params=["memory", "redis"])
async def claiming(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Claim mode, skills matched all at level 3."""
    async for s in make_store(
        request, request.param, routing_mode="claim", escalation=(Step(0.0, "all", 3),)
    ):
        yield s


def offers(effects: list[Effect]) -> list[tuple[str, str, str]]:
    return [
        (e.sub, e.message.request_id, e.message.mode)
        for e in effects
        if isinstance(e, Send) and isinstance(e.message, HelpOffer)
    ]


def sent(effects: list[Effect], kind: type[Any]) -> list[Any]:
    return [e.message for e in effects if isinstance(e, Send) and isinstance(e.message, kind)]


async def team_free(store: Store, members: list[str] | None = None) -> None:
    for n, (advisor, levels) in enumerate(TEAM):
        if members is None or advisor in members:
            skills = frozenset(name for name, _ in levels)
            await store.apply(AdvisorStateSet(advisor, advisor, skills, True, levels), 1.0 + n)


MATCHES = [("all", "a3"), ("any", "a1"), ("none", "a0")]


@pytest.fixture(params=[(kind, m, t) for kind in ("memory", "redis") for m, t in MATCHES])
async def matching(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Store, str]]:
    """Each store with a single step of each match at level 3, and who should win it."""
    kind, match, taker = request.param
    async for s in make_store(request, kind, escalation=(Step(0.0, match, 3),)):
        yield s, taker


async def test_the_longest_idle_who_fits_the_match_takes_it(matching: tuple[Store, str]) -> None:
    """For a request needing printers and scanners at level 3: all of them goes to a3
    (a2's printers are at 2), any one to a1, none to a0, the longest idle overall."""
    store, taker = matching
    await team_free(store)
    effects = await store.apply(HelpRequested("u0", "u0", "r0", BOTH), 10.0)
    assert offers(effects) == [(taker, "r0", "offer")]


async def test_an_advisor_come_free_takes_the_first_request_in_line_they_fit(
    store: Store,
) -> None:
    """With everyone away, a printer advisor coming free is offered the first printer
    request in line (a later one with priority ahead), not the scanner one at the head;
    an advisor without skills then takes the head among those that need none."""
    await store.apply(HelpRequested("u0", "u0", "scan", HelpRequest(skills=("scanner",))), 1.0)
    await store.apply(HelpRequested("u1", "u1", "print", PRINTER), 2.0)
    await store.apply(HelpRequested("u2", "u2", "plain", HelpRequest()), 3.0)
    await store.apply(HelpRequested("u3", "u3", "vip-print", PRINTER, 1), 4.0)
    effects = await store.apply(AdvisorStateSet("a1", "a1", frozenset({"printer"}), True), 5.0)
    assert offers(effects) == [("a1", "vip-print", "offer")]
    effects = await store.apply(AdvisorStateSet("a0", "a0", frozenset(), True), 6.0)
    assert offers(effects) == [("a0", "plain", "offer")]


async def test_a_cooldown_over_offers_the_request_at_the_next_operation(store: Store) -> None:
    """A declined request is hidden from its decliner for the cooldown; once it is over,
    any operation (here another user's press) offers it to them again before the newer."""
    await store.apply(AdvisorStateSet("a1", "a1", frozenset({"printer"}), True), 1.0)
    await store.apply(HelpRequested("u0", "u0", "r0", PRINTER), 2.0)
    declined = await store.apply(OfferDeclined("a1", "r0"), 3.0)
    assert offers(declined) == [("a1", "r0", "claim")]  # declined by all: theirs to take
    early = await store.apply(HelpRequested("u1", "u1", "r1", PRINTER), 3.0 + 30.0)
    assert offers(early) == [("a1", "r1", "offer")]  # r0 is still hidden from a1
    await store.apply(OfferDeclined("a1", "r1"), 34.0)
    later = await store.apply(HelpRequested("u2", "u2", "r2", HelpRequest()), 3.0 + 60.0)
    assert [o for o in offers(later) if o[2] == "offer"] == [("a1", "r0", "offer")]


async def test_away_busy_and_offline_advisors_leave_the_indices(store: Store) -> None:
    """An away printer advisor is not offered a printer request and the estimate says
    nobody can take it; available, they are offered it; busy, they still count in the
    estimate but take no second request; gone past their grace, nobody counts again."""
    skills, levels = frozenset({"printer"}), (("printer", 4),)
    await store.apply(AdvisorStateSet("a1", "a1", skills, False, levels), 1.0)
    queued = sent(await store.apply(HelpRequested("u0", "u0", "r0", PRINTER), 2.0), HelpQueued)
    assert [q.estimated_wait_s for q in queued] == [None]
    effects = await store.apply(AdvisorStateSet("a1", "a1", skills, True, levels), 3.0)
    assert offers(effects) == [("a1", "r0", "offer")]
    await store.apply(OfferAccepted("a1", "r0", "s0"), 4.0)
    effects = await store.apply(HelpRequested("u1", "u1", "r1", PRINTER), 5.0)
    assert offers(effects) == []
    [queued_r1] = sent(effects, HelpQueued)
    assert queued_r1.estimated_wait_s is not None
    await store.apply(Disconnected("advisor", "a1"), 6.0)
    await store.apply(GraceExpired("advisor", "a1", 1), 40.0)
    [state] = await store.current_state("user", "u1", 41.0)
    assert isinstance(state, HelpQueued) and state.estimated_wait_s is None
    # r0 came back to the line, and nobody free or online fits either request.
    summary = await store.summary(41.0)
    assert (summary.waiting, summary.advisors_available) == (2, 0)


async def test_claim_lists_follow_skills_and_are_taken_back(claiming: Store) -> None:
    """In claim mode each free advisor is shown the waiting requests they fit, in queue
    order; a cancelled one is taken back from exactly those shown it; one who goes away
    and comes back is shown their list afresh."""
    store = claiming
    await store.apply(HelpRequested("u0", "u0", "print", PRINTER), 1.0)
    await store.apply(HelpRequested("u1", "u1", "both", BOTH), 2.0)
    await store.apply(HelpRequested("u2", "u2", "plain", HelpRequest()), 3.0)
    await team_free(store, ["a1", "a2", "a3"])  # at 2.0, 3.0, 4.0 (their places in TEAM)
    assert offers(await store.apply(AdvisorStateSet("a9", "a9", frozenset(), False), 5.0)) == []
    effects = await store.apply(HelpCancelled("u0", "print"), 6.0)
    withdrawn = [
        (e.sub, e.message.request_id)
        for e in effects
        if isinstance(e, Send) and isinstance(e.message, HelpWithdrawn)
    ]
    assert withdrawn == [("a1", "print"), ("a3", "print")]  # a2's printers are at 2
    a3 = TEAM[3][1]
    await store.apply(
        AdvisorStateSet("a3", "a3", frozenset({"printer", "scanner"}), False, a3), 7.0
    )
    back = await store.apply(
        AdvisorStateSet("a3", "a3", frozenset({"printer", "scanner"}), True, a3), 8.0
    )
    assert offers(back) == [("a3", "both", "claim"), ("a3", "plain", "claim")]


# ---------------------------------------------------------------- after random histories
def expected_indices(router: Router, escalation: tuple[Step, ...]) -> dict[str, set[str]]:
    """The Redis indices as they should be, from the memory core's state after the same
    history: free and online advisors per skill, the waiting index, the fit counters."""
    k, want = Keys(), {}
    for adv in router.advisors.values():
        names = sorted(adv.skills)
        for i, skill in enumerate(names):
            if adv.status is AdvisorStatus.AVAILABLE:
                want.setdefault(k.free_with(skill), set()).add(adv.id)
                for other in names[i + 1 :]:
                    want.setdefault(k.free_with(f"{skill}|{other}"), set()).add(adv.id)
            if adv.status is not AdvisorStatus.AWAY:
                want.setdefault(k.online_with(skill), set()).add(adv.id)
    for req in router.requests.values():
        if req.state is RequestState.QUEUED and req.user_dropped_at is None:
            for name in waiting_keys(k, sorted(set(req.skills)), escalation[req.step]):
                want.setdefault(name, set()).add(req.id)
    return want


def waiting_keys(k: Keys, needs: list[str], step: Step) -> list[str]:
    """The keys of the waiting index a request needing ``needs`` is in at ``step``."""
    if not needs or step.skills == "none":
        return [k.waiting_index("none")]
    if step.skills == "any":
        return [k.waiting_index("any", step.min_level, s) for s in needs]
    if len(needs) <= 2:
        return [k.waiting_index("all", step.min_level, "|".join(needs))]
    return [k.waiting_index("all3", step.min_level)]


def expected_fit(router: Router) -> dict[str, int]:
    counts: dict[str, int] = {}
    for adv in router.advisors.values():
        if adv.status is AdvisorStatus.AWAY:
            continue
        names = sorted(adv.skills)
        for i, a in enumerate(names):
            for level in range(1, adv.level(a) + 1):
                counts[f"{a}|{level}"] = counts.get(f"{a}|{level}", 0) + 1
            for b in names[i + 1 :]:
                for level in range(1, min(adv.level(a), adv.level(b)) + 1):
                    counts[f"{a}|{b}|{level}"] = counts.get(f"{a}|{b}|{level}", 0) + 1
    return counts


async def actual_indices(client: Redis) -> tuple[dict[str, set[str]], dict[str, int]]:
    k, found = Keys(), {}
    for pattern in (k.free_with("*"), k.online_with("*"), k.waiting_index("*")):
        async for raw in client.scan_iter(match=pattern):
            name = raw.decode()
            kind = await client.type(name)
            members = (
                await client.zrange(name, 0, -1)
                if kind == b"zset"
                else list(await client.smembers(name))
            )
            ids = {m.decode().split("|", 1)[-1] if "wq:" in name else m.decode() for m in members}
            if ids:
                found[name] = ids
    fit = {f.decode(): int(v) for f, v in (await client.hgetall(k.fit)).items() if int(v)}
    return found, fit


async def _consistent(ops: list[tuple[object, ...]], url: str, mode: str) -> None:
    client = Redis.from_url(url)
    await client.flushall()
    config = replace(
        CONFIG,
        routing_mode=mode,
        priority_step_s=PRIORITY_STEP_S,
        escalation=ESCALATION,
        decline_cooldown_s=COOLDOWN_S,
    )
    redis_store, memory = RedisStore.from_url(url, config), MemoryStore(config)
    driver = Driver(router=memory.router)
    try:
        for operation in ops:
            driver.now += 1.0
            event = driver.event_for(operation)
            if event is None:
                continue
            for s in (memory, redis_store):
                try:
                    effects = await s.apply(event, driver.now)
                except ProtocolError:
                    effects = []
                if s is memory:
                    driver.track_timers(effects)
            if isinstance(event, HelpRequested):
                driver.created.append(event.request_id)
            found, fit = await actual_indices(client)
            assert found == expected_indices(memory.router, ESCALATION), f"after {event}"
            assert fit == expected_fit(memory.router), f"fit counters after {event}"
    finally:
        await redis_store.close()
        await client.aclose()


@pytest.mark.parametrize("mode", ["offer", "claim"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=history)
def test_the_indices_match_the_state_after_random_histories(
    redis_server: RedisServer, mode: str, ops: list[tuple[object, ...]]
) -> None:
    """After every event of a random history (skills, levels, declines, escalation, drops,
    transfers' requeues), Redis's indices hold exactly what the core's state implies."""
    asyncio.run(_consistent(ops, redis_server.url, mode))


async def test_a_redis_from_before_the_indices_gets_them_built(redis_server: RedisServer) -> None:
    """A Redis whose routing state was written before the indices (here: the same state
    with every index key deleted) has them built by the next script, and routing goes on
    as the core does: a request is offered to the free advisor who fits it, and one that
    waited from before to the advisor who comes free for it."""
    client = Redis.from_url(redis_server.url)
    await client.flushall()
    config = replace(CONFIG, request_ttl_s=900.0, escalation=(Step(0.0, "all", 3),))
    redis_store, memory = RedisStore.from_url(redis_server.url, config), MemoryStore(config)
    try:
        fax = HelpRequest(skills=("fax",))  # nobody online knows faxes: it waits
        for s in (redis_store, memory):
            await team_free(s)
            await s.apply(HelpRequested("u1", "u1", "fax", fax), 5.0)
        k = Keys()
        stale = [k.fit, k.indexed]
        for pattern in (k.free_with("*"), k.online_with("*"), k.waiting_index("*")):
            stale += [raw.decode() async for raw in client.scan_iter(match=pattern)]
        assert len(stale) > 2  # there were indices to lose
        await client.delete(*stale)
        await redis_store.summary(6.0)  # any script: it builds them
        found, fit = await actual_indices(client)
        assert found == expected_indices(memory.router, config.escalation)
        assert fit == expected_fit(memory.router)
        effects = [
            await s.apply(HelpRequested("u0", "u0", "r0", BOTH), 7.0) for s in (redis_store, memory)
        ]
        assert offers(effects[0]) == offers(effects[1]) == [("a3", "r0", "offer")]
        faxer = AdvisorStateSet("a9", "a9", frozenset({"fax"}), True)
        effects = [await s.apply(faxer, 8.0) for s in (redis_store, memory)]
        assert offers(effects[0]) == offers(effects[1]) == [("a9", "fax", "offer")]
    finally:
        await redis_store.close()
        await client.aclose()


async def _commands(client: Redis) -> dict[str, int]:
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


@pytest.mark.parametrize("free", [300, 0])
async def test_the_colleagues_list_reads_only_the_page(
    redis_server: RedisServer, free: int
) -> None:
    """GET /api/advisors on Redis: with 600 advisors online, a page of 20 reads 20 advisor
    hashes and at most a page of the online set, whether most are free or none is."""
    client = Redis.from_url(redis_server.url)
    await client.flushall()
    redis_store = RedisStore.from_url(redis_server.url, CONFIG)
    try:
        for i in range(600):
            await redis_store.apply(AdvisorConnected(f"a{i:03}", f"A{i}", frozenset()), 1.0)
        for i in range(free):
            await redis_store.apply(AdvisorStateSet(f"a{i:03}", f"A{i}", frozenset(), True), 2.0)
        await client.config_resetstat()
        listed = await redis_store.colleagues(20)
        calls = await _commands(client)
        assert len(listed) == 20
        assert all(a.status is AdvisorStatus.AVAILABLE for a in listed) == (free > 0)
        assert calls.get("hmget", 0) == 20
        assert calls.get("sscan", 0) <= 1
        assert calls.get("zscore", 0) <= 100  # the one page of the online set scanned
        assert "smembers" not in calls and "keys" not in calls and "scan" not in calls
    finally:
        await redis_store.close()
        await client.aclose()
