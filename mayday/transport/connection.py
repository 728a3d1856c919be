"""One client WebSocket: its identity, its sequence numbers and its bounded outbound queue."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

import orjson
from aiohttp import web

from mayday.auth import Identity

log = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4008
# ``Server.deliver`` and the Redis relay carry plain frames, so a frame that may be
# dropped under backpressure (a laser pointer move) carries this mark; ``send`` takes
# it out before the frame is numbered, so it never reaches the wire.
VOLATILE_MARK = "_volatile"


def mark_volatile(frame: dict[str, Any]) -> dict[str, Any]:
    """Mark ``frame`` as volatile for every connection it is delivered to."""
    frame[VOLATILE_MARK] = True
    return frame


class TokenBucket:
    """Refills ``rate`` tokens a second up to ``burst``; one token per inbound frame."""

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
    """Frames go out in order through one writer task, started when frames wait and
    ended when the queue is empty: an idle connection holds no task, which saves
    memory and garbage-collector work across many idle sockets.

    ``send`` never blocks: it numbers the frame and queues it. A client that
    lets ``queue_limit`` frames pile up is cut off, because a reader that never
    catches up would otherwise grow the server's memory without limit. Volatile
    frames (laser pointer moves) are dropped instead of queued once
    ``volatile_limit`` frames wait: by the time a slow reader got to them they
    would be stale, and they must not push reliable frames towards the cut-off.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        identity: Identity,
        queue_limit: int,
        volatile_limit: int | None = None,
    ) -> None:
        self.ws = ws
        self.identity = identity
        self.queue_limit = queue_limit
        self.volatile_limit = (
            max(1, queue_limit // 16) if volatile_limit is None else volatile_limit
        )
        self.dropped_volatile = 0
        self.seq = 0
        self._queue: deque[str] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._closing: tuple[int, str] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.identity.role.value, self.identity.sub)

    @property
    def queued(self) -> int:
        """Frames waiting for the writer."""
        return len(self._queue)

    def send(self, frame: dict[str, Any], volatile: bool = False) -> bool:
        """Queue ``frame`` with the next ``seq``; False if the connection is gone or cut
        off, or if the frame is volatile (or marked so) and the queue is backed up."""
        volatile = bool(frame.pop(VOLATILE_MARK, False)) or volatile
        if self._closing is not None:
            return False
        if volatile and len(self._queue) >= self.volatile_limit:
            # Dropped before numbering: the reader sees no gap in ``seq``.
            self.dropped_volatile += 1
            return False
        if len(self._queue) >= self.queue_limit:
            log.warning("connection %s/%s: slow consumer, cutting off", *self.key)
            self.close(CLOSE_SLOW_CONSUMER, "slow consumer")
            return False
        self.seq += 1
        frame["seq"] = self.seq
        self._queue.append(orjson.dumps(frame).decode())
        self._wake()
        return True

    def close(self, code: int, message: str) -> None:
        """Stop sending and close the socket from the writer task."""
        if self._closing is None:
            self._closing = (code, message)
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

    def _wake(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Write what is queued, in order; close the socket if asked; then end."""
        try:
            while self._queue:
                await self.ws.send_str(self._queue.popleft())
            if self._closing is not None and not self.ws.closed:
                code, message = self._closing
                await self.ws.close(code=code, message=message.encode())
        except (ConnectionResetError, RuntimeError) as exc:
            log.debug("connection %s/%s: writer stopped: %s", *self.key, exc)
