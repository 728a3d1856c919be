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
)
from mayday.routing.config import MEDIA_ENTRIES_KEPT, RouterConfig
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
    Send,
    SessionEndRequested,
    StartTimer,
    grace_timer,
    offer_timer,
)
from mayday.routing.model import RequestState, SessionState
from mayday.stores import MemoryStore, Store
from mayday.stores.redis import RedisStore
from tests.conftest import flush, topology_url
from tests.redis_server import RedisServer
from tests.routing.test_properties import ADVISORS, USERS, Driver, history

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
    config = replace(CONFIG, routing_mode=mode)
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
