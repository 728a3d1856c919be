"""Frames between server processes, through Redis.

Each process (node) has an inbox: a Redis stream that only it reads. A frame
for (role, sub) goes to the sockets this node holds, and to the inbox of every
other node that holds one, found in the identity's location hash. Streams,
not pub/sub: a node that loses Redis for a moment reads on from the last
entry it saw, so frames within a session are neither lost nor reordered;
pub/sub would drop whatever was published while it was away. The same loops
keep the node registry (heartbeats), reap dead nodes and expire offers that a
dead node made.

The relay talks to its node through ``NodeLink`` and the node to the relay
through ``Relay``; with one process (the embedded default) the relay is
``NoRelay``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any, Protocol, cast

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mayday.routing.events import Effect, Event, SessionOver, Waiting
from mayday.stores.redis import RedisStore
from mayday.stores.scripts import Script
from mayday.transport.connection import VOLATILE_MARK
from mayday.transport.loops import every
from mayday.transport.streams import KEEP_BYTES, KEEP_FRAMES

log = logging.getLogger(__name__)

# Frames older than a few seconds are of no use to anyone; keep the inboxes short.
INBOX_MAX = 10_000
# Frames per ``deliver`` call: bounds the script's arguments and its time in Redis.
OUTBOX_BATCH = 500
# A frame posted with "loopback" holds back the frames made here for its identity until
# it comes back through the inbox, or at most this long.
LOOP_FORGET_S = 5.0
# The outbox tries a batch again this long while Redis is unreachable, then fails it.
OUTBOX_RETRY_S = 15.0
# A stopping node waits this long for its relay outbox to reach Redis.
CLOSE_FLUSH_S = 5.0
# One inbox read waits this long for a frame, and gives up on Redis this much later.
INBOX_BLOCK_MS = 1000
INBOX_READ_SLACK_S = 2.0
# OSError takes in the TimeoutError of a read cut off (asyncio.wait_for).
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionRefusedError, OSError)

# role, sub, and the parcel for the nodes holding that identity's sockets:
# {"frame": a frame to send them} or {"note": an effect to keep there (``Note``)}.
Outgoing = tuple[str, str, dict[str, Any]]
Note = Waiting | SessionOver


class NodeLink(Protocol):
    """What the relay needs of its node."""

    def clock(self) -> float: ...

    def deliver_local(self, role: str, sub: str, frame: dict[str, Any]) -> int:
        """Send ``frame`` to the sockets of (role, sub) on this node; how many."""
        ...

    def keep_note(self, note: Note) -> None:
        """Keep an effect another node relayed for an identity connected here."""
        ...

    async def execute(self, effects: list[Effect]) -> None: ...

    async def apply(self, event: Event) -> None: ...


class Relay(Protocol):
    """The link between server processes; ``NoRelay`` when there is one process."""

    node_id: str

    async def start(self, link: NodeLink) -> None: ...

    async def joined(self, role: str, sub: str) -> None:
        """This node now holds a socket of (role, sub)."""
        ...

    async def send_many(self, parcels: list[Outgoing]) -> list[int]:
        """Queue each parcel on every other node holding a socket of its identity, in
        order; per parcel, how many nodes."""
        ...

    def post(self, parcel: Outgoing) -> asyncio.Future[int]:
        """The same for one parcel, without waiting: its place in the order is taken
        now, and the future says later how many nodes took it."""
        ...

    @property
    def backlog(self) -> int:
        """Parcels posted and not yet handed to Redis."""
        ...

    async def settle(self) -> None:
        """Return once every parcel posted so far went to Redis (or failed)."""
        ...

    def looping(self, role: str, sub: str) -> bool:
        """A frame made here for (role, sub) is on its way back to this node through
        Redis (its socket here was claiming a stream, or registering): frames made here
        for it meanwhile must follow the same way, not overtake it."""
        ...

    async def close(self) -> None: ...


class NoRelay:
    """One process alone (the embedded default): nothing to relay to."""

    node_id = ""

    async def start(self, link: NodeLink) -> None:
        return None

    async def joined(self, role: str, sub: str) -> None:
        return None

    async def send_many(self, parcels: list[Outgoing]) -> list[int]:
        return [0] * len(parcels)

    def post(self, parcel: Outgoing) -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.set_result(0)
        return future

    @property
    def backlog(self) -> int:
        return 0

    async def settle(self) -> None:
        return None

    def looping(self, role: str, sub: str) -> bool:
        return False

    async def close(self) -> None:
        return None


def frame_parcel(frame: dict[str, Any]) -> dict[str, Any]:
    return {"frame": frame}


def note_parcel(note: Note) -> dict[str, Any]:
    if isinstance(note, Waiting):
        return {"note": {"k": "waiting", "user_id": note.user_id, "request_id": note.request_id}}
    fields = {"session_id": note.session_id, "user_id": note.user_id}
    return {"note": {"k": "session_over", **fields, "advisor_id": note.advisor_id}}


def _flags(parcel: dict[str, Any]) -> str:
    """One digit for deliver.lua: 1 if a parked stream keeps it (a frame, not a note nor a
    laser move), plus 2 if it goes to this node's own inbox too (``loopback``)."""
    frame = parcel.get("frame")
    keep = frame is not None and not frame.get(VOLATILE_MARK)
    return str(int(keep) + 2 * int(bool(parcel.get("loopback"))))


