"""Relay throughput and latency between paired peers: Mayday, PeerJS server, bare floor.

    python -m load_tests.relay --mode pingpong --rounds 3 --pp-pairs 50,1 --pp-seconds 10
    python -m load_tests.relay --mode stream --rounds 3 --pairs 10 --seconds 3 \\
        --latency-pairs 50 --rate 20 --latency-seconds 5

Two modes. ``pingpong`` (real signaling, the figure that counts): each of
``--pp-pairs`` pairs has one frame in flight; the sender sends, the receiver
echoes it back the moment it has it, the sender sends the next once the echo
is in. It reports round trips/s, the p50/p99 round trip and the server's CPU
time per relayed frame (two per round trip; utime + stime from /proc/PID/stat
before and after). Every measurement gets a fresh server process, pinned to
``--pin`` cores with ``taskset`` while this generator takes the others
(``os.sched_setaffinity``), and the targets' order rotates between rounds;
medians with their min-max, ratios against the floor. ``stream`` (the write
batching's best case): many frames in flight per pair, below.

In the ``stream`` mode, one load generator, three targets started side by
side, each round taking them in a rotated order so that a neighbour's CPU
burst hurts all alike:

- ``mayday``: ``mayday serve`` (memory store); each pair is a user and an
  advisor paired through ``help.request`` / ``help.accept``; the advisor
  streams ``signal`` frames carrying one ICE candidate to the user. The
  per-connection rate limit is raised (``MAYDAY_RATE_LIMIT_PER_S`` and
  ``MAYDAY_RATE_LIMIT_BURST`` = 1e9) so that throughput measures the relay,
  not the limiter; the latency run stays under the default limit anyway.
- ``peerjs``: the PeerJS server (npm ``peer``, ``load_tests/peerjs``), spoken
  to directly: ``/peerjs?key=peerjs&id=..&token=..``, ``OPEN``, then
  ``CANDIDATE`` frames with ``dst``.
- ``floor``: ``load_tests/floor.py``, the least a relay in aiohttp can do.
- ``mayday-redis`` (not in the default set): two ``mayday serve --redis``
  nodes on a redis-server of the benchmark's own; every advisor on node B,
  every user on node A, so every relayed frame crosses Redis (``deliver.lua``
  on B, ``XREAD`` on A). Its CPU per frame is both nodes' plus Redis's.
- ``mayday-cluster`` (not in the default set): the same two nodes on a Redis Cluster of
  three masters of the benchmark's own (``redis-cli --cluster create``); the CPU counts
  all three masters (every Mayday key is in one slot, so one of them does the work).

Every target carries the same candidate (the payload a browser trickles),
with the send time in an extra ``sent_at`` key inside it, which all three
pass on unchanged. Throughput: each pair streams with at most ``--window``
frames in flight (sent, not yet received), so no relay is asked to buffer
without bound. Latency: ``--latency-pairs`` pairs each send ``--rate``
frames a second on a fixed schedule; latency is send to receive, both
stamps from this process's clock.

The generator is a single Python process on the same machine: it can be the
bottleneck itself. Each run therefore also reports the server's CPU time
per relayed frame, read from /proc, which does not depend on who is busier.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import aiohttp

from load_tests.common import (
    RunningServer,
    child_server,
    cpu_seconds,
    machine,
    mayday_nodes,
    mayday_server,
    percentile,
    pin_generator,
    pin_server,
    plot_percentiles,
    redis_server,
)
from tests.redis_server import RedisClusterServers

TARGETS = ("mayday", "peerjs", "floor")
EXTRA_TARGETS = ("mayday-redis", "mayday-cluster")  # both across two nodes
PEERJS_DIR = Path(__file__).resolve().parent / "peerjs"
# A server-reflexive candidate as Chrome trickles it: about 190 bytes of JSON.
CANDIDATE = {
    "candidate": (
        "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx "
        "raddr 192.168.1.20 rport 46154 generation 0 ufrag sXjG network-id 1 network-cost 10"
    ),
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "sXjG",
}
MARK = '"sent_at":'
SENTINEL = 1234567.125
RAISED_LIMITS = {"MAYDAY_RATE_LIMIT_PER_S": "1000000000", "MAYDAY_RATE_LIMIT_BURST": "1000000000"}
SETUP_TIMEOUT = 10.0
# ``--compress``: the generator offers permessage-deflate, as browsers do (set in main).
OFFER_DEFLATE = {"compress": 0}


# ---------------------------------------------------------------- pairs
@dataclass
class Pair:
    """Two connected sockets of one target; ``sender`` streams frames to ``receiver``."""

    sender: aiohttp.ClientWebSocketResponse
    receiver: aiohttp.ClientWebSocketResponse
    template: str
    # The frame the receiver sends back in the ping-pong mode (PeerJS addresses it to
    # the sender's id); the same as ``template`` where the relay knows the way back.
    back_template: str = ""

    def __post_init__(self) -> None:
        self._head, self._tail = self.template.split(repr(SENTINEL), 1)
        back = self.back_template or self.template
        self._back_head, self._back_tail = back.split(repr(SENTINEL), 1)

    def frame(self, sent_at: float) -> str:
        """The frame to send, stamped with ``sent_at``."""
        return f"{self._head}{sent_at!r}{self._tail}"

    def back(self, sent_at: float) -> str:
        """The receiver's echo of a frame stamped ``sent_at``, with the same stamp."""
        return f"{self._back_head}{sent_at!r}{self._back_tail}"

    async def close(self) -> None:
        await self.sender.close()
        await self.receiver.close()


