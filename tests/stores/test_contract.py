"""One contract, two stores: the in-memory store and the Redis store (on a real redis-server)
must answer every routing operation with the same effects and the same refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from redis.asyncio import Redis

from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.protocol.messages import (
    AdvisorStateChanged,
    HelpClosed,
    HelpOffer,
    HelpQueued,
    HelpRequest,
    HelpWithdrawn,
    PeerDisconnected,
    PeerReconnected,
    SessionEnded,
    SessionStarted,
    SessionTransferred,
    SessionTransferring,
    TransferFailed,
)
from mayday.routing.config import MEDIA_ENTRIES_KEPT, RouterConfig, Step
from mayday.routing.events import (
    AdvisorConnected,
    AdvisorStateSet,
    CancelTimer,
    Disconnected,
    Effect,
    Event,
    GraceExpired,
    HelpCancelled,
    HelpRequested,
    MediaReported,
    Observe,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    Reconnected,
    RouteDue,
    Send,
    SessionEndRequested,
    SessionTransferRequested,
    StartTimer,
    grace_timer,
    offer_timer,
)
from mayday.routing.model import RequestState, SessionState
from mayday.stores import MemoryStore, Store
from mayday.stores.redis import RedisStore
from tests.conftest import flush, topology_url
from tests.redis_server import RedisServer
from tests.routing.test_properties import (
    ADVISORS,
    COOLDOWN_S,
    ESCALATION,
    PRIORITY_STEP_S,
    USERS,
    Driver,
    history,
    transfer_history,
)

CONFIG = RouterConfig(
    reservation_timeout_s=15.0,
    request_ttl_s=5.0,
    turn_urls=("turn:127.0.0.1:3478",),
    turn_secret="turn-secret",
)


TOPOLOGY_OF = {"redis": "single", "redis-cluster": "cluster", "redis-sentinel": "sentinel"}


@pytest.fixture(params=["memory", *TOPOLOGY_OF])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Each contract test runs once per store, and the Redis store once per topology (one
    server, a three-master Cluster, a Sentinel's master)."""
    if request.param == "memory":
        yield MemoryStore(CONFIG)
        return
    url = topology_url(request, TOPOLOGY_OF[request.param])
    await flush(url)
    redis_store = RedisStore.from_url(url, CONFIG)
    yield redis_store
    await redis_store.close()


def sent(effects: list[Effect], kind: type[Any]) -> list[Any]:
    return [e.message for e in effects if isinstance(e, Send) and isinstance(e.message, kind)]


async def test_request_offer_accept_end(store: Store) -> None:
    """The whole happy path gives the same frames, timers and timeline on either store."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset({"wifi"}), True), 1.0)
    effects = await store.apply(
        HelpRequested("u1", "Tab", "r1", HelpRequest("wifi", "en", ("wifi",), {"os": "x"})), 2.0
    )
    assert [e for e in effects if isinstance(e, StartTimer)] == [offer_timer("r1", 1, 15.0)]
    assert sent(effects, HelpOffer) == [
        HelpOffer("r1", 15.0, {"id": "u1", "name": "Tab"}, "wifi", "en", ["wifi"], {"os": "x"}, 0.0)
    ]
    assert sent(effects, HelpQueued) == [HelpQueued("r1", 1, 0.0, "offered", 0)]
    effects = await store.apply(OfferAccepted("a1", "r1", "s1"), 3.5)
    assert [e for e in effects if isinstance(e, CancelTimer)] == [CancelTimer("offer:r1")]
    to_user, to_advisor = sent(effects, SessionStarted)
    assert to_user.peer == {"id": "a1", "name": "Ada", "role": "advisor"}
    assert to_user.ice_servers[0]["username"] == "3603:u1"
    assert to_advisor.ice_servers[0]["username"] == "3603:a1"
    session = await store.session("s1")
    assert session is not None and session.state is SessionState.ACTIVE
    await store.apply(MediaReported("user", "u1", "s1", "first_frame"), 4.0)
    await store.apply(SessionEndRequested("advisor", "a1", "s1", "resolved"), 9.0)
    request = await store.request("r1")
    assert request is not None and request.state is RequestState.ENDED
    assert [(e.t, e.event) for e in request.timeline] == [
        (2.0, "requested"),
        (2.0, "offered"),
        (3.5, "offer.accepted"),
        (3.5, "session.started"),
        (4.0, "media.first_frame"),
        (9.0, "session.ended"),
        (9.0, "ended"),
    ]
    summary = await store.summary(10.0)
    assert (summary.waiting, summary.advisors_available) == (0, 1)


async def test_a_requests_timeline_keeps_a_bounded_number_of_media_reports(
    store: Store,
) -> None:
    """A client reporting media.state without end grows neither the timeline nor the
    store past MEDIA_ENTRIES_KEPT reports; the session's end is still recorded, and the
    first frame is still measured after the bound."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
    await store.apply(OfferAccepted("a1", "r1", "s1"), 3.0)
    for i in range(MEDIA_ENTRIES_KEPT + 20):
        await store.apply(MediaReported("advisor", "a1", "s1", "connected"), 4.0 + i / 100)
    effects = await store.apply(MediaReported("user", "u1", "s1", "first_frame"), 5.0)
    assert [e.metric for e in effects if isinstance(e, Observe)] == ["time_to_advisor"]
    await store.apply(SessionEndRequested("advisor", "a1", "s1", "resolved"), 9.0)
    request = await store.request("r1")
    assert request is not None
    media = [e for e in request.timeline if e.event.startswith("media.")]
    assert len(media) == MEDIA_ENTRIES_KEPT
    assert [e.event for e in request.timeline[-2:]] == ["session.ended", "ended"]


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (HelpCancelled("u2", "r1"), ErrorCode.FORBIDDEN),
        (HelpCancelled("u1", "nope"), ErrorCode.NOT_FOUND),
        (OfferAccepted("a2", "r1", "s1"), ErrorCode.INVALID_STATE),
        (OfferDeclined("a1", "nope"), ErrorCode.NOT_FOUND),
        (SessionEndRequested("user", "u1", "nope", "x"), ErrorCode.NOT_FOUND),
        (HelpRequested("u1", "Tab", "r2", HelpRequest()), ErrorCode.INVALID_STATE),
    ],
)
async def test_refusals_change_nothing(store: Store, event: Event, code: ErrorCode) -> None:
    """A refused operation raises the same code on both stores and leaves no trace."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
    before = await store.request("r1")
    with pytest.raises(ProtocolError) as refused:
        await store.apply(event, 3.0)
    assert refused.value.code is code
    assert await store.request("r1") == before
    assert await store.request("r2") is None


async def test_expired_offer_moves_on_and_stale_expiry_is_ignored(store: Store) -> None:
    """An expired offer passes to the next advisor; the same expiry again does nothing."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(AdvisorStateSet("a2", "Bo", frozenset(), True), 1.5)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
    moved = await store.apply(OfferExpired("r1", 1), 17.0)
    assert [m.request_id for m in sent(moved, HelpOffer)] == ["r1"]
    assert [e.sub for e in moved if isinstance(e, Send) and isinstance(e.message, HelpOffer)] == [
        "a2"
    ]
    assert await store.apply(OfferExpired("r1", 1), 18.0) == []


