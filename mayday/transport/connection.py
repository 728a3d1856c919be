"""One client WebSocket: its identity, its sequence numbers and its bounded outbound queue."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Any

from aiohttp import web

from mayday.auth import Identity

log = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4008


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
    """Frames go out in order through one writer task.

    ``send`` never blocks: it numbers the frame and queues it. A client that
    lets ``queue_limit`` frames pile up is cut off, because a reader that never
    catches up would otherwise grow the server's memory without limit.
    """

    def __init__(self, ws: web.WebSocketResponse, identity: Identity, queue_limit: int) -> None:
        self.ws = ws
        self.identity = identity
        self.queue_limit = queue_limit
        self.seq = 0
        self._queue: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._closing: tuple[int, str] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.identity.role.value, self.identity.sub)

    def send(self, frame: dict[str, Any]) -> bool:
        """Queue ``frame`` with the next ``seq``; False if the connection is gone or cut off."""
        if self._closing is not None:
            return False
        if len(self._queue) >= self.queue_limit:
            log.warning("connection %s/%s: slow consumer, cutting off", *self.key)
            self.close(CLOSE_SLOW_CONSUMER, "slow consumer")
            return False
        self.seq += 1
        frame["seq"] = self.seq
        self._queue.append(json.dumps(frame, separators=(",", ":")))
        self._wakeup.set()
        return True

    def close(self, code: int, message: str) -> None:
        """Stop sending and close the socket from the writer task."""
        if self._closing is None:
            self._closing = (code, message)
            self._queue.clear()
            self._wakeup.set()

    async def run_writer(self) -> None:
        """Drain the queue onto the socket until the connection closes."""
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._queue:
                    await self.ws.send_str(self._queue.popleft())
                if self._closing is not None:
                    code, message = self._closing
                    await self.ws.close(code=code, message=message.encode())
                    return
        except (ConnectionResetError, RuntimeError) as exc:
            log.debug("connection %s/%s: writer stopped: %s", *self.key, exc)
