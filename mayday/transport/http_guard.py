"""A header timeout for aiohttp: a connection that does not finish its request head in
time is closed (slowloris).

aiohttp has no header read timeout: its keep-alive timer (``keepalive_timeout``)
starts when a connection opens or an answer ends and is not reset by incoming
bytes, so a client that sends half a request line holds the socket for the whole
keep-alive time (3,630 s by default in 3.14; older versions arm it only after a
first answer, i.e. never for a half-sent first request). ``HeadDeadline`` wraps
aiohttp's protocol object, sees the same bytes before it does, and only watches
where each request head ends; it never parses for aiohttp, which still refuses bad
requests itself.

The clock of a head starts when the connection opens (its first request) or with
the first byte of a later request on a kept-alive connection, and is not reset by
further bytes: dribbling a byte a second does not help. Once a head announces a
body of unknown length (``Transfer-Encoding``) or an upgrade (a WebSocket), the
rest of the connection is not watched: the WebSocket has its own heartbeat, and
a connection whose upgrade was refused is bounded by aiohttp's keep-alive timer
(``MAYDAY_HTTP_IDLE_TIMEOUT_S``).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from typing import Any, cast

from aiohttp import web
from yarl import URL

log = logging.getLogger(__name__)

# Enough for every head aiohttp accepts by default (8,190-byte lines) in practice; past
# it the scanner keeps only the tail, and aiohttp refuses what it cannot parse.
MAX_HEAD_BYTES = 64 * 1024
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d{1,18})[ \t]*\r?$", re.I | re.M)
_STOPS_WATCH = re.compile(rb"^(transfer-encoding|upgrade)[ \t]*:", re.I | re.M)


class Phase(enum.Enum):
    IDLE = "idle"  # between requests: nothing sent yet
    HEAD = "head"  # a request head has begun and is not complete
    BODY = "body"  # the rest of a body of known length
    OFF = "off"  # upgraded, or a body of unknown length: no longer watched


class HeadScanner:
    """Follows where request heads begin and end in the bytes of one connection."""

    def __init__(self) -> None:
        self.phase = Phase.HEAD  # a new connection owes its first head at once
        self.heads = 0  # complete heads seen
        self._head = b""
        self._body_left = 0

    def feed(self, data: bytes) -> None:
        while data and self.phase is not Phase.OFF:
            if self.phase is Phase.IDLE:
                self.phase = Phase.HEAD
            if self.phase is Phase.HEAD:
                data = self._feed_head(data)
            else:
                taken = min(self._body_left, len(data))
                self._body_left -= taken
                data = data[taken:]
                if self._body_left == 0:
                    self.phase = Phase.IDLE

    def _feed_head(self, data: bytes) -> bytes:
        buffered = self._head + data
        if not self._head:
            # Empty lines before a request line are allowed (RFC 9112 section 2.2).
            buffered = buffered.lstrip(b"\r\n")
        end = _END_OF_HEAD.search(buffered)
        if end is None:
            self._head = buffered[-MAX_HEAD_BYTES:]
            return b""
        head, rest = buffered[: end.start()], buffered[end.end() :]
        self._head = b""
        self.heads += 1
        self._end_head(head)
        return rest

    def _end_head(self, head: bytes) -> None:
        if _STOPS_WATCH.search(head):
            self.phase = Phase.OFF
            return
        lengths = _CONTENT_LENGTH.findall(head)
        self._body_left = int(lengths[0]) if len(lengths) == 1 else 0
        self.phase = Phase.BODY if self._body_left else Phase.IDLE


class HeadDeadline(asyncio.Protocol):
    """aiohttp's protocol for one connection, closed if a request head is late."""

    def __init__(self, inner: asyncio.Protocol, timeout_s: float) -> None:
        self._inner = inner
        self._timeout_s = timeout_s
        self._scanner = HeadScanner()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._arm()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        scanner = self._scanner
        was, heads = scanner.phase, scanner.heads
        scanner.feed(data)
        if scanner.phase is Phase.OFF:
            # Not watched any more: aiohttp's protocol takes the bytes straight from the
            # transport, so a WebSocket's frames do not pay for this wrapper.
            self._disarm()
            if self._transport is not None:
                self._transport.set_protocol(self._inner)
        elif scanner.phase is not Phase.HEAD:
            self._disarm()
        elif was is not Phase.HEAD or scanner.heads != heads:
            # A new head began in these bytes: its own clock starts now, and further
            # bytes of it do not restart it.
            self._arm()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        transport = self._transport
        if self._scanner.phase is Phase.HEAD and transport and not transport.is_closing():
            peer = transport.get_extra_info("peername")
            log.info("closed %s: no complete request head in %.1f s", peer, self._timeout_s)
            transport.abort()


class GuardedSite(web.BaseSite):
    """A TCP site like ``web.TCPSite`` whose connections get a header timeout."""

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, *, header_timeout_s: float
    ) -> None:
        super().__init__(runner)
        self._host, self._port = host, port
        self._header_timeout_s = header_timeout_s

    @property
    def name(self) -> str:
        return str(URL.build(scheme="http", host=self._host, port=self._port))

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        timeout = self._header_timeout_s

        def protocol() -> Any:
            return HeadDeadline(server(), timeout)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            protocol, self._host, self._port, backlog=self._backlog
        )
