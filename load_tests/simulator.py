"""The load simulator: tablets press Help, advisors answer and talk, on real sockets.

    python -m load_tests.simulator --seconds 180 --rate 4 --advisors 30 --handle-mean 6 \\
        --accept-delay 0.3 --target 2 --warmup 20 --plot simulator.png
    python -m load_tests.simulator --profile load_tests/profiles/peak-day.csv \\
        --minute-seconds 30 --advisors 12 --handle-mean 6 --patience-mean 20
    python -m load_tests.simulator --redis --nodes 2 --seconds 60 --rate 4 --advisors 30

Everything goes through the client library (``mayday.client``) to ``mayday
serve`` child processes on loopback, one per ``--nodes`` (several only with
``--redis``, which starts a redis-server of its own on a free port).

- **Tablets** arrive as a Poisson process at ``--rate`` per second, or
  replay ``--profile`` (CSV ``minute,rate``: from that minute of the profile
  on, ``rate`` arrivals per second; each profile minute lasts
  ``--minute-seconds`` here, so a day fits in minutes). Each opens its own
  socket, presses Help and waits; with ``--patience-mean`` it gives up
  (``help.cancel``) after an exponentially distributed patience.
- **Advisors** (``--advisors``) go available and accept each offer after
  ``--accept-delay`` seconds. Once both sides show video, the talk lasts a
  handle time drawn from an exponential (or ``--handle-dist lognormal`` with
  ``--handle-sigma``) distribution of mean ``--handle-mean``; the advisor
  then ends the session. The server is told the same mean
  (``MAYDAY_DEFAULT_HANDLE_TIME_S``) as ops would configure it, so its first
  wait estimates are not off by the 300 s default.
- **One workload per seed:** arrivals, talk times, patience and media delays
  are drawn per tablet before the run from ``--seed``, so two runs (memory
  and Redis, say) serve the same requests whatever the timing.
- **Signaling** as browsers do it: the offerer sends an SDP offer (4.4 KB),
  the other side an answer (3.0 KB), each trickles eight candidates then
  end-of-candidates (``load_tests/payloads.py``). Once the peer's
  candidates are all in, each side reports ``media.state`` ``connected`` after a simulated ICE
  delay and ``first_frame`` after a simulated decode delay (lognormal, means
  ``--connect-mean`` and ``--frame-mean``). ``--media N`` runs the first N
  sessions with real aiortc peers (``MaydayPeer`` + ``PatternVideoTrack``)
  instead.
- **Drawing:** in session, the advisor makes a gesture every
  ``--draw-gap`` seconds on average: a freehand stroke (20 frames a second
  for a quarter to one and a quarter seconds), an arrow, a laser pointer
  sweep (15 moves a second) or an undo. The first frame is sent with an
  ``id``; an ``unknown_type`` answer turns drawing off, with a note.

Arrivals stop after ``--seconds``; the run then waits at most ``--drain``
seconds for the requests still open to be answered or abandoned, and stops.
Requests made in the first ``--warmup`` seconds (an empty queue and idle
advisors) are left out of the figures. The report: time-to-accept
(Help pressed to ``session.started`` on the tablet) and time-to-advisor
(to the tablet's ``first_frame``) percentiles from HDR histograms, service
level within ``--target``, abandonment, the error of the first
``estimated_wait_s`` against the real wait, relay latency of signals and
drawings, server CPU and memory from /proc, the server's own measures
(``/api/ops/summary``, ``/api/ops/requests``), and the Erlang C prediction
for the same load. Send times and receive times are both read from this
process's clock, so every latency includes this process's own event-loop
delay, which is measured and reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import itertools
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from load_tests import payloads
from load_tests.common import (
    RunningServer,
    cpu_seconds,
    machine,
    mayday_nodes,
    redis_server,
    rss_kib,
)
from load_tests.latency import Latencies
from mayday.client import (
    AnnotationRelayed,
    ErrorFrame,
    HelpClosed,
    HelpOffer,
    HelpQueued,
    MaydayClient,
    MaydayError,
    MaydayPeer,
    PatternVideoTrack,
    QueueSummary,
    SessionEnded,
    SessionStarted,
    SignalRelayed,
)
from mayday.metrics import erlang

PROFILES = Path(__file__).resolve().parent / "profiles"
SETUP_TIMEOUT = 15.0
STROKE_FPS = 20.0
LASER_FPS = 15.0


# ---------------------------------------------------------------- configuration
@dataclass(frozen=True)
class Segment:
    """From ``start_s`` on (seconds into the run), arrivals at ``rate`` per second."""

    start_s: float
    rate: float


@dataclass(frozen=True)
class Config:
    seconds: float = 30.0
    rate: float = 1.0
    profile: tuple[Segment, ...] = ()
    advisors: int = 8
    handle_mean: float = 5.0
    handle_dist: str = "exponential"
    handle_sigma: float = 0.6
    patience_mean: float = 0.0
    accept_delay: float = 0.5
    connect_mean: float = 0.4
    frame_mean: float = 0.15
    media: int = 0
    draw: bool = True
    draw_gap: float = 4.0
    target: float = 9.0
    warmup: float = 0.0
    drain: float | None = None
    redis: bool = False
    nodes: int = 1
    seed: int = 7
    progress: bool = True

    def __post_init__(self) -> None:
        if self.handle_dist not in ("exponential", "lognormal"):
            raise ValueError("handle_dist is exponential or lognormal")
        if self.nodes > 1 and not self.redis:
            raise ValueError("several nodes need --redis")
        if self.advisors < 1 or self.handle_mean <= 0 or self.seconds <= 0:
            raise ValueError("advisors, handle_mean and seconds must be positive")

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.profile or (Segment(0.0, self.rate),)

    @property
    def drain_s(self) -> float:
        if self.drain is not None:
            return self.drain
        return min(60.0, max(5.0, 2 * self.handle_mean + self.target))

    def server_env(self) -> dict[str, str]:
        # Alerts would break the progress line; the report shows the server's own view.
        return {"MAYDAY_DEFAULT_HANDLE_TIME_S": str(self.handle_mean), "MAYDAY_LOG_LEVEL": "ERROR"}


def load_profile(path: Path, minute_seconds: float) -> tuple[Segment, ...]:
    """Read ``minute,rate`` rows (``#`` comments allowed); each minute lasts ``minute_seconds``."""
    with path.open(newline="") as f:
        rows = [line for line in f if line.strip() and not line.lstrip().startswith("#")]
    segments = [
        Segment(float(row["minute"]) * minute_seconds, float(row["rate"]))
        for row in csv.DictReader(rows)
    ]
    if not segments:
        raise ValueError(f"{path}: no minute,rate rows")
    return tuple(sorted(segments, key=lambda s: s.start_s))


def arrivals(segments: Sequence[Segment], seconds: float, rng: random.Random) -> list[float]:
    """Arrival times of a Poisson process whose rate is constant within each segment.

    Exponential gaps restart at each segment's start: the process is
    memoryless, so this is exact, not an approximation.
    """
    times: list[float] = []
    for i, seg in enumerate(segments):
        end = min(segments[i + 1].start_s if i + 1 < len(segments) else seconds, seconds)
        t = seg.start_s
        while seg.rate > 0:
            t += rng.expovariate(seg.rate)
            if t >= end:
                break
            times.append(t)
    return times


def workload(config: Config) -> list[UserRecord]:
    """Every tablet of the run with its arrival, talk time, patience and media delays, all
    drawn before the run from ``config.seed`` alone: two runs with one seed (memory and
    Redis, say) serve exactly the same requests, whatever the timing does to the order in
    which they are served."""
    rng = random.Random(config.seed)
    talk = sampler(config.handle_dist, config.handle_mean, config.handle_sigma, rng)
    ice, frame = _lognormal(config.connect_mean), _lognormal(config.frame_mean)
    users = []
    for i, due in enumerate(arrivals(config.segments, config.seconds, rng)):
        patience = rng.expovariate(1 / config.patience_mean) if config.patience_mean else math.inf
        delays = tuple(rng.lognormvariate(*d) for d in (ice, frame, ice, frame))
        users.append(UserRecord(i, due, talk(), patience, delays))  # type: ignore[arg-type]
    return users


def sampler(dist: str, mean: float, sigma: float, rng: random.Random) -> Callable[[], float]:
    """Draws of mean ``mean``: exponential, or lognormal of shape ``sigma``."""
    if dist == "exponential":
        return lambda: rng.expovariate(1 / mean)
    mu = math.log(mean) - sigma**2 / 2
    return lambda: rng.lognormvariate(mu, sigma)


# ---------------------------------------------------------------- records
@dataclass
class UserRecord:
    """What happened to one tablet, in seconds from the start of the run."""

    index: int
    due: float
    talk: float = 0.0  # drawn in advance: every run with one seed has the same workload
    patience: float = math.inf
    delays: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # ICE, frame; each side
    pressed: float | None = None
    request_id: str | None = None
    estimate: float | None = None
    estimate_seen: bool = False
    queued: bool = False  # the first help.queued said "queued": no advisor was free
    started: float | None = None
    first_frame: float | None = None
    gave_up: float | None = None
    outcome: str = "pending"  # pending, waiting, session, abandoned, failed, unfinished
    media: bool = False
    detail: str = ""

    @property
    def time_to_accept(self) -> float | None:
        if self.started is None or self.pressed is None:
            return None
        return self.started - self.pressed

    @property
    def time_to_advisor(self) -> float | None:
        if self.first_frame is None or self.pressed is None:
            return None
        return self.first_frame - self.pressed


@dataclass
class Link:
    """One session as both sides of the simulator know it."""

    session_id: str
    media: bool
    stamps: dict[tuple[str, str, int], float] = field(default_factory=dict)
    tablet_video: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Usage:
    """CPU and memory of one server-side process over the run."""

    name: str
    pid: int
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    rss_start_kib: int = 0
    rss_peak_kib: int = 0
    rss_end_kib: int = 0

    def sample(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.rss_end_kib = rss_kib(self.pid)
            self.rss_peak_kib = max(self.rss_peak_kib, self.rss_end_kib)
            self.cpu_end = cpu_seconds(self.pid)

    def start(self) -> None:
        self.sample()
        self.cpu_start, self.rss_start_kib = self.cpu_end, self.rss_end_kib


# ---------------------------------------------------------------- the run
class Simulation:
    """Tablets and advisors on ``urls`` (one per server node), for ``config``."""

    def __init__(
        self,
        config: Config,
        urls: Sequence[str],
        token: Callable[[str, str], str],
        usage: Sequence[Usage] = (),
    ) -> None:
        self.config, self.urls, self.token, self.usage = config, list(urls), token, list(usage)
        self.rng = random.Random(config.seed)  # payloads and drawing: order varies by run
        self.users = workload(config)
        self.links: dict[str, Link] = {}
        self.h = {
            name: Latencies() for name in ("tta", "ttadv", "relay", "annotation", "estimate", "lag")
        }
        # Drawn talk times and measured set-up times of every session, finished or not: the
        # sessions still running at the end are the long ones, so finished ones alone are
        # a biased sample of the service time.
        self.talk_times: list[float] = []
        self.setup_times: list[float] = []
        self.counts: Counter[str] = Counter()
        self.annotations: str = "not tried" if config.draw else "off"
        self._verdict = asyncio.Event()
        self._probing = False
        self.queue_waiting = 0
        self.clients: list[MaydayClient] = []
        self.connecting: set[asyncio.Future[MaydayClient]] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.arrived = 0
        self.t0 = time.perf_counter()
        self.wall = 0.0
        self.client_cpu = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def measured(self, rec: UserRecord) -> bool:
        return rec.due >= self.config.warmup

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.counts[f"task error: {type(exc).__name__}: {exc}"[:120]] += 1

    def record_of(self, sub: str) -> UserRecord | None:
        index = sub.removeprefix("sim-u")
        return self.users[int(index)] if index.isdigit() and int(index) < len(self.users) else None

    def link(self, session_id: str) -> Link:
        link = self.links.get(session_id)
        if link is None:
            media = sum(1 for x in self.links.values() if x.media) < self.config.media
            link = self.links[session_id] = Link(session_id, media)
        return link

    async def connect(self, index: int, role: str, sub: str) -> MaydayClient:
        """A client on node ``index % nodes``. The attempt runs shielded: a tablet cancelled
        halfway through its hello would otherwise leave an open socket nobody closes."""
        url = self.urls[index % len(self.urls)]
        attempt = asyncio.ensure_future(
            MaydayClient.connect(url, self.token(role, sub), timeout=SETUP_TIMEOUT)
        )
        self.connecting.add(attempt)
        attempt.add_done_callback(self._connected)
        return await asyncio.shield(attempt)

    def _connected(self, attempt: asyncio.Future[MaydayClient]) -> None:
        self.connecting.discard(attempt)
        if not attempt.cancelled() and attempt.exception() is None:
            self.clients.append(attempt.result())

    # ------------------------------------------------------------ the whole run
    async def run(self) -> None:
        desks = await asyncio.gather(*(self.open_desk(i) for i in range(self.config.advisors)))
        for desk in desks:
            self.spawn(desk.run())
        self.t0 = time.perf_counter()
        cpu0 = sum(os.times()[:2])
        for u in self.usage:
            u.start()
        watchers = [
            asyncio.create_task(self.watch_lag()),
            asyncio.create_task(self.watch_usage()),
        ]
        if self.config.progress:
            watchers.append(asyncio.create_task(self.show_progress()))
        try:
            await self.arrive()
            await self.drain()
        finally:
            self.wall = self.now()
            self.client_cpu = sum(os.times()[:2]) - cpu0
            for u in self.usage:
                u.sample()
            for w in watchers:
                w.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            if self.config.progress:
                sys.stderr.write("\n")
            for rec in self.users:
                if rec.outcome == "waiting":
                    rec.outcome = "unfinished"

    async def open_desk(self, index: int) -> Desk:
        client = await self.connect(index, "advisor", f"sim-a{index}")
        await client.set_available()
        return Desk(self, client)

    async def arrive(self) -> None:
        for rec in self.users:
            delay = rec.due - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            self.arrived += 1
            self.spawn(Tablet(self, rec).run())
        await asyncio.sleep(max(0.0, self.config.seconds - self.now()))

    def open_requests(self) -> int:
        """Tablets not yet answered, abandoned or failed, sessions not yet showing video, and
        signals sent but not yet relayed."""
        in_flight = self.counts["signals sent"] - self.counts["signals relayed"]
        return in_flight + sum(
            1
            for r in self.users
            if r.outcome in ("pending", "waiting")
            or (r.outcome == "session" and r.first_frame is None)
        )

    async def drain(self) -> None:
        deadline = self.now() + self.config.drain_s
        # Polled: "open" is a condition over every tablet's record, not one event.
        while self.open_requests() and self.now() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        async with asyncio.timeout(30):
            await asyncio.gather(*self.connecting, return_exceptions=True)
            await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)

    # ------------------------------------------------------------ watchers
    async def watch_lag(self, every: float = 0.05) -> None:
        """How late this process's event loop wakes up: the noise in every latency here."""
        while True:
            before = time.perf_counter()
            await asyncio.sleep(every)
            self.h["lag"].record(time.perf_counter() - before - every)

    async def watch_usage(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for u in self.usage:
                u.sample()

    async def show_progress(self) -> None:
        total = self.config.seconds
        while True:
            await asyncio.sleep(0.5)
            outcomes = Counter(r.outcome for r in self.users)
            p90 = self.h["tta"].p(90)
            line = (
                f"\r  {self.now():6.1f}/{total:.0f} s  arrived {self.arrived:4d}  "
                f"sessions {outcomes['session']:4d}  waiting {outcomes['waiting']:3d}  "
                f"queue (server) {self.queue_waiting:3d}  abandoned {outcomes['abandoned']:3d}  "
                f"time-to-accept p90 {p90:5.2f} s"
            )
            sys.stderr.write(line.ljust(120))
            sys.stderr.flush()

    # ------------------------------------------------------------ both sides of a session
    async def side(
        self,
        client: MaydayClient,
        started: SessionStarted,
        rec: UserRecord,
        video: asyncio.Event | None = None,
    ) -> None:
        """One side of the call until cancelled: real media or the synthetic exchange.
        ``video`` is set once this side shows the peer's first frame."""
        link = self.link(started.session_id)
        if link.media:
            await self.media_side(client, started, rec, video)
        else:
            await self.synthetic_side(client, started, rec)
            if video is not None:
                video.set()
            await asyncio.Event().wait()

    async def synthetic_side(
        self, client: MaydayClient, started: SessionStarted, rec: UserRecord
    ) -> None:
        """Descriptions and candidates both ways; once the peer's candidates are all in, the
        simulated ICE and decoding delays, then ``connected`` and ``first_frame``."""
        sid = started.session_id
        remote = asyncio.Event()  # the peer's end-of-candidates arrived

        def on_signal(signal: SignalRelayed) -> None:
            stamp = payloads.sent_at(signal.description, signal.candidate)
            if stamp is not None:
                self.h["relay"].record(time.perf_counter() - stamp)
            self.counts["signals relayed"] += 1
            if signal.has_candidate and signal.candidate is None:
                remote.set()
            elif signal.description is not None and signal.description.get("type") == "offer":
                self.spawn(self.describe(client, sid, "answer"))

        client.on_signal(sid, on_signal)
        if started.offerer == started.role:
            await self.describe(client, sid, "offer")
        async with asyncio.timeout(SETUP_TIMEOUT):
            await remote.wait()
        tablet = started.role == "user"
        ice, frame = rec.delays[:2] if tablet else rec.delays[2:]
        await asyncio.sleep(ice)
        await client.report_media(sid, "connected")
        await asyncio.sleep(frame)
        await client.report_media(sid, "first_frame")
        if tablet:
            self.saw_first_frame(rec, sid)

    async def describe(self, client: MaydayClient, sid: str, kind: str) -> None:
        """A description, then eight candidates as gathering finds them, then the end."""
        sdp = payloads.sdp(kind, self.rng, time.perf_counter())
        await client.signal(sid, description={"type": kind, "sdp": sdp})
        self.counts["signals sent"] += 1
        for i, candidate in enumerate(payloads.candidates(self.rng)):
            if i in (3, 6):  # server-reflexive after a STUN round trip, relays after TURN
                await asyncio.sleep(0.03)
            await client.signal(sid, candidate={**candidate, "sent_at": time.perf_counter()})
            self.counts["signals sent"] += 1
        await client.signal(sid, candidate=None)
        self.counts["signals sent"] += 1

    async def media_side(
        self,
        client: MaydayClient,
        started: SessionStarted,
        rec: UserRecord,
        video: asyncio.Event | None,
    ) -> None:
        """A real aiortc peer with a test pattern; it reports its media states itself."""
        tablet = started.role == "user"
        peer = MaydayPeer(client, started, PatternVideoTrack(shade=64 if tablet else 192))
        try:
            rec.media = True
            await peer.start()
            async with asyncio.timeout(SETUP_TIMEOUT):
                await peer.first_frame.wait()
            if tablet:
                self.saw_first_frame(rec, started.session_id)
            if video is not None:
                video.set()
            await asyncio.Event().wait()
        finally:
            await peer.close()

    def saw_first_frame(self, rec: UserRecord, session_id: str) -> None:
        rec.first_frame = self.now()
        self.link(session_id).tablet_video.set()
        value = rec.time_to_advisor
        if value is not None and self.measured(rec) and not rec.media:
            self.h["ttadv"].record(value)

    # ------------------------------------------------------------ drawing
    async def draw(self, client: MaydayClient, sid: str, link: Link) -> None:
        """Gestures at random intervals until the session ends (the task is cancelled)."""
        drawn: list[str] = []  # stroke ids on the picture, for undo
        for n in itertools.count(1):
            await asyncio.sleep(self.rng.expovariate(1 / self.config.draw_gap))
            frames, pace = self.gesture(sid, f"g{n}", drawn)
            for frame in frames:
                if not await self.send_annotation(client, frame, link):
                    return
                await asyncio.sleep(pace)

    def gesture(
        self, sid: str, stroke_id: str, drawn: list[str]
    ) -> tuple[list[dict[str, Any]], float]:
        """60 % freehand strokes, 20 % arrows, 15 % laser sweeps, 5 % undo of the last mark."""
        pick = self.rng.random()
        if pick < 0.6:
            drawn.append(stroke_id)
            frames = payloads.stroke(sid, stroke_id, self.rng, self.rng.randint(5, 25))
            return frames, 1 / STROKE_FPS
        if pick < 0.8:
            drawn.append(stroke_id)
            return [payloads.arrow(sid, stroke_id, self.rng)], 0.0
        if pick < 0.95 or not drawn:
            return payloads.laser(sid, self.rng, self.rng.randint(10, 40)), 1 / LASER_FPS
        return [payloads.undo(sid, drawn.pop())], 0.0

    async def send_annotation(
        self, client: MaydayClient, frame: dict[str, Any], link: Link
    ) -> bool:
        """Send one drawing frame; the first of the run goes with an ``id`` to learn whether
        the server knows ``annotation``. False when drawing is off."""
        if self.annotations == "not tried" and not self._probing:
            self._probing = True
            return await self.probe_annotations(client, frame, link)
        if not self._verdict.is_set():
            await self._verdict.wait()
        if self.annotations != "supported":
            return False
        self.stamp(frame, link)
        await client.send("annotation", **_fields(frame))
        self.counts["annotations sent"] += 1
        return True

    async def probe_annotations(
        self, client: MaydayClient, frame: dict[str, Any], link: Link
    ) -> bool:
        """Any answer but ``unknown_type`` means the server knows the frame."""
        self.stamp(frame, link)
        try:
            await client.call("annotation", **_fields(frame))
            verdict = "supported"
        except MaydayError as exc:
            verdict = "unknown_type" if exc.code == "unknown_type" else "supported"
            self.counts[f"annotation refused: {exc.code}"] += 1
        except (ConnectionError, TimeoutError):
            self._probing = False  # no verdict: the next gesture asks again
            raise
        self.annotations = verdict
        self._verdict.set()
        if verdict == "unknown_type":
            print(
                "\nnote: the server answered unknown_type to annotation: drawing is off",
                file=sys.stderr,
            )
            return False
        self.counts["annotations sent"] += 1
        return True

    @staticmethod
    def stamp(frame: dict[str, Any], link: Link) -> None:
        key = payloads.annotation_key(frame)
        if key is not None:
            link.stamps[key] = time.perf_counter()

    def drawing_arrived(self, frame: dict[str, Any]) -> None:
        self.counts["annotations relayed"] += 1
        link = self.links.get(str(frame.get("session_id")))
        key = payloads.annotation_key(frame)
        if link is None or key is None:
            return
        sent = link.stamps.pop(key, None)
        if sent is not None:
            self.h["annotation"].record(time.perf_counter() - sent)


def _fields(frame: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in frame.items() if k != "type"}


def _lognormal(mean: float, sigma: float = 0.5) -> tuple[float, float]:
    return math.log(mean) - sigma**2 / 2, sigma


class Desk:
    """One advisor: takes every offer after the accept delay, one session at a time."""

    def __init__(self, sim: Simulation, client: MaydayClient) -> None:
        self.sim, self.client = sim, client
        self.live: set[str] = set()

    def mine(self, event: Any) -> bool:
        """Everything but the signals of a live session: those wait in the client's inbox
        until the session's listener takes them (it may not be registered yet)."""
        return not isinstance(event, SignalRelayed) or event.session_id not in self.live

    async def run(self) -> None:
        while True:
            event = await self.client.next(where=self.mine, timeout=3600)
            if isinstance(event, HelpOffer):
                await self.take(event)
            elif isinstance(event, SessionStarted):
                self.live.add(event.session_id)
                self.sim.spawn(self.session(event))
            elif isinstance(event, QueueSummary):
                self.sim.queue_waiting = event.waiting
            elif isinstance(event, ErrorFrame):
                self.sim.counts[f"advisor error: {event.code}: {event.message[:60]}"] += 1

    async def take(self, offer: HelpOffer) -> None:
        await asyncio.sleep(self.sim.config.accept_delay)
        try:
            await self.client.call("help.accept", request_id=offer.request_id)
        except MaydayError as exc:  # the user gave up while the advisor reached for it
            self.sim.counts[f"accept refused: {exc.code}"] += 1

    async def session(self, started: SessionStarted) -> None:
        """The call is set up, then lasts a handle time with drawing, then the advisor ends it."""
        sim, sid = self.sim, started.session_id
        rec = sim.record_of(started.peer["id"])
        if rec is None:
            raise RuntimeError(f"session {sid} with a stranger: {started.peer}")
        link = sim.link(sid)
        began = sim.now()
        video = asyncio.Event()
        tasks = [sim.spawn(sim.side(self.client, started, rec, video))]
        try:
            try:  # the talk begins once each side sees the other
                async with asyncio.timeout(SETUP_TIMEOUT):
                    await video.wait()
                    await link.tablet_video.wait()
            except TimeoutError:
                sim.counts["sessions without video"] += 1
            sim.setup_times.append(sim.now() - began)
            if sim.config.draw:
                tasks.append(sim.spawn(sim.draw(self.client, sid, link)))
            sim.talk_times.append(rec.talk)
            await asyncio.sleep(rec.talk)
            for task in tasks[1:]:  # the pen is put down before the call ends
                task.cancel()
            with contextlib.suppress(MaydayError):  # the user may have left first
                await self.client.end_session(sid)
        finally:
            for task in tasks:
                task.cancel()
            self.client.off_signal(sid)
            self.live.discard(sid)


class Tablet:
    """One tablet: connects, presses Help, waits (or gives up), talks, leaves."""

    def __init__(self, sim: Simulation, rec: UserRecord) -> None:
        self.sim, self.rec = sim, rec
        self.client: MaydayClient | None = None
        self.call: asyncio.Task[Any] | None = None
        self.deadline = math.inf

    async def run(self) -> None:
        sim, rec = self.sim, self.rec
        try:
            self.client = await sim.connect(rec.index, "user", f"sim-u{rec.index}")
            rec.pressed = sim.now()
            ack = await self.client.call("help.request", topic="Settings", device=DEVICE)
        except (OSError, aiohttp.ClientError, MaydayError, TimeoutError) as exc:
            rec.outcome, rec.detail = "failed", f"{type(exc).__name__}: {exc}"
            return
        rec.request_id, rec.outcome = ack.fields["request_id"], "waiting"
        self.deadline = rec.pressed + rec.patience
        try:
            await self.events()
        finally:
            if self.call is not None:
                self.call.cancel()
            await self.client.close()

    async def events(self) -> None:
        assert self.client is not None
        while True:
            waiting = self.rec.outcome == "waiting"
            timeout = self.deadline - self.sim.now() if waiting else 3600.0
            try:
                # Signals stay in the inbox for the session's listener, which replays them.
                event = await self.client.next(
                    where=lambda e: not isinstance(e, SignalRelayed), timeout=max(0.0, timeout)
                )
            except TimeoutError:
                if waiting and self.deadline < math.inf:
                    await self.give_up()
                continue
            if self.on(event):
                return

    def on(self, event: Any) -> bool:
        """Handle one event; True when this tablet is done."""
        sim, rec = self.sim, self.rec
        if isinstance(event, HelpQueued) and not rec.estimate_seen:
            rec.estimate_seen, rec.estimate = True, event.estimated_wait_s
            rec.queued = event.state == "queued"
        elif isinstance(event, SessionStarted):
            self.started(event)
        elif isinstance(event, AnnotationRelayed):
            sim.drawing_arrived(event.to_frame())
        elif isinstance(event, ErrorFrame):
            sim.counts[f"user error: {event.code}: {event.message[:60]}"] += 1
        return isinstance(event, SessionEnded | HelpClosed)

    def started(self, event: SessionStarted) -> None:
        sim, rec = self.sim, self.rec
        rec.started, rec.outcome = sim.now(), "session"
        self.deadline = math.inf
        value = rec.time_to_accept
        if value is not None and sim.measured(rec):
            sim.h["tta"].record(value)
            if rec.estimate is not None:
                sim.h["estimate"].record(abs(rec.estimate - value))
        assert self.client is not None
        self.call = sim.spawn(sim.side(self.client, event, rec))

    async def give_up(self) -> None:
        assert self.client is not None and self.rec.request_id is not None
        self.deadline = math.inf
        try:
            await self.client.call("help.cancel", request_id=self.rec.request_id)
        except MaydayError as exc:  # offered or answered meanwhile: the user stays
            self.sim.counts[f"cancel refused: {exc.code}"] += 1
            return
        if self.rec.outcome == "waiting":
            self.rec.outcome, self.rec.gave_up = "abandoned", self.sim.now()


DEVICE = {"model": "Tablet 10", "os": "Android 15", "app": "4.2.0"}


# ---------------------------------------------------------------- the report
@dataclass
class Report:
    config: dict[str, Any]
    machine: str
    date: str
    wall_s: float
    users: int
    measured_users: int
    outcomes: dict[str, int]
    latencies: dict[str, dict[str, float | int]]
    histogram: str
    service_level: dict[str, float | None]
    abandonment: float | None
    waited: float | None
    estimate: dict[str, float | int | None]
    erlang: dict[str, dict[str, float | None]]
    server: list[dict[str, Any]]
    client_cpu_percent: float
    annotations: str
    counts: dict[str, int]
    ops: dict[str, Any] = field(default_factory=dict)
    media_time_to_advisor: list[float] = field(default_factory=list)
    spectra: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


def service_levels(
    users: Sequence[UserRecord], target: float, end: float
) -> dict[str, float | None]:
    """Share answered within ``target``, as ops count it: a request abandoned within the
    target counts as within (it never had the chance); one still open past the target
    when the run stopped counts as a miss."""
    out: dict[str, float | None] = {}
    for name in ("time_to_accept", "time_to_advisor"):
        within = total = 0
        for r in users:
            value = getattr(r, name)
            if value is not None:
                total, within = total + 1, within + (value <= target)
            elif r.outcome == "abandoned" and r.gave_up is not None and r.pressed is not None:
                total, within = total + 1, within + (r.gave_up - r.pressed <= target)
            elif r.pressed is not None and r.outcome != "failed" and end - r.pressed > target:
                total += 1
        out[name] = within / total if total else None
    return out


def erlang_c(
    config: Config, arrivals_per_s: Sequence[tuple[float, float]], service_s: float
) -> dict[str, float | None]:
    """Erlang C for ``(rate, weight)`` pieces of the load, weighted by their arrivals.

    An advisor is held from the offer to the end of the session: ``service_s``
    is the accept delay, the call set-up and the handle time. Time-to-accept
    is the Erlang C wait (to the offer) plus the accept delay, so "within the
    target" means a wait within ``target - accept_delay``. A piece whose load
    reaches the number of advisors has no steady state (the queue grows): it
    counts as 0 within the target and leaves the mean wait undefined.
    """
    n, d = config.advisors, config.accept_delay
    weight = sum(w for _, w in arrivals_per_s)
    if weight <= 0:
        return {"service_level": None, "wait_probability": None, "mean_time_to_accept_s": None}
    sl = pw = wait = 0.0
    overloaded = False
    for rate, w in arrivals_per_s:
        level = erlang.service_level(n, rate, service_s, max(0.0, config.target - d))
        mean = erlang.mean_wait(n, rate, service_s)
        p = erlang.wait_probability(n, rate * service_s)
        overloaded |= level is None
        sl += w * (level or 0.0)
        pw += w * (1.0 if p is None else p)
        wait += w * (mean or 0.0)
    return {
        "service_level": sl / weight,
        "wait_probability": pw / weight,
        "mean_time_to_accept_s": None if overloaded else wait / weight + d,
        "load_erlangs": sum(r * w for r, w in arrivals_per_s) / weight * service_s,
        "service_s": service_s,
    }


def pieces(config: Config) -> list[tuple[float, float]]:
    """(rate, expected arrivals) of each stretch of the measured window."""
    out = []
    segs = config.segments
    for i, seg in enumerate(segs):
        end = segs[i + 1].start_s if i + 1 < len(segs) else config.seconds
        start, end = max(seg.start_s, config.warmup), min(end, config.seconds)
        if end > start:
            out.append((seg.rate, seg.rate * (end - start)))
    return out


def report(sim: Simulation, ops: dict[str, Any] | None = None) -> Report:
    config = sim.config
    measured = [r for r in sim.users if sim.measured(r)]
    outcomes = Counter(r.outcome for r in measured)
    gave_up, answered = outcomes["abandoned"], outcomes["session"]
    errors = [
        r.estimate - r.time_to_accept
        for r in measured
        if r.estimate is not None and r.time_to_accept is not None
    ]
    window = max(1e-9, config.seconds - config.warmup)
    nominal = config.accept_delay + config.connect_mean + config.frame_mean + config.handle_mean
    service = nominal
    if sim.talk_times and sim.setup_times:
        service = config.accept_delay + _mean(sim.setup_times) + _mean(sim.talk_times)
    return Report(
        config={k: v for k, v in asdict(config).items() if k != "profile"}
        | {"profile_segments": len(config.profile)},
        machine=machine(),
        date=datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        wall_s=sim.wall,
        users=len(sim.users),
        measured_users=len(measured),
        outcomes=dict(outcomes),
        latencies={name: h.summary() for name, h in sim.h.items()},
        histogram=sim.h["tta"].kind,
        service_level=service_levels(measured, config.target, sim.wall),
        abandonment=gave_up / (gave_up + answered) if gave_up + answered else None,
        waited=_share([r.queued for r in measured if r.estimate_seen]),
        estimate={
            "compared": len(errors),
            "none_given": sum(1 for r in measured if r.estimate_seen and r.estimate is None),
            "mean_abs_error_s": sim.h["estimate"].mean if errors else None,
            "p90_abs_error_s": sim.h["estimate"].p(90) if errors else None,
            "mean_signed_error_s": sum(errors) / len(errors) if errors else None,
        },
        erlang={
            "nominal": erlang_c(config, pieces(config), nominal),
            "measured": erlang_c(config, [(len(measured) / window, float(len(measured)))], service),
        },
        server=[_usage(u, sim.wall) for u in sim.usage],
        client_cpu_percent=100 * sim.client_cpu / max(sim.wall, 1e-9),
        annotations=sim.annotations,
        counts=dict(sim.counts),
        ops=ops or {},
        media_time_to_advisor=[
            v for r in sim.users if r.media and (v := r.time_to_advisor) is not None
        ],
        spectra={name: sim.h[name].spectrum() for name in ("tta", "ttadv", "relay", "annotation")},
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _usage(u: Usage, wall: float) -> dict[str, Any]:
    return {
        "name": u.name,
        "cpu_s": u.cpu_end - u.cpu_start,
        "cpu_percent": 100 * (u.cpu_end - u.cpu_start) / max(wall, 1e-9),
        "rss_start_mib": u.rss_start_kib / 1024,
        "rss_peak_mib": u.rss_peak_kib / 1024,
        "rss_end_mib": u.rss_end_kib / 1024,
    }


def _s(value: float | None, unit: str = "s", scale: float = 1.0, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * scale:.{digits}f} {unit}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def print_report(r: Report) -> None:
    c = r.config
    print(f"\nMayday load simulator, {r.date}, {r.machine}")
    load = f"{c['rate']:g}/s"
    if c["profile_segments"]:
        load = f"profile of {c['profile_segments']} steps"
    patience = f"mean {c['patience_mean']:g} s" if c["patience_mean"] else "infinite"
    store = f"redis x{c['nodes']}" if c["redis"] else "memory"
    print(
        f"  {c['seconds']:g} s of arrivals ({load}), {c['advisors']} advisors, handle "
        f"{c['handle_dist']} mean {c['handle_mean']:g} s, accept delay {c['accept_delay']:g} s, "
        f"patience {patience}, store {store}, warm-up {c['warmup']:g} s"
    )
    print(
        f"  users {r.users} (measured {r.measured_users}): "
        + ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items()))
        + f"; ran {r.wall_s:.1f} s; histograms: {r.histogram}"
    )
    rows = (
        ("time to accept", "tta", "s", 1.0),
        ("time to advisor", "ttadv", "s", 1.0),
        ("relay (signal)", "relay", "ms", 1e3),
        ("relay (drawing)", "annotation", "ms", 1e3),
        ("client loop lag", "lag", "ms", 1e3),
    )
    for label, key, unit, scale in rows:
        s = r.latencies[key]
        print(
            f"  {label:16s} n={s['count']:<6d} p50 {_s(s['p50'], unit, scale)}  "
            f"p90 {_s(s['p90'], unit, scale)}  p99 {_s(s['p99'], unit, scale)}  "
            f"max {_s(s['max'], unit, scale)}"
        )
    print_outcome(r)


def print_outcome(r: Report) -> None:
    c, sl, e = r.config, r.service_level, r.estimate
    print(
        f"  service level within {c['target']:g} s: time to accept {_pct(sl['time_to_accept'])}, "
        f"time to advisor {_pct(sl['time_to_advisor'])}; abandonment {_pct(r.abandonment)}"
    )
    print(
        f"  wait estimate (first help.queued) vs real wait: n={e['compared']}, mean |error| "
        f"{_s(e['mean_abs_error_s'])}, p90 |error| {_s(e['p90_abs_error_s'])}, mean signed "
        f"{_s(e['mean_signed_error_s'])}, none given {e['none_given']}"
    )
    for name, pred in r.erlang.items():
        print(
            f"  Erlang C ({name}: {_s(pred.get('load_erlangs'), 'erlangs')} on {c['advisors']}, "
            f"service {_s(pred.get('service_s'))}): service level {_pct(pred['service_level'])}, "
            f"P(wait) {_pct(pred['wait_probability'])}, mean time to accept "
            f"{_s(pred.get('mean_time_to_accept_s'))}"
        )
    print(
        f"  measured: service level {_pct(sl['time_to_accept'])}, P(wait) {_pct(r.waited)} "
        f"(first help.queued said queued), mean time to accept {_s(r.latencies['tta']['mean'])}"
    )
    measured = sl["time_to_accept"]
    for name, pred in r.erlang.items():
        if measured is not None and pred["service_level"]:
            print(
                f"  measured / Erlang C ({name}) service level: "
                f"{measured / pred['service_level']:.3f}"
            )
    for u in r.server:
        print(
            f"  {u['name']}: CPU {u['cpu_s']:.1f} s ({u['cpu_percent']:.0f} % of a core), RSS "
            f"{u['rss_start_mib']:.1f} -> peak {u['rss_peak_mib']:.1f} MiB"
        )
    print(f"  simulator CPU {r.client_cpu_percent:.0f} % of a core; drawing: {r.annotations}")
    if r.media_time_to_advisor:
        shown = ", ".join(f"{v:.2f} s" for v in r.media_time_to_advisor)
        print(f"  time to advisor with real aiortc media: {shown}")
    print_ops(r.ops)
    print("  frames: " + ", ".join(f"{k} {v}" for k, v in sorted(r.counts.items())))


def print_ops(ops: dict[str, Any]) -> None:
    if not ops:
        return
    w = ops.get("window", {})
    print(
        f"  server's own view (5 min window): answered {w.get('answered')}, service level "
        f"{_pct(w.get('service_level'))}, time to accept p50/p90 "
        f"{_s(w.get('time_to_accept_p50_s'))}/{_s(w.get('time_to_accept_p90_s'))}, "
        f"time to advisor p50/p90 {_s(w.get('time_to_advisor_p50_s'))}/"
        f"{_s(w.get('time_to_advisor_p90_s'))}, occupancy {_pct(w.get('occupancy'))}"
    )
    p = ops.get("predicted", {})
    print(
        f"  server's Erlang C (last hour's load on advisors online now): service level "
        f"{_pct(p.get('service_level'))}, handle {_s(p.get('handle_s'))}"
    )
    t = ops.get("time_to_advisor", {})
    if t.get("count"):
        print(
            f"  server's time to advisor per request (/api/ops/requests): n={t['count']}, p50 "
            f"{_s(t['p50'])}, p90 {_s(t['p90'])}, p99 {_s(t['p99'])}"
        )


# ---------------------------------------------------------------- the server's own view
async def fetch_ops(server: RunningServer, since_epoch: float) -> dict[str, Any]:
    """``/api/ops/summary`` (the 5-minute window and the server's Erlang C) and the
    per-request time to advisor from ``/api/ops/requests``."""
    headers = {"Authorization": f"Bearer {server.token('ops', 'sim-ops')}"}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:
        async with http.get(f"{server.base}/api/ops/summary") as r:
            summary = await r.json()
        params = {"since": str(since_epoch), "limit": "10000"}
        async with http.get(f"{server.base}/api/ops/requests", params=params) as r:
            requests = (await r.json())["requests"]
    h = Latencies()
    for view in requests:
        if view.get("time_to_advisor_s") is not None:
            h.record(view["time_to_advisor_s"])
    return {
        "window": summary["windows"]["5m"]["all"],
        "predicted": summary["predicted"],
        "time_to_advisor": h.summary(),
    }


# ---------------------------------------------------------------- running it
@contextlib.contextmanager
def servers(config: Config) -> Iterator[tuple[list[RunningServer], list[Usage]]]:
    """The nodes (and Redis) for ``config``, with a /proc probe for each process."""
    with contextlib.ExitStack() as stack:
        usage: list[Usage] = []
        url = None
        if config.redis:
            redis = stack.enter_context(redis_server())
            assert redis.process is not None
            url = redis.url
            usage.append(Usage("redis-server", redis.process.pid))
        nodes = stack.enter_context(mayday_nodes(config.nodes, url, env=config.server_env()))
        usage[:0] = [Usage(f"mayday node {i}", n.process.pid) for i, n in enumerate(nodes)]
        yield nodes, usage


async def simulate(
    config: Config, nodes: Sequence[RunningServer], usage: Sequence[Usage] = ()
) -> Report:
    """Run ``config`` against ``nodes``; the report includes the first node's ops view."""
    sim = Simulation(config, [n.ws_url for n in nodes], nodes[0].token, usage)
    since = time.time() - 1
    try:
        await sim.run()
        ops: dict[str, Any] = {}
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, KeyError):
            ops = await fetch_ops(nodes[0], since)
    finally:
        await sim.close()
    return report(sim, ops)