def _template(frame: dict[str, Any]) -> str:
    return json.dumps(frame)


def sent_at(text: str) -> float | None:
    """The send stamp in a relayed frame, or None if the frame is not one of ours."""
    start = text.find(MARK)
    if start < 0:
        return None
    start += len(MARK)
    return float(text[start : text.index("}", start)])


async def expect(ws: aiohttp.ClientWebSocketResponse, type_: str) -> dict[str, Any]:
    """Read frames until one of ``type_`` arrives; fail on close or after a timeout."""
    async with asyncio.timeout(SETUP_TIMEOUT):
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(
                    f"waiting for {type_}: socket said {msg.type.name} {msg.data}"
                )
            frame: dict[str, Any] = json.loads(msg.data)
            if frame.get("type") == type_:
                return frame


async def mayday_pair(http: aiohttp.ClientSession, server: RunningServer, tag: str) -> Pair:
    """A user and an advisor in a session, paired the way real clients are (the advisor
    on the second node when the target has two)."""
    advisor_url = server.advisor_ws_url if isinstance(server, TwoNodes) else server.ws_url
    advisor = await http.ws_connect(
        advisor_url, params={"token": server.token("advisor", f"adv-{tag}")}, **OFFER_DEFLATE
    )
    await expect(advisor, "hello")
    await advisor.send_str('{"type":"advisor.state","state":"available"}')
    user = await http.ws_connect(
        server.ws_url, params={"token": server.token("user", f"u-{tag}")}, **OFFER_DEFLATE
    )
    await expect(user, "hello")
    await user.send_str('{"type":"help.request","topic":"benchmark"}')
    offer = await expect(advisor, "help.offer")
    await advisor.send_str(json.dumps({"type": "help.accept", "request_id": offer["request_id"]}))
    started = await expect(user, "session.started")
    candidate = {**CANDIDATE, "sent_at": SENTINEL}
    frame = {"type": "signal", "session_id": started["session_id"], "candidate": candidate}
    return Pair(advisor, user, _template(frame))


async def peerjs_pair(http: aiohttp.ClientSession, server: RunningServer, tag: str) -> Pair:
    """Two PeerJS peers; the first sends CANDIDATE messages to the second."""
    url = server.base.replace("http", "ws", 1) + "/peerjs"
    a_id, b_id = f"a-{tag}", f"b-{tag}"
    a = await http.ws_connect(
        url, params={"key": "peerjs", "id": a_id, "token": f"ta{tag}"}, **OFFER_DEFLATE
    )
    await expect(a, "OPEN")
    b = await http.ws_connect(
        url, params={"key": "peerjs", "id": b_id, "token": f"tb{tag}"}, **OFFER_DEFLATE
    )
    await expect(b, "OPEN")
    payload = {
        "candidate": {**CANDIDATE, "sent_at": SENTINEL},
        "type": "media",
        "connectionId": f"mc_{tag}",
    }
    there = _template({"type": "CANDIDATE", "dst": b_id, "payload": payload})
    back = _template({"type": "CANDIDATE", "dst": a_id, "payload": payload})
    return Pair(a, b, there, back)


