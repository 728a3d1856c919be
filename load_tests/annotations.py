"""Annotation relay latency: the advisor's ``annotation`` frame out, the tablet's copy in.

    python -m load_tests.annotations --sessions 50 --points-per-s 60 --seconds 20

``--sessions`` pairs of an advisor and a user are paired through
``help.request`` / ``help.accept`` on a ``mayday serve`` child process (memory
store; with ``--redis URL``, two processes on that Redis, every advisor on one
and every user on the other, so that each frame crosses the relay). Each
advisor then draws as the console does: ``stroke.begin``, then its new points
batched every 33 ms (``--points-per-s`` / 30 points a frame) as
``stroke.points``, and ``stroke.end`` after two seconds; a ``clear`` now and
then keeps the drawing under its limit. Each session starts at a random phase
so that the sessions do not send in lockstep.

Latency is measured per ``stroke.points`` frame, matched by session, stroke id
and ``stroke_seq``: from just before the advisor's socket writes it to when
the user's socket has read it, both on this process's clock. The first
``--warmup`` seconds are dropped. The generator is one Python process: at
these rates it is far from busy, and the server's CPU time per relayed frame
is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import aiohttp

from load_tests.common import RunningServer, machine, mayday_server, percentile
from mayday.client import HelpOffer, MaydayClient

BATCH_S = 1 / 30
STROKE_S = 2.0
PEN = {"color": "#ff3b30", "width": 0.006}


@dataclass
class Run:
    """What one run saw: send stamps by frame, latencies, counts."""

    warmup_until: float = 0.0
    sent_at: dict[tuple[str, str, int], float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    received: int = 0
    errors: int = 0
    server_cpu_s: float = 0.0


async def user_socket(
    http: aiohttp.ClientSession, ws_url: str, token: str
) -> aiohttp.ClientWebSocketResponse:
    """A tablet's raw socket (read by our own loop, so each frame is stamped on arrival)."""
    return await http.ws_connect(ws_url, params={"token": token}, max_msg_size=0)


async def pair(advisor: MaydayClient, user: aiohttp.ClientWebSocketResponse) -> str:
    """The user presses Help, the advisor accepts; the session id."""
    await advisor.set_available()
    await user.send_str(json.dumps({"type": "help.request"}))
    offer = await advisor.next(HelpOffer, timeout=10)
    started = await advisor.accept(offer.request_id)
    while True:
        frame = json.loads((await user.receive(timeout=10)).data)
        if frame["type"] == "session.started":
            return started.session_id


async def receive(user: aiohttp.ClientWebSocketResponse, run: Run) -> None:
    async for msg in user:
        now = time.perf_counter()
        frame = json.loads(msg.data)
        if frame["type"] == "error":
            run.errors += 1
        if frame["type"] != "annotation" or frame["kind"] != "stroke.points":
            continue
        key = (frame["session_id"], frame["stroke_id"], frame["stroke_seq"])
        sent = run.sent_at.pop(key, None)
        if sent is None:
            continue
        run.received += 1
        if sent >= run.warmup_until:
            run.latencies.append(now - sent)


async def draw(
    advisor: MaydayClient, session_id: str, points_per_s: float, until: float, run: Run
) -> None:
    """Draw like the console: a stroke every two seconds, points batched every 33 ms."""
    per_batch = max(1, round(points_per_s * BATCH_S))
    stroke_batches = round(STROKE_S / BATCH_S)
    rng = random.Random(session_id)
    start = time.perf_counter() + rng.uniform(0, BATCH_S)
    stroke, seq, total, k = 0, 0, 0, 0
    while True:
        due = start + k * BATCH_S
        if due >= until:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if seq == 0:
            stroke += 1
            if total > 15_000:  # stay under the 20,000 points a drawing may hold
                await advisor.send("annotation", session_id=session_id, kind="clear")
                total = 0
            await advisor.send(
                "annotation",
                session_id=session_id,
                kind="stroke.begin",
                stroke_id=f"s{stroke}",
                **PEN,
            )
        seq += 1
        points = [[rng.random(), rng.random()] for _ in range(per_batch)]
        points = [[round(x, 4), round(y, 4)] for x, y in points]
        run.sent_at[(session_id, f"s{stroke}", seq)] = time.perf_counter()
        await advisor.send(
            "annotation",
            session_id=session_id,
            kind="stroke.points",
            stroke_id=f"s{stroke}",
            stroke_seq=seq,
            points=points,
        )
        run.sent += 1
        total += per_batch
        k += 1
        if seq == stroke_batches:
            await advisor.send(
                "annotation", session_id=session_id, kind="stroke.end", stroke_id=f"s{stroke}"
            )
            seq = 0