async def test_a_drop_past_the_grace_abandons_at_the_drop(store: Store) -> None:
    """A waiting user who drops is not offered; past the grace the request is abandoned as
    of the drop, with no help.closed, on both stores."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
    dropped = await store.apply(Disconnected("user", "u1"), 3.0)
    assert grace_timer("user", "u1", 1, 30.0) in dropped
    assert [m.reason for m in sent(dropped, HelpWithdrawn)] == ["user_dropped"]
    expired = await store.apply(GraceExpired("user", "u1", 1), 33.0)
    assert not sent(expired, HelpClosed)
    req = await store.request("r1")
    assert req is not None and req.state is RequestState.ABANDONED
    assert [(e.t, e.event) for e in req.timeline][-4:] == [
        (3.0, "user.dropped"),
        (3.0, "offer.withdrawn"),
        (33.0, "grace.expired"),
        (3.0, "abandoned"),
    ]


async def test_an_advisor_lost_requeues_the_request_at_the_head(store: Store) -> None:
    """Past the advisor's grace the user gets advisor_lost and position 1, and the request
    goes to the next advisor with its first press's wait, on both stores."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
    await store.apply(OfferAccepted("a1", "r1", "s1"), 3.0)
    await store.apply(HelpRequested("u2", "Bo", "r2", HelpRequest()), 4.0)
    gone = await store.apply(Disconnected("advisor", "a1"), 5.0)
    assert sent(gone, PeerDisconnected) == [PeerDisconnected("s1", 30.0)]
    lost = await store.apply(GraceExpired("advisor", "a1", 1), 35.0)
    assert [(m.reason, m.by) for m in sent(lost, SessionEnded)] == [("advisor_lost", "advisor")] * 2
    assert [(m.request_id, m.position) for m in sent(lost, HelpQueued)] == [("r1", 1)]
    offered = await store.apply(AdvisorStateSet("a2", "Cy", frozenset(), True), 36.0)
    [offer] = sent(offered, HelpOffer)
    assert (offer.request_id, offer.waited_s) == ("r1", 34.0)
    session = await store.session("s1")
    assert session is not None and session.state is SessionState.ENDED


