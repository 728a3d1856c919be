"""SIGTERM of a node under load (issue 10): three real processes behind a balancer, live
sessions signaling both ways and users waiting; one node is taken out and stopped. Every
client it held resumes elsewhere with its stream, every frame arrives once and in order,
and every request is answered afterwards: none is lost."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from mayday.client import (
    HelpOffer,
    LinkLost,
    LinkRestored,
    MaydayClient,
    SessionEnded,
    SessionStarted,
    SignalRelayed,
)
from tests.cluster.conftest import StartNodes
from tests.cluster.nodes import Node, connect_any, token
from tests.cluster.test_cluster import assert_nothing_left, close_all, stop_all
from tests.redis_server import RedisServer
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.cluster

SESSIONS = 20
WAITING = 10


@dataclass
class Pump:
    """One side of a live session sending numbered `signal` frames, one in flight at a
    time (as a real peer's offer and candidates go), and the numbers the other side got."""

    sender: MaydayClient
    session_id: str
    sent: int = 0
    got: list[int] = field(default_factory=list)

    def listen(self, receiver: MaydayClient) -> None:
        def take(event: SignalRelayed) -> None:
            assert event.description is not None
            self.got.append(int(event.description["sdp"].rsplit("=", 1)[1]))

        receiver.on_signal(self.session_id, take)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sdp = f"v=0 n={self.sent + 1}"
            await self.sender.signal(self.session_id, description={"type": "offer", "sdp": sdp})
            self.sent += 1
            await asyncio.sleep(0.02)


async def test_sigterm_under_load_every_client_resumes_elsewhere_and_none_is_lost(
    start_nodes: StartNodes, redis_server: RedisServer
) -> None:
    nodes = start_nodes(3, drain_spread_s="1", rate_limit_per_s="1000", rate_limit_burst="1000")
    proxy = await TcpProxy([_address(n.ws_url) for n in nodes]).start()
    clients: list[MaydayClient] = []

    async def join(role: str, sub: str) -> MaydayClient:
        client = await MaydayClient.connect(proxy.url(), token(role, sub))
        clients.append(client)
        return client

    try:
        pumps, advisors, asked = await _sessions(join)
        waiting = [await join("user", f"w{j}") for j in range(WAITING)]
        queued = {w: (await w.request_help()).request_id for w in waiting}
        stop = asyncio.Event()
        runs = [asyncio.create_task(p.run(stop)) for p in pumps]
        await asyncio.sleep(1.0)
        proxy.down = {0}  # the rolling restart: out of the balancer, then SIGTERM
        await asyncio.get_running_loop().run_in_executor(None, nodes[0].stop)
        assert nodes[0].process.returncode == 0
        await asyncio.sleep(3.0)  # the moved clients are back within the 1 s spread
        stop.set()
        await asyncio.gather(*runs)
        moved = _check_links(clients)
        assert moved >= 5, f"only {moved} clients were on the stopped node"
        await _wait_all_arrived(pumps)
        await _answer_the_waiting(advisors, pumps, queued)
        await assert_nothing_left(redis_server.url, asked | set(queued.values()))
    finally:
        await close_all(clients)
        await proxy.close()


async def _sessions(join: object) -> tuple[list[Pump], list[MaydayClient], set[str]]:
    """SESSIONS live sessions, each with a pump in both directions."""
    pumps: list[Pump] = []
    advisors: list[MaydayClient] = []
    asked: set[str] = set()
    for i in range(SESSIONS):
        user = await join("user", f"u{i}")  # type: ignore[operator]
        advisor = await join("advisor", f"a{i}")  # type: ignore[operator]
        asked.add((await user.request_help()).request_id)
        await advisor.set_available()
        started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
        await user.next(SessionStarted)
        down, up = Pump(advisor, started.session_id), Pump(user, started.session_id)
        down.listen(user)
        up.listen(advisor)
        pumps += [down, up]
        advisors.append(advisor)
    return pumps, advisors, asked


def _check_links(clients: list[MaydayClient]) -> int:
    """Every client that lost its link was told to come back (1012) and resumed with its
    stream; returns how many moved."""
    moved = 0
    for client in clients:
        events = client.pending_events()
        lost = [e for e in events if isinstance(e, LinkLost)]
        restored = [e for e in events if isinstance(e, LinkRestored)]
        assert [e.code for e in lost] in ([], [1012]), lost
        assert len(restored) == len(lost) and all(e.resumed for e in restored), restored
        moved += len(restored)
    return moved


async def _wait_all_arrived(pumps: list[Pump]) -> None:
    """Every frame sent arrives exactly once and in order, across the move."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            while any(len(p.got) < p.sent for p in pumps):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    for pump in pumps:
        assert pump.got == list(range(1, pump.sent + 1)), (pump.session_id, pump.got[-5:])
    assert all(p.sent > 50 for p in pumps)


async def _answer_the_waiting(
    advisors: list[MaydayClient], pumps: list[Pump], queued: dict[MaydayClient, str]
) -> None:
    """The sessions end, their advisors are free again and take the waiting users, each
    on the request it made before the stop."""
    for advisor, pump in zip(advisors, pumps[::2], strict=True):
        await advisor.end_session(pump.session_id)
    taken: list[str] = []

    async def take(advisor: MaydayClient) -> None:
        while True:
            offer = await advisor.next(HelpOffer, timeout=None)
            await advisor.accept(offer.request_id)
            taken.append(offer.request_id)

    tasks = [asyncio.create_task(take(a)) for a in advisors]
    try:
        for user, request_id in queued.items():
            started = await user.next(SessionStarted, timeout=15)
            assert started.request_id == request_id
            await user.end_session(started.session_id)
    finally:
        await stop_all(tasks)
    assert sorted(taken) == sorted(queued.values())


def _address(ws_url: str) -> tuple[str, int]:
    parts = urlsplit(ws_url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


async def test_kill_9_of_the_node_holding_both_peers_of_20_sessions_strands_none(
    start_nodes: StartNodes, redis_server: RedisServer
) -> None:
    """kill -9 of the node where both peers of 20 live sessions are: every client comes
    back on the other nodes with its resume token (the dead node parked nothing, so
    `resumed: false` and the live session sent again), past the reaper's deadline every
    session still goes on (a `signal` each way), and every request ends on purpose."""
    nodes = start_nodes(3)
    pairs: list[tuple[MaydayClient, MaydayClient, str]] = []
    for i in range(20):
        user = await MaydayClient.connect(nodes[0].ws_url, token("user", f"k{i}"), reconnect=False)
        advisor = await MaydayClient.connect(
            nodes[0].ws_url, token("advisor", f"ka{i}"), reconnect=False
        )
        asked = await user.request_help()
        await advisor.set_available()
        started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
        await user.next(SessionStarted)
        pairs.append((user, advisor, started.session_id))
        assert started.request_id == asked.request_id
    nodes[0].kill()
    moved = await asyncio.gather(
        *(_back(nodes, client, i) for i, pair in enumerate(pairs) for client in pair[:2])
    )
    try:
        for (user, advisor), (_, _, sid) in zip(
            zip(moved[::2], moved[1::2], strict=True), pairs, strict=True
        ):
            for client in (user, advisor):
                again = await client.next(SessionStarted)
                assert again.session_id == sid
        await asyncio.sleep(6)  # past the 5 s deadline: the dead node is reaped
        for (user, advisor), (_, _, sid) in zip(
            zip(moved[::2], moved[1::2], strict=True), pairs, strict=True
        ):
            await advisor.signal(sid, description={"type": "offer", "sdp": "v=0 after"})
            assert (await user.next(SignalRelayed)).session_id == sid
            await user.signal(sid, description={"type": "answer", "sdp": "v=0 back"})
            assert (await advisor.next(SignalRelayed)).session_id == sid
            assert not [e for e in user.pending_events() if isinstance(e, SessionEnded)]
            await user.end_session(sid)
        request_ids = {
            started.request_id
            for user, _ in zip(moved[::2], moved[1::2], strict=True)
            for started in [await user.next(SessionEnded)]
        }
        await assert_nothing_left(redis_server.url, request_ids)
    finally:
        await close_all([*moved, *(c for pair in pairs for c in pair[:2])])


async def _back(nodes: list[Node], old: MaydayClient, i: int) -> MaydayClient:
    """The client of a dead node, reconnected to another with its resume token."""
    assert old.hello is not None
    resume = (old.hello.resume_token, old.last_seq)
    role, sub = old.hello.role, old.hello.sub
    with contextlib.suppress(Exception):
        await old.close()
    client = await connect_any(nodes, role, sub, 1 + i % 2, resume)
    assert client.hello is not None and client.hello.resumed is False
    return client