async def run_load(
    advisor_url: str,
    user_url: str,
    make: Callable[[str, str], str],
    sessions: int,
    points_per_s: float,
    seconds: float,
    warmup: float,
    cpu: Callable[[], float] = lambda: 0.0,
) -> Run:
    """Pair the sessions, draw for ``seconds``, return what was measured."""
    run = Run()
    async with aiohttp.ClientSession() as http:
        advisors = [
            await MaydayClient.connect(advisor_url, make("advisor", f"draw-a{i}"))
            for i in range(sessions)
        ]
        users = [
            await user_socket(http, user_url, make("user", f"draw-u{i}")) for i in range(sessions)
        ]
        ids = [await pair(a, u) for a, u in zip(advisors, users, strict=True)]
        readers = [asyncio.create_task(receive(u, run)) for u in users]
        cpu_before = cpu()
        begin = time.perf_counter()
        run.warmup_until = begin + warmup
        until = begin + seconds
        await asyncio.gather(
            *(draw(a, sid, points_per_s, until, run) for a, sid in zip(advisors, ids, strict=True))
        )
        await asyncio.sleep(0.5)  # the last frames in flight
        run.server_cpu_s = cpu() - cpu_before
        for task in readers:
            task.cancel()
        for a in advisors:
            await a.close()
        for u in users:
            await u.close()
    return run


@contextlib.contextmanager
def servers(redis_url: str | None) -> Iterator[tuple[RunningServer, RunningServer]]:
    """(the advisors' server, the users' server): one process, or two on one Redis."""
    if redis_url is None:
        with mayday_server() as one:
            yield one, one
        return
    with mayday_server("--redis", redis_url) as a, mayday_server("--redis", redis_url) as b:
        yield a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--points-per-s", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--redis", metavar="URL", help="two server processes on this Redis")
    args = parser.parse_args()
    with servers(args.redis) as (adv_server, user_server):
        both = {adv_server.process.pid: adv_server, user_server.process.pid: user_server}
        run = asyncio.run(
            run_load(
                adv_server.ws_url,
                user_server.ws_url,
                adv_server.token,
                args.sessions,
                args.points_per_s,
                args.seconds,
                args.warmup,
                lambda: sum(server.cpu_seconds() for server in both.values()),
            )
        )
    ms = [x * 1000 for x in run.latencies]
    where = "two processes on Redis" if args.redis else "memory store, one process"
    print(f"annotation relay latency, {where}, {machine()}")
    print(
        f"  sessions {args.sessions}, {args.points_per_s:g} points/s each "
        f"({args.sessions * 30} stroke.points frames/s in all), {args.seconds:g} s, "
        f"first {args.warmup:g} s dropped"
    )
    print(f"  frames sent {run.sent}, received {run.received}, errors {run.errors}")
    print(
        f"  p50 {percentile(ms, 50):.2f} ms  p90 {percentile(ms, 90):.2f} ms  "
        f"p99 {percentile(ms, 99):.2f} ms  max {max(ms):.2f} ms  (n = {len(ms)})"
    )
    cpu = run.server_cpu_s
    print(
        f"  server CPU while drawing {cpu:.2f} s, "
        f"{cpu / max(1, run.received) * 1e6:.0f} µs per stroke.points frame (all frames included)",
        flush=True,
    )


if __name__ == "__main__":
    main()
