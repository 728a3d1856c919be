"""Short runs of the benchmarks in load_tests/, so they cannot rot unnoticed."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import random
from dataclasses import replace

import aiohttp
import pytest

from load_tests import fuzz, payloads, reconnect_storm, routing, routing_redis
from load_tests.common import SECRET, mayday_server, percentile
from load_tests.latency import Latencies
from load_tests.pairing import measure, run
from load_tests.relay import (
    RAISED_LIMITS,
    floor_server,
    opened_pairs,
    run_latency,
    run_pingpong,
    run_throughput,
    sent_at,
    target_server,
)
from load_tests.simulator import (
    PROFILES,
    Config,
    Report,
    Segment,
    arrivals,
    erlang_c,
    load_profile,
    print_report,
    run_simulation,
)
from mayday.metrics import erlang


async def test_pairing_benchmark_sees_every_offer() -> None:
    """Every help request in a one-second run reaches an advisor as an offer."""
    with mayday_server(env={"MAYDAY_JWT_SECRET": SECRET}) as server:
        latencies = await run(server.ws_url, server.token, rate=40, seconds=1, advisors=5)
    assert len(latencies) == 40
    assert 0 < percentile(latencies, 50) <= percentile(latencies, 99) < 5.0


def test_pairing_benchmark_runs_on_its_own_redis() -> None:
    """The Redis half of the pairing benchmark starts its own redis-server and sees every offer."""
    latencies = measure("redis", rate=40, seconds=1, advisors=5)
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


async def test_pingpong_keeps_one_frame_in_flight_on_floor_and_mayday() -> None:
    """Half a second of the closed loop on the floor and on Mayday: round trips are timed,
    two relayed frames each are charged to the server, nothing is refused."""
    with floor_server() as floor:
        bare = await run_pingpong("floor", floor, pairs=2, seconds=0.5, tag="smoke-pp")
    with mayday_server(env=RAISED_LIMITS) as server:
        mine = await run_pingpong("mayday", server, pairs=2, seconds=0.5, tag="smoke-pp")
    for pp in (bare, mine):
        assert pp.round_trips > 20 and pp.errors == 0
        assert len(pp.rtt_ms) == pp.round_trips
        assert 0 < pp.p(50) <= pp.p(99) < 1000
        assert pp.server_cpu_us_per_frame > 0


async def test_the_cross_node_targets_relay_through_redis_and_a_cluster() -> None:
    """Half a second of the closed loop across two nodes on one Redis and on a Cluster of
    three masters: every frame crosses, none is lost, all the processes' CPU counts."""
    for target in ("mayday-redis", "mayday-cluster"):
        with target_server(target) as nodes:
            pp = await run_pingpong(target, nodes, pairs=2, seconds=0.5, tag=f"smoke-{target}")
        assert pp.round_trips > 10 and pp.errors == 0, target
        assert len(pp.rtt_ms) == pp.round_trips
        assert pp.server_cpu_us_per_frame > 0


async def test_frame_path_times_every_stage_of_a_relayed_signal() -> None:
    """The frame-path benchmark pairs two sockets through the real handlers and times each
    stage; the whole is the largest figure."""
    from load_tests.frame_path import measure as frame_stages

    stages = dict(await frame_stages(200, 1))
    assert all(us > 0 for us in stages.values())
    whole = stages["whole: Server.receive + the flush's loop turn"]
    assert whole == max(stages.values())


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


def test_routing_redis_mode_measures_both_workloads_on_its_own_redis() -> None:
    """--redis on tiny sizes: its own redis-server, skills and declines, and a Redis time
    per script from commandstats, CPU and SLOWLOG for the cycle and the positions pass."""
    points = asyncio.run(routing_redis.run_all([(10, 10), (100, 20)], ops=20))
    assert [(p.workload, p.queued, p.advisors) for p in points] == [
        ("cycle", 10, 10),
        ("positions", 10, 10),
        ("cycle", 100, 20),
        ("positions", 100, 20),
    ]
    for p in points:
        assert p.calls > 0 and p.us_per_call > 0 and p.cpu_us > 0
        assert 0 < p.p50 <= p.p99 <= p.max_us


