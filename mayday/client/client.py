"""A Mayday WebSocket client with typed events and request/response helpers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import aiohttp

from mayday.protocol.frames import parse_server_frame
from mayday.protocol.messages import (
    Ack,
    ErrorFrame,
    Hello,
    HelpQueued,
    SessionStarted,
    SignalRelayed,
)

log = logging.getLogger(__name__)

E = TypeVar("E")
DEFAULT_TIMEOUT = 10.0


class MaydayError(Exception):
    """The server refused a frame: ``code`` is one of the stable error codes."""

    def __init__(self, code: str, message: str, frame_id: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.frame_id = code, message, frame_id


@dataclass(frozen=True)
class Unknown:
    """A frame type this client version does not know; kept whole."""

    type: str
    frame: dict[str, Any]


def parse_frame(frame: dict[str, Any]) -> Any:
    """Turn a server frame into its typed event; unknown extra fields are ignored, and a
    type this version does not know comes back whole as ``Unknown``."""
    event = parse_server_frame(frame)
    return Unknown(frame.get("type", ""), frame) if event is None else event


class MaydayClient:
    """One authenticated WebSocket to a Mayday server.

    Frames that answer a ``call`` resolve it; ``signal`` frames go to a
    registered listener when there is one; everything else waits in an inbox
    that ``next`` reads in order.
    """

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, http: aiohttp.ClientSession) -> None:
        self._ws, self._http = ws, http
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Ack]] = {}
        self._inbox: deque[Any] = deque(maxlen=10_000)
        self._arrived = asyncio.Condition()
        self._signal_listeners: dict[str, Callable[[SignalRelayed], None]] = {}
        self.last_seq = 0
        self.hello: Hello | None = None
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls, url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> MaydayClient:
        """Open ``url`` (``ws://host:port/ws``) with ``token``; wait for the server's hello."""
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(
                url, params={"token": token}, timeout=aiohttp.ClientWSTimeout(ws_close=timeout)
            )
        except BaseException:
            await http.close()
            raise
        client = cls(ws, http)
        try:
            first: Hello | ErrorFrame = await client.next((Hello, ErrorFrame), timeout=timeout)
        except BaseException:
            await client.close()  # no hello (the server died mid-handshake): close it all
            raise
        if isinstance(first, ErrorFrame):
            await client.close()
            raise MaydayError(first.code, first.message)
        client.hello = first
        return client

    async def __aenter__(self) -> MaydayClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------ sending
    async def send(self, type_: str, **fields: Any) -> None:
        """Send a frame without waiting for an answer."""
        await self._ws.send_str(json.dumps({"type": type_, **fields}))

    async def send_raw(self, text: str) -> None:
        """Send text as it is: for tests of what the server does with bad frames."""
        await self._ws.send_str(text)

    async def call(self, type_: str, *, timeout: float = DEFAULT_TIMEOUT, **fields: Any) -> Ack:
        """Send a frame with a fresh ``id``; return its ``ack`` or raise ``MaydayError``."""
        frame_id = next(self._ids)
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending[frame_id] = future
        try:
            await self.send(type_, id=frame_id, **fields)
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(frame_id, None)

    # ------------------------------------------------------------ receiving
    async def next(
        self,
        kind: type[E] | tuple[type[Any], ...] | None = None,
        *,
        where: Callable[[Any], bool] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> E:
        """The oldest unread event of ``kind`` (and matching ``where``), waiting for one."""

        def match(event: Any) -> bool:
            return (kind is None or isinstance(event, kind)) and (where is None or where(event))

        async with asyncio.timeout(timeout), self._arrived:
            while True:
                for event in self._inbox:
                    if match(event):
                        self._inbox.remove(event)
                        return event  # type: ignore[no-any-return]
                if self.closed.is_set():
                    raise ConnectionError("connection closed")
                await self._arrived.wait()

    def pending_events(self) -> list[Any]:
        """Events received and not yet read, oldest first."""
        return list(self._inbox)

    def on_signal(self, session_id: str, listener: Callable[[SignalRelayed], None]) -> None:
        """Send ``signal`` frames of ``session_id`` to ``listener``, those buffered first."""
        self._signal_listeners[session_id] = listener
        for event in [e for e in self._inbox if isinstance(e, SignalRelayed)]:
            if event.session_id == session_id:
                self._inbox.remove(event)
                listener(event)

    def off_signal(self, session_id: str) -> None:
        self._signal_listeners.pop(session_id, None)

    async def _read(self) -> None:
        try:
            async for msg in self._ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    await self._dispatch(json.loads(msg.data))
        finally:
            self.closed.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))
            async with self._arrived:
                self._arrived.notify_all()

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        self.last_seq = frame.get("seq", self.last_seq)
        event = parse_frame(frame)
        if self._resolve(event):
            return
        if isinstance(event, SignalRelayed) and event.session_id in self._signal_listeners:
            self._signal_listeners[event.session_id](event)
            return
        async with self._arrived:
            self._inbox.append(event)
            self._arrived.notify_all()

    def _resolve(self, event: Any) -> bool:
        if isinstance(event, Ack) or (isinstance(event, ErrorFrame) and event.id is not None):
            future = self._pending.get(event.id)  # type: ignore[arg-type]
            if future is None or future.done():
                return False
            if isinstance(event, Ack):
                future.set_result(event)
            else:
                future.set_exception(MaydayError(event.code, event.message, event.id))
            return True
        return False

    async def close(self, timeout: float = 5.0) -> None:
        """Close the socket; a server that never answers the close is cut after ``timeout``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ws.close(), timeout)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._http.close()

    # ------------------------------------------------------------ helpers
    async def request_help(self, **ask: Any) -> HelpQueued:
        """Press Help: returns the first ``help.queued`` for the new request."""
        ack = await self.call("help.request", **ask)
        request_id = ack.fields["request_id"]
        return await self.next(HelpQueued, where=lambda e: e.request_id == request_id)

    async def cancel(self, request_id: str) -> None:
        await self.call("help.cancel", request_id=request_id)

    async def set_available(self, available: bool = True) -> None:
        await self.call("advisor.state", state="available" if available else "away")

    async def accept(self, request_id: str) -> SessionStarted:
        """Accept an offer; returns this side's ``session.started``."""
        ack = await self.call("help.accept", request_id=request_id)
        session_id = ack.fields["session_id"]
        return await self.next(SessionStarted, where=lambda e: e.session_id == session_id)

    async def decline(self, request_id: str) -> None:
        await self.call("help.decline", request_id=request_id)

    async def end_session(self, session_id: str, reason: str = "ended") -> None:
        await self.call("session.end", session_id=session_id, reason=reason)

    async def report_media(self, session_id: str, state: str, detail: str | None = None) -> None:
        fields: dict[str, Any] = {"session_id": session_id, "state": state}
        if detail:
            fields["detail"] = detail
        await self.send("media.state", **fields)

    async def signal(self, session_id: str, **payload: Any) -> None:
        """Send ``description={...}`` or ``candidate={...}`` / ``candidate=None``."""
        await self.send("signal", session_id=session_id, **payload)
