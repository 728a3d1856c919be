"""Routing cost against scale: the pure Router, in process, per routing operation.

    python -m load_tests.routing --budget 0.3 [--profile]
    python -m load_tests.routing --redis [--ops 300]   (load_tests/routing_redis.py)

Three workloads, each timed over a grid of queue lengths and advisor counts:

- ``cycle``: a loaded contact centre in steady state. ``advisors`` are all in
  sessions and ``queued`` requests wait. One cycle is three operations: the
  oldest session ends (the router offers the head of the queue to that
  advisor at once), the advisor accepts, a new user presses Help at the tail.
  Queue length and advisor count stay constant.
- ``cancel``: same state; a new user presses Help and cancels (two operations).
- ``idle``: nobody waits and every advisor is free; one cycle is a request
  (offered to the longest-idle advisor), its accept and its session's end.

- ``positions``: same loaded state; after the head of the queue leaves, the
  periodic pass (``Router.position_updates``) over every waiting request, as
  the transport runs it each ``MAYDAY_POSITION_INTERVAL_S``. Its cost is per
  waiting request, reported per pass too.

The figure is CPU time per ``Router.handle`` call (µs/op, from
``time.process_time``, so time this process spends descheduled by its
neighbours does not count; the median of three slices), and the frames the
router emits per operation. The state is built through the router's own
events, so a large advisor count takes a few seconds to set up.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import itertools
import pstats
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median

from load_tests import routing_redis
from load_tests.common import machine
from mayday.protocol.messages import HelpOffer, HelpRequest
from mayday.routing.core import Router
from mayday.routing.events import (
    AdvisorStateSet,
    Effect,
    HelpCancelled,
    HelpRequested,
    OfferAccepted,
    Send,
    SessionEndRequested,
)

QUEUE_SWEEP = (10, 100, 1_000, 10_000, 100_000)
ADVISOR_SWEEP = (10, 100, 1_000, 10_000)
ASK = HelpRequest(topic="benchmark")


@dataclass(frozen=True)
class Point:
    workload: str
    queued: int
    advisors: int
    us_per_op: float
    frames_per_op: float
    ops: int
    setup_s: float


def frames(*batches: list[Effect]) -> int:
    """Frames to send among the effects (timers and other effects are not frames)."""
    return sum(isinstance(e, Send) for effects in batches for e in effects)


class Scenario:
    """A router brought to a known state through its own events, and driven one cycle
    at a time. Only ``Router.handle`` and the public ``queue`` are used, so the
    benchmark follows the core through refactors."""

    def __init__(self, queued: int, advisors: int, *, busy: bool) -> None:
        self.router = Router()
        self.now = 1_000.0
        self._ids = itertools.count()
        # (advisor, session) in the order the sessions started: the oldest ends first.
        self.sessions: deque[tuple[str, str]] = deque()
        for i in range(advisors):
            if busy:
                self.press_help()  # waits alone, so the advisor below is offered it
            went = self.handle(AdvisorStateSet(f"adv{i}", f"adv{i}", frozenset(), True))
            if busy:
                self.accept(f"adv{i}", went)
        for _ in range(queued):
            self.press_help()
        summary = self.router.summary(self.now)
        if (summary.waiting, summary.advisors_busy if busy else summary.advisors_available) != (
            queued,
            advisors,
        ):
            raise RuntimeError(f"setup reached {summary}, not {queued} waiting, {advisors}")

    def handle(self, event: object) -> list[Effect]:
        self.now += 0.001
        return self.router.handle(event, self.now)  # type: ignore[arg-type]

    def press_help(self) -> tuple[str, list[Effect]]:
        n = next(self._ids)
        request_id = f"req{n}"
        return request_id, self.handle(HelpRequested(f"user{n}", "u", request_id, ASK))

    def accept(self, advisor_id: str, effects: list[Effect]) -> list[Effect]:
        offers = [
            e.message
            for e in effects
            if isinstance(e, Send) and e.sub == advisor_id and isinstance(e.message, HelpOffer)
        ]
        if len(offers) != 1:
            raise RuntimeError(f"expected one offer to {advisor_id}, got {len(offers)}")
        session_id = f"ses{next(self._ids)}"
        out = self.handle(OfferAccepted(advisor_id, offers[0].request_id, session_id))
        self.sessions.append((advisor_id, session_id))
        return out

    def end_oldest(self) -> tuple[str, list[Effect]]:
        advisor_id, session_id = self.sessions.popleft()
        return advisor_id, self.handle(
            SessionEndRequested("advisor", advisor_id, session_id, "ended")
        )

    # -------------------------------------------------------- one cycle of each workload
    # Each returns (operations, frames emitted, seconds spent in those operations).
    def cycle(self) -> tuple[int, int, float]:
        """Loaded: end the oldest session, accept the offer it triggers, a new request."""
        start = time.process_time()
        advisor_id, ended = self.end_oldest()
        accepted = self.accept(advisor_id, ended)
        _, pressed = self.press_help()
        elapsed = time.process_time() - start
        return 3, frames(ended, accepted, pressed), elapsed

    def cancel(self) -> tuple[int, int, float]:
        """Loaded: a new request at the tail, then its cancel."""
        start = time.process_time()
        request_id, pressed = self.press_help()
        user_id = request_id.replace("req", "user")
        cancelled = self.handle(HelpCancelled(user_id, request_id))
        return 2, frames(pressed, cancelled), time.process_time() - start

    def idle(self) -> tuple[int, int, float]:
        """Free advisors: a request, its accept, its end."""
        start = time.process_time()
        _, pressed = self.press_help()
        offered_to = next(
            e.sub for e in pressed if isinstance(e, Send) and isinstance(e.message, HelpOffer)
        )
        accepted = self.accept(offered_to, pressed)
        _, ended = self.end_oldest()
        return 3, frames(pressed, accepted, ended), time.process_time() - start

    def positions(self) -> tuple[int, int, float]:
        """Loaded: the head leaves (untimed), then the periodic pass over every waiting
        request (timed); one operation per waiting request."""
        self.cycle()
        waiting = list(self.router.queue)
        start = time.process_time()
        out = self.router.position_updates(waiting, self.now)
        return len(waiting), frames(out), time.process_time() - start


WORKLOADS: dict[str, Callable[[Scenario], tuple[int, int, float]]] = {
    "cycle": Scenario.cycle,
    "cancel": Scenario.cancel,
    "idle": Scenario.idle,
    "positions": Scenario.positions,
}


def grid(max_queued: int, max_advisors: int) -> list[tuple[str, int, int]]:
    """Queue sweep at 10 advisors, advisor sweep at 10 queued, the far corner; idle sweep."""
    qs = [q for q in QUEUE_SWEEP if q <= max_queued]
    ads = [a for a in ADVISOR_SWEEP if a <= max_advisors]
    loaded = [(q, ads[0]) for q in qs] + [(qs[0], a) for a in ads[1:]]
    if len(qs) > 1 and len(ads) > 1:
        loaded.append((qs[-1], ads[-1]))
    points = [(w, q, a) for w in ("cycle", "cancel") for q, a in loaded]
    points += [("idle", 0, a) for a in ads]
    return points + [("positions", q, ads[0]) for q in qs]


def measure(
    workload: str,
    queued: int,
    advisors: int,
    budget_s: float,
    slices: int = 3,
    profiler: cProfile.Profile | None = None,
) -> Point:
    """Time cycles of ``workload`` for ``budget_s`` in ``slices`` slices of at least three
    cycles each; the figure is the median slice, so a neighbour's burst (or one full
    garbage collection) does not decide it. ``profiler`` runs over the timed cycles only."""
    setup = time.process_time()
    scenario = Scenario(queued, advisors, busy=workload != "idle")
    setup = time.process_time() - setup
    step = WORKLOADS[workload]
    step(scenario)  # the first pass tells every waiting user their position: not steady state
    gc.collect()
    per_op: list[float] = []
    ops = frames = 0
    if profiler is not None:
        profiler.enable()
    for _ in range(slices):
        cycles, slice_ops, elapsed = 0, 0, 0.0
        start = time.process_time()
        while cycles < 3 or time.process_time() - start < budget_s / slices:
            n_ops, n_frames, spent = step(scenario)
            cycles, slice_ops, elapsed = cycles + 1, slice_ops + n_ops, elapsed + spent
            frames += n_frames
        per_op.append(elapsed / slice_ops)
        ops += slice_ops
    if profiler is not None:
        profiler.disable()
    summary = scenario.router.summary(scenario.now)
    if summary.waiting != queued:
        raise RuntimeError(f"queue drifted: {summary.waiting} waiting, expected {queued}")
    return Point(workload, queued, advisors, median(per_op) * 1e6, frames / ops, ops, setup)


def run(points: list[tuple[str, int, int]], budget_s: float) -> list[Point]:
    results = []
    for workload, queued, advisors in points:
        p = measure(workload, queued, advisors, budget_s)
        results.append(p)
        print(
            f"  {p.workload:6s} queued {p.queued:>7,} advisors {p.advisors:>6,}  "
            f"{p.us_per_op:10.1f} us/op  {p.frames_per_op:9.1f} frames/op  "
            f"({p.ops} ops; setup {p.setup_s:.1f} s)",
            flush=True,
        )
    return results


def spread(results: list[Point]) -> dict[str, float]:
    """Largest over smallest µs/op, per workload."""
    out = {}
    for workload in WORKLOADS:
        costs = [p.us_per_op for p in results if p.workload == workload]
        if costs:
            out[workload] = max(costs) / min(costs)
    return out


def profile(workload: str, queued: int, advisors: int, budget_s: float, limit: int) -> None:
    """cProfile the timed cycles of one grid point; print the heaviest functions, own time."""
    profiler = cProfile.Profile()
    measure(workload, queued, advisors, budget_s, profiler=profiler)
    print(f"\nprofile: {workload}, queued {queued:,}, advisors {advisors:,}")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=0.3, help="seconds of cycles per point")
    parser.add_argument("--max-queued", type=int, default=QUEUE_SWEEP[-1])
    parser.add_argument("--max-advisors", type=int, default=ADVISOR_SWEEP[-1])
    parser.add_argument(
        "--profile",
        action="store_true",
        help="then cProfile the most advisors (cycle, idle) and the longest queue (positions)",
    )
    parser.add_argument(
        "--redis",
        action="store_true",
        help="Redis time per script, with skills and declines (load_tests/routing_redis.py)",
    )
    parser.add_argument("--ops", type=int, default=300, help="--redis: timed cycles per point")
    parser.add_argument(
        "--by-script", action="store_true", help="--redis: mean, p50, p99, p99.9, max per script"
    )
    parser.add_argument(
        "--point", action="append", default=[], help="--redis: only QUEUED:ADVISORS (repeatable)"
    )
    args = parser.parse_args()
    if args.redis:
        print(f"routing cost against scale, RedisStore on its own redis-server, {machine()}")
        routing_redis.VERBOSE = args.by_script
        routing_redis.main(args.max_queued, args.max_advisors, args.ops, args.point)
        return
    print(f"routing cost against scale, pure Router in process, {machine()}")
    results = run(grid(args.max_queued, args.max_advisors), args.budget)
    print("  largest / smallest us/op (issue 7 target: <= 2.0)")
    for workload, ratio in spread(results).items():
        print(f"    {workload:6s} {ratio:8.1f}")
    if args.profile:
        profile("cycle", 10, args.max_advisors, args.budget, 12)
        profile("idle", 0, args.max_advisors, args.budget, 12)
        profile("positions", args.max_queued, 10, args.budget, 12)


if __name__ == "__main__":
    main()