# ---------------------------------------------------------------- the simulator
QUICK = Config(
    seconds=2,
    rate=3,
    advisors=3,
    handle_mean=0.3,
    accept_delay=0.05,
    connect_mean=0.05,
    frame_mean=0.02,
    draw_gap=0.1,
    drain=8,
    progress=False,
    seed=3,
)


def _finite(*values: float | int | None) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _printed(report: Report) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_report(report)
    return out.getvalue()


def test_simulator_serves_every_user_on_the_memory_store() -> None:
    """Two seconds of arrivals: every tablet gets a session with video, signals and drawings
    are relayed and timed, and the report holds the Erlang C comparison."""
    report = run_simulation(QUICK)
    assert report.users >= 3
    assert report.outcomes == {"session": report.users}
    tta, ttadv = report.latencies["tta"], report.latencies["ttadv"]
    seen = (report.wall_s, dict(report.counts))  # what went wrong, when this fails
    assert tta["count"] == ttadv["count"] == report.users, seen
    assert _finite(tta["p50"], tta["p90"], tta["p99"], ttadv["p99"])
    assert 0 < tta["p50"] <= tta["p90"] <= tta["p99"] < 5
    assert ttadv["p50"] > tta["p50"]  # video comes after the accept
    relay = report.latencies["relay"]
    assert relay["count"] == 18 * report.users  # offer, answer, 16 candidates; the ends unstamped
    assert 0 < relay["p50"] <= relay["p99"] < 1
    assert report.annotations == "supported"
    assert report.latencies["annotation"]["count"] > 0
    assert report.counts["signals relayed"] == report.counts["signals sent"] == 20 * report.users
    assert report.service_level["time_to_accept"] == 1.0
    assert report.estimate["compared"] == report.users
    predicted = report.erlang["nominal"]["service_level"]
    assert predicted is not None and 0 <= predicted <= 1
    assert report.server[0]["rss_peak_mib"] > 10 and report.server[0]["cpu_s"] >= 0
    assert report.ops["window"]["answered"] == report.users
    printed = _printed(report)
    assert "Erlang C (nominal" in printed and "service level within 9 s" in printed


def test_simulator_users_give_up_when_patience_runs_out() -> None:
    """One slow advisor and impatient users: some cancel on purpose, the others get a session,
    and nobody is left without an outcome."""
    config = Config(
        seconds=2,
        rate=4,
        advisors=1,
        handle_mean=2.0,
        patience_mean=0.3,
        accept_delay=0.05,
        connect_mean=0.05,
        frame_mean=0.02,
        draw=False,
        drain=8,
        progress=False,
        seed=5,
    )
    report = run_simulation(config)
    assert set(report.outcomes) <= {"session", "abandoned"}
    assert sum(report.outcomes.values()) == report.users >= 3
    assert report.outcomes.get("abandoned", 0) >= 1 and report.outcomes.get("session", 0) >= 1
    assert report.abandonment is not None and 0 < report.abandonment < 1
    assert report.ops["window"]["abandoned"] == report.outcomes["abandoned"]


@pytest.mark.cluster
def test_simulator_runs_on_two_nodes_sharing_redis() -> None:
    """With --redis --nodes 2 the tablets and advisors spread over two processes still pair,
    signal across them, and the report covers both nodes and redis-server."""
    report = run_simulation(replace(QUICK, redis=True, nodes=2, draw=False))
    assert report.outcomes == {"session": report.users}
    assert report.counts["signals relayed"] == report.counts["signals sent"] > 0
    names = [u["name"] for u in report.server]
    assert names == ["mayday node 0", "mayday node 1", "redis-server"]


def test_arrivals_follow_a_piecewise_profile() -> None:
    """A quiet first half and a busy second half: arrivals land only where the rate says."""
    times = arrivals([Segment(0, 0.0), Segment(10, 50.0)], 20, random.Random(1))
    assert all(10 <= t < 20 for t in times)
    assert 400 < len(times) < 600  # 500 expected, five standard deviations either side
    assert times == sorted(times)


def test_shipped_peak_day_profile_loads() -> None:
    """The example profile is thirteen hours of one day, replayed ten seconds an hour."""
    segments = load_profile(PROFILES / "peak-day.csv", minute_seconds=10)
    assert [s.start_s for s in segments] == [10.0 * i for i in range(13)]
    assert all(s.rate > 0 for s in segments)
    assert max(segments, key=lambda s: s.rate).start_s in (40.0, 70.0)


