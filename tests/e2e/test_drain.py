"""A clean stop (issue 10): a draining node takes no new sockets, tells its clients when
to come back, closes with 1012, and on Redis they resume on another node with nothing
lost."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from mayday.client import LinkRestored, MaydayClient
from mayday.protocol.messages import (
    HelpOffer,
    PeerDisconnected,
    PeerReconnected,
    SessionStarted,
    SignalRelayed,
)
from tests.conftest import Harness, StartServer, two_nodes
from tests.tcp_proxy import TcpProxy


async def test_a_draining_node_tells_its_clients_closes_1012_and_refuses_new_sockets(
    start_server: StartServer,
) -> None:
    harness = await start_server(drain_spread_s=1.5)
    token = harness.token("user", "u1")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{harness.http_url}/healthz") as resp:
            assert resp.status == 200 and (await resp.json())["status"] == "ok"
        ws = await http.ws_connect(harness.ws_url, params={"token": token})
        assert json.loads((await ws.receive()).data)["type"] == "hello"
        drain = asyncio.create_task(harness.server.drain())
        notice = json.loads((await ws.receive()).data)
        assert notice["type"] == "server.draining" and notice["seq"] == 2
        assert 0 <= notice["reconnect_in_s"] <= 1.5
        assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1012
        assert await asyncio.wait_for(drain, 5) == 0  # every socket went
        async with http.get(f"{harness.http_url}/healthz") as resp:
            assert resp.status == 503 and (await resp.json())["status"] == "draining"
        late = await http.ws_connect(harness.ws_url, params={"token": token})
        refused = json.loads((await late.receive()).data)
        assert refused["type"] == "server.draining" and refused["reconnect_in_s"] == 1.5
        assert (await late.receive()).type is aiohttp.WSMsgType.CLOSE
        assert late.close_code == 1012
        async with http.get(f"{harness.http_url}/ws", params={"token": token}) as resp:
            assert resp.status == 503 and (await resp.json())["code"] == "draining"


async def test_clients_of_a_drained_node_resume_on_another_with_nothing_lost(
    start_server: StartServer, redis_url: str
) -> None:
    """A user in a session and a waiting user, both on node A behind a balancer; their
    advisor on node B. A is marked down and drained: both users resume on B (`resumed:
    true`), the advisor's `signal` sent while the user was away arrives once, the advisor
    saw the drop and the return, and the waiting request is answered afterwards."""
    nodes = await two_nodes(start_server, redis_url, drain_spread_s=0.5)
    proxy = await TcpProxy([("127.0.0.1", n.port) for n in nodes]).start()
    proxy.down.add(1)  # new connections to A only, for now
    try:
        in_call = await _client(nodes[0], proxy, "user", "u1")
        waiting = await _client(nodes[0], proxy, "user", "u2")
        advisor = await nodes[1].client("advisor", "a1")
        sid = await _session(in_call, advisor)
        queued = await waiting.request_help()
        proxy.down = {0}  # the rolling restart: A out of the balancer, then SIGTERM
        assert await nodes[0].server.drain() == 0
        assert (await advisor.next(PeerDisconnected)).session_id == sid
        await advisor.signal(sid, description={"type": "offer", "sdp": "v=0 during"})
        for client in (in_call, waiting):
            restored = await client.next(LinkRestored, timeout=10)
            assert restored.resumed, "resumed on B with the old stream"
        assert (await advisor.next(PeerReconnected)).session_id == sid
        got = await in_call.next(SignalRelayed)
        assert got.description == {"type": "offer", "sdp": "v=0 during"}
        await asyncio.sleep(0.3)
        assert not [e for e in in_call.pending_events() if isinstance(e, SignalRelayed)]
        second = await nodes[1].client("advisor", "a2")
        await second.set_available()
        offer = await second.next(HelpOffer)
        assert offer.request_id == queued.request_id
        await second.accept(offer.request_id)
        started = await waiting.next(SessionStarted)
        assert started.request_id == queued.request_id
    finally:
        await proxy.close()


async def _client(node: Harness, proxy: TcpProxy, role: str, sub: str) -> MaydayClient:
    client = await MaydayClient.connect(proxy.url(), node.token(role, sub))
    node.clients.append(client)
    return client


async def _session(user: MaydayClient, advisor: MaydayClient) -> str:
    await user.request_help()
    await advisor.set_available()
    offer = await advisor.next(HelpOffer)
    started = await advisor.accept(offer.request_id)
    await user.next(SessionStarted)
    return started.session_id