async def floor_pair(http: aiohttp.ClientSession, server: RunningServer, tag: str) -> Pair:
    """Two sockets in one room of the bare relay."""
    a = await http.ws_connect(server.ws_url, params={"room": tag}, **OFFER_DEFLATE)
    b = await http.ws_connect(server.ws_url, params={"room": tag}, **OFFER_DEFLATE)
    await expect(a, "paired")
    await expect(b, "paired")
    candidate = {**CANDIDATE, "sent_at": SENTINEL}
    return Pair(a, b, _template({"type": "signal", "session_id": tag, "candidate": candidate}))


OPENERS: dict[str, Callable[[aiohttp.ClientSession, RunningServer, str], Awaitable[Pair]]] = {
    "mayday": mayday_pair,
    "mayday-redis": mayday_pair,
    "mayday-cluster": mayday_pair,
    "peerjs": peerjs_pair,
    "floor": floor_pair,
}


@contextlib.asynccontextmanager
async def opened_pairs(
    target: str, server: RunningServer, n: int, tag: str
) -> AsyncIterator[list[Pair]]:
    """``n`` pairs on ``target``, opened one after the other, all closed on exit."""
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    pairs: list[Pair] = []
    try:
        opener = OPENERS[target.split("@", 1)[0]]
        for i in range(n):
            pairs.append(await opener(http, server, f"{tag}-{i}"))
        yield pairs
    finally:
        for pair in pairs:
            await pair.close()
        await http.close()


# ---------------------------------------------------------------- measurements
@dataclass
class Throughput:
    frames_per_s: float
    server_cpu_us_per_frame: float
    server_cpu_share: float
    generator_cpu_share: float
    delivered: int
    errors: int
    bytes_out: int
    bytes_in: int


@dataclass
class Latency:
    samples_ms: list[float]
    expected: int
    received: int
    server_cpu_us_per_frame: float
    errors: int

    def p(self, q: float) -> float:
        return percentile(self.samples_ms, q)


class _Flow:
    """One pair while it streams: what was sent, what arrived, and when."""

    def __init__(self, pair: Pair, *, window: int = 0, expected: int = 0) -> None:
        self.pair, self.window, self.expected = pair, window, expected
        self.sent = self.received = self.errors = self.bytes_in = 0
        self.latencies: list[tuple[float, float]] = []  # (sent at, latency), seconds
        self.room = asyncio.Event()  # set when a frame arrives, so the window has room
        self.done = asyncio.Event()  # set when ``expected`` frames have arrived
        self.stopped = False

    async def stream(self) -> None:
        """Send as fast as ``window`` frames in flight allow, until stopped."""
        while not self.stopped:
            if self.sent - self.received >= self.window:
                self.room.clear()
                await self.room.wait()
                continue
            await self.pair.sender.send_str(self.pair.frame(time.perf_counter()))
            self.sent += 1

    async def paced(self, first: float, rate: float, count: int) -> None:
        """Send ``count`` frames, the k-th at ``first + k / rate``."""
        for k in range(count):
            delay = first + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.pair.sender.send_str(self.pair.frame(time.perf_counter()))
            self.sent += 1

    async def collect(self, *, stamps: bool) -> None:
        """Count our frames as they arrive; with ``stamps``, keep each one's latency."""
        async for msg in self.pair.receiver:
            if msg.type is not aiohttp.WSMsgType.TEXT or MARK not in msg.data:
                continue
            if stamps:
                stamp = sent_at(msg.data)
                assert stamp is not None
                self.latencies.append((stamp, time.perf_counter() - stamp))
            self.received += 1
            self.bytes_in = self.bytes_in or len(msg.data)
            self.room.set()
            if self.received == self.expected:
                self.done.set()

    async def drain_sender(self) -> None:
        """Read what the server sends the sender (acks, errors, summaries) so nothing piles up."""
        async for msg in self.pair.sender:
            if msg.type is aiohttp.WSMsgType.TEXT and '"error"' in msg.data.lower():
                self.errors += 1

    def stop(self) -> None:
        self.stopped = True
        self.room.set()


