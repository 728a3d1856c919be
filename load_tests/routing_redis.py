"""The Redis mode of ``load_tests/routing.py``: Redis time per routing script, against
queue length and team size, with skills and declines.

    python -m load_tests.routing --redis [--budget-ops 400] [--max-queued 100000]

A redis-server of its own on a free port (tests/redis_server.py), driven through
``RedisStore`` directly (no sockets of the app). 20 skills; each advisor holds 3 to 6
of them at levels 1 to 5, each request needs 1 or 2 (priority 0, or 1 for one in ten),
under a three-step escalation (all at level 2, then any, then none) and a 60 s decline
cooldown. The state is built with pipelined script calls: every advisor in a session,
then the waiting requests.

One ``cycle`` is a loaded contact centre's steady state: the oldest session ends (the
advisor is offered the first request in line they fit, if any), one offer in five is
declined (that request is hidden from them and offered on), each other offer is
accepted, and a new user presses Help. Advisors left free by a queue they cannot take
stay free: the case that made ``dispatch()`` walk the queue before the indices.
``positions`` is the periodic pass: ``positions.lua`` over 100 waiting requests (the
estimate of each).

The figure is Redis's own time per script, from ``INFO commandstats`` (``evalsha``
``usec_per_call``, reset before each timed run) and, per call, from ``SLOWLOG`` (every
call logged) for the percentiles.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import quantiles
from typing import Any

from redis.asyncio import Redis

from mayday.protocol.messages import HelpOffer, HelpRequest
from mayday.routing.config import RouterConfig, Step
from mayday.routing.events import (
    AdvisorStateSet,
    Effect,
    HelpRequested,
    OfferAccepted,
    OfferDeclined,
    Send,
    SessionEndRequested,
)
from mayday.stores.redis import RedisStore
from mayday.stores.scripts import connect
from tests.redis_server import RedisServer

SKILLS = [f"s{n:02d}" for n in range(20)]
ESCALATION = (Step(0.0, "all", 2), Step(30.0, "any"), Step(60.0, "none"))
DECLINE_SHARE = 0.2
BATCH = 2_000
VERBOSE = False  # --by-script: each script's mean and percentiles too


@dataclass(frozen=True)
class RedisPoint:
    workload: str
    queued: int
    advisors: int
    us_per_call: float  # INFO commandstats: evalsha usec_per_call
    cpu_us: float  # INFO cpu: Redis main-thread CPU per call (any command: mostly evalsha)
    p50: float
    p99: float
    max_us: float
    calls: int
    free: int  # advisors left free at the end (who fit nothing waiting)
    setup_s: float


class RedisScenario:
    """A RedisStore brought to a loaded state by pipelined script calls."""

    def __init__(self, store: RedisStore, rng: random.Random) -> None:
        self.store, self.rng, self.now, self.n = store, rng, 1_000.0, 0
        self.sessions: list[tuple[str, str]] = []  # (advisor, session), oldest first
        self.free: set[str] = set()
        self.declined: set[tuple[str, str]] = set()

    def tick(self) -> float:
        self.now += 0.001
        return self.now

    def ask(self) -> tuple[HelpRequest, int]:
        needs = tuple(sorted(self.rng.sample(SKILLS, self.rng.choice((1, 2)))))
        return HelpRequest(topic="benchmark", skills=needs), 1 if self.rng.random() < 0.1 else 0

    def advisor(self, i: int) -> AdvisorStateSet:
        held = sorted(self.rng.sample(SKILLS, self.rng.randint(3, 6)))
        levels = tuple((s, self.rng.randint(1, 5)) for s in held)
        return AdvisorStateSet(f"adv{i}", f"adv{i}", frozenset(held), True, levels)

    async def pipelined(self, events: list[Any]) -> None:
        """Each event's script, in order, BATCH to a round trip (results unread)."""
        store = self.store
        for start in range(0, len(events), BATCH):
            pipe = store.redis.pipeline(transaction=False)
            for event in events[start : start + BATCH]:
                name, args = store._args[type(event)](event)
                script = store._scripts[name]._script
                await script(
                    keys=[store.keys.queue],
                    args=[store.keys.prefix, repr(self.tick()), store._cfg, *args],
                    client=pipe,
                )
            await pipe.execute()

    async def build(self, queued: int, advisors: int) -> None:
        """Every advisor in a session (a request that needs nothing, then them), then
        ``queued`` skilled requests waiting."""
        events: list[Any] = []
        for i in range(advisors):
            n = self.n = self.n + 1
            events.append(HelpRequested(f"user{n}", "u", f"req{n}", HelpRequest()))
            events.append(self.advisor(i))
            events.append(OfferAccepted(f"adv{i}", f"req{n}", f"ses{n}"))
            self.sessions.append((f"adv{i}", f"ses{n}"))
        await self.pipelined(events)
        events = []
        for _ in range(queued):
            n = self.n = self.n + 1
            ask, priority = self.ask()
            events.append(HelpRequested(f"user{n}", "u", f"req{n}", ask, priority))
        await self.pipelined(events)

    async def apply(self, event: Any) -> list[Effect]:
        return await self.store.apply(event, self.tick())

    async def settle(self, effects: list[Effect]) -> None:
        """Answer every offer among the effects: one in five declined, else accepted."""
        pending = list(effects)
        while pending:
            e = pending.pop(0)
            if not (isinstance(e, Send) and isinstance(e.message, HelpOffer)):
                continue
            if e.message.mode != "offer":
                continue
            advisor, request = e.sub, e.message.request_id
            if (advisor, request) not in self.declined and self.rng.random() < DECLINE_SHARE:
                self.declined.add((advisor, request))
                pending += await self.apply(OfferDeclined(advisor, request))
                continue
            n = self.n = self.n + 1
            await self.apply(OfferAccepted(advisor, request, f"ses{n}"))
            self.free.discard(advisor)
            self.sessions.append((advisor, f"ses{n}"))

    async def cycle(self) -> int:
        """The oldest session ends, offers are answered, a new user presses Help."""
        advisor, session = self.sessions.pop(0)
        ended = await self.apply(SessionEndRequested("advisor", advisor, session, "ended"))
        self.free.add(advisor)
        await self.settle(ended)
        n = self.n = self.n + 1
        ask, priority = self.ask()
        await self.settle(
            await self.apply(HelpRequested(f"user{n}", "u", f"req{n}", ask, priority))
        )
        return len(self.sessions)

    async def positions(self) -> int:
        """``positions.lua`` over the first 100 in line; how many it was given."""
        ids = await self.store.redis.zrange(self.store.keys.queue, 0, 99)
        request_ids = [str(m).split("|", 1)[-1] for m in ids]
        await self.store.position_updates(request_ids, self.tick())
        return len(request_ids)


