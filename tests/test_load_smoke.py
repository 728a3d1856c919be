"""Short runs of the benchmarks in load_tests/, so they cannot rot unnoticed."""

from __future__ import annotations

import json

import aiohttp

from load_tests import routing
from load_tests.common import SECRET, mayday_server, percentile
from load_tests.pairing import run
from load_tests.relay import (
    RAISED_LIMITS,
    floor_server,
    opened_pairs,
    run_latency,
    run_throughput,
    sent_at,
)


async def test_pairing_benchmark_sees_every_offer() -> None:
    """Every help request in a one-second run reaches an advisor as an offer."""
    with mayday_server(env={"MAYDAY_JWT_SECRET": SECRET}) as server:
        latencies = await run(server.ws_url, server.token, rate=40, seconds=1, advisors=5)
    assert len(latencies) == 40
    assert 0 < percentile(latencies, 50) <= percentile(latencies, 99) < 5.0


def test_percentile_is_nearest_rank() -> None:
    """Nearest-rank percentiles on a known list."""
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50.0,
        99.0,
        100.0,
    )


def test_send_stamp_is_read_back_from_any_serialiser() -> None:
    """The relay benchmark finds its send stamp however the relay re-encoded the frame."""
    frame = {"type": "signal", "candidate": {"candidate": "candidate:1 1 udp", "sent_at": 12.5}}
    assert sent_at(json.dumps(frame)) == 12.5
    assert sent_at(json.dumps(frame, separators=(",", ":"))) == 12.5
    assert sent_at('{"type":"queue.summary","waiting":0}') is None


async def test_floor_relay_streams_between_two_pairs() -> None:
    """Half a second of the floor relay: frames flow, none refused, server CPU is counted."""
    with floor_server() as server:
        tp = await run_throughput("floor", server, pairs=2, seconds=0.5, window=8, tag="smoke")
        lat = await run_latency("floor", server, pairs=2, rate=20, seconds=0.5, tag="smoke-l")
    assert tp.delivered > 50 and tp.errors == 0
    assert tp.frames_per_s > 0 and tp.server_cpu_us_per_frame > 0
    assert lat.received == lat.expected == 20
    assert 0 < lat.p(50) <= lat.p(99) < 1000


async def test_mayday_relay_streams_between_paired_peers() -> None:
    """Half a second of Mayday's relay between two paired sessions, and the latency run."""
    with mayday_server(env=RAISED_LIMITS) as server:
        tp = await run_throughput("mayday", server, pairs=2, seconds=0.5, window=8, tag="smoke")
        lat = await run_latency("mayday", server, pairs=2, rate=20, seconds=0.5, tag="smoke-l")
    assert tp.delivered > 50 and tp.errors == 0
    assert tp.bytes_in > tp.bytes_out  # the server stamps from, from_role and seq
    assert lat.received == lat.expected == 20
    assert 0 < lat.p(50) <= lat.p(99) < 1000


async def test_mayday_pair_relays_the_candidate_stamped_with_the_sender() -> None:
    """A benchmark pair is a real session: the user gets the advisor's candidate, stamped."""
    with mayday_server() as server:
        async with opened_pairs("mayday", server, 1, "stamp") as [pair]:
            await pair.sender.send_str(pair.frame(42.0))
            msg = await pair.receiver.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.TEXT
    frame = json.loads(msg.data)
    assert (frame["type"], frame["from"], frame["from_role"]) == (
        "signal",
        "adv-stamp-0",
        "advisor",
    )
    assert frame["candidate"]["sent_at"] == 42.0
    assert frame["candidate"]["candidate"].startswith("candidate:")


def test_routing_scale_runs_every_workload_on_tiny_sizes() -> None:
    """Each routing workload runs on a tiny grid and keeps the queue at its size."""
    points = routing.run(routing.grid(max_queued=100, max_advisors=100), budget_s=0.03)
    assert {p.workload for p in points} == set(routing.WORKLOADS)
    assert all(p.us_per_op > 0 and p.ops >= 3 for p in points)
    cycle = [p for p in points if p.workload == "cycle"]
    # A cycle is end, accept, press: each emits at least one frame.
    assert all(p.frames_per_op >= 1 for p in cycle)
    assert all(ratio >= 1.0 for ratio in routing.spread(points).values())