@contextlib.asynccontextmanager
async def _running(coros: list[Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def measure_throughput(
    pairs: list[Pair], server: RunningServer, seconds: float, window: int, warmup: float = 0.5
) -> Throughput:
    """Every pair streams as fast as ``window`` frames in flight allow; count what arrives."""
    flows = [_Flow(p, window=window) for p in pairs]
    readers = [f.collect(stamps=False) for f in flows] + [f.drain_sender() for f in flows]
    async with _running(readers + [f.stream() for f in flows]):
        await asyncio.sleep(warmup)
        start, cpu0, own0 = time.perf_counter(), server.cpu_seconds(), time.process_time()
        got0 = sum(f.received for f in flows)
        await asyncio.sleep(seconds)
        wall = time.perf_counter() - start
        cpu, own = server.cpu_seconds() - cpu0, time.process_time() - own0
        got = sum(f.received for f in flows) - got0
        for f in flows:
            f.stop()
    if any(p.receiver.closed or p.sender.closed for p in pairs):
        raise ConnectionError("a socket was closed during the throughput run")
    return Throughput(
        frames_per_s=got / wall,
        server_cpu_us_per_frame=cpu / got * 1e6 if got else float("inf"),
        server_cpu_share=cpu / wall,
        generator_cpu_share=own / wall,
        delivered=got,
        errors=sum(f.errors for f in flows),
        bytes_out=len(pairs[0].frame(time.perf_counter())),
        bytes_in=flows[0].bytes_in,
    )


async def measure_latency(
    pairs: list[Pair], server: RunningServer, rate: float, seconds: float
) -> Latency:
    """Each pair sends ``rate`` frames a second on a fixed schedule, phases spread evenly;
    the first tenth of the run (at most half a second) is warm-up and not kept."""
    warmup = min(0.5, seconds / 10)
    per_pair = int(rate * seconds)
    flows = [_Flow(p, expected=per_pair) for p in pairs]
    t0 = time.perf_counter() + 0.05
    readers = [f.collect(stamps=True) for f in flows] + [f.drain_sender() for f in flows]
    cpu0 = server.cpu_seconds()
    async with _running(readers):
        await asyncio.gather(
            *(f.paced(t0 + i / (rate * len(flows)), rate, per_pair) for i, f in enumerate(flows))
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(f.done.wait() for f in flows)), 5)
        cpu = server.cpu_seconds() - cpu0
    got = sum(f.received for f in flows)
    return Latency(
        samples_ms=[
            lat * 1000 for f in flows for stamp, lat in f.latencies if stamp >= t0 + warmup
        ],
        expected=per_pair * len(flows),
        received=got,
        server_cpu_us_per_frame=cpu / got * 1e6 if got else float("inf"),
        errors=sum(f.errors for f in flows),
    )


async def run_throughput(
    target: str, server: RunningServer, pairs: int, seconds: float, window: int, tag: str
) -> Throughput:
    async with opened_pairs(target, server, pairs, tag) as opened:
        return await measure_throughput(opened, server, seconds, window)


async def run_latency(
    target: str, server: RunningServer, pairs: int, rate: float, seconds: float, tag: str
) -> Latency:
    async with opened_pairs(target, server, pairs, tag) as opened:
        return await measure_latency(opened, server, rate, seconds)


# ---------------------------------------------------------------- ping-pong
@dataclass
class PingPong:
    """The closed loop: each pair has one frame in flight, sent, echoed, sent again."""

    pairs: int
    round_trips: int
    seconds: float
    rtt_ms: list[float]
    server_cpu_us_per_frame: float
    server_cpu_share: float
    errors: int

    @property
    def per_s(self) -> float:
        return self.round_trips / self.seconds

    def p(self, q: float) -> float:
        return percentile(self.rtt_ms, q)


async def _ours(ws: aiohttp.ClientWebSocketResponse, errors: list[int]) -> float:
    """The send stamp of the next frame of ours on ``ws``; other frames (a queue summary,
    a position update) are skipped, errors counted."""
    while True:
        msg = await ws.receive()
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"ping-pong: socket said {msg.type.name} {msg.data}")
        stamp = sent_at(msg.data)
        if stamp is not None:
            return stamp
        if '"error"' in msg.data.lower():
            errors[0] += 1


async def _volley(
    pair: Pair, until: float, keep_from: float, rtts: list[float], errors: list[int]
) -> int:
    """Round trips of one pair until ``until``: the sender sends, the receiver echoes the
    stamp back as soon as it has the frame, the sender sends the next once the echo is
    in. Round trips that start after ``keep_from`` are kept and counted."""
    kept = 0
    while (start := time.perf_counter()) < until:
        await pair.sender.send_str(pair.frame(start))
        stamp = await _ours(pair.receiver, errors)
        await pair.receiver.send_str(pair.back(stamp))
        if await _ours(pair.sender, errors) != start:
            raise ConnectionError("ping-pong: an echo of another frame came back")
        if start >= keep_from:
            rtts.append((time.perf_counter() - start) * 1000)
            kept += 1
    return kept