async def test_a_return_within_the_grace_resumes_the_session(store: Store) -> None:
    """A dropped user who returns keeps the session; the advisor hears of both."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
    await store.apply(OfferAccepted("a1", "r1", "s1"), 3.0)
    assert sent(await store.apply(Disconnected("user", "u1"), 4.0), PeerDisconnected)
    back = await store.apply(Reconnected("user", "u1", True), 5.5)
    assert sent(back, PeerReconnected) == [PeerReconnected("s1", True)]
    assert CancelTimer("grace:user:u1") in back
    assert await store.apply(GraceExpired("user", "u1", 1), 40.0) == []


async def test_a_connected_advisor_is_away_until_they_choose(store: Store) -> None:
    """An advisor whose console opened is counted away, with no frame sent; a second socket
    changes nothing; their choice then counts; the listing names them; leaving forgets them
    once the grace of their drop is over."""
    assert await store.apply(AdvisorConnected("a1", "Ada", frozenset()), 1.0) == []
    summary = await store.summary(1.5)
    assert (summary.advisors_away, summary.advisors_available) == (1, 0)
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 2.0)
    assert await store.apply(AdvisorConnected("a1", "Ada", frozenset()), 3.0) == []
    await store.apply(AdvisorConnected("a0", "Bo", frozenset({"wifi"})), 4.0)
    summary = await store.summary(4.5)
    assert (summary.advisors_away, summary.advisors_available) == (1, 1)
    listed = [(a.id, a.name, a.status.value, a.status_since) for a in await store.advisors(10)]
    assert listed == [("a0", "Bo", "away", 4.0), ("a1", "Ada", "available", 2.0)]
    assert [a.id for a in await store.advisors(1)] == ["a0"]
    await store.apply(Disconnected("advisor", "a0"), 5.0)
    assert [a.id for a in await store.advisors(10)] == ["a0", "a1"]
    await store.apply(GraceExpired("advisor", "a0", 1), 35.0)
    assert [a.id for a in await store.advisors(10)] == ["a1"]
    assert (await store.summary(35.5)).advisors_away == 0


async def test_colleagues_list_the_free_first_longest_idle_first(store: Store) -> None:
    """The transfer dialog's list: free advisors by idle time, then the others by id, with
    their skills and state, cut at the limit, on both stores."""
    await store.apply(AdvisorStateSet("a3", "Cy", frozenset({"wifi"}), True), 1.0)
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 2.0)
    await store.apply(AdvisorStateSet("a2", "Bo", frozenset({"printer", "tv"}), True), 0.5)
    await store.apply(AdvisorConnected("a0", "Di", frozenset()), 3.0)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 4.0)  # offered to a2
    listed = [(a.id, a.name, a.status.value, sorted(a.skills)) for a in await store.colleagues(10)]
    assert listed == [
        ("a3", "Cy", "available", ["wifi"]),
        ("a1", "Ada", "available", []),
        ("a0", "Di", "away", []),
        ("a2", "Bo", "reserved", ["printer", "tv"]),
    ]
    assert [a.id for a in await store.colleagues(1)] == ["a3"]
    # Cut among the others, which of them is listed is the store's (Redis scans its set).
    cut = [a.id for a in await store.colleagues(3)]
    assert cut[:2] == ["a3", "a1"] and cut[2] in {"a0", "a2"}
    assert await MemoryStore().colleagues(5) == []


async def test_answers_and_declines_are_observed_per_advisor(store: Store) -> None:
    """A decline and an accept each give an observation naming the advisor, and the
    session's timeline entry carries the advisor's name."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(AdvisorStateSet("a2", "Bo", frozenset(), True), 1.5)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
    declined = await store.apply(OfferDeclined("a1", "r1"), 3.0)
    assert Observe("declined", 1.0, "", "a1") in declined
    accepted = await store.apply(OfferAccepted("a2", "r1", "s1"), 4.0)
    assert Observe("answered_by", 1.0, "", "a2") in accepted
    request = await store.request("r1")
    assert request is not None
    [started] = [e for e in request.timeline if e.event == "session.started"]
    assert started.data == {"session_id": "s1", "advisor": "a2", "advisor_name": "Bo"}


async def test_a_users_requests_newest_first(store: Store) -> None:
    """Each user's requests are listed newest first, bounded, without other users'."""
    for n in range(3):
        await store.apply(HelpRequested("u1", "Tab", f"r{n}", HelpRequest()), 1.0 + n)
        await store.apply(HelpCancelled("u1", f"r{n}"), 1.5 + n)
    await store.apply(HelpRequested("u2", "Other", "x1", HelpRequest()), 9.0)
    assert [r.id for r in await store.user_requests("u1", 10)] == ["r2", "r1", "r0"]
    assert [r.id for r in await store.user_requests("u1", 2)] == ["r2", "r1"]
    assert [r.id for r in await store.user_requests("u2", 10)] == ["x1"]
    assert await store.user_requests("nobody", 10) == []


async def test_priority_moves_a_request_ahead_by_its_step_per_level(store: Store) -> None:
    """At 60 s a level, a priority-1 request that came 30 s after a priority-0 one is ahead
    of it and one that came 90 s after is behind it; equal keys keep arrival order whatever
    the ids; positions, offers, the oldest wait and the time-to-live follow, on both stores."""
    arrivals = [  # (at, user, request id, priority): keys 100, 70, 130, 130
        (100.0, "u0", "p0", 0),
        (130.0, "u1", "p1-30s-later", 1),
        (130.0, "u3", "z-key-130-first", 0),
        (190.0, "u2", "a-key-130-second", 1),
    ]
    for at, user, request_id, priority in arrivals:
        await store.apply(HelpRequested(user, user, request_id, HelpRequest(), priority), at)
    line = {"u1": 1, "u0": 2, "u3": 3, "u2": 4}
    for user, position in line.items():
        [queued] = await store.current_state("user", user, 195.0)
        assert isinstance(queued, HelpQueued) and queued.position == position, user
    summary = await store.summary(200.0)
    assert (summary.waiting, summary.oldest_wait_s) == (4, 100.0)  # p0's wait, not the head's
    assert await store.due_requests(134.0) == ["p0"]  # time-to-live counts from the press
    offered = []
    for n, at in enumerate((201.0, 202.0, 203.0, 204.0)):
        effects = await store.apply(AdvisorStateSet(f"a{n}", "Ada", frozenset(), True), at)
        offered += [m.request_id for m in sent(effects, HelpOffer)]
    assert offered == ["p1-30s-later", "p0", "z-key-130-first", "a-key-130-second"]
    request = await store.request("p1-30s-later")
    assert request is not None and request.priority == 1
    assert request.timeline[0].data == {"skills": [], "priority": 1}
    plain = await store.request("p0")
    assert plain is not None and plain.priority == 0 and plain.timeline[0].data == {"skills": []}


async def test_priority_order_is_exact_at_epoch_times(store: Store) -> None:
    """At real clock values the order keeps a difference of 10 microseconds between two
    keys (beyond the 14 digits a Lua tostring keeps), on both stores."""
    t = 1_800_000_000.0
    await store.apply(HelpRequested("u0", "u0", "plain", HelpRequest()), t + 0.00002)
    await store.apply(HelpRequested("u1", "u1", "vip", HelpRequest(), 1), t + 60.00001)
    [queued] = await store.current_state("user", "u1", t + 61)
    assert isinstance(queued, HelpQueued) and queued.position == 1


