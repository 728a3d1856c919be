"""What only a real Redis Cluster or Sentinel can show: every key Mayday writes lands on
one hash slot of the cluster, and a Sentinel failover while help requests flow loses no
request and answers none twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from mayday.client import (
    HelpOffer,
    MaydayClient,
    MaydayError,
    SessionEnded,
    SessionStarted,
    SignalRelayed,
)
from tests.cluster.test_cluster import assert_nothing_left
from tests.conftest import REDIS_PASSWORD, StartServer, flush, two_nodes
from tests.redis_server import RedisClusterServers, SentinelGroup

TAG_SLOT_OF = "{mayday}"


async def test_every_key_of_a_run_lands_on_one_cluster_slot(
    redis_cluster: RedisClusterServers, start_server: StartServer
) -> None:
    """Pairing, relay and a session's end across two nodes on the Cluster: every key
    written is in the one slot of the ``{mayday}`` tag, on one master."""
    await flush(redis_cluster.url)
    node_a, node_b = await two_nodes(start_server, redis_cluster.url)
    advisor = await node_b.client("advisor", "a1", name="Ada")
    await advisor.set_available()
    user = await node_a.client("user", "u1")
    await user.request_help(topic="wifi")
    started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
    await user.signal(started.session_id, candidate={"candidate": "c0", "sdpMid": "0"})
    assert (await advisor.next(SignalRelayed)).candidate == {"candidate": "c0", "sdpMid": "0"}
    await user.end_session(started.session_id)
    await advisor.next(SessionEnded)
    keys_by_node = {}
    for node in redis_cluster.nodes:
        client = Redis(host="127.0.0.1", port=node.port, password=REDIS_PASSWORD)
        try:
            slot = int(await client.execute_command("CLUSTER", "KEYSLOT", TAG_SLOT_OF))
            keys = [k.decode() async for k in client.scan_iter(count=1000)]
            keys_by_node[node.port] = keys
            for key in keys:
                assert int(await client.execute_command("CLUSTER", "KEYSLOT", key)) == slot, key
        finally:
            await client.aclose()
    holding = [port for port, keys in keys_by_node.items() if keys]
    assert len(holding) == 1, keys_by_node
    assert len(keys_by_node[holding[0]]) > 10  # requests, sessions, inboxes, nodes...


@pytest.fixture
def failover_group(tmp_path: Path) -> Iterator[SentinelGroup]:
    """A Sentinel group of this test's own, whose master it kills (the run's shared group
    stays whole). Requested before ``start_server``, so it stops after the nodes."""
    group = SentinelGroup(tmp_path / "sentinel", password=REDIS_PASSWORD).start()
    yield group
    group.stop()


async def advisor_loop(client: MaydayClient, accepted: list[str]) -> None:
    """Take every offer and end its session at once, as a client would through an outage:
    an accept refused is an offer not taken; an end that timed out is tried again until
    it is done or refused (the first one went through)."""
    await client.set_available()
    while True:
        offer = await client.next(HelpOffer, timeout=None)
        try:
            started = await client.accept(offer.request_id)
        except MaydayError:
            continue
        accepted.append(started.request_id)
        for _ in range(5):
            try:
                await client.end_session(started.session_id)
                break
            except MaydayError:
                break
            except TimeoutError:
                continue


@pytest.mark.timeout(60)
async def test_a_sentinel_failover_loses_no_acknowledged_request_and_doubles_none(
    failover_group: SentinelGroup, start_server: StartServer
) -> None:
    """20 calls answered and 30 requests waiting across two nodes when the master is
    SIGKILLed: after Sentinel promotes the replica, none of them is lost, and advisors
    who then come online answer each waiting request exactly once."""
    group = failover_group
    node_a, node_b = await two_nodes(
        start_server, group.url, rate_limit_per_s=1000.0, rate_limit_burst=1000
    )
    nodes = [node_a, node_b]
    users = [await nodes[j % 2].client("user", f"u{j}") for j in range(50)]
    accepted: list[str] = []

    async def ask(user: MaydayClient) -> tuple[str, str]:
        queued = await user.request_help()
        started = await user.next(SessionStarted, timeout=40)
        ended = lambda e: e.session_id == started.session_id  # noqa: E731
        await user.next(SessionEnded, where=ended, timeout=40)
        return queued.request_id, started.request_id

    async def calls(advisors: list[MaydayClient], asking: list[MaydayClient]) -> list[str]:
        loops = [asyncio.create_task(advisor_loop(c, accepted)) for c in advisors]
        try:
            answered = await asyncio.wait_for(asyncio.gather(*(ask(u) for u in asking)), 50)
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
        assert all(asked == got for asked, got in answered)
        return [asked for asked, _ in answered]

    first = [await nodes[i % 2].client("advisor", f"a{i}") for i in range(4)]
    done = await calls(first, users[:20])
    for advisor in first:
        await advisor.close()
    # Waiting when the master dies: acknowledged, so on the replica (WAIT) when it does.
    waiting = [await u.request_help() for u in users[20:]]
    old = group.master_port()
    await asyncio.to_thread(group.kill_master)
    await asyncio.to_thread(group.wait_promoted, old)
    assert group.master_port() != old
    for queued in waiting:
        request = await node_a.server.store.request(queued.request_id)
        assert request is not None, f"request {queued.request_id} lost in the failover"
    late = [await nodes[i % 2].client("advisor", f"b{i}") for i in range(10)]
    loops = [asyncio.create_task(advisor_loop(c, accepted)) for c in late]

    async def answered(user: MaydayClient) -> str:
        started = await user.next(SessionStarted, timeout=40)
        ended = lambda e: e.session_id == started.session_id  # noqa: E731
        await user.next(SessionEnded, where=ended, timeout=40)
        return started.request_id

    try:
        later = await asyncio.wait_for(asyncio.gather(*(answered(u) for u in users[20:])), 50)
    finally:
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
    assert later == [q.request_id for q in waiting]
    asked_ids = set(done) | set(later)
    assert len(asked_ids) == 50
    assert sorted(accepted) == sorted(asked_ids), "a request accepted twice, or never"
    doubled = [e for u in users for e in u.pending_events() if isinstance(e, SessionStarted)]
    assert not doubled, "a user got a second session"
    await assert_nothing_left(group.url, asked_ids)