async def measure_pingpong(
    pairs: list[Pair], server: RunningServer, seconds: float, warmup: float = 0.5
) -> PingPong:
    """Every pair volleys for ``warmup + seconds``; what starts in the last ``seconds``
    is measured. Server CPU per relayed frame: two frames per round trip."""
    rtts: list[float] = []
    errors = [0]
    now = time.perf_counter()
    keep_from, until = now + warmup, now + warmup + seconds
    cpu0 = 0.0

    async def meter() -> None:
        nonlocal cpu0
        await asyncio.sleep(max(0.0, keep_from - time.perf_counter()))
        cpu0 = server.cpu_seconds()

    metering = asyncio.create_task(meter())
    counts = await asyncio.gather(*(_volley(p, until, keep_from, rtts, errors) for p in pairs))
    await metering
    cpu = server.cpu_seconds() - cpu0
    wall = time.perf_counter() - keep_from
    done = sum(counts)
    return PingPong(
        pairs=len(pairs),
        round_trips=done,
        seconds=wall,
        rtt_ms=rtts,
        server_cpu_us_per_frame=cpu / (2 * done) * 1e6 if done else float("inf"),
        server_cpu_share=cpu / wall,
        errors=errors[0],
    )


async def run_pingpong(
    target: str, server: RunningServer, pairs: int, seconds: float, tag: str
) -> PingPong:
    async with opened_pairs(target, server, pairs, tag) as opened:
        return await measure_pingpong(opened, server, seconds)


# ---------------------------------------------------------------- servers
@contextlib.contextmanager
def floor_server() -> Iterator[RunningServer]:
    with child_server([sys.executable, "-m", "load_tests.floor", "--port", "0"]) as server:
        yield server


def ensure_peerjs() -> None:
    """``npm ci`` in load_tests/peerjs when its node_modules are missing."""
    if (PEERJS_DIR / "node_modules" / "peer").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for the PeerJS target (or pass --targets mayday,floor)")
    print("installing the PeerJS server: npm ci in load_tests/peerjs", flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PEERJS_DIR, check=True, timeout=300)


@contextlib.contextmanager
def peerjs_server() -> Iterator[RunningServer]:
    ensure_peerjs()
    node = shutil.which("node") or "node"
    with child_server([node, "serve.mjs", "0"], cwd=PEERJS_DIR) as server:
        yield server


@dataclass(frozen=True)
class TwoNodes(RunningServer):
    """Node A (users; ``process`` and ``base``) and node B (advisors) on one Redis: the
    CPU is all three processes'."""

    b: RunningServer
    redis_pids: tuple[int, ...]

    @property
    def advisor_ws_url(self) -> str:
        return self.b.ws_url

    def cpu_seconds(self) -> float:
        redis = sum(cpu_seconds(pid) for pid in self.redis_pids)
        return super().cpu_seconds() + self.b.cpu_seconds() + redis


@contextlib.contextmanager
def two_nodes() -> Iterator[RunningServer]:
    with redis_server() as redis, mayday_nodes(2, redis.url, env=RAISED_LIMITS) as (a, b):
        assert redis.process is not None
        pin_server(redis.process.pid)
        yield TwoNodes(a.process, a.base, b, (redis.process.pid,))


@contextlib.contextmanager
def two_nodes_on_cluster() -> Iterator[RunningServer]:
    with tempfile.TemporaryDirectory(prefix="mayday-bench-cluster-") as directory:
        cluster = RedisClusterServers(Path(directory)).start()
        try:
            pids = tuple(node.process.pid for node in cluster.nodes if node.process)
            for pid in pids:
                pin_server(pid)
            with mayday_nodes(2, cluster.url, env=RAISED_LIMITS) as (a, b):
                yield TwoNodes(a.process, a.base, b, pids)
        finally:
            cluster.stop()


