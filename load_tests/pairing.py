"""Pairing overhead: ``help.request`` in to ``help.offer`` out, with a free advisor waiting.

    python -m load_tests.pairing --rate 200 --seconds 10 --store both

Advisors wait available; users press Help at a steady rate; each offer is
accepted and the session ended at once, so an advisor is always free. The
clock is this process's, on both sides of the server: the figure includes
two loopback hops and the client's own parsing.

``--store redis`` starts a redis-server of its own on a free loopback port
(no persistence) and the server with ``--redis``; ``--store both`` runs the
memory store, then Redis, each on a fresh server, and prints both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import time
from collections.abc import Callable
from pathlib import Path

from load_tests.common import (
    machine,
    mayday_server,
    percentile,
    percentiles,
    plot_percentiles,
    redis_server,
)
from mayday.client import HelpOffer, MaydayClient


async def advisor_loop(
    client: MaydayClient, sent: dict[str, float], lat: list[float], done: asyncio.Event, n: int
) -> None:
    await client.set_available()
    while True:
        offer = await client.next(HelpOffer, timeout=3600)
        lat.append(time.perf_counter() - sent.pop(offer.user["id"]))
        if len(lat) >= n:
            done.set()
        started = await client.accept(offer.request_id)
        await client.end_session(started.session_id)


async def run(
    ws_url: str, make: Callable[[str, str], str], rate: float, seconds: float, advisors: int
) -> list[float]:
    """Drive the load; return the request→offer latency of each request, in seconds."""
    advs = [
        await MaydayClient.connect(ws_url, make("advisor", f"bench-a{i}")) for i in range(advisors)
    ]
    n_users = int(rate * seconds)
    users = [
        await MaydayClient.connect(ws_url, make("user", f"bench-u{i}")) for i in range(n_users)
    ]
    sent: dict[str, float] = {}
    lat: list[float] = []
    done = asyncio.Event()
    tasks = [asyncio.create_task(advisor_loop(a, sent, lat, done, n_users)) for a in advs]
    await asyncio.sleep(0.5)
    # The generator's own garbage collections would show up as the server's latency:
    # keep them out of the measured window (the server collects as it always does).
    gc.freeze()
    gc.disable()
    start = time.perf_counter()
    for i, user in enumerate(users):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[f"bench-u{i}"] = time.perf_counter()
        await user.send("help.request")
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=10)
    gc.enable()
    gc.unfreeze()
    for task in tasks:
        task.cancel()
    for c in advs + users:
        await c.close()
    return lat


def measure(store: str, rate: float, seconds: float, advisors: int) -> list[float]:
    """One run on a fresh server with ``store`` (``memory`` or ``redis``)."""
    if store == "memory":
        with mayday_server() as server:
            return asyncio.run(run(server.ws_url, server.token, rate, seconds, advisors))
    with redis_server() as redis, mayday_server("--redis", redis.url) as server:
        return asyncio.run(run(server.ws_url, server.token, rate, seconds, advisors))


def report(store: str, lat: list[float], rate: float, seconds: float) -> None:
    expected = int(rate * seconds)
    ms = [x * 1000 for x in lat]
    print(f"pairing overhead, {store} store, {machine()}")
    print(f"  requests {expected}, offers seen {len(lat)}, rate {rate}/s")
    if not ms:
        print("  no offer seen")
        return
    print(
        f"  p50 {percentile(ms, 50):.2f} ms  p90 {percentile(ms, 90):.2f} ms  "
        f"p99 {percentile(ms, 99):.2f} ms  max {max(ms):.2f} ms"
    )
    target = "" if store == "memory" else " (the target is set for the memory store)"
    print(f"  p99 / 5 ms target = {percentile(ms, 99) / 5:.2f}{target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="help requests per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--advisors", type=int, default=50)
    parser.add_argument("--store", choices=("memory", "redis", "both"), default="memory")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG of the percentiles")
    args = parser.parse_args()
    stores = ("memory", "redis") if args.store == "both" else (args.store,)
    rows = {}
    for store in stores:
        lat = measure(store, args.rate, args.seconds, args.advisors)
        report(store, lat, args.rate, args.seconds)
        rows[store] = percentiles([x * 1000 for x in lat])
    if args.plot:
        n = int(args.rate * args.seconds)
        title = f"help.request -> help.offer at {args.rate:g}/s, {n} requests per store"
        plot_percentiles(rows, args.plot, title, "pairing latency, ms")


if __name__ == "__main__":
    main()