async def redis_time(client: Redis) -> tuple[float, int]:
    stats = await client.info("commandstats")
    entry = stats.get("cmdstat_evalsha", {"usec_per_call": 0.0, "calls": 0})
    return float(entry["usec_per_call"]), int(entry["calls"])


async def redis_cpu(client: Redis) -> float:
    """Seconds of CPU of Redis's main thread so far: unlike commandstats' wall time, not
    inflated when the shared machine deschedules redis-server mid-script."""
    cpu = await client.info("cpu")
    user = cpu.get("used_cpu_user_main_thread", cpu["used_cpu_user"])
    system = cpu.get("used_cpu_sys_main_thread", cpu["used_cpu_sys"])
    return float(user) + float(system)


async def reset(client: Redis) -> None:
    await client.config_resetstat()
    await client.slowlog_reset()


async def slowlog_us(client: Redis) -> list[float]:
    entries = await client.slowlog_get(1_000_000)
    return [float(e["duration"]) for e in entries if _command(e).upper().startswith("EVALSHA")]


async def by_script(client: Redis, store: RedisStore) -> dict[str, list[float]]:
    """Each routing script's durations in µs, from the SLOWLOG (EVALSHA's first argument)."""
    names = {str(s._script.sha): n for n, s in store._scripts.items()}
    seen: dict[str, list[float]] = {}
    for e in await client.slowlog_get(1_000_000):
        words = _command(e).split()
        if len(words) > 1 and words[0].upper() == "EVALSHA":
            seen.setdefault(names.get(words[1], words[1][:8]), []).append(float(e["duration"]))
    return dict(sorted(seen.items()))


def tail(durations: list[float]) -> str:
    """Mean, p50, p99, p99.9 and max of ``durations`` (inclusive percentiles)."""
    cuts = (
        quantiles(durations, n=1000, method="inclusive") if len(durations) > 1 else durations * 999
    )
    mean = sum(durations) / len(durations)
    return (
        f"mean {mean:7.1f}  p50 {cuts[499]:7.1f}  p99 {cuts[989]:7.1f}  "
        f"p99.9 {cuts[998]:7.1f}  max {max(durations):7.1f} us"
    )


def _command(entry: dict[str, Any]) -> str:
    command = entry["command"]
    return command.decode(errors="replace") if isinstance(command, bytes) else str(command)


