"""Resume on any node (issue 10): a stream parked in Redis by one node is taken up on
another, with what was sent meanwhile, once and in order."""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiohttp
from redis.asyncio import Redis

from mayday.client import (
    HelpOffer,
    LinkRestored,
    PeerDisconnected,
    PeerReconnected,
    SessionStarted,
    SignalRelayed,
)
from mayday.stores.keys import Keys
from mayday.stores.scripts import connect
from mayday.transport.redis_streams import RedisStreamBook
from tests.conftest import StartServer, two_nodes


async def raw_hello(
    http: aiohttp.ClientSession, url: str, params: dict[str, str]
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, object]]:
    ws = await http.ws_connect(url, params=params)
    return ws, json.loads((await ws.receive()).data)


async def test_a_socket_closed_on_one_node_resumes_on_another(
    start_server: StartServer, redis_url: str
) -> None:
    """The tablet's socket on node A closes mid-session; the advisor on node B signals
    meanwhile; the tablet resumes on node B: resumed, the signal sent again with the next
    number, and the advisor told of the drop and the resumed return."""
    node_a, node_b = await two_nodes(start_server, redis_url)
    advisor = await node_b.client("advisor", "a1", name="Ada")
    await advisor.set_available()
    token = node_a.token("user", "u1")
    async with aiohttp.ClientSession() as http:
        ws, hello = await raw_hello(http, node_a.ws_url, {"token": token})
        await ws.send_str(json.dumps({"type": "help.request", "id": 1}))
        offer = await advisor.next(HelpOffer)
        started = await advisor.accept(offer.request_id)
        seen: list[dict[str, object]] = []
        while not {"ack", "session.started"} <= {frame["type"] for frame in seen}:
            seen.append(json.loads((await ws.receive()).data))
        last = int(str(seen[-1]["seq"]))
        await ws.close()
        assert (await advisor.next(PeerDisconnected)).session_id == started.session_id
        candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}
        await advisor.signal(started.session_id, candidate=candidate)
        params = {"token": token, "resume": str(hello["resume_token"]), "last_seq": str(last)}
        moved, again = await raw_hello(http, node_b.ws_url, params)
        assert (again["resumed"], again["seq"], again["replayed"]) == (True, last, 1)
        replayed = json.loads((await moved.receive()).data)
        assert (replayed["type"], replayed["seq"]) == ("signal", last + 1)
        assert replayed["candidate"] == candidate
        assert await advisor.next(PeerReconnected) == PeerReconnected(started.session_id, True)
        await advisor.signal(started.session_id, candidate=None)
        after = json.loads((await moved.receive()).data)
        assert (after["type"], after["seq"], after["candidate"]) == ("signal", last + 2, None)
        await moved.close()


async def test_the_client_library_resumes_across_nodes(
    start_server: StartServer, redis_url: str
) -> None:
    """MaydayClient dropped on node A and pointed at node B resumes there by itself."""
    node_a, node_b = await two_nodes(start_server, redis_url)
    advisor = await node_b.client("advisor", "a1")
    user = await node_a.client("user", "u1")
    await advisor.set_available()
    await user.request_help()
    started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
    await user.next(SessionStarted)
    user.url = node_b.ws_url  # as a load balancer would send it elsewhere
    await user.drop()
    await advisor.signal(started.session_id, candidate=None)
    restored = await user.next(LinkRestored, timeout=5)
    assert restored.resumed
    got = await user.next(SignalRelayed)
    assert got.has_candidate and got.candidate is None
    await user.close()


async def test_a_token_is_single_use_across_nodes(
    start_server: StartServer, redis_url: str
) -> None:
    """Once a node took a parked stream up, the same token gets a new stream anywhere."""
    node_a, node_b = await two_nodes(start_server, redis_url)
    token = node_a.token("user", "u1")
    async with aiohttp.ClientSession() as http:
        ws, hello = await raw_hello(http, node_a.ws_url, {"token": token})
        await ws.close()
        params = {"token": token, "resume": str(hello["resume_token"]), "last_seq": "1"}
        first, one = await raw_hello(http, node_b.ws_url, params)
        second, two = await raw_hello(http, node_a.ws_url, params)
        assert (one["resumed"], two["resumed"]) == (True, False)
        for socket in (first, second):
            await socket.close()


