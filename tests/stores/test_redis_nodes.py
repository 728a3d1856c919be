"""Several server processes on one Redis: pairing and relay across nodes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from mayday.client import (
    DeliveryFailed,
    HelpOffer,
    MaydayClient,
    MaydayError,
    SessionEnded,
    SessionStarted,
    SignalRelayed,
    Unknown,
)
from mayday.transport.relay import RedisRelay, frame_parcel
from tests.conftest import StartServer, two_nodes
from tests.redis_server import RedisServer


@pytest.fixture
def redis_url(any_redis_url: str) -> str:
    """Every test here that takes ``redis_url`` runs on each Redis topology in turn: one
    server, a three-master Cluster, a Sentinel's master."""
    return any_redis_url


async def test_user_on_one_node_meets_advisor_on_another(
    start_server: StartServer, redis_url: str
) -> None:
    """A user on node A and an advisor on node B are paired and their signals cross over."""
    node_a, node_b = await two_nodes(start_server, redis_url)
    advisor = await node_b.client("advisor", "a1", name="Ada")
    await advisor.set_available()
    user = await node_a.client("user", "u1")
    queued = await user.request_help(topic="wifi")
    offer = await advisor.next(HelpOffer)
    assert offer.request_id == queued.request_id
    adv_started = await advisor.accept(offer.request_id)
    user_started = await user.next(SessionStarted)
    assert user_started.peer["name"] == "Ada"
    sid = adv_started.session_id
    await advisor.signal(sid, description={"type": "offer", "sdp": "v=0\r\n"})
    await user.signal(sid, description={"type": "answer", "sdp": "v=0\r\n"})
    assert (await user.next(SignalRelayed)).description == {"type": "offer", "sdp": "v=0\r\n"}
    assert (await advisor.next(SignalRelayed)).from_ == "u1"
    await user.end_session(sid)
    assert (await advisor.next(SessionEnded)).by == "user"
    # Node B kept the session for the advisor's socket; the end reached it from node A.
    with pytest.raises(MaydayError) as refused:
        await advisor.call("signal", session_id=sid, candidate=None)
    assert refused.value.code == "invalid_state"


async def test_frames_keep_their_order_across_nodes(
    start_server: StartServer, redis_url: str
) -> None:
    """500 candidates sent from node A arrive on node B complete and in order."""
    node_a, node_b = await two_nodes(
        start_server, redis_url, rate_limit_per_s=10_000.0, rate_limit_burst=10_000
    )
    advisor = await node_b.client("advisor", "a1")
    await advisor.set_available()
    user = await node_a.client("user", "u1")
    await user.request_help()
    started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
    for i in range(500):
        await user.signal(started.session_id, candidate={"candidate": f"c{i}", "sdpMid": "0"})
    got = [(await advisor.next(SignalRelayed)).candidate for _ in range(500)]
    assert [c["candidate"] for c in got if c] == [f"c{i}" for i in range(500)]


async def test_disconnect_on_one_node_is_not_abandon_while_another_holds_a_socket(
    start_server: StartServer, redis_url: str
) -> None:
    """A user with sockets on two nodes keeps waiting when one of them closes; when the
    other closes too, it is a drop, and past the grace an abandon."""
    node_a, node_b = await two_nodes(start_server, redis_url, resume_grace_s=0.5)
    on_a = await node_a.client("user", "u1")
    on_b = await node_b.client("user", "u1")
    queued = await on_a.request_help()
    await on_a.close()
    await asyncio.sleep(0.2)
    request = await node_b.server.store.request(queued.request_id)
    assert request is not None and request.state == "queued"
    assert "user.dropped" not in [e.event for e in request.timeline]
    await on_b.close()
    for _ in range(50):
        request = await node_b.server.store.request(queued.request_id)
        if request is not None and request.state == "abandoned":
            break
        await asyncio.sleep(0.05)
    assert request is not None and request.state == "abandoned"


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own with an append-only file, to kill and restart.

    Requested before ``start_server``, so it stops after the nodes that use it."""
    redis = RedisServer(tmp_path / "aof", appendonly=True).start()
    yield redis
    redis.kill()


async def test_frames_survive_a_redis_restart(
    aof_redis: RedisServer, start_server: StartServer
) -> None:
    """Redis killed and restarted mid-stream: nothing queued is lost, no frame lost or reordered."""
    redis = aof_redis
    node_a, node_b = await two_nodes(
        start_server, redis.url, rate_limit_per_s=10_000.0, rate_limit_burst=10_000
    )
    advisor = await node_b.client("advisor", "a1")
    await advisor.set_available()
    user = await node_a.client("user", "u1")
    waiting = await node_a.client("user", "u2")
    await user.request_help()
    started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
    parked = await waiting.request_help()

    async def stream(first: int, last: int) -> None:
        for i in range(first, last):
            await user.signal(started.session_id, candidate={"candidate": f"c{i}"})

    await stream(0, 100)
    redis.kill()
    restart = asyncio.get_running_loop().run_in_executor(None, _restart_later, redis)
    await stream(100, 200)  # sent while Redis is down: retried until it is back
    await restart
    got = [(await advisor.next(SignalRelayed, timeout=20)).candidate for _ in range(200)]
    assert [c["candidate"] for c in got if c] == [f"c{i}" for i in range(200)]
    request = await node_a.server.store.request(parked.request_id)
    assert request is not None and request.state == "queued"


def _restart_later(redis: RedisServer) -> None:
    import time

    time.sleep(0.5)
    redis.start()


async def test_a_last_socket_closing_leaves_the_location_with_the_routing(
    start_server: StartServer, redis_url: str
) -> None:
    """A user's last socket on a node closes: the node leaves the identity's location and
    client set, and the routing hears of the drop, in the same script (a node killed
    between the two steps would otherwise leave an identity the reaper never sees)."""
    (node,) = [await start_server(redis_url=redis_url)]
    store, relay = node.server.store, node.server.relay
    assert relay is not None
    user = await node.client("user", "u1")
    queued = await user.request_help()
    location, clients = store.keys.location("user", "u1"), store.keys.node_clients(relay.node_id)
    assert await store.redis.hexists(location, relay.node_id)
    assert await store.redis.sismember(clients, "user|u1")
    await user.close()
    for _ in range(100):
        request = await store.request(queued.request_id)
        if request is not None and "user.dropped" in [e.event for e in request.timeline]:
            break
        await asyncio.sleep(0.05)
    assert request is not None and "user.dropped" in [e.event for e in request.timeline]
    assert not await store.redis.hexists(location, relay.node_id)
    assert not await store.redis.sismember(clients, "user|u1")


async def test_concurrent_sessions_keep_their_order_through_the_relay_outbox(
    start_server: StartServer, redis_url: str
) -> None:
    """Five sessions stream 200 candidates each at once from node A to node B: the relay's
    outbox batches frames of different sessions into shared round trips, and every
    session's frames still arrive complete and in order."""
    node_a, node_b = await two_nodes(
        start_server, redis_url, rate_limit_per_s=10_000.0, rate_limit_burst=10_000
    )
    sessions = []
    for i in range(5):
        advisor = await node_b.client("advisor", f"a{i}")
        await advisor.set_available()
        user = await node_a.client("user", f"u{i}")
        await user.request_help()
        started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
        sessions.append((user, advisor, started.session_id))

    async def stream(user: MaydayClient, sid: str, tag: int) -> None:
        for k in range(200):
            await user.signal(sid, candidate={"candidate": f"{tag}-{k}", "sdpMid": "0"})

    await asyncio.gather(*(stream(u, sid, i) for i, (u, _, sid) in enumerate(sessions)))
    for i, (_, advisor, _) in enumerate(sessions):
        got = [(await advisor.next(SignalRelayed)).candidate for _ in range(200)]
        assert [c["candidate"] for c in got if c] == [f"{i}-{k}" for k in range(200)]