async def timed(
    client: Redis,
    workload: str,
    cpu_before: float,
    point: tuple[int, int, float, int],
    per: int = 1,
) -> RedisPoint:
    """The figures of the calls since the last reset (Redis CPU since ``cpu_before``);
    ``point``: queued, advisors, setup seconds, advisors free; ``per``: requests a call."""
    queued, advisors, setup, free = point
    per_call, calls = await redis_time(client)
    cpu_us = (await redis_cpu(client) - cpu_before) * 1e6 / max(1, calls) / per
    durations = [d / per for d in await slowlog_us(client)]
    # Inclusive: a percentile within the calls seen, never past the slowest.
    cuts = [per_call / per] * 99
    if len(durations) > 1:
        cuts = quantiles(durations, n=100, method="inclusive")
    worst = max(durations, default=per_call / per)
    return RedisPoint(
        workload,
        queued,
        advisors,
        per_call / per,
        cpu_us,
        cuts[49],
        cuts[98],
        worst,
        calls,
        free,
        setup,
    )


async def measure(
    url: str, queued: int, advisors: int, ops: int, seed: int = 7
) -> list[RedisPoint]:
    """Build the state, then time ``ops`` cycles and ``ops // 10`` position passes."""
    client = connect(url)
    await client.flushall()
    config = replace(
        RouterConfig(),
        escalation=ESCALATION,
        decline_cooldown_s=60.0,
        request_ttl_s=86_400.0,
        reservation_timeout_s=30.0,
    )
    store = RedisStore(client, config)
    scenario = RedisScenario(store, random.Random(seed))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await scenario.build(queued, advisors)
    setup = loop.time() - started
    for _ in range(min(20, ops)):  # warm: the first users hear their position
        await scenario.cycle()
    await reset(client)
    cpu = await redis_cpu(client)
    for _ in range(ops):
        if not scenario.sessions:
            break
        await scenario.cycle()
    point = (queued, advisors, setup, len(scenario.free))
    cycle = await timed(client, "cycle", cpu, point)
    if VERBOSE:
        for name, durations in (await by_script(client, store)).items():
            print(f"      {name:14s} {len(durations):5d} calls  {tail(durations)}")
    await reset(client)
    cpu, batch = await redis_cpu(client), 0
    for _ in range(max(3, ops // 10)):
        batch = await scenario.positions()
    positions = await timed(client, "positions", cpu, point, per=max(1, batch))
    await client.aclose()
    return [cycle, positions]


def grid(max_queued: int, max_advisors: int) -> list[tuple[int, int]]:
    """Queue sweep at 10 advisors, team sweep at 10 waiting, and 10,000 x 10,000."""
    queues = [q for q in (10, 100, 1_000, 10_000, 100_000) if q <= max_queued]
    teams = [a for a in (10, 100, 1_000, 10_000) if a <= max_advisors]
    loaded = [(q, teams[0]) for q in queues] + [(queues[0], a) for a in teams[1:]]
    if 10_000 in queues and 10_000 in teams:
        loaded.append((10_000, 10_000))
    return loaded


def show(p: RedisPoint) -> None:
    unit = "us/call" if p.workload == "cycle" else "us/req "
    print(
        f"  {p.workload:9s} queued {p.queued:>7,} advisors {p.advisors:>6,}  "
        f"{p.us_per_call:7.1f} {unit} (cpu {p.cpu_us:6.1f}; p50 {p.p50:6.1f}, p99 {p.p99:7.1f}, "
        f"max {p.max_us:7.1f})  {p.calls:5d} calls, {p.free} free  (setup {p.setup_s:.1f} s)",
        flush=True,
    )


async def run_all(points: list[tuple[int, int]], ops: int) -> list[RedisPoint]:
    with tempfile.TemporaryDirectory(prefix="mayday-bench-redis-") as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            admin = connect(server.url)
            await admin.config_set("slowlog-log-slower-than", 0)
            await admin.config_set("slowlog-max-len", 1_000_000)
            await admin.aclose()
            results = []
            for queued, advisors in points:
                for p in await measure(server.url, queued, advisors, ops):
                    results.append(p)
                    show(p)
            return results
        finally:
            server.stop()


def main(max_queued: int, max_advisors: int, ops: int, points: list[str]) -> None:
    """Every grid point, or only ``points`` ("QUEUED:ADVISORS" each)."""
    chosen = [(int(q), int(a)) for q, a in (p.split(":") for p in points)]
    results = asyncio.run(run_all(chosen or grid(max_queued, max_advisors), ops))
    print("  largest / smallest, commandstats wall and CPU (issue 11 target: <= 2.0)")
    for workload in ("cycle", "positions"):
        wall = [p.us_per_call for p in results if p.workload == workload]
        cpu = [p.cpu_us for p in results if p.workload == workload]
        medians = [p.p50 for p in results if p.workload == workload]
        if wall:
            print(
                f"    {workload:9s} wall {max(wall) / min(wall):6.2f}"
                f"  cpu {max(cpu) / min(cpu):6.2f}  p50 {max(medians) / min(medians):6.2f}"
            )