def read_note(raw: dict[str, Any]) -> Note:
    if raw["k"] == "waiting":
        return Waiting(raw["user_id"], raw["request_id"])
    return SessionOver(raw["session_id"], raw["user_id"], raw["advisor_id"])


class RedisRelay:
    """This node's link to the others: registry, inbox, heartbeats, reaper, offer sweeper."""

    def __init__(
        self,
        store: RedisStore,
        *,
        heartbeat_s: float = 1.0,
        dead_after_s: float = 5.0,
        sweep_s: float = 0.25,
        node_id: str | None = None,
    ) -> None:
        self.store, self.redis, self.keys = store, store.redis, store.keys
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self.heartbeat_s, self.dead_after_s, self.sweep_s = heartbeat_s, dead_after_s, sweep_s
        self._register = Script(self.redis, "register")
        self._deliver = Script(self.redis, "deliver")
        self._tasks: list[asyncio.Task[None]] = []
        self._outbox: list[tuple[Outgoing, asyncio.Future[int]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._last_posted: asyncio.Future[int] | None = None
        # Per identity, the number and time of the latest frame posted with "loopback"
        # that may still come back to this node's inbox (``looping``).
        self._loops: dict[tuple[str, str], tuple[int, float]] = {}
        self._loop_n = 0
        self._batch = 0
        self.last_id = "0-0"

    async def start(self, link: NodeLink) -> None:
        await self._beat(link.clock())
        name, down = f"node {self.node_id}", REDIS_DOWN
        beat = every(self.heartbeat_s, lambda: self._beat(link.clock()), name, expected=down)
        reap = every(self.heartbeat_s, lambda: self._reap(link), f"{name} reaper", expected=down)
        sweep = every(self.sweep_s, lambda: self._sweep(link), f"{name} sweeper", expected=down)
        self._tasks = [
            asyncio.create_task(self._read_inbox(link), name="relay-inbox"),
            asyncio.create_task(beat, name="relay-heartbeat"),
            asyncio.create_task(reap, name="relay-reaper"),
            asyncio.create_task(sweep, name="relay-sweeper"),
        ]
        log.info("node %s joined", self.node_id)

    async def close(self) -> None:
        # What was posted and acked to its senders goes out first (bounded: Redis may
        # be gone).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.settle(), CLOSE_FLUSH_S)
        tasks = self._tasks + ([self._flusher] if self._flusher is not None else [])
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a task that swallowed its cancel must not hold the node's stop.
            done, stuck = await asyncio.wait(tasks, timeout=CLOSE_FLUSH_S)
            for task in done:
                if not task.cancelled():
                    task.exception()  # retrieved: a loop that failed was logged already
            for task in stuck:
                log.warning("node %s: %s did not stop when cancelled", self.node_id, task)
        # No goodbye: the node is reaped once its heartbeat is older than dead_after_s,
        # the same grace a crashed node gets, so its clients can reconnect to another node
        # and keep their request or session (a rolling restart abandons no one).

    # ------------------------------------------------------------ sockets
    async def joined(self, role: str, sub: str) -> None:
        """This node now holds a socket of (role, sub)."""
        await self._register(
            [self.keys.location(role, sub)], [self.keys.prefix, self.node_id, role, sub]
        )

    async def send_many(self, frames: list[Outgoing]) -> list[int]:
        """Queue each (role, sub, parcel) on every other node holding a socket of (role,
        sub), in order; return, per parcel, how many nodes.

        Frames from every coroutine of this node wait in one outbox and leave in one
        ``deliver`` call per round trip: while a call is in flight, the frames that
        come meanwhile gather for the next. Many sessions relaying at once then cost
        a few round trips, not one each; and since one flusher sends the batches in
        turn, frames keep the order in which they were queued.
        """
        if not frames:
            return []
        return list(await asyncio.gather(*(self.post(frame) for frame in frames)))

    def post(self, parcel: Outgoing) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        role, sub, body = parcel
        if body.get("loopback") and "frame" in body:
            self._loop_n += 1
            body["n"] = self._loop_n
            self._loops[(role, sub)] = (self._loop_n, loop.time())
        self._outbox.append((parcel, future))
        self._last_posted = future
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush(), name="relay-outbox")
        return future

    @property
    def backlog(self) -> int:
        return len(self._outbox)

    def looping(self, role: str, sub: str) -> bool:
        latest = self._loops.get((role, sub))
        if latest is None:
            return False
        if asyncio.get_running_loop().time() - latest[1] > LOOP_FORGET_S:
            del self._loops[(role, sub)]  # read back or not by now (Redis was down)
            return False
        return True

    def _looped(self, role: str, sub: str, n: int) -> None:
        """The frame numbered ``n`` came back, or will not: if it was the identity's
        latest, frames made here may go straight to its sockets again."""
        latest = self._loops.get((role, sub))
        if latest is not None and latest[0] == n:
            del self._loops[(role, sub)]

    async def settle(self) -> None:
        # One flusher sends in the order posted: the last one done means all are.
        last = self._last_posted
        if last is not None and not last.done():
            await asyncio.wait([last])

    async def _flush(self) -> None:
        batch: list[tuple[Outgoing, asyncio.Future[int]]] = []
        try:
            while self._outbox:
                batch = self._outbox[:OUTBOX_BATCH]
                del self._outbox[:OUTBOX_BATCH]
                try:
                    counts = await self._deliver_retrying([frame for frame, _ in batch])
                except Exception as exc:  # each caller raises it for its own frame
                    for (role, sub, parcel), future in batch:
                        if "n" in parcel:  # it will not come back: hold nothing behind it
                            self._looped(role, sub, parcel["n"])
                        if not future.done():  # a caller cancelled meanwhile
                            future.set_exception(exc)
                    continue
                for (_, future), count in zip(batch, counts, strict=True):
                    if not future.done():
                        future.set_result(count)
        finally:
            # Cancelled when the node stops: no caller waits for ever.
            for _, future in batch + self._outbox:
                if not future.done():
                    future.cancel()
            self._outbox.clear()

    async def _deliver_retrying(self, frames: list[Outgoing]) -> list[int]:
        """``_deliver_batch``, again while Redis is briefly unreachable, up to
        ``OUTBOX_RETRY_S``: the frames were acked to their senders when posted, and
        nothing queued behind them leaves first."""
        loop = asyncio.get_running_loop()
        backoff, give_up = 0.05, loop.time() + OUTBOX_RETRY_S
        self._batch += 1  # the same number each time: deliver.lua does it once
        while True:
            try:
                return await self._deliver_batch(frames, self._batch)
            except REDIS_DOWN as exc:
                if loop.time() + backoff > give_up:
                    raise
                log.warning("node %s: relay outbox waits for Redis (%s)", self.node_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _deliver_batch(self, frames: list[Outgoing], batch: int) -> list[int]:
        # Each frame encoded on its own: one that cannot be (a server bug) counts as
        # delivered nowhere and does not fail the frames batched with it.
        encoded: list[tuple[int, str, str, str]] = []
        for i, (role, sub, parcel) in enumerate(frames):
            flag = _flags(parcel)
            # "loopback" is for deliver.lua, not for the nodes that read the parcel.
            kind = "frame" if "frame" in parcel else "note"
            try:
                # Key order matters: deliver.lua cuts the frame out after the others.
                head: dict[str, Any] = {"role": role, "sub": sub}
                if "n" in parcel:  # a frame that may come back: this node knows it by
                    head |= {"o": self.node_id, "n": parcel["n"]}
                item = orjson.dumps({**head, kind: parcel[kind]}).decode()
            except TypeError:
                log.exception("node %s: a %s frame could not be encoded", self.node_id, role)
                continue
            encoded.append((i, self.keys.location(role, sub), item, flag))
        counts = [0] * len(frames)
        if not encoded:
            return counts
        # KEYS name the slot (one hash tag), so Redis Cluster routes the script.
        flags = "".join(flag for *_, flag in encoded)
        args: list[str | int] = [self.keys.prefix, self.node_id, INBOX_MAX, flags]
        args += [KEEP_FRAMES, KEEP_BYTES, batch]
        args += [item for _, _, item, _ in encoded]
        keys = [self.keys.relayed, *(key for _, key, _, _ in encoded)]
        found = await self._deliver(keys, args)
        for (i, _, _, _), n in zip(encoded, cast(list[int], found), strict=True):
            counts[i], looped = divmod(int(n), 2)
            role, sub, parcel = frames[i]
            if "n" in parcel and not looped:
                self._looped(role, sub, parcel["n"])
        return counts

    # ------------------------------------------------------------ loops
    async def _read_inbox(self, link: NodeLink) -> None:
        backoff = 0.05
        while True:
            try:
                # Bounded: a blocked read whose master died (a Sentinel failover) can sit
                # in redis-py's reconnect for far longer than the failover takes; cut off,
                # the next read takes a new connection, to the promoted master.
                # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancel
                # (the node stopping) that comes as the read returns, and this loop then
                # never ends.
                async with asyncio.timeout(INBOX_BLOCK_MS / 1000 + INBOX_READ_SLACK_S):
                    batches = cast(
                        list[tuple[str, list[tuple[str, dict[str, str]]]]],
                        await self.redis.xread(
                            {self.keys.inbox(self.node_id): self.last_id},
                            count=500,
                            block=INBOX_BLOCK_MS,
                        ),
                    )
                backoff = 0.05
            except REDIS_DOWN as exc:
                log.warning("node %s: inbox unreachable (%s), retrying", self.node_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            for _, entries in batches or []:
                for entry_id, fields in entries:
                    item = orjson.loads(fields["f"])
                    if "note" in item:
                        link.keep_note(read_note(item["note"]))
                    else:
                        link.deliver_local(item["role"], item["sub"], item["frame"])
                        if item.get("o") == self.node_id:
                            self._looped(item["role"], item["sub"], item["n"])
                    self.last_id = entry_id

    async def _beat(self, now: float) -> None:
        """The heartbeat, and the trim of what this node already read from its inbox: an
        SDP or an ICE candidate stays in Redis about a second after it was relayed, not
        until ``MAXLEN`` pushes it out (the bound for a node that stopped reading)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.keys.nodes, {self.node_id: now})
            if self.last_id != "0-0":
                # Exact (no ``~``): entries before the last one read; that one stays.
                pipe.xtrim(self.keys.inbox(self.node_id), minid=self.last_id, approximate=False)
            await pipe.execute()

    async def _reap(self, link: NodeLink) -> None:
        while True:
            now = link.clock()
            nodes, effects = await self.store.reap(now, now - self.dead_after_s)
            if not nodes:
                return
            log.warning("node %s: reaped dead node(s) %s", self.node_id, ", ".join(nodes))
            await link.execute(effects)

    async def _sweep(self, link: NodeLink) -> None:
        """Offers and grace periods past their end, whichever node started them."""
        now = link.clock()
        for offer in await self.store.due_offers(now):
            await link.apply(offer)
        for grace in await self.store.due_graces(now):
            await link.apply(grace)
        for due in await self.store.due_routes(now):
            await link.apply(due)
