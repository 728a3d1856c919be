"""One client WebSocket: its identity, its sequence numbers and its bounded outbound queue."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from aiohttp import WSMsgType

from mayday.auth import Identity
from mayday.transport.streams import Stream
from mayday.transport.wire import Wire

log = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4008
# ``Server.deliver`` and the Redis relay carry plain frames, so a frame that may be
# dropped under backpressure (a laser pointer move) carries this mark; ``send`` takes
# it out before the frame is numbered, so it never reaches the wire.
VOLATILE_MARK = "_volatile"
# A burst of answers (a client that wrote many frames at once) leaves once this many
# wait, without waiting for the read to end: otherwise a fast writer that reads
# promptly is cut off as a slow consumer (issue 16, finding 7).
FLUSH_AT = 64


def encode(frame: dict[str, Any]) -> bytes:
    """The frame as JSON without its ``seq``; raises ``TypeError`` for a value JSON cannot
    hold. Encoded once per frame, however many sockets it goes to, and before any of them
    numbers it, so a frame that cannot be written consumes no ``seq`` anywhere."""
    body = orjson.dumps(frame)
    if not body.endswith(b"}") or body == b"{}":
        raise TypeError("a frame is a non-empty JSON object")
    return body


def mark_volatile(frame: dict[str, Any]) -> dict[str, Any]:
    """Mark ``frame`` as volatile for every connection it is delivered to."""
    frame[VOLATILE_MARK] = True
    return frame


class TokenBucket:
    """Refills ``rate`` tokens a second up to ``burst``; one token per inbound frame."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class Connection:
    """Frames go out in order. ``send`` never blocks: it numbers the frame, queues it
    and asks the event loop for a flush once the current callback is done, so a burst
    of frames (a read from a peer often holds several) leaves in one write through
    ``Wire``. Where that cannot be done (compression negotiated, the peer not
    reading), a writer task sends through aiohttp, one frame at a time, and ends
    when the queue is empty: an idle connection holds no task, which saves memory
    and garbage-collector work across many idle sockets.

    A client that lets ``queue_limit`` frames pile up is cut off, because a reader
    that never catches up would otherwise grow the server's memory without limit.
    Volatile frames (laser pointer moves) are dropped instead of queued once
    ``volatile_limit`` frames wait: by the time a slow reader got to them they
    would be stale, and they must not push reliable frames towards the cut-off.
    """

    # One per open socket, and 10,000 sockets per node: no ``__dict__`` each.
    __slots__ = (
        "_closing",
        "_flush_due",
        "_heard_seen",
        "_held",
        "_idle_waiter",
        "_pinged",
        "_queue",
        "_writer",
        "busy",
        "deaf",
        "dropped_volatile",
        "frame_id",
        "heard",
        "identity",
        "key",
        "queue_limit",
        "resumed",
        "stream",
        "volatile_limit",
        "wire",
        "ws",
    )

    def __init__(
        self,
        wire: Wire,
        identity: Identity,
        queue_limit: int,
        volatile_limit: int | None = None,
    ) -> None:
        self.wire = wire
        self.ws = wire.ws
        self.identity = identity
        self.queue_limit = queue_limit
        self.volatile_limit = (
            max(1, queue_limit // 16) if volatile_limit is None else volatile_limit
        )
        self.dropped_volatile = 0
        self.key = (identity.role.value, identity.sub)
        # Numbers this socket's frames and keeps those worth sending again; the server
        # gives it the stream it resumes, or a new one, when it attaches.
        self.stream = Stream(self.key, "")
        self.resumed = False
        # A draining node stops handling this socket's frames (the client sends unanswered
        # calls again on its next socket); ``busy`` while one is being handled. A flag, and
        # a future only when a drain waits for it: an ``asyncio.Event`` set and cleared
        # for every frame was about 2 % of the relay's CPU (docs/performance.md, 9).
        self.deaf = False
        self.busy = False
        # The id of the frame being handled, for an answer that comes after its ack
        # (``delivery.failed``).
        self.frame_id: int | None = None
        # Messages of any kind received (pongs too), for the liveness sweep (``beat``).
        # A new socket counts as heard: the first sweep after it opened only notes it.
        self.heard = 0
        self._heard_seen = -1
        self._pinged = False
        self._idle_waiter: asyncio.Future[None] | None = None
        # While its stream is being claimed (Redis): frames wait here, unnumbered, to be
        # numbered after the hello and what is sent again.
        self._held: list[tuple[bytes, bool, bool | None]] | None = None
        # A list, not a deque: an empty deque holds a 512-byte block from the start, and
        # most sockets are idle. Only the writer task (the slow path) pops from its head.
        self._queue: list[bytes] = []
        self._flush_due = False
        self._writer: asyncio.Task[None] | None = None
        self._closing: tuple[int, str] | None = None

    def beat(self) -> None:
        """One liveness sweep: a socket silent since the previous sweep is pinged; one
        still silent a sweep after its ping is gone (a peer that vanished without a FIN)
        and is dropped. This replaces aiohttp's heartbeat, which re-armed a timer through
        ``call_soon`` on every read: about 5 % of the relay's CPU (docs/performance.md, 9)."""
        if self.heard != self._heard_seen:
            self._heard_seen, self._pinged = self.heard, False
        elif self._pinged:
            log.info("connection %s/%s: no answer to a ping, dropped", *self.key)
            self.wire.abort()
        else:
            self._pinged = self.wire.ping()

    def handled(self) -> None:
        """The frame being handled is done: wake a drain that waits for it."""
        self.busy = False
        waiter, self._idle_waiter = self._idle_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_idle(self) -> None:
        """Return once no frame of this socket is being handled."""
        if self.busy:
            if self._idle_waiter is None or self._idle_waiter.done():
                self._idle_waiter = asyncio.get_running_loop().create_future()
            await self._idle_waiter

    def hold(self) -> None:
        """Keep what is pushed unnumbered until ``release`` (the stream is not known yet)."""
        self._held = []

    def greet(self, body: bytes) -> None:
        """Queue the hello of a new stream: first, ahead of anything held meanwhile."""
        if self._held is not None:
            self._held.insert(0, (body, False, False))
        else:
            self.push(body, keep=False)

    @property
    def holding(self) -> bool:
        return self._held is not None

    def release(self) -> None:
        """Number and queue, in order, what was pushed while held."""
        held, self._held = self._held or [], None
        for body, volatile, keep in held:
            self.push(body, volatile, keep)

    def release_stream(self) -> None:
        """Another socket resumed this one's stream: this one numbers on its own now (it
        is being closed)."""
        self.stream = Stream(self.key, "")

    @property
    def seq(self) -> int:
        """The number of the last frame queued on this socket's stream."""
        return self.stream.seq

    @property
    def queued(self) -> int:
        """Frames waiting to be written."""
        return len(self._queue)

    def send(self, frame: dict[str, Any], volatile: bool = False) -> bool:
        """Queue ``frame`` with the next ``seq``; False if the connection is gone or cut
        off, or if the frame is volatile (or marked so) and the queue is backed up.
        Raises ``TypeError``, before numbering, if the frame cannot be encoded."""
        volatile = bool(frame.pop(VOLATILE_MARK, False)) or volatile
        return self.push(encode(frame), volatile)

    def push(self, body: bytes, volatile: bool = False, keep: bool | None = None) -> bool:
        """Queue an encoded frame (``encode``) with the next ``seq``; see ``send``. The
        stream keeps it for a resume unless ``keep`` is false (state that is sent again
        anyway) or the frame is volatile."""
        if self._closing is not None:
            return False
        if self._held is not None:
            self._held.append((body, volatile, keep))
            return True
        if volatile and len(self._queue) >= self.volatile_limit:
            # Dropped before numbering: the reader sees no gap in ``seq``.
            self.dropped_volatile += 1
            return False
        if len(self._queue) >= self.queue_limit:
            log.warning("connection %s/%s: slow consumer, cutting off", *self.key)
            self.close(CLOSE_SLOW_CONSUMER, "slow consumer")
            return False
        self._queue.append(self.stream.number(body, not volatile if keep is None else keep))
        self._queued()
        return True

    def push_numbered(self, data: bytes) -> None:
        """Queue a frame that already carries its ``seq`` (a resumed socket's hello and
        what it is sent again), ahead of anything new."""
        if self._closing is None:
            self._queue.append(data)
            self._queued()

    def _queued(self) -> None:
        if len(self._queue) >= FLUSH_AT and not self._writing():
            self._flush()
        else:
            self._wake()

    def close(self, code: int, message: str, *, flush: bool = False) -> None:
        """Stop sending and close the socket from the writer task, after what is queued
        if ``flush`` (a stopping node's last word), else at once."""
        if self._closing is None:
            self._closing = (code, message)
            if not flush:
                self._queue.clear()
            self._wake()

    async def wait_closed(self, timeout: float) -> None:
        """Wait for the writer to finish; cut it off past ``timeout`` (a peer that stopped
        reading can hold it in a send)."""
        writer = self._writer
        if writer is None:
            return
        _, pending = await asyncio.wait({writer}, timeout=timeout)
        for task in pending:
            task.cancel()

    def _writing(self) -> bool:
        return self._writer is not None and not self._writer.done()

    def _wake(self) -> None:
        # A running writer task picks up what is queued; otherwise flush once this
        # callback is done, so frames queued by the same read leave together.
        if not self._flush_due and not self._writing():
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        if self._writing():
            return
        if self._queue and self._closing is None and self.wire.can_batch():
            self.wire.write_batch(self._queue)
            self._queue.clear()
        if self._queue or self._closing is not None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Write what is queued, in order, through aiohttp; close the socket if asked."""
        try:
            while self._queue:
                await self.ws.send_frame(self._queue.pop(0), WSMsgType.TEXT)
            if self._closing is not None and not self.ws.closed:
                code, message = self._closing
                await self.ws.close(code=code, message=message.encode())
        except (ConnectionResetError, RuntimeError) as exc:
            log.debug("connection %s/%s: writer stopped: %s", *self.key, exc)
