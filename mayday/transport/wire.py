"""Several queued frames to one socket in one write.

aiohttp writes each WebSocket message with its own ``transport.write``, and on an
idle socket asyncio turns each into its own ``send`` system call. On loopback that
call costs more than everything else Mayday does to relay a frame (see
docs/performance.md, benchmark 1). A relay receives frames in bursts: one read from
a peer's socket often holds several. ``Wire`` writes every frame that waits for one
socket with a single ``transport.write``, so a burst costs one system call.

It only frames what it can frame exactly as aiohttp would: uncompressed text frames
from the server (RFC 6455 section 5.2: FIN, opcode 1, no mask). A socket that
negotiated permessage-deflate (browsers offer it), a transport that is closing, and
a transport whose buffer is over its high-water mark go through aiohttp's own
``send_str``, which compresses and waits for the peer to read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from aiohttp import web

_FIN_TEXT = 0x81
# An empty ping (RFC 6455 section 5.5.2): control frames are never compressed, so this
# is right on every socket, and it goes between whole frames (aiohttp writes a frame
# without yielding).
PING = b"\x89\x00"
_LEN16 = struct.Struct("!BBH")
_LEN64 = struct.Struct("!BBQ")


def numbered(body: bytes, seq: int) -> bytes:
    """``body`` (a frame's JSON object) with ``"seq": seq`` as its last field."""
    return b'%s,"seq":%d}' % (body[:-1], seq)


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame carrying ``payload`` (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((_FIN_TEXT, n)) + payload
    if n < 65536:
        return _LEN16.pack(_FIN_TEXT, 126, n) + payload
    return _LEN64.pack(_FIN_TEXT, 127, n) + payload


class Wire:
    """The socket under one prepared ``WebSocketResponse``."""

    def __init__(self, ws: web.WebSocketResponse, request: web.BaseRequest) -> None:
        self.ws = ws
        self._transport = request.transport
        self._protocol = request.protocol

    def can_batch(self) -> bool:
        """True while frames may go out as raw bytes: no compression negotiated, the
        transport open and the peer reading."""
        transport = self._transport
        return (
            not self.ws.compress
            and not self.ws.closed
            and transport is not None
            and not transport.is_closing()
            and not self._protocol.writing_paused
        )

    def write_batch(self, payloads: Iterable[bytes]) -> None:
        """Write every payload as its own text frame, in one write."""
        assert self._transport is not None
        self._transport.write(b"".join(map(text_frame, payloads)))

    def ping(self) -> bool:
        """Write an empty ping; False if the transport is already closing."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        transport.write(PING)
        return True

    def abort(self) -> None:
        """Drop the connection without a close handshake (the peer stopped answering)."""
        if self._transport is not None:
            self._transport.abort()
