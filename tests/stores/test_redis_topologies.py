"""What only a real Redis Cluster or Sentinel can show: every key Mayday writes lands on
one hash slot of the cluster, and a Sentinel failover while help requests flow loses no
request and answers none twice."""

from __future__ import annotations

from typing import TypeVar

from redis.asyncio import Redis

from mayday.client import (
    HelpOffer,
    SessionEnded,
    SignalRelayed,
)
from tests.conftest import REDIS_PASSWORD, StartServer, flush, two_nodes
from tests.redis_server import RedisClusterServers

TAG_SLOT_OF = "{mayday}"
T = TypeVar("T")


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