async def test_a_request_back_from_a_lost_advisor_keeps_its_priority_place(store: Store) -> None:
    """A priority request whose advisor is lost goes back ahead of the older plain request
    it had passed and behind a later one of higher priority, as if it had never left."""
    await store.apply(HelpRequested("u0", "u0", "old", HelpRequest()), 100.0)  # key 100
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 101.0)
    await store.apply(OfferDeclined("a1", "old"), 102.0)  # a1 is free, and will not take it
    await store.apply(HelpRequested("u1", "u1", "vip", HelpRequest(), 2), 150.0)  # key 30
    await store.apply(OfferAccepted("a1", "vip", "s1"), 151.0)
    await store.apply(HelpRequested("u2", "u2", "top", HelpRequest(), 3), 155.0)  # key -25
    await store.apply(Disconnected("advisor", "a1"), 160.0)
    lost = await store.apply(GraceExpired("advisor", "a1", 1), 190.0)
    assert [(m.request_id, m.position) for m in sent(lost, HelpQueued)] == [("vip", 2)]
    [queued] = await store.current_state("user", "u0", 191.0)
    assert isinstance(queued, HelpQueued) and queued.position == 3
    offered = await store.apply(AdvisorStateSet("a2", "Bo", frozenset(), True), 192.0)
    assert [m.request_id for m in sent(offered, HelpOffer)] == ["top"]
    offered = await store.apply(AdvisorStateSet("a3", "Cy", frozenset(), True), 193.0)
    assert [m.request_id for m in sent(offered, HelpOffer)] == ["vip"]


IDENTITIES = [("user", u) for u in USERS] + [("advisor", a) for a in ADVISORS]


async def test_the_current_state_of_each_side(store: Store) -> None:
    """What a socket that could not resume is told: the user's place in line or live
    session, the advisor's presence and their session or held offer with the time left."""
    assert await store.current_state("user", "u1", 1.0) == []
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
    await store.apply(HelpRequested("u2", "Bo", "r2", HelpRequest()), 3.0)
    assert await store.current_state("user", "u2", 4.0) == [HelpQueued("r2", 2, 300.0, "queued", 0)]
    [presence, offer] = await store.current_state("advisor", "a1", 6.0)
    assert presence == AdvisorStateChanged("available", "resync")
    assert isinstance(offer, HelpOffer)
    assert (offer.request_id, offer.expires_in_s, offer.waited_s) == ("r1", 11.0, 4.0)
    await store.apply(OfferAccepted("a1", "r1", "s1"), 7.0)
    [started] = await store.current_state("user", "u1", 8.0)
    assert isinstance(started, SessionStarted)
    assert (started.session_id, started.role, started.peer["name"]) == ("s1", "user", "Ada")
    assert started.ice_servers[0]["username"] == "3608:u1"  # fresh credentials
    [_, mine] = await store.current_state("advisor", "a1", 8.0)
    assert isinstance(mine, SessionStarted) and mine.peer["id"] == "u1"


def _normal(effects: list[Effect]) -> list[Any]:
    return [(e.sub, e.message.to_frame()) if isinstance(e, Send) else e for e in effects]


async def _differential(ops: list[tuple[object, ...]], url: str, mode: str = "offer") -> None:
    client = Redis.from_url(url)
    await client.flushall()
    await client.aclose()
    config = replace(
        CONFIG,
        routing_mode=mode,
        priority_step_s=PRIORITY_STEP_S,
        escalation=ESCALATION,
        decline_cooldown_s=COOLDOWN_S,
    )
    redis_store = RedisStore.from_url(url, config)
    memory = MemoryStore(config)
    driver = Driver(router=memory.router)
    try:
        for operation in ops:
            driver.now += 1.0
            event = driver.event_for(operation)
            if event is None:
                continue
            outcomes = []
            for s in (memory, redis_store):
                try:
                    effects = await s.apply(event, driver.now)
                    outcomes.append(_normal(effects))
                except ProtocolError as exc:
                    effects = []
                    outcomes.append([exc.code])
                if s is memory:
                    driver.track_timers(effects)
            assert outcomes[0] == outcomes[1], f"{event} at {driver.now}"
            summaries = [await s.summary(driver.now) for s in (memory, redis_store)]
            assert summaries[0] == summaries[1], f"summary after {event}"
            for role, sub in IDENTITIES:
                ours = [m.to_frame() for m in await memory.current_state(role, sub, driver.now)]
                theirs = await redis_store.current_state(role, sub, driver.now)
                assert ours == [m.to_frame() for m in theirs], f"state of {sub} after {event}"
            if isinstance(event, HelpRequested) and outcomes[0] != [ErrorCode.INVALID_STATE]:
                driver.created.append(event.request_id)
        for request_id in driver.created:
            ours, theirs = await memory.request(request_id), await redis_store.request(request_id)
            assert ours is not None and theirs is not None
            assert (ours.state, ours.offered_to) == (theirs.state, theirs.offered_to)
            assert (ours.step, ours.cooldowns) == (theirs.step, theirs.cooldowns)
            assert ours.timeline == theirs.timeline, request_id
    finally:
        await redis_store.close()


@pytest.mark.parametrize("mode", ["offer", "claim"])
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=history)
def test_random_interleavings_give_identical_effects(
    redis_server: RedisServer, mode: str, ops: list[tuple[object, ...]]
) -> None:
    """Hypothesis drives both stores with the same random events: same effects, same refusals."""
    asyncio.run(_differential(ops, redis_server.url, mode))


