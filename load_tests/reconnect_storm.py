"""Reconnect storm: live sessions on a node that is stopped, resumed on another (issue 10).

    python -m load_tests.reconnect_storm --sessions 2000

Two ``mayday serve --redis`` processes and a redis-server of our own. Every
user and advisor of ``--sessions`` live sessions connects to node A and the
sessions are made there (each advisor accepts one user's request). Then node A
gets SIGTERM: it drains (``server.draining``, streams parked in Redis, close
1012) and every client reconnects to node B with ``?resume=`` and the last
``seq`` it had, after the ``reconnect_in_s`` it was given (spread over
``MAYDAY_DRAIN_SPREAD_S``, ``--spread``). Measured from the SIGTERM: the time
until each client has its resumed ``hello`` on B (p50, p99, the last), how many
were not resumed, and how many sessions were lost: a session counts as kept
when, after the storm, a ``signal`` from its user reaches its advisor on B.
Redis's CPU and commands, and node B's CPU, over the storm, per resume.

The clients are plain sockets (no client library), all in this process;
every wait is bounded and the servers stop by themselves on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from dataclasses import dataclass, field

import aiohttp
from redis.asyncio import Redis

from load_tests.common import RunningServer, machine, mayday_nodes, percentile, redis_server
from load_tests.connections import raise_fd_limit

CONCURRENCY = 100


@dataclass
class Peer:
    """One socket of a session's user or advisor, and where its stream stands."""

    role: str
    sub: str
    token: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    resume_token: str = ""
    last_seq: int = 0
    hint_s: float = 0.0
    resumed_at: float | None = None
    closed_at: float | None = None
    resumed: bool = False
    frames: list[dict[str, object]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[int | None] | None = None

    async def open(self, http: aiohttp.ClientSession, url: str, resume: bool = False) -> None:
        params = {"token": self.token}
        if resume:
            params |= {"resume": self.resume_token, "last_seq": str(self.last_seq)}
        self.ws = await http.ws_connect(url, params=params, heartbeat=None)
        hello = json.loads((await self.ws.receive(timeout=30)).data)
        if hello.get("type") != "hello":
            raise ConnectionError(f"{self.sub}: no hello but {hello.get('type')}")
        self.resume_token, self.last_seq = hello["resume_token"], int(hello["seq"])
        self.resumed = bool(hello["resumed"])
        self.reader = asyncio.get_running_loop().create_task(self.read())

    async def read(self) -> int | None:
        """Frames until the socket closes; returns its close code."""
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            seq = int(frame.get("seq", 0))
            if seq <= self.last_seq:
                continue
            self.last_seq = seq
            if frame["type"] == "server.draining":
                self.hint_s = float(frame["reconnect_in_s"])
            self.frames.append(frame)
            self.arrived.set()
        return self.ws.close_code

    async def next_frame(self, kind: str, timeout: float = 30) -> dict[str, object]:
        async with asyncio.timeout(timeout):
            while True:
                for frame in self.frames:
                    if frame["type"] == kind:
                        self.frames.remove(frame)
                        return frame
                self.arrived.clear()
                await self.arrived.wait()

    async def call(self, frame: dict[str, object]) -> dict[str, object]:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(frame))
        return await self.next_frame("ack")


async def make_sessions(
    http: aiohttp.ClientSession, node: RunningServer, count: int
) -> list[tuple[Peer, Peer, str]]:
    """``count`` (user, advisor, session id) live on ``node``: every advisor goes
    available and every user asks; whoever is offered a request accepts it."""
    gate = asyncio.Semaphore(CONCURRENCY)
    users = [Peer("user", f"u{i}", node.token("user", f"u{i}")) for i in range(count)]
    advisors = {
        f"a{i}": Peer("advisor", f"a{i}", node.token("advisor", f"a{i}")) for i in range(count)
    }

    async def advisor_takes(advisor: Peer) -> None:
        async with gate:
            await advisor.open(http, node.ws_url)
            await advisor.call({"type": "advisor.state", "id": 1, "state": "available"})
        offer = await advisor.next_frame("help.offer", timeout=120)
        await advisor.call({"type": "help.accept", "id": 2, "request_id": offer["request_id"]})

    async def user_asks(user: Peer) -> tuple[Peer, Peer, str]:
        async with gate:
            await user.open(http, node.ws_url)
            await user.call({"type": "help.request", "id": 1})
        started = await user.next_frame("session.started", timeout=120)
        peer = started["peer"]
        assert isinstance(peer, dict)
        return user, advisors[str(peer["id"])], str(started["session_id"])

    taking = [asyncio.create_task(advisor_takes(a)) for a in advisors.values()]
    pairs = await asyncio.gather(*(user_asks(u) for u in users))
    await asyncio.gather(*taking)
    return list(pairs)