def target_server(
    target: str, profile: Path | None = None
) -> contextlib.AbstractContextManager[RunningServer]:
    """A fresh server (or two nodes and their Redis) for ``target``; ``mayday@DIR`` is
    Mayday from the source tree DIR (a checkout of another commit, to compare with)."""
    if target == "mayday":
        return mayday_server(env=RAISED_LIMITS, profile=profile)
    if target.startswith("mayday@"):
        return mayday_server(env=RAISED_LIMITS, source=Path(target.split("@", 1)[1]))
    servers = {
        "peerjs": peerjs_server,
        "floor": floor_server,
        "mayday-redis": two_nodes,
        "mayday-cluster": two_nodes_on_cluster,
    }
    return servers[target]()


@contextlib.contextmanager
def target_servers(
    targets: tuple[str, ...], profile: Path | None = None
) -> Iterator[dict[str, RunningServer]]:
    with contextlib.ExitStack() as stack:
        yield {t: stack.enter_context(target_server(t, profile)) for t in targets}


# ---------------------------------------------------------------- the run
@dataclass
class Results:
    throughput: dict[str, list[Throughput]]
    latency: dict[str, list[Latency]]


async def run(args: argparse.Namespace, servers: dict[str, RunningServer]) -> Results:
    targets = tuple(servers)
    results = Results({t: [] for t in targets}, {t: [] for t in targets})
    for r in range(args.rounds):
        order = targets[r % len(targets) :] + targets[: r % len(targets)]
        for t in order:
            tp = await run_throughput(
                t, servers[t], args.pairs, args.seconds, args.window, f"r{r}tp"
            )
            results.throughput[t].append(tp)
            print(
                f"  round {r + 1} throughput {t:7s} {tp.frames_per_s:9.0f} frames/s  "
                f"server {tp.server_cpu_us_per_frame:6.1f} us/frame "
                f"(cpu {tp.server_cpu_share:4.0%}, generator {tp.generator_cpu_share:4.0%})",
                flush=True,
            )
        for t in order:
            lat = await run_latency(
                t, servers[t], args.latency_pairs, args.rate, args.latency_seconds, f"r{r}lat"
            )
            results.latency[t].append(lat)
            print(
                f"  round {r + 1} latency    {t:7s} p50 {lat.p(50):6.2f} p90 {lat.p(90):6.2f} "
                f"p99 {lat.p(99):6.2f} ms  ({lat.received}/{lat.expected} received, "
                f"{len(lat.samples_ms)} kept after warm-up)",
                flush=True,
            )
    return results


def report(args: argparse.Namespace, results: Results) -> dict[str, Any]:
    """Print medians over rounds and the ratios against issue 7's targets; return them."""
    summary: dict[str, Any] = {}
    print(f"\nrelay, medians of {args.rounds} rounds, {machine()}")
    print(f"  throughput: {args.pairs} pairs, window {args.window}, {args.seconds} s each")
    for t, runs in results.throughput.items():
        s = {
            "frames_per_s": median(x.frames_per_s for x in runs),
            "server_us_per_frame": median(x.server_cpu_us_per_frame for x in runs),
            "server_cpu": median(x.server_cpu_share for x in runs),
            "generator_cpu": median(x.generator_cpu_share for x in runs),
            "bytes_out": runs[0].bytes_out,
            "bytes_in": runs[0].bytes_in,
            "errors": sum(x.errors for x in runs),
        }
        summary[t] = s
        print(
            f"    {t:7s} {s['frames_per_s']:9.0f} frames/s   server {s['server_us_per_frame']:6.1f}"
            f" us CPU/frame   server CPU {s['server_cpu']:4.0%}  generator CPU "
            f"{s['generator_cpu']:4.0%}   frame {s['bytes_out']} B to it, {s['bytes_in']} B from it"
            f"   errors {s['errors']}"
        )
    print(
        f"  latency: {args.latency_pairs} pairs x {args.rate:g} frames/s, "
        f"{args.latency_seconds} s each"
    )
    for t, lats in results.latency.items():
        s = summary[t]
        for q in (50, 90, 99):
            s[f"p{q}_ms"] = median(x.p(q) for x in lats)
        s["lat_server_us_per_frame"] = median(x.server_cpu_us_per_frame for x in lats)
        print(
            f"    {t:7s} p50 {s['p50_ms']:6.2f} ms  p90 {s['p90_ms']:6.2f} ms  "
            f"p99 {s['p99_ms']:6.2f} ms   server {s['lat_server_us_per_frame']:6.1f} us CPU/frame"
        )
    _print_ratios(summary)
    return summary