async def test_one_outbox_batch_keeps_the_order_of_frames_for_one_client(
    start_server: StartServer, redis_url: str
) -> None:
    """Frames queued together for one client on another node (as a routing operation
    queues its frames) arrive in the order they were queued, also when several callers
    queue at once."""
    node_a, node_b = await two_nodes(start_server, redis_url)
    user = await node_b.client("user", "u1")
    relay = node_a.server.relay
    assert relay is not None

    def frames(tag: str) -> list[tuple[str, str, dict[str, object]]]:
        return [
            ("user", "u1", frame_parcel({"type": "test.order", "tag": tag, "n": n}))
            for n in range(50)
        ]

    counts = await asyncio.gather(relay.send_many(frames("x")), relay.send_many(frames("y")))
    assert counts == [[1] * 50, [1] * 50]
    got = [(await user.next(Unknown)).frame for _ in range(100)]
    for tag in ("x", "y"):
        assert [f["n"] for f in got if f["tag"] == tag] == list(range(50))


async def test_an_inbox_keeps_no_signal_it_already_relayed(
    start_server: StartServer, redis_url: str
) -> None:
    """SDP relayed across nodes does not linger in Redis: at the next heartbeat the node
    trims its inbox up to what it read (MINID), leaving at most the last entry read."""
    node_a, node_b = await two_nodes(start_server, redis_url)
    advisor = await node_b.client("advisor", "a1")
    await advisor.set_available()
    user = await node_a.client("user", "u1")
    await user.request_help()
    started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
    for i in range(20):
        await user.signal(started.session_id, description={"type": "offer", "sdp": f"sdp-{i:02d}"})
    for _ in range(20):
        await advisor.next(SignalRelayed)
    relay = cast(RedisRelay, node_b.server.relay)
    inbox = relay.keys.inbox(relay.node_id)
    async with asyncio.timeout(5):
        while await relay.redis.xlen(inbox) > 1:  # noqa: ASYNC110 (the heartbeat trims it)
            await asyncio.sleep(0.05)
    kept = await relay.redis.xrange(inbox)
    assert len(kept) <= 1
    assert not [i for i in range(19) for _, f in kept if f"sdp-{i:02d}" in str(f)]


async def test_a_signal_to_a_peer_gone_from_every_node_is_acked_then_reported(
    start_server: StartServer, redis_url: str
) -> None:
    """Across nodes a `signal` is acked once it is queued for the peer's node, without a
    round trip to Redis; when no node held the peer after all, the sender hears of it
    in `delivery.failed` naming the frame's id, and its socket goes on."""
    node_a, node_b = await two_nodes(start_server, redis_url)
    advisor = await node_b.client("advisor", "a1")
    await advisor.set_available()
    user = await node_a.client("user", "u1")
    await user.request_help()
    sid = (await advisor.accept((await advisor.next(HelpOffer)).request_id)).session_id
    await user.next(SessionStarted)
    # As if node B died and was reaped while the session is in its grace: no socket of
    # the advisor on any node, and no parked stream of theirs to keep frames for them.
    relay = cast(RedisRelay, node_a.server.relay)
    await node_b.server.relay.close()
    await relay.redis.delete(
        relay.keys.location("advisor", "a1"), f"{relay.keys.prefix}parked:advisor:a1"
    )
    ack = await user.call("signal", session_id=sid, candidate=None)
    failed = await user.next(DeliveryFailed)
    assert (failed.id, failed.session_id, failed.code) == (ack.id, sid, "invalid_state")
    assert failed.message == "peer is not connected"
    assert (await user.call("ping")).id > ack.id