# ---------------------------------------------------------------- transfers
async def _in_call(store: Store) -> None:
    """Ada (a1) in session s1 with the user u1 (request r1); Bo (a2) free."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest("wifi")), 2.0)
    await store.apply(OfferAccepted("a1", "r1", "s1"), 3.0)
    await store.apply(AdvisorStateSet("a2", "Bo", frozenset({"printer"}), True), 3.5)


def _warm(note: str | None = "needs a printer expert") -> SessionTransferRequested:
    return SessionTransferRequested("a1", "s1", "t1", "a2", (), note, "warm")


def _to(effects: list[Effect], kind: type[Any]) -> list[tuple[str, Any]]:
    return [
        (e.sub, e.message) for e in effects if isinstance(e, Send) and isinstance(e.message, kind)
    ]


async def test_a_warm_transfer_offers_the_target_and_keeps_the_call(store: Store) -> None:
    """The target gets help.offer with the transfer and the usual timeout; the call goes
    on until they accept, on both stores."""
    await _in_call(store)
    effects = await store.apply(_warm(), 4.0)
    transfer = {
        "transfer_id": "t1",
        "from": {"id": "a1", "name": "Ada"},
        "note": "needs a printer expert",
    }
    assert _to(effects, HelpOffer) == [
        (
            "a2",
            HelpOffer(
                "r1",
                15.0,
                {"id": "u1", "name": "Tab"},
                "wifi",
                None,
                [],
                {},
                2.0,
                "offer",
                transfer,
            ),
        )
    ]
    assert [e for e in effects if isinstance(e, StartTimer)] == [offer_timer("r1", 2, 15.0)]
    assert not sent(effects, SessionEnded)
    transferring = SessionTransferring("s1", "t1", "warm", {"id": "a2", "name": "Bo"})
    assert _to(effects, SessionTransferring) == [("u1", transferring)]
    session = await store.session("s1")
    assert session is not None and session.state is SessionState.ACTIVE
    summary = await store.summary(4.0)
    assert (summary.advisors_busy, summary.advisors_reserved) == (1, 1)


async def test_an_accepted_warm_transfer_starts_a_new_session(store: Store) -> None:
    """On accept both advisors get session.transferred, the user a new session.started for
    the same request, and the old session ends transferred; the timeline says who, when,
    from, to, mode and note, and the enqueue time is kept."""
    await _in_call(store)
    await store.apply(_warm(), 4.0)
    effects = await store.apply(OfferAccepted("a2", "r1", "s2"), 5.0)
    done = SessionTransferred("s1", "t1", {"id": "a2", "name": "Bo"})
    assert _to(effects, SessionTransferred) == [("a1", done), ("a2", done)]
    ended = SessionEnded("s1", "r1", "transferred", "advisor")
    assert _to(effects, SessionEnded) == [("u1", ended), ("a1", ended)]
    started = _to(effects, SessionStarted)
    assert [(sub, m.session_id, m.request_id, m.peer["id"]) for sub, m in started] == [
        ("u1", "s2", "r1", "a2"),
        ("a2", "s2", "r1", "u1"),
    ]
    assert CancelTimer("offer:r1") in effects
    old, new = await store.session("s1"), await store.session("s2")
    assert old is not None and old.state is SessionState.ENDED
    assert new is not None and new.advisor_id == "a2" and new.state is SessionState.ACTIVE
    req = await store.request("r1")
    assert req is not None and req.state is RequestState.IN_SESSION and req.enqueued_at == 2.0
    assert [(e.t, e.event, e.data) for e in req.timeline[4:]] == [
        (
            4.0,
            "transfer",
            {
                "transfer_id": "t1",
                "by": "a1",
                "from": "a1",
                "to": {"advisor": "a2"},
                "mode": "warm",
                "note": "needs a printer expert",
            },
        ),
        (4.0, "transfer.offered", {"advisor": "a2", "offer_no": 2}),
        (5.0, "transfer.accepted", {"transfer_id": "t1", "advisor": "a2", "offer_no": 2}),
        (5.0, "session.ended", {"reason": "transferred", "by": "advisor"}),
        (5.0, "session.started", {"session_id": "s2", "advisor": "a2", "advisor_name": "Bo"}),
    ]
    summary = await store.summary(5.0)
    assert (summary.advisors_busy, summary.advisors_available) == (1, 1)
    seen = await store.apply(MediaReported("user", "u1", "s2", "first_frame"), 6.5)
    observed = [(o.metric, o.value) for o in seen if isinstance(o, Observe)]
    assert observed == [("time_to_advisor", 4.5), ("transfer_to_advisor", 2.5)]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (OfferDeclined("a2", "r1"), "declined"),
        (OfferExpired("r1", 2), "timeout"),
        (AdvisorStateSet("a2", "Bo", frozenset({"printer"}), False), "advisor_away"),
        (Disconnected("advisor", "a2"), "advisor_dropped"),
    ],
)
async def test_a_failed_warm_transfer_keeps_the_user(
    store: Store, answer: Event, reason: str
) -> None:
    """A decline, a timeout, or the target leaving sends transfer.failed to the first
    advisor, who keeps the call; a second transfer may follow."""
    await _in_call(store)
    await store.apply(_warm(), 4.0)
    effects = await store.apply(answer, 5.0)
    failed = TransferFailed("t1", "s1", reason)
    assert _to(effects, TransferFailed) == [("a1", failed), ("u1", failed)]
    assert not sent(effects, SessionEnded)
    session = await store.session("s1")
    assert session is not None and session.state is SessionState.ACTIVE
    req = await store.request("r1")
    assert req is not None and req.state is RequestState.IN_SESSION and req.offered_to is None
    assert (req.timeline[-1].event, req.timeline[-1].data) == (
        "transfer.failed",
        {"transfer_id": "t1", "reason": reason},
    )
    # A declined transfer is no declined request: no cooldown, no route timer, no alert.
    assert req.cooldowns == {}
    assert not [e for e in effects if isinstance(e, StartTimer) and e.key.startswith("route:")]
    assert (await store.summary(5.0)).declined_by_all == 0
    again = SessionTransferRequested("a1", "s1", "t2", None, ("printer",), None, "cold")
    await store.apply(again, 6.0)
    req = await store.request("r1")
    assert req is not None and req.state.waiting


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (Disconnected("user", "u1"), "user_dropped"),
        (SessionEndRequested("user", "u1", "s1", "done"), "session_ended"),
    ],
)
async def test_a_pending_warm_transfer_is_withdrawn_when_the_call_goes(
    store: Store, event: Event, reason: str
) -> None:
    """The user dropping or the session ending withdraws the target's offer and fails the
    transfer."""
    await _in_call(store)
    await store.apply(_warm(), 4.0)
    effects = await store.apply(event, 5.0)
    assert _to(effects, HelpWithdrawn) == [("a2", HelpWithdrawn("r1", reason))]
    failed = TransferFailed("t1", "s1", reason)
    assert _to(effects, TransferFailed) == [("a1", failed), ("u1", failed)]
    assert CancelTimer("offer:r1") in effects
    summary = await store.summary(5.0)
    assert summary.advisors_reserved == 0
    with pytest.raises(ProtocolError) as refused:
        await store.apply(OfferAccepted("a2", "r1", "s2"), 6.0)
    assert refused.value.code is ErrorCode.INVALID_STATE


async def test_a_cold_transfer_to_skills_requeues_at_the_head(store: Store) -> None:
    """Cold: the session ends at once (transferred), the request goes back before later
    ones with its enqueue time and the new skills, and not to the first advisor."""
    await _in_call(store)
    await store.apply(AdvisorStateSet("a2", "Bo", frozenset({"printer"}), False), 3.6)
    await store.apply(HelpRequested("u2", "Li", "r2", HelpRequest()), 3.7)
    cold = SessionTransferRequested("a1", "s1", "t1", None, ("printer",), "paper jam", "cold")
    effects = await store.apply(cold, 4.0)
    ended = SessionEnded("s1", "r1", "transferred", "advisor")
    assert _to(effects, SessionEnded) == [("u1", ended), ("a1", ended)]
    transferring = SessionTransferring("s1", "t1", "cold", {"skills": ["printer"]})
    assert _to(effects, SessionTransferring) == [("u1", transferring)]
    # The user hears where they go before they hear the call ended.
    frames = [e.message for e in effects if isinstance(e, Send) and e.sub == "u1"]
    assert frames.index(transferring) < frames.index(ended)
    # a1 is free again and takes the later request, not the one they handed on.
    assert [(sub, m.request_id) for sub, m in _to(effects, HelpOffer)] == [("a1", "r2")]
    assert _to(effects, HelpQueued)[0] == ("u1", HelpQueued("r1", 1, None, "queued", 0))
    req = await store.request("r1")
    assert req is not None and req.state is RequestState.QUEUED
    assert req.enqueued_at == 2.0 and req.skills == frozenset({"printer"})
    assert "a1" in req.declined_by
    assert [e.event for e in req.timeline[-3:]] == ["transfer", "session.ended", "requeued"]
    assert req.timeline[-1].data == {"reason": "transferred"}
    back = await store.apply(AdvisorStateSet("a2", "Bo", frozenset({"printer"}), True), 5.0)
    transfer = {"transfer_id": "t1", "from": {"id": "a1", "name": "Ada"}, "note": "paper jam"}
    assert [(sub, m.request_id, m.transfer) for sub, m in _to(back, HelpOffer)] == [
        ("a2", "r1", transfer)
    ]


async def test_a_cold_transfer_to_an_advisor_offers_them_first(store: Store) -> None:
    """Cold to a named advisor: the call ends and the request is offered to them at once."""
    await _in_call(store)
    await store.apply(AdvisorStateSet("a3", "Cy", frozenset(), True), 3.8)
    cold = SessionTransferRequested("a1", "s1", "t1", "a3", (), None, "cold")
    effects = await store.apply(cold, 4.0)
    offers = [(sub, m.request_id, m.transfer["note"]) for sub, m in _to(effects, HelpOffer)]
    assert offers == [("a3", "r1", None)]
    transferring = SessionTransferring("s1", "t1", "cold", {"id": "a3", "name": "Cy"})
    assert _to(effects, SessionTransferring) == [("u1", transferring)]
    req = await store.request("r1")
    assert req is not None and req.state is RequestState.OFFERED and req.offered_to == "a3"


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (SessionTransferRequested("a1", "nope", "t1", "a2"), ErrorCode.NOT_FOUND),
        (SessionTransferRequested("a2", "s1", "t1", "a3"), ErrorCode.FORBIDDEN),
        (SessionTransferRequested("a1", "s1", "t1", "a1"), ErrorCode.INVALID_FIELD),
        (SessionTransferRequested("a1", "s1", "t1", None, ("x",)), ErrorCode.INVALID_FIELD),
        (SessionTransferRequested("a1", "s1", "t1", "a9"), ErrorCode.INVALID_STATE),
        (SessionTransferRequested("a1", "s1", "t1", "a3"), ErrorCode.INVALID_STATE),
        (
            SessionTransferRequested("a1", "s1", "t1", "a3", (), None, "cold"),
            ErrorCode.INVALID_STATE,
        ),
    ],
)
async def test_transfer_refusals_change_nothing(
    store: Store, event: Event, code: ErrorCode
) -> None:
    """Not the session's advisor, to themselves, warm to skills, to someone not online and
    free: the same refusal on both stores, and nothing changed."""
    await _in_call(store)
    await store.apply(AdvisorStateSet("a3", "Cy", frozenset(), False), 3.8)
    before = await store.request("r1")
    with pytest.raises(ProtocolError) as refused:
        await store.apply(event, 4.0)
    assert refused.value.code is code
    assert await store.request("r1") == before


async def test_a_second_transfer_while_one_is_pending_is_refused(store: Store) -> None:
    """Only one transfer of a session at a time: invalid_state while the first is pending."""
    await _in_call(store)
    await store.apply(AdvisorStateSet("a3", "Cy", frozenset(), True), 3.8)
    await store.apply(_warm(), 4.0)
    with pytest.raises(ProtocolError) as refused:
        await store.apply(SessionTransferRequested("a1", "s1", "t2", "a3"), 4.5)
    assert refused.value.code is ErrorCode.INVALID_STATE


async def test_a_user_resyncing_hears_where_they_are_being_transferred(store: Store) -> None:
    """A user whose socket could not resume mid warm transfer is told the call and, again,
    whom they are being transferred to; once it failed, only the call."""
    await _in_call(store)
    await store.apply(_warm(), 4.0)
    state = await store.current_state("user", "u1", 5.0)
    assert [type(m) for m in state] == [SessionStarted, SessionTransferring]
    assert state[1] == SessionTransferring("s1", "t1", "warm", {"id": "a2", "name": "Bo"})
    await store.apply(OfferDeclined("a2", "r1"), 6.0)
    state = await store.current_state("user", "u1", 7.0)
    assert [type(m) for m in state] == [SessionStarted]


async def test_an_advisor_resyncing_sees_the_transfer_offer(store: Store) -> None:
    """A target whose socket could not resume is told the transfer offer again, with it."""
    await _in_call(store)
    await store.apply(_warm(None), 4.0)
    state = await store.current_state("advisor", "a2", 6.0)
    offers = [m for m in state if isinstance(m, HelpOffer)]
    assert [(m.expires_in_s, m.transfer) for m in offers] == [
        (13.0, {"transfer_id": "t1", "from": {"id": "a1", "name": "Ada"}, "note": None})
    ]


@pytest.mark.parametrize("mode", ["offer", "claim"])
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=transfer_history)
def test_random_transfers_give_identical_effects(
    redis_server: RedisServer, mode: str, ops: list[tuple[object, ...]]
) -> None:
    """Histories that start in calls and transfer them: same effects and refusals on both."""
    asyncio.run(_differential(ops, redis_server.url, mode))


ESCALATING = replace(
    CONFIG,
    escalation=(Step(0, "all", 3), Step(10, "all"), Step(20, "none")),
    decline_cooldown_s=60.0,
)


@pytest.fixture(params=["memory", "redis"])
async def escalating(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A store whose skill match widens at 10 s and 20 s of waiting."""
    if request.param == "memory":
        yield MemoryStore(ESCALATING)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis_store = RedisStore.from_url(server.url, ESCALATING)
    await redis_store.redis.flushall()
    yield redis_store
    await redis_store.close()