async def storm(
    http: aiohttp.ClientSession, peers: list[Peer], target: RunningServer, stopped_at: float
) -> list[str]:
    """Each peer: wait for its close, then its hint, then resume on ``target``."""
    failures: list[str] = []
    gate = asyncio.Semaphore(CONCURRENCY * 4)

    async def one(peer: Peer) -> None:
        assert peer.reader is not None
        await peer.reader  # until node A closes the socket
        peer.closed_at = time.monotonic() - stopped_at
        await asyncio.sleep(peer.hint_s)
        try:
            async with gate:
                await peer.open(http, target.ws_url, resume=True)
            peer.resumed_at = time.monotonic() - stopped_at
        except Exception as exc:  # counted and reported
            failures.append(f"{peer.sub}: {type(exc).__name__}: {exc}")

    async with asyncio.timeout(120):
        await asyncio.gather(*(one(p) for p in peers))
    return failures


async def sessions_kept(sessions: list[tuple[Peer, Peer, str]]) -> int:
    """Sessions in which a signal from the user reaches the advisor after the storm."""

    async def one(user: Peer, advisor: Peer, sid: str) -> bool:
        candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}
        try:
            ack = await user.call(
                {"type": "signal", "id": 9, "session_id": sid, "candidate": candidate}
            )
            if ack.get("type") != "ack":
                return False
            await advisor.next_frame("signal", timeout=20)
            return True
        except (TimeoutError, ConnectionError):
            return False

    return sum(await asyncio.gather(*(one(u, a, s) for u, a, s in sessions)))


async def redis_cost(redis: Redis) -> tuple[float, int]:
    """Redis CPU seconds and commands processed so far."""
    cpu = await redis.info("cpu")
    stats = await redis.info("stats")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]), int(
        stats["total_commands_processed"]
    )


@dataclass(frozen=True)
class Storm:
    """What one storm measured."""

    sessions: int
    spread: float
    exit_code: int
    resumed_at: list[float]  # seconds from the SIGTERM, per client back on B
    closed_at: list[float]  # seconds from the SIGTERM, per socket node A closed
    resumed: int  # of the clients back, how many with their stream
    clients: int
    kept: int  # sessions that went on
    failures: list[str]
    cpu_b: float
    cpu_redis: float
    commands: int


async def run(sessions: int, spread: float) -> Storm:
    raise_fd_limit(sessions * 8 + 1000)
    env = {"MAYDAY_DRAIN_SPREAD_S": str(spread), "MAYDAY_RATE_LIMIT_BURST": "1000"}
    with redis_server() as redis_srv, mayday_nodes(2, redis_srv.url, env=env) as (a, b):
        redis = Redis.from_url(redis_srv.url)
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        try:
            started = time.monotonic()
            pairs = await make_sessions(http, a, sessions)
            print(f"  {sessions} sessions live on node A in {time.monotonic() - started:.1f} s")
            peers = [p for user, advisor, _ in pairs for p in (user, advisor)]
            cpu_b, (cpu_r, cmds) = b.cpu_seconds(), await redis_cost(redis)
            stopped_at = time.monotonic()
            a.process.send_signal(signal.SIGTERM)
            failures = await storm(http, peers, b, stopped_at)
            cpu_b = b.cpu_seconds() - cpu_b
            cpu_r_after, cmds_after = await redis_cost(redis)
            exit_code = await asyncio.to_thread(a.process.wait, 60)
            return Storm(
                sessions,
                spread,
                exit_code,
                [p.resumed_at for p in peers if p.resumed_at is not None],
                [p.closed_at for p in peers if p.closed_at is not None],
                sum(p.resumed for p in peers if p.resumed_at is not None),
                len(peers),
                await sessions_kept(pairs),
                failures,
                cpu_b,
                cpu_r_after - cpu_r,
                cmds_after - cmds,
            )
        finally:
            await http.close()
            await redis.aclose()


def report(r: Storm) -> None:
    n = max(1, len(r.resumed_at))
    print(f"  node A stopped with SIGTERM (exit {r.exit_code}), drain spread {r.spread} s")
    print(f"  clients back on node B: {len(r.resumed_at)} of {r.clients}; resumed: {r.resumed}")
    for what, times in (("SIGTERM to resumed hello", r.resumed_at), ("closed by A", r.closed_at)):
        if times:
            p50, p99 = percentile(times, 50), percentile(times, 99)
            print(f"  {what}: p50 {p50:.2f} s  p99 {p99:.2f} s  all {max(times):.2f} s")
    print(f"  sessions kept: {r.kept} of {r.sessions}; lost: {r.sessions - r.kept}")
    print(f"  node B CPU: {r.cpu_b:.2f} s, {r.cpu_b / n * 1e3:.2f} ms per resume")
    print(
        f"  Redis CPU: {r.cpu_redis:.2f} s, {r.cpu_redis / n * 1e3:.3f} ms and"
        f" {r.commands / n:.1f} commands (Lua calls included) per resume"
    )
    for failure in r.failures[:10]:
        print(f"  failed: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--spread", type=float, default=2.0, help="MAYDAY_DRAIN_SPREAD_S")
    args = parser.parse_args()
    print(f"reconnect storm on {machine()}")
    report(asyncio.run(run(args.sessions, args.spread)))


if __name__ == "__main__":
    main()