def test_erlang_comparison_weights_pieces_by_their_arrivals() -> None:
    """The prediction is Erlang C on the wait left after the accept delay, averaged by
    arrivals; an overloaded piece counts as never within the target."""
    config = Config(advisors=5, accept_delay=0.5, target=9.0)
    one = erlang_c(config, [(0.5, 10.0)], 6.0)
    assert one["service_level"] == pytest.approx(erlang.service_level(5, 0.5, 6.0, 8.5))
    assert one["mean_time_to_accept_s"] == pytest.approx(erlang.mean_wait(5, 0.5, 6.0) + 0.5)
    mixed = erlang_c(config, [(0.5, 10.0), (2.0, 30.0)], 6.0)  # 12 erlangs on 5: overloaded
    assert mixed["service_level"] == pytest.approx(one["service_level"] / 4)
    assert mixed["mean_time_to_accept_s"] is None


def test_exact_percentiles_match_nearest_rank() -> None:
    """Without HdrHistogram the recorder keeps every value and reads nearest-rank percentiles."""
    h = Latencies(exact=True)
    for ms in range(1, 1001):
        h.record(ms / 1000)
    assert (h.p(50), h.p(90), h.p(99), h.count) == (0.5, 0.9, 0.99, 1000)
    assert h.mean == pytest.approx(0.5005)


def test_hdr_percentiles_hold_three_significant_digits() -> None:
    """HdrHistogram's percentiles stay within a thousandth of the exact ones."""
    h = Latencies()
    assert h.kind == "hdr"
    for ms in range(1, 1001):
        h.record(ms / 1000)
    for q, exact in ((50, 0.5), (90, 0.9), (99, 0.99)):
        assert h.p(q) == pytest.approx(exact, rel=1e-3)


def test_payloads_are_the_size_of_a_browser_call() -> None:
    """SDP of 3 to 6 KB each way, eight candidates, and send stamps read back from both."""
    rng = random.Random(2)
    offer, answer = payloads.sdp("offer", rng, 12.5), payloads.sdp("answer", rng, 1.0)
    assert 3000 <= len(answer) < len(offer) <= 6000
    cands = payloads.candidates(rng)
    assert len(cands) == 8 and all(c["candidate"].startswith("candidate:") for c in cands)
    assert payloads.sent_at({"type": "offer", "sdp": offer}, None) == 12.5
    assert payloads.sent_at(None, {**cands[0], "sent_at": 3.25}) == 3.25
    stroke = payloads.stroke("s1", "g1", rng, 4)
    assert [f["kind"] for f in stroke] == ["stroke.begin"] + ["stroke.points"] * 4 + ["stroke.end"]
    assert payloads.annotation_key(stroke[2]) == ("g1", "stroke.points", 2)


def test_reconnect_storm_benchmark_resumes_everyone_and_loses_nothing() -> None:
    """A small storm: 20 sessions on a node stopped with SIGTERM, all back on the other
    node with their streams, every session going on."""
    result = asyncio.run(reconnect_storm.run(20, spread=0.5))
    assert result.exit_code == 0
    assert len(result.resumed_at) == result.resumed == result.clients == 40, result.failures
    assert result.kept == 20
    assert max(result.resumed_at) < 30  # within the grace


def test_fuzz_load_test_runs_a_short_bounded_run() -> None:
    """Two seconds' worth of the fuzz load test: every frame sent, every answer documented,
    no seq gap, the bystander relayed before and during, the server alive, RSS read."""
    short = "--frames 3000 --processes 1 --cells 1 --rate 3000 --quiet-seconds 0.5"
    # Normal scheduling here: at SCHED_IDLE the client would wait for the other test
    # worker's idle moments, which a busy CI machine may not have.
    extra = ["--settle-seconds", "0", "--max-seconds", "60", "--client-sched", "normal"]
    args = fuzz.parse_args([*short.split(), *extra])
    report = fuzz.run(args)
    assert report.frames >= 3000
    assert report.tally.violations == [] and report.bystander.violations == []
    assert "internal_error" not in report.tally.codes
    assert report.alive and report.processes_ok
    assert report.quiet and report.during and report.rss_after_kib > 0