async def test_a_decline_hides_the_request_for_the_cooldown_only(store: Store) -> None:
    """Two advisors who each declined leave the request waiting, counted declined by all
    and shown to both as one they can still take; when the cooldown ends it is offered to
    the longest idle of them again, and the other is told."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(AdvisorStateSet("a2", "Bo", frozenset(), True), 1.5)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
    first = await store.apply(OfferDeclined("a1", "r1"), 3.0)
    assert StartTimer("route:r1", 60.0, RouteDue("r1")) in first
    assert [m.request_id for m in sent(first, HelpOffer)] == ["r1"]  # on to a2
    second = await store.apply(OfferDeclined("a2", "r1"), 4.0)
    takeable = [
        (e.sub, e.message.mode)
        for e in second
        if isinstance(e, Send) and isinstance(e.message, HelpOffer)
    ]
    assert takeable == [("a1", "claim"), ("a2", "claim")]
    # Not "nobody can take it": the cooldowns end, so both still count in the estimate.
    assert sent(second, HelpQueued) == [HelpQueued("r1", 1, 150.0, "queued", 2)]
    assert (await store.summary(5.0)).declined_by_all == 1
    assert sent(await store.apply(RouteDue("r1"), 30.0), HelpOffer) == []  # early: no change
    again = await store.apply(RouteDue("r1"), 63.0)
    assert [
        (e.sub, e.message.request_id)
        for e in again
        if isinstance(e, Send) and isinstance(e.message, HelpOffer)
    ] == [("a1", "r1")]
    assert StartTimer("route:r1", 1.0, RouteDue("r1")) in again  # a2's cooldown is next
    assert sent(again, HelpWithdrawn) == [HelpWithdrawn("r1", "offered")] * 2
    assert (await store.summary(63.5)).declined_by_all == 0
    request = await store.request("r1")
    assert request is not None and "declined_by_all" in [e.event for e in request.timeline]


async def test_a_new_advisor_takes_a_request_everyone_declined(store: Store) -> None:
    """A decline is no exclusion from others: an advisor who signs in is offered it at once."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
    await store.apply(OfferDeclined("a1", "r1"), 3.0)
    effects = await store.apply(AdvisorStateSet("a2", "Bo", frozenset(), True), 4.0)
    assert [m.request_id for m in sent(effects, HelpOffer)] == ["r1"]