def _print_ratios(s: dict[str, Any]) -> None:
    if "mayday" not in s:
        return
    m = s["mayday"]
    print("  ratios (issue 7 targets in brackets)")
    for other, goal in (("peerjs", ">= 1.0"), ("floor", ">= 0.8")):
        if other in s:
            o = s[other]
            print(
                f"    throughput mayday/{other}: {m['frames_per_s'] / o['frames_per_s']:.2f} "
                f"[{goal}]   server capacity per core mayday/{other}: "
                f"{o['server_us_per_frame'] / m['server_us_per_frame']:.2f}"
            )
    if "floor" in s:
        print(f"    latency p99 mayday/floor: {m['p99_ms'] / s['floor']['p99_ms']:.2f} [<= 1.2]")
    for cross in (t for t in EXTRA_TARGETS if t in s):
        r = s[cross]
        print(
            f"    across two nodes ({cross}) / one node: throughput "
            f"{r['frames_per_s'] / m['frames_per_s']:.2f}, CPU per frame (nodes + Redis) "
            f"{r['server_us_per_frame'] / m['server_us_per_frame']:.2f}, "
            f"latency p99 {r['p99_ms'] / m['p99_ms']:.2f} (no target)"
        )


# ---------------------------------------------------------------- the ping-pong run
def pingpong_rounds(
    args: argparse.Namespace, targets: tuple[str, ...]
) -> dict[tuple[str, int], list[PingPong]]:
    """``--rounds`` repetitions; in each, every target in a rotated order, each pair count
    on a fresh server process, so that no measurement inherits another's heap or caches."""
    sizes = [int(n) for n in args.pp_pairs.split(",") if n]
    results: dict[tuple[str, int], list[PingPong]] = {(t, n): [] for t in targets for n in sizes}
    for r in range(args.rounds):
        order = targets[r % len(targets) :] + targets[: r % len(targets)]
        for t in order:
            for n in sizes:
                with target_server(t, args.profile if t == "mayday" else None) as server:
                    pp = asyncio.run(run_pingpong(t, server, n, args.pp_seconds, f"r{r}pp{n}"))
                results[(t, n)].append(pp)
                print(
                    f"  round {r + 1} ping-pong {t:12s} {n:3d} pairs {pp.per_s:8.0f} round trips/s"
                    f"  p50 {pp.p(50):6.3f} p99 {pp.p(99):6.3f} ms  server "
                    f"{pp.server_cpu_us_per_frame:5.1f} us/frame (cpu {pp.server_cpu_share:4.0%})"
                    f"  errors {pp.errors}",
                    flush=True,
                )
    return results


def _spread(values: list[float], fmt: str) -> str:
    """The median and, in brackets, the lowest and highest of the rounds."""
    return f"{median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def report_pingpong(
    args: argparse.Namespace, results: dict[tuple[str, int], list[PingPong]]
) -> dict[str, dict[str, float]]:
    """Medians over rounds with their spread, and the ratios against the bare floor."""
    print(
        f"\nping-pong (one frame in flight per pair), medians [min-max] of {args.rounds} rounds, "
        f"{args.pp_seconds:g} s each, {machine()}; load average {os.getloadavg()[0]:.2f}"
    )
    summary: dict[str, dict[str, float]] = {}
    for (t, n), runs in results.items():
        key = f"{t}/{n}"
        summary[key] = {
            "per_s": median(x.per_s for x in runs),
            "p50_ms": median(x.p(50) for x in runs),
            "p99_ms": median(x.p(99) for x in runs),
            "us_per_frame": median(x.server_cpu_us_per_frame for x in runs),
            "cpu": median(x.server_cpu_share for x in runs),
        }
        print(
            f"  {t:12s} {n:3d} pairs  round trips/s {_spread([x.per_s for x in runs], '.0f')}"
            f"  p50 {_spread([x.p(50) for x in runs], '.3f')} ms"
            f"  p99 {_spread([x.p(99) for x in runs], '.3f')} ms"
            f"  server {_spread([x.server_cpu_us_per_frame for x in runs], '.1f')} us CPU/frame"
            f"  (cpu {summary[key]['cpu']:.0%}, errors {sum(x.errors for x in runs)})"
        )
    for t, n in results:
        floor = summary.get(f"floor/{n}")
        if t == "floor" or floor is None:
            continue
        mine = summary[f"{t}/{n}"]
        print(
            f"  {t}/floor at {n} pairs: round trips/s {mine['per_s'] / floor['per_s']:.2f}, "
            f"p50 {mine['p50_ms'] / floor['p50_ms']:.2f}, "
            f"p99 {mine['p99_ms'] / floor['p99_ms']:.2f}, "
            f"CPU per frame {mine['us_per_frame'] / floor['us_per_frame']:.2f}"
        )
    for t, n in results:
        m, other = summary.get(f"mayday/{n}"), summary[f"{t}/{n}"]
        if t.startswith("mayday@") and m:
            print(
                f"  mayday/{t} at {n} pairs: CPU per frame "
                f"{m['us_per_frame'] / other['us_per_frame']:.2f}, p50 "
                f"{m['p50_ms'] / other['p50_ms']:.2f}, "
                f"round trips/s {m['per_s'] / other['per_s']:.2f}"
            )
    for n in {n for _, n in results}:
        m, pj = summary.get(f"mayday/{n}"), summary.get(f"peerjs/{n}")
        if m and pj:
            print(
                f"  mayday/peerjs at {n} pairs: CPU per frame "
                f"{m['us_per_frame'] / pj['us_per_frame']:.2f} [issue 13: <= 1.0], round trips/s "
                f"{m['per_s'] / pj['per_s']:.2f}"
            )
    return summary


