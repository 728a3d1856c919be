"""A WebSocket that closes gently after a frame past the size cap (close code 1009).

aiohttp answers a frame larger than ``max_msg_size`` with a close frame 1009 and then
closes the TCP socket at once, while the client is usually still writing the rest of
that frame: the client's next bytes reach a closed socket, the kernel answers with a
reset, and the reset throws away the close frame waiting in the client's receive
buffer. The client sees 1006 and no reason (every time for a 16 MiB frame on loopback).
Here the socket instead stays open after the close frame, goes on reading (and
dropping) what the client still sends, and closes once the client has closed it or
``LINGER_S`` has passed, much as HTTP servers do with a lingering close.

This leans on two private names of aiohttp 3.x (``_set_code_close_transport``,
``_close_code``); ``tests/security/test_oversize_close.py`` fails if they change. It also
says whether frames of the last read still wait in aiohttp's queue (``buffered``, from
the queue's ``_buffer``), so that the handler knows when a read is done.
"""

from __future__ import annotations

import asyncio

from aiohttp import WSCloseCode, web

LINGER_S = 2.0
_POLL_S = 0.05


class LingeringWebSocket(web.WebSocketResponse):
    """``web.WebSocketResponse`` with a lingering close after 1009; ``linger()`` is awaited
    by the handler before it returns (aiohttp closes the socket once the handler ends)."""

    _lingering = False  # a class default: the common socket carries no extra field

    def buffered(self) -> bool:
        """Whether frames wait in aiohttp's queue: the next ``receive`` returns at once."""
        reader = self._reader
        return reader is not None and bool(reader._buffer)

    def _set_code_close_transport(self, code: WSCloseCode) -> None:
        transport = self._req.transport if self._req is not None else None
        too_big = self._close_code == WSCloseCode.MESSAGE_TOO_BIG
        if not too_big or transport is None or transport.is_closing():
            super()._set_code_close_transport(code)
            return
        # The close code stays 1009. No FIN yet either: aiohttp's own client closes its
        # socket on one, before it can send its close frame back (it then says 1006).
        self._lingering = True
        transport.resume_reading()  # aiohttp may have paused it; a no-op otherwise

    async def linger(self) -> None:
        """Wait (at most ``LINGER_S``) for the client to close its side, then close."""
        if not self._lingering or self._req is None:
            return
        transport = self._req.transport
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LINGER_S
        # Polled: the protocol is aiohttp's, and its end is not an event one can await.
        while transport is not None and not transport.is_closing() and loop.time() < deadline:
            await asyncio.sleep(_POLL_S)
            transport = self._req.transport
        if transport is not None:
            transport.close()