async def test_the_match_widens_with_age_on_its_timer(escalating: Store) -> None:
    """A request for a skill whose only expert is busy waits at "all" (level 3), then at
    10 s is offered to the free advisor with a lower level, with the step on its timeline."""
    store = escalating
    await store.apply(AdvisorStateSet("a2", "Bo", frozenset({"scan"}), True, (("scan", 5),)), 0.0)
    await store.apply(HelpRequested("u0", "T0", "r0", HelpRequest()), 0.5)
    await store.apply(OfferAccepted("a2", "r0", "s0"), 0.6)
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset({"scan"}), True, (("scan", 2),)), 1.0)
    asked = await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest(skills=("scan",))), 2.0)
    assert sent(asked, HelpOffer) == []
    assert [m.match for m in sent(asked, HelpQueued)] == ["all"]
    assert StartTimer("route:r1", 10.0, RouteDue("r1")) in asked
    widened = await store.apply(RouteDue("r1"), 12.0)
    assert [m.request_id for m in sent(widened, HelpOffer)] == ["r1"]
    assert StartTimer("route:r1", 10.0, RouteDue("r1")) in widened  # the "none" step
    request = await store.request("r1")
    assert request is not None
    [step] = [e for e in request.timeline if e.event == "escalated"]
    assert (step.t, step.data) == (
        12.0,
        {"step": 1, "match": "all", "min_level": 1, "reason": "age"},
    )


