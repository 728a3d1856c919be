"""Fuzz load test (issue 16): a million adversarial frames against ``mayday serve``.

    python -m load_tests.fuzz --frames 1000000 --processes 2 --cells 2 --rate 6000

One server process (memory store; ``--redis``: on a redis-server of its own, or
``--redis URL``) with the per-socket and annotation
rate limits raised, so that every frame reaches its handler rather than the limiter.
``--processes`` client processes each run ``--cells`` fuzz cells (a user, an advisor and
an ops socket in a live session of their own, ``load_tests/fuzz_frames.py``) that send
fuzzed frames at ``--rate`` frames a second in all, with a barrier (a ``ping``) every 32
frames of a socket: every answer is checked there (``seq`` with no gap, only documented
codes, never ``internal_error``, an answer for every readable id, only the documented
closes 1007 and 1009, after which the socket reconnects).

Meanwhile this process keeps a bystander pair (a user and an advisor in a session)
relaying one ``signal`` at a time, every 2 ms: its latency, and its ``seq`` checked the
same way. The same bystander ran ``--quiet-seconds`` alone before the fuzz: the quiet
baseline. The client processes run at ``SCHED_IDLE`` (``--client-sched``; the bystander
as a normal process): on two cores the bystander shares one with them, and a real
bystander is another device; at equal priority its p99 measured the clients' queue on
that core as much as the server. Server RSS is read once a second; memory is flat when
it grew by at most ``--rss-bound-mib`` from the end of the first ``--settle-seconds`` of
fuzz to the end.

Bounded: the fuzz stops after ``--max-seconds`` whatever it reached, the client
processes are joined with a timeout and terminated if they hang, the server is stopped
on exit. Exit status 0 only if every check passed.

``--pin 0`` runs the server (and its redis-server) on core 0 under ``taskset`` and
everything else on the other cores. ``--trace DIR`` runs the server as
``load_tests.traced_serve`` and has it write where its memory is to ``DIR`` after
``--settle-seconds`` of fuzz, at the end, and ``--grace-seconds`` after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import queue
import random
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from load_tests.common import (
    SECRET,
    RunningServer,
    machine,
    mayday_server,
    percentile,
    pin_generator,
    pin_server,
    redis_server,
)
from load_tests.fuzz_frames import Bystander, Ids, Tally, fuzz_cell, open_cell
from mayday.auth import issue_token

UNLIMITED_ENV = {
    "MAYDAY_RATE_LIMIT_PER_S": "1000000000",
    "MAYDAY_RATE_LIMIT_BURST": "1000000000",
    "MAYDAY_ANNOTATION_RATE_PER_S": "1000000000",
    "MAYDAY_ANNOTATION_BURST": "1000000000",
}
OWN_REDIS = "own"  # ``--redis`` alone
CHUNK = 128
BYSTANDER_GAP_S = 0.002
P99_RATIO_BOUND = 2.0


def token_for(role: str, sub: str, *, skills: list[str] | None = None) -> str:
    return issue_token(SECRET, role=role, sub=sub, skills=skills, ttl_s=3600)


# ---------------------------------------------------------------- client processes
@dataclass(frozen=True)
class Job:
    url: str
    index: int
    cells: int
    frames: int  # this process's share
    rate: float  # this process's frames a second
    seed: int
    foreign: tuple[list[str], list[str]]  # the bystander's session and request ids
    stop_at: float  # wall clock
    idle: bool = False  # run at SCHED_IDLE


def _worker(job: Job, results: Any) -> None:
    if job.idle:  # the bystander, a normal process, gets the core it shares when it asks
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    tally = asyncio.run(_fuzz_process(job))
    results.put(tally.as_dict())


async def _fuzz_process(job: Job) -> Tally:
    tally = Tally()
    foreign = Ids(sessions=job.foreign[0], requests=job.foreign[1])
    async with aiohttp.ClientSession() as http:
        try:
            cells = [
                await open_cell(http, job.url, token_for, f"p{job.index}c{i}", foreign, tally)
                for i in range(job.cells)
            ]
        except Exception as exc:  # a server that cannot pair is a failed run, not a hang
            tally.violate(f"process {job.index}: could not open its cells: {exc!r}")
            return tally
        share, rate = job.frames // job.cells, job.rate / job.cells
        await asyncio.gather(
            *(
                _paced(cell, random.Random(job.seed * 1000 + i), share, rate, job.stop_at, tally)
                for i, cell in enumerate(cells)
            )
        )
        for cell in cells:
            with contextlib.suppress(Exception):
                await cell.close()
    return tally


async def _paced(
    cell: Any, rng: random.Random, frames: int, rate: float, stop_at: float, tally: Tally
) -> None:
    """``frames`` fuzzed frames from one cell, ``CHUNK`` at a time, at ``rate`` a second."""
    start, sent = time.monotonic(), 0
    try:
        while sent < frames and time.time() < stop_at:
            n = min(CHUNK, frames - sent)
            await fuzz_cell(cell, rng, n)
            sent += n
            ahead = sent / rate - (time.monotonic() - start)
            if ahead > 0:
                await asyncio.sleep(ahead)
    except Exception as exc:  # noted and counted: the run fails
        tally.violate(f"cell {cell.skill}: stopped after {sent} frames: {exc!r}")


# ---------------------------------------------------------------- this process
@dataclass
class Report:
    frames: int = 0
    seconds: float = 0.0
    tally: Tally = field(default_factory=Tally)
    bystander: Tally = field(default_factory=Tally)
    quiet: list[float] = field(default_factory=list)
    during: list[float] = field(default_factory=list)
    rss_kib: list[tuple[float, int]] = field(default_factory=list)  # (seconds into fuzz, KiB)
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    settle_s: float = 10.0
    trace: bool = False
    server_cpu_s: float = 0.0
    alive: bool = False
    processes_ok: bool = False

    @property
    def rss_settled_kib(self) -> int:
        settled = [kib for t, kib in self.rss_kib if t >= self.settle_s]
        return settled[0] if settled else self.rss_before_kib

    @property
    def p99_ratio(self) -> float:
        return percentile(self.during, 99) / percentile(self.quiet, 99)

    def failures(self, wanted: int, rss_bound_mib: float) -> list[str]:
        bad = [] if self.frames >= wanted else [f"only {self.frames} of {wanted} frames sent"]
        if self.tally.violations or self.bystander.violations:
            bad.append(f"{len(self.tally.violations) + len(self.bystander.violations)} violations")
        if self.tally.codes.get("internal_error"):
            bad.append("internal_error answers")
        if not self.alive or not self.processes_ok:
            bad.append("the server or a client process did not survive")
        if self.p99_ratio > P99_RATIO_BOUND:
            bad.append(f"bystander p99 {self.p99_ratio:.2f}x the quiet run")
        if self.rss_after_kib - self.rss_settled_kib > rss_bound_mib * 1024:
            bad.append("server memory grew")
        return bad


async def _quiet(bystander: Bystander, seconds: float) -> list[float]:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await bystander.relay_once()
        await asyncio.sleep(BYSTANDER_GAP_S)
    return list(bystander.latencies)


async def _during(
    bystander: Bystander, server: RunningServer, procs: list[Any], report: Report
) -> None:
    """Relay through the bystander pair and read RSS until every client process is done."""
    start = next_rss = time.monotonic()
    first = len(bystander.latencies)
    traced = False
    while any(p.is_alive() for p in procs):
        now = time.monotonic()
        if now >= next_rss:
            report.rss_kib.append((now - start, server.rss_kib()))
            next_rss += 1.0
        if report.trace and not traced and now - start >= report.settle_s:
            traced = _snapshot(server)
        await bystander.relay_once()
        await asyncio.sleep(BYSTANDER_GAP_S)
    report.during = bystander.latencies[first:]


def _snapshot(server: RunningServer, *, swept: bool = False) -> bool:
    """Ask a server started with ``--trace`` for a tracemalloc snapshot (SIGUSR2: after
    a full collection of the frozen generation too)."""
    server.process.send_signal(signal.SIGUSR2 if swept else signal.SIGUSR1)
    return True


def _healthy(server: RunningServer) -> bool:
    try:
        with urllib.request.urlopen(server.base + "/healthz", timeout=5) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


async def _run(server: RunningServer, args: argparse.Namespace, report: Report) -> None:
    async with aiohttp.ClientSession() as http:
        bystander = await Bystander.open(http, server.ws_url, token_for, "by", report.bystander)
        report.quiet = await _quiet(bystander, args.quiet_seconds)
        report.rss_before_kib = server.rss_kib()
        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        ids = bystander.ids
        stop_at = time.time() + args.max_seconds
        jobs = [
            Job(
                server.ws_url,
                i,
                args.cells,
                args.frames // args.processes,
                args.rate / args.processes,
                args.seed + i,
                (ids.sessions, ids.requests),
                stop_at,
                args.client_sched == "idle",
            )
            for i in range(args.processes)
        ]
        procs = [ctx.Process(target=_worker, args=(job, results), daemon=True) for job in jobs]
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        for p in procs:
            p.start()
        await _during(bystander, server, procs, report)
        report.seconds = time.monotonic() - t0
        report.server_cpu_s = server.cpu_seconds() - cpu0
        report.processes_ok = _collect(procs, results, report)
        report.rss_after_kib = server.rss_kib()
        if report.trace:
            _snapshot(server)
            _snapshot(server, swept=True)
        # The quiet baseline is taken on both sides of the fuzz, on a shared machine.
        after = await _quiet(bystander, args.quiet_seconds)
        report.quiet += after[len(report.quiet) + len(report.during) :]
        report.alive = server.process.poll() is None and _healthy(server)
        await bystander.close()
        if report.trace:
            await asyncio.sleep(args.grace_seconds)  # the parked streams' grace
            _snapshot(server)
            _snapshot(server, swept=True)
            await asyncio.sleep(5)


def _collect(procs: list[Any], results: Any, report: Report) -> bool:
    ok = True
    for _ in procs:
        try:
            report.tally.merge(Tally.from_dict(results.get(timeout=30)))
        except queue.Empty:
            ok = False
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.terminate()
            ok = False
        ok = ok and p.exitcode == 0
    report.frames = report.tally.frames
    return ok


def run(args: argparse.Namespace) -> Report:
    """One bounded run; the server (and a redis-server of its own) stopped on return."""
    report = Report(settle_s=args.settle_seconds, trace=bool(args.trace))
    trace = Path(args.trace) if args.trace else None
    if trace is not None:
        trace.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        url = args.redis
        if url == OWN_REDIS:
            redis = stack.enter_context(redis_server())
            assert redis.process is not None
            pin_server(redis.process.pid)
            url = redis.url
        extra = ("--redis", url) if url else ()
        server = stack.enter_context(mayday_server(*extra, env=UNLIMITED_ENV, trace=trace))
        asyncio.run(_run(server, args, report))
    return report


# ---------------------------------------------------------------- report
def _ms(values: list[float]) -> str:
    return " / ".join(f"{percentile(values, q) * 1000:.2f}" for q in (50, 99)) + (
        f" / {max(values) * 1000:.2f} ms" if values else ""
    )


def print_report(report: Report, args: argparse.Namespace) -> None:
    t, rate = report.tally, report.frames / max(report.seconds, 1e-9)
    per_frame = report.server_cpu_s / max(report.frames, 1) * 1e6
    print(f"machine: {machine()}")
    print(f"frames: {report.frames:,} in {report.seconds:.1f} s ({rate:,.0f}/s)")
    print(f"server CPU: {report.server_cpu_s:.1f} s ({per_frame:.1f} µs a frame)")
    print(f"answers: {t.received:,} frames received, {t.acks:,} acks")
    print(f"reconnects {t.reconnects}; closes {dict(t.closes)}")
    print(f"error codes: {dict(t.codes.most_common())}")
    print(f"by mutation: {dict(t.sent.most_common())}")
    acks = {k.split()[0]: v for k, v in t.outcomes.items() if k.endswith(" ack")}
    print(f"acked frames by type (deep paths): {dict(sorted(acks.items()))}")
    print(f"violations: {len(t.violations)} fuzz, {len(report.bystander.violations)} bystander")
    for v in (t.violations + report.bystander.violations)[:20]:
        print(f"  {v}")
    print(f"bystander relay p50 / p99 / max, quiet: {_ms(report.quiet)} ({len(report.quiet)})")
    print(f"  during the fuzz: {_ms(report.during)} ({len(report.during)})")
    print(f"  p99 ratio: {report.p99_ratio:.2f} (bound {P99_RATIO_BOUND:g})")
    peak = max((k for _, k in report.rss_kib), default=0)
    print(f"server RSS MiB: {report.rss_before_kib / 1024:.1f} before the fuzz, ", end="")
    print(f"{report.rss_settled_kib / 1024:.1f} after {report.settle_s:g} s of it, ", end="")
    print(f"{peak / 1024:.1f} at most, {report.rss_after_kib / 1024:.1f} at the end")
    print(f"server alive and healthy: {report.alive}; client processes ok: {report.processes_ok}")
    failures = report.failures(args.frames, args.rss_bound_mib)
    print("RESULT: " + ("all checks passed" if not failures else "FAILED: " + "; ".join(failures)))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--frames", type=int, default=1_000_000)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--cells", type=int, default=2, help="fuzz cells per client process")
    p.add_argument("--rate", type=float, default=6000.0, help="fuzzed frames a second, in all")
    p.add_argument("--quiet-seconds", type=float, default=15.0)
    p.add_argument("--settle-seconds", type=float, default=10.0)
    p.add_argument("--rss-bound-mib", type=float, default=16.0)
    p.add_argument("--max-seconds", type=float, default=900.0)
    p.add_argument("--seed", type=int, default=16)
    p.add_argument(
        "--redis",
        nargs="?",
        const=OWN_REDIS,
        default="",
        help="the server on the Redis store: alone, a redis-server of the test's own on a "
        "free port; or the URL of one",
    )
    p.add_argument(
        "--pin",
        default="",
        help="cores for the server (and its redis-server), taskset -c, e.g. 0; the client "
        "processes and the bystander take the others; default: not pinned",
    )
    p.add_argument(
        "--client-sched",
        choices=("idle", "normal"),
        default="idle",
        help="the fuzz client processes' scheduling: idle (SCHED_IDLE), so that the "
        "bystander they share a core with measures the server and not that core's queue",
    )
    p.add_argument("--json", default="", help="also write the figures to this file")
    p.add_argument(
        "--trace",
        default="",
        help="a directory: run the server under tracemalloc and write snapshots there "
        "(after --settle-seconds, at the end, and after --grace-seconds more); slow",
    )
    p.add_argument("--grace-seconds", type=float, default=35.0, help="with --trace")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.pin:
        pin_generator(args.pin)
    report = run(args)
    print_report(report, args)
    if args.json:
        figures = {
            "frames": report.frames,
            "seconds": report.seconds,
            "tally": report.tally.as_dict(),
            "bystander_violations": report.bystander.violations,
            "quiet_p99_ms": percentile(report.quiet, 99) * 1000,
            "during_p99_ms": percentile(report.during, 99) * 1000,
            "rss_kib": report.rss_kib,
            "rss_before_kib": report.rss_before_kib,
            "rss_after_kib": report.rss_after_kib,
        }
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    return 1 if report.failures(args.frames, args.rss_bound_mib) else 0


if __name__ == "__main__":
    sys.exit(main())