def print_profile(path: Path, limit: int = 25) -> None:
    """The server's own time, heaviest functions first."""
    import pstats

    print(f"\nMayday server profile ({path}), by own time:")
    pstats.Stats(str(path)).sort_stats("tottime").print_stats(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help=f"comma-separated, of {', '.join(TARGETS + EXTRA_TARGETS)}, or mayday@DIR "
        "(Mayday from the source tree DIR, e.g. a `git worktree` of an earlier commit)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=10, help="pairs in the throughput run")
    parser.add_argument("--window", type=int, default=32, help="frames in flight per pair")
    parser.add_argument("--seconds", type=float, default=3.0, help="throughput run length")
    parser.add_argument("--latency-pairs", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20.0, help="frames/s per latency pair")
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG of the latencies")
    parser.add_argument(
        "--profile", type=Path, default=None, help="run Mayday under cProfile, stats to this file"
    )
    parser.add_argument(
        "--compress",
        action="store_true",
        help="the generator offers permessage-deflate, as browsers do",
    )
    parser.add_argument(
        "--mode",
        default="pingpong,stream",
        help="comma-separated: pingpong (one frame in flight per pair, real signaling), "
        "stream (a window of frames in flight, the batching best case)",
    )
    parser.add_argument(
        "--pp-pairs", default="50,1", help="ping-pong: pair counts, each its own measurement"
    )
    parser.add_argument("--pp-seconds", type=float, default=10.0, help="ping-pong run length")
    parser.add_argument(
        "--pin",
        default="0",
        help="cores for the servers under test (taskset -c); the generator takes the others; "
        "'' to pin nothing",
    )
    args = parser.parse_args()
    OFFER_DEFLATE["compress"] = 15 if args.compress else 0
    targets = tuple(t for t in args.targets.split(",") if t)
    unknown = (
        {t for t in targets if not t.startswith("mayday@")} - set(TARGETS) - set(EXTRA_TARGETS)
    )
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    modes = set(args.mode.split(","))
    if modes - {"pingpong", "stream"}:
        parser.error(f"unknown modes: {', '.join(sorted(modes - {'pingpong', 'stream'}))}")
    if "peerjs" in targets and shutil.which("node") is None:
        print("NOTE: no `node` on this machine: the PeerJS target is skipped", flush=True)
        targets = tuple(t for t in targets if t != "peerjs")
    print(f"relay benchmark: {', '.join(targets)}; {args.rounds} rounds, pid {os.getpid()}")
    if args.pin:
        pin_generator(args.pin)
    if "pingpong" in modes:
        report_pingpong(args, pingpong_rounds(args, targets))
    if "stream" not in modes:
        return
    with target_servers(targets, args.profile) as servers:
        results = asyncio.run(run(args, servers))
    summary = report(args, results)
    if args.profile:
        print_profile(args.profile)
    if args.plot:
        title = (
            f"relay latency, {args.latency_pairs} pairs x {args.rate:g}/s, "
            f"median of {args.rounds} rounds"
        )
        rows = {t: (v["p50_ms"], v["p90_ms"], v["p99_ms"]) for t, v in summary.items()}
        plot_percentiles(rows, args.plot, title, "relay latency, ms")


if __name__ == "__main__":
    main()