async def test_a_step_nobody_online_fits_is_skipped_at_once(escalating: Store) -> None:
    """With no online advisor at level 3, the first step is skipped on arrival: no 10 s wait."""
    store = escalating
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset({"scan"}), True), 1.0)  # level 3
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset({"scan"}), False), 1.1)
    await store.apply(AdvisorStateSet("a3", "Cy", frozenset({"scan"}), True, (("scan", 1),)), 1.5)
    asked = await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest(skills=("scan",))), 2.0)
    assert [m.request_id for m in sent(asked, HelpOffer)] == ["r1"]
    request = await store.request("r1")
    assert request is not None
    assert [e.data["reason"] for e in request.timeline if e.event == "escalated"] == ["skipped"]


async def test_an_advisor_takes_back_a_request_everyone_declined(store: Store) -> None:
    """Offer mode: one of those shown a request everyone declined takes it with help.accept;
    the other is told it was claimed, and nobody else can take it twice."""
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(AdvisorStateSet("a2", "Bo", frozenset(), True), 1.5)
    await store.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
    await store.apply(OfferDeclined("a1", "r1"), 3.0)
    await store.apply(OfferDeclined("a2", "r1"), 4.0)
    taken = await store.apply(OfferAccepted("a2", "r1", "s1"), 5.0)
    assert [m.role for m in sent(taken, SessionStarted)] == ["user", "advisor"]
    assert [
        (e.sub, e.message)
        for e in taken
        if isinstance(e, Send) and isinstance(e.message, HelpWithdrawn)
    ] == [("a1", HelpWithdrawn("r1", "claimed"))]
    with pytest.raises(ProtocolError) as twice:
        await store.apply(OfferAccepted("a1", "r1", "s2"), 5.5)
    assert twice.value.code is ErrorCode.INVALID_STATE
    assert (await store.summary(6.0)).declined_by_all == 0
    request = await store.request("r1")
    assert request is not None
    assert [e.event for e in request.timeline][-3:] == [
        "declined_by_all",
        "claimed",
        "session.started",
    ]


async def test_another_node_fires_the_route_timers_of_a_dead_one(
    redis_server: RedisServer,
) -> None:
    """On Redis the cooldown's end and the next step are in route_due: a second node's
    sweep finds them when due (not before), and firing them there re-offers and widens."""
    client = Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    node_a = RedisStore.from_url(redis_server.url, ESCALATING)
    node_b = RedisStore.from_url(redis_server.url, ESCALATING)
    try:
        await node_a.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
        await node_a.apply(HelpRequested("u1", "Tab", "r1", HelpRequest()), 2.0)
        await node_a.apply(OfferDeclined("a1", "r1"), 3.0)
        assert await node_b.due_routes(62.9) == []
        assert await node_b.due_routes(63.0) == [RouteDue("r1")]
        again = await node_b.apply(RouteDue("r1"), 63.0)
        assert [m.request_id for m in sent(again, HelpOffer)] == ["r1"]
        assert await node_b.due_routes(1000.0) == []  # offered: nothing left to time
        await node_b.apply(OfferAccepted("a1", "r1", "s1"), 63.5)
        # The only one who fits r2's first step is online but holding another offer.
        await node_a.apply(AdvisorStateSet("a2", "Bo", frozenset({"scan"}), True), 64.0)
        await node_a.apply(HelpRequested("u3", "Three", "r3", HelpRequest()), 64.5)
        await node_a.apply(HelpRequested("u2", "Two", "r2", HelpRequest(skills=("scan",))), 65.0)
        assert await node_b.due_routes(74.9) == []
        assert await node_b.due_routes(75.0) == [RouteDue("r2")]
        await node_b.apply(RouteDue("r2"), 75.0)
        request = await node_b.request("r2")
        assert request is not None and (request.step, request.match.skills) == (1, "all")
        assert await node_b.due_routes(84.9) == []
        assert await node_b.due_routes(85.0) == [RouteDue("r2")]
    finally:
        await node_a.close()
        await node_b.close()