def run_simulation(config: Config) -> Report:
    """Start the servers for ``config``, run it, stop them, return the report."""
    with servers(config) as (nodes, usage):
        return asyncio.run(simulate(config, nodes, usage))


def plot(r: Report, path: Path) -> bool:
    """Percentile spectra (HdrHistogram style): waits on the left, relay on the right."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        print("  (no plot: pip install -e '.[bench]' for matplotlib)")
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    panels = (
        (left, (("tta", "time to accept"), ("ttadv", "time to advisor")), 1.0, "seconds"),
        (right, (("relay", "signal relay"), ("annotation", "drawing relay")), 1e3, "ms"),
    )
    for ax, series, scale, unit in panels:
        for key, label in series:
            points = [(q, v) for q, v in r.spectra.get(key, []) if q < 100]
            if points:
                xs = [1 / (1 - q / 100) for q, _ in points]
                ax.plot(xs, [v * scale for _, v in points], label=label)
        ax.set_xscale("log")
        if unit == "ms":
            ax.set_yscale("log")  # the body of the distribution and its tail on one scale
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(
                FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}".lstrip("0.")[:1] in "25" else "")
            )
        ticks = [1, 2, 10, 100, 1000, 10000]
        ax.set_xticks(ticks, ["p0", "p50", "p90", "p99", "p99.9", "p99.99"])
        ax.set_ylabel(unit)
        ax.grid(True, alpha=0.3)
        ax.legend()
    left.axhline(r.config["target"], color="grey", linestyle="--", linewidth=1)
    left.annotate(f"target {r.config['target']:g} s", (1.1, r.config["target"]), fontsize=8)
    c = r.config
    load = (
        f"profile, {c['profile_segments']} steps" if c["profile_segments"] else f"{c['rate']:g}/s"
    )
    fig.suptitle(
        f"simulator, {load}, {c['advisors']} advisors, handle {c['handle_mean']:g} s, "
        f"{'redis x' + str(c['nodes']) if c['redis'] else 'memory'} ({r.date})",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"  plot: {path}")
    return True


def parse_args(argv: Sequence[str] | None = None) -> tuple[Config, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, help="arrivals for this long (30, or the profile)")
    p.add_argument("--rate", type=float, default=1.0, help="Poisson arrivals per second")
    p.add_argument("--profile", type=Path, help="CSV minute,rate to replay instead of --rate")
    p.add_argument("--minute-seconds", type=float, default=60.0, help="seconds per profile minute")
    p.add_argument("--advisors", type=int, default=8)
    p.add_argument("--handle-mean", type=float, default=5.0, help="mean session length, s")
    p.add_argument("--handle-dist", choices=("exponential", "lognormal"), default="exponential")
    p.add_argument("--handle-sigma", type=float, default=0.6, help="lognormal shape")
    p.add_argument("--patience-mean", type=float, default=0.0, help="0: users never give up")
    p.add_argument("--accept-delay", type=float, default=0.5, help="advisor's reaction, s")
    p.add_argument("--connect-mean", type=float, default=0.4, help="simulated ICE, s")
    p.add_argument("--frame-mean", type=float, default=0.15, help="simulated first frame, s")
    p.add_argument("--media", type=int, default=0, help="sessions with real aiortc media")
    p.add_argument("--no-draw", action="store_true", help="advisors do not draw")
    p.add_argument("--draw-gap", type=float, default=4.0, help="mean seconds between gestures")
    p.add_argument("--target", type=float, default=9.0, help="service level target, s")
    p.add_argument("--warmup", type=float, default=0.0, help="leave out the first arrivals")
    p.add_argument("--drain", type=float, help="at most this long after arrivals stop")
    p.add_argument("--redis", action="store_true", help="Redis store (own redis-server)")
    p.add_argument("--nodes", type=int, default=1, help="server processes (with --redis)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", type=Path, help="write the report as JSON")
    p.add_argument("--plot", type=Path, help="write a PNG of the percentile spectra")
    args = p.parse_args(argv)
    profile: tuple[Segment, ...] = ()
    seconds = args.seconds or 30.0
    if args.profile:
        profile = load_profile(args.profile, args.minute_seconds)
        seconds = args.seconds or profile[-1].start_s + args.minute_seconds
    try:
        config = Config(
            seconds=seconds,
            rate=args.rate,
            profile=profile,
            advisors=args.advisors,
            handle_mean=args.handle_mean,
            handle_dist=args.handle_dist,
            handle_sigma=args.handle_sigma,
            patience_mean=args.patience_mean,
            accept_delay=args.accept_delay,
            connect_mean=args.connect_mean,
            frame_mean=args.frame_mean,
            media=args.media,
            draw=not args.no_draw,
            draw_gap=args.draw_gap,
            target=args.target,
            warmup=args.warmup,
            drain=args.drain,
            redis=args.redis,
            nodes=args.nodes,
            seed=args.seed,
            progress=not args.no_progress,
        )
    except ValueError as exc:
        p.error(str(exc))
    return config, args


def main(argv: Sequence[str] | None = None) -> None:
    config, args = parse_args(argv)
    r = run_simulation(config)
    print_report(r)
    if args.json:
        args.json.write_text(r.to_json())
    if args.plot:
        plot(r, args.plot)


if __name__ == "__main__":
    main()