async def test_someone_elses_token_resumes_nothing(
    start_server: StartServer, redis_url: str
) -> None:
    """A token parked for one identity gives another identity a new stream, and stays
    valid for its owner."""
    node_a, node_b = await two_nodes(start_server, redis_url)
    async with aiohttp.ClientSession() as http:
        ws, hello = await raw_hello(http, node_a.ws_url, {"token": node_a.token("user", "u1")})
        await ws.close()
        resume = {"resume": str(hello["resume_token"]), "last_seq": "1"}
        thief, stolen = await raw_hello(
            http, node_b.ws_url, {"token": node_b.token("user", "u2"), **resume}
        )
        owner, own = await raw_hello(
            http, node_b.ws_url, {"token": node_b.token("user", "u1"), **resume}
        )
        assert (stolen["resumed"], own["resumed"]) == (False, True)
        for socket in (thief, owner):
            await socket.close()


async def test_a_half_open_socket_is_taken_over_on_its_node(
    start_server: StartServer, redis_url: str
) -> None:
    """The client resumes before the server has seen its old socket die (still open on
    this node): the live stream is taken over, resumed, and the old socket closed 4409."""
    (node,) = [await start_server(redis_url=redis_url)]
    token = node.token("user", "u1")
    async with aiohttp.ClientSession() as http:
        old, hello = await raw_hello(http, node.ws_url, {"token": token})
        params = {"token": token, "resume": str(hello["resume_token"]), "last_seq": "1"}
        new, again = await raw_hello(http, node.ws_url, params)
        assert (again["resumed"], again["seq"], again["replayed"]) == (True, 1, 0)
        closed = await old.receive()
        assert (closed.type, old.close_code) == (aiohttp.WSMsgType.CLOSE, 4409)
        await new.close()


async def test_frames_on_their_way_through_the_inbox_at_park_go_into_the_stream(
    redis_url: str,
) -> None:
    """The handover of park.lua: frames for the identity that reached the node's inbox
    after the last entry its reader handed over are numbered into the parked stream,
    after the snapshot, in order; others' frames, notes and laser moves are not."""
    redis = connect(redis_url)
    keys = Keys()
    inbox = _Cursor("node-a", "0-0")
    book = RedisStreamBook(redis, keys, grace_s=30, inbox=inbox)
    try:
        stream = book.open(("user", "u1"))
        stream.number(b'{"type":"help.queued"}')
        inbox.last_id = await _inbox_add(redis, keys, "user", "u1", {"type": "old"})
        for parcel in (
            ("user", "u1", {"type": "signal", "n": 1}),
            ("user", "u2", {"type": "signal", "n": 9}),
            ("user", "u1", {"type": "annotation", "_volatile": True}),
            ("user", "u1", {"type": "signal", "n": 2}),
        ):
            await _inbox_add(redis, keys, *parcel)
        await redis.xadd(keys.inbox("node-a"), {"f": json.dumps({"note": {"k": "waiting"}})})
        await book.park(stream, now=0.0)
        claim = await RedisStreamBook(redis, keys, grace_s=30).claim(
            stream.token, ("user", "u1"), 1, 0.0, "node-b"
        )
        assert claim is not None
        got = [json.loads(frame) for frame in claim.replay]
        assert [(f["seq"], f.get("n")) for f in got] == [(2, 1), (3, 2)]
    finally:
        await redis.aclose()


@dataclass
class _Cursor:
    node_id: str
    last_id: str


async def _inbox_add(
    redis: Redis, keys: Keys, role: str, sub: str, frame: dict[str, object]
) -> str:
    """An entry as deliver.lua writes it (role, sub, then the frame); returns its id."""
    payload = json.dumps({"role": role, "sub": sub, "frame": frame}, separators=(",", ":"))
    return str(await redis.xadd(keys.inbox("node-a"), {"f": payload}))
