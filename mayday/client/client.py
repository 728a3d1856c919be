"""A Mayday WebSocket client with typed events and request/response helpers.

The client keeps its link by itself: when the socket drops it reconnects with
backoff and jitter (``Backoff``), resumes with the last ``seq`` it got, drops
any frame it already has, and sends again every ``call`` the server never
answered. Its inbox tells the application what happened (``LinkLost``, then
``LinkRestored`` with ``resumed`` true, or false when the server could not take
up the old socket and sent the current state instead). A stopping node's
``server.draining`` sets when the first attempt is made (``reconnect_in_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import aiohttp

from mayday.protocol.frames import parse_server_frame
from mayday.protocol.messages import (
    Ack,
    AuthExpiring,
    ErrorFrame,
    Hello,
    HelpQueued,
    ServerDraining,
    SessionStarted,
    SignalRelayed,
)

log = logging.getLogger(__name__)

E = TypeVar("E")
# The integrator's hook: a new token for the same sub and role, e.g. from their backend.
RefreshToken = Callable[[], Awaitable[str]]
DEFAULT_TIMEOUT = 10.0
# Close codes after which reconnecting cannot help: a refused or expired token, another
# socket that resumed this one, too many sockets for this identity.
FINAL_CLOSES = frozenset({4401, 4409, 4429})


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


@dataclass(frozen=True)
class LinkLost:
    """The socket dropped (``code`` the close code, 1006 when it just went away); the
    client is reconnecting."""

    code: int


@dataclass(frozen=True)
class LinkRestored:
    """A new socket is up. ``resumed``: the server took up the old socket's frames (and
    sent again what was missed); false: it could not, and sent the current state."""

    resumed: bool
    replayed: int
    attempts: int
    after_s: float


@dataclass
class _Call:
    """A call waiting for its answer: its frame, and the socket it was last sent on (a
    call is sent at most once on each socket)."""

    future: asyncio.Future[Ack]
    text: str
    sent_on: aiohttp.ClientWebSocketResponse | None = None


@dataclass(frozen=True)
class Backoff:
    """The reconnect schedule: ``first_s``, doubling up to ``max_s``, each delay times a
    random factor in [1 - jitter, 1 + jitter] (so that the clients of a node that went
    down do not all come back in the same millisecond); give up after ``give_up_s``."""

    first_s: float = 0.2
    max_s: float = 5.0
    jitter: float = 0.5
    give_up_s: float = 120.0

    def delays(self, rng: random.Random) -> Iterator[float]:
        delay = self.first_s
        while True:
            yield delay * rng.uniform(1 - self.jitter, 1 + self.jitter)
            delay = min(self.max_s, delay * 2)


def parse_frame(frame: dict[str, Any]) -> Any:
    """Turn a server frame into its typed event; unknown extra fields are ignored, and a
    type this version does not know comes back whole as ``Unknown``."""
    event = parse_server_frame(frame)
    return Unknown(frame.get("type", ""), frame) if event is None else event


class MaydayClient:
    """One authenticated link to a Mayday server, over as many sockets as it takes.

    Frames that answer a ``call`` resolve it; ``signal`` frames go to a
    registered listener when there is one; everything else waits in an inbox
    that ``next`` reads in order.
    """

    def __init__(
        self,
        url: str,
        token: str,
        http: aiohttp.ClientSession,
        *,
        backoff: Backoff | None = Backoff(),
        timeout: float = DEFAULT_TIMEOUT,
        refresh_token: RefreshToken | None = None,
    ) -> None:
        self.url, self.token, self._http = url, token, http
        self.backoff, self.timeout = backoff, timeout
        self._refresh_token = refresh_token
        # From the last auth.refresh ack: when the token in use expires (epoch seconds).
        self.expires_at: float | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        # Calls not yet answered, to send again after a drop.
        self._pending: dict[int, _Call] = {}
        self._inbox: deque[Any] = deque(maxlen=10_000)
        self._arrived = asyncio.Condition()
        self._signal_listeners: dict[str, Callable[[SignalRelayed], None]] = {}
        self._watchers: dict[str, Callable[[Any], None]] = {}
        self.last_seq = 0
        self.hello: Hello | None = None
        self.closed = asyncio.Event()  # closed for good: by close(), or given up
        self.up = asyncio.Event()  # a socket is open and its hello read
        self._closing = False
        self._replay_left = 0
        self._rng = random.Random()
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._first_resume: tuple[str, int] | None = None
        # From ``server.draining``: when the stopping node asked us to come back.
        self._drain_hint: float | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        reconnect: bool | Backoff = True,
        resume: tuple[str, int] | None = None,
        refresh_token: RefreshToken | None = None,
    ) -> MaydayClient:
        """Open ``url`` (``ws://host:port/ws``) with ``token``; wait for the server's hello.
        With ``reconnect`` (a ``Backoff``, or True for the default one) the client keeps
        its link through drops; with False a drop closes it. ``resume`` is (resume token,
        last seq) of a link this identity had (another client, or a process that
        restarted): the server takes it up, or sends the current state.

        ``refresh_token`` is an async callable that returns a new token for the same sub
        and role: on ``auth.expiring`` the client awaits it, sends the token in
        ``auth.refresh`` and reconnects with it from then on. Without it the server closes
        the socket with 4401 once the token has run out, and the client is closed."""
        backoff = reconnect if isinstance(reconnect, Backoff) else Backoff() if reconnect else None
        client = cls(
            url,
            token,
            aiohttp.ClientSession(),
            backoff=backoff,
            timeout=timeout,
            refresh_token=refresh_token,
        )
        client._first_resume = resume
        try:
            first = await client._open(resume=resume is not None)
        except BaseException:
            await client.close()  # no hello (the server died mid-handshake): close it all
            raise
        if isinstance(first, ErrorFrame):
            await client.close()
            raise MaydayError(first.code, first.message)
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

    # ------------------------------------------------------------ the socket
    async def _open(self, *, resume: bool) -> Hello | ErrorFrame:
        """Open a socket (resuming the last one if asked) and read its first frame."""
        params = {"token": self.token}
        if resume and self.hello is not None and self.hello.resume_token:
            params.update(resume=self.hello.resume_token, last_seq=str(self.last_seq))
        elif resume and self._first_resume is not None:
            params.update(resume=self._first_resume[0], last_seq=str(self._first_resume[1]))
        ws = await self._http.ws_connect(
            self.url, params=params, timeout=aiohttp.ClientWSTimeout(ws_close=self.timeout)
        )
        try:
            msg = await ws.receive(timeout=self.timeout)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"no hello: socket {msg.type.name.lower()}")
            raw = json.loads(msg.data)
            first: Hello | ErrorFrame | ServerDraining = parse_frame(raw)
        except BaseException:
            await ws.close()
            raise
        if isinstance(first, ServerDraining):  # a stopping node: another one, or later
            self._drain_hint = first.reconnect_in_s
            await ws.close()
            raise ConnectionError("server draining")
        if isinstance(first, ErrorFrame):
            await ws.close()
            return first
        self._start(ws, first, int(raw.get("seq", 0)))
        return first

    def _start(self, ws: aiohttp.ClientWebSocketResponse, hello: Hello, seq: int) -> None:
        """A socket is up with this hello: take up its numbering, then read it. A fresh
        stream's hello is 1; a resumed socket's repeats the number we had."""
        self._ws, self.hello = ws, hello
        self.last_seq = seq
        self._replay_left = hello.replayed
        self.up.set()
        self._reader = asyncio.create_task(self._read(ws))
        if not self._replay_left:
            self._send_again()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    await self._dispatch(json.loads(msg.data))
        finally:
            if self._ws is ws:
                self.up.clear()
                self._lost(ws.close_code or 1006)

    def _lost(self, code: int) -> None:
        if self._closing or self.backoff is None or code in FINAL_CLOSES:
            self._finish()
            return
        self._inbox.append(LinkLost(code))
        self._spawn(self._reconnect())

    async def _reconnect(self) -> None:
        assert self.backoff is not None
        started, attempts = time.monotonic(), 0
        for delay in self.backoff.delays(self._rng):
            if self._closing or time.monotonic() - started > self.backoff.give_up_s:
                break
            hint, self._drain_hint = self._drain_hint, None
            await asyncio.sleep(delay if hint is None else hint)
            attempts += 1
            try:
                first = await self._open(resume=True)
            except (OSError, aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                log.info("mayday: reconnect attempt %d failed: %s", attempts, exc)
                continue
            if isinstance(first, ErrorFrame):  # the token was refused: no use trying on
                break
            restored = LinkRestored(
                first.resumed, first.replayed, attempts, time.monotonic() - started
            )
            async with self._arrived:
                self._inbox.append(restored)
                self._arrived.notify_all()
            return
        self._finish()

    def _finish(self) -> None:
        """Closed for good: every waiting call and reader hears of it."""
        self.closed.set()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(ConnectionError("connection closed"))
        self._spawn(self._wake_readers())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wake_readers(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()

    def _send_again(self) -> None:
        """Every call the server has not answered goes out again on the new socket (the
        old one may have lost it; a call the server was still handling when the socket
        dropped can so arrive twice)."""
        ws = self._ws
        if ws is None:
            return
        for pending in list(self._pending.values()):
            if not pending.future.done() and pending.sent_on is not ws:
                pending.sent_on = ws
                self._spawn(_send_quietly(ws, pending.text))

    # ------------------------------------------------------------ sending
    async def send(self, type_: str, **fields: Any) -> None:
        """Send a frame without waiting for an answer (while the link is down, once it
        is back; a frame sent just as a socket dies may be lost: use ``call`` for what
        must arrive)."""
        await self._send_text(json.dumps({"type": type_, **fields}))

    async def send_raw(self, text: str) -> None:
        """Send text as it is: for tests of what the server does with bad frames."""
        await self._send_text(text)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame: for tests (the server refuses them)."""
        await self._link().send_bytes(data)

    async def _send_text(self, text: str) -> None:
        await self._wait_up()
        await self._link().send_str(text)

    async def _wait_up(self) -> None:
        if not self.up.is_set() and not self.closed.is_set():
            async with asyncio.timeout(self.timeout):
                await self.up.wait()

    def _link(self) -> aiohttp.ClientWebSocketResponse:
        if self.closed.is_set() or self._ws is None:
            raise ConnectionError("connection closed")
        return self._ws

    async def call(self, type_: str, *, timeout: float = DEFAULT_TIMEOUT, **fields: Any) -> Ack:
        """Send a frame with a fresh ``id``; return its ``ack`` or raise ``MaydayError``.
        Sent again on a new socket if the link drops before the answer comes."""
        frame_id = next(self._ids)
        text = json.dumps({"type": type_, "id": frame_id, **fields})
        pending = _Call(asyncio.get_running_loop().create_future(), text)
        self._pending[frame_id] = pending
        try:
            await self._wait_up()
            ws = self._link()
            if pending.sent_on is not ws:  # not yet sent again on a new socket
                pending.sent_on = ws
                await ws.send_str(text)
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the answer and
            # drops a cancel that comes in the same turn, and a loop around the call that
            # stops on cancel then never stops.
            async with asyncio.timeout(timeout):
                return await pending.future
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

    def watch(self, session_id: str, watcher: Callable[[Any], None]) -> None:
        """Also hand ``watcher`` every other event of ``session_id`` as it arrives (peer
        notices, ``session.started`` again after a resume that failed, ``session.ended``):
        a peer connection follows them; the events stay in the inbox for ``next``."""
        self._watchers[session_id] = watcher

    def unwatch(self, session_id: str) -> None:
        self._watchers.pop(session_id, None)

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        seq = frame.get("seq", 0)
        if seq <= self.last_seq:
            return  # already had it (sent again after a resume)
        self.last_seq = seq
        await self._take(parse_frame(frame))
        if self._replay_left:
            # The calls still unanswered once what was missed is in (an answer sent again
            # resolves its call first) go out again.
            self._replay_left -= 1
            if not self._replay_left:
                self._send_again()

    async def _take(self, event: Any) -> None:
        if self._resolve(event):
            return
        if isinstance(event, ServerDraining):
            self._drain_hint = event.reconnect_in_s
        if isinstance(event, AuthExpiring) and self._refresh_token is not None:
            # Not awaited here: its ack comes through this very reader.
            self._spawn(self._refresh(self._refresh_token))
        if isinstance(event, SignalRelayed) and event.session_id in self._signal_listeners:
            self._signal_listeners[event.session_id](event)
            return
        watcher = self._watchers.get(getattr(event, "session_id", None) or "")
        if watcher is not None:
            watcher(event)
        async with self._arrived:
            self._inbox.append(event)
            self._arrived.notify_all()

    def _resolve(self, event: Any) -> bool:
        if isinstance(event, Ack) or (isinstance(event, ErrorFrame) and event.id is not None):
            pending = self._pending.get(event.id)  # type: ignore[arg-type]
            if pending is None or pending.future.done():
                return False
            future = pending.future
            if isinstance(event, Ack):
                future.set_result(event)
            else:
                future.set_exception(MaydayError(event.code, event.message, event.id))
            return True
        return False

    async def _refresh(self, hook: RefreshToken) -> None:
        """Hand the server a new token from the integrator's hook. A failure is logged
        (never the token) and leaves the old deadline in force: the socket then closes
        with 4401, as it would without a hook."""
        try:
            token = await hook()
            ack = await self.call("auth.refresh", token=token)
        except Exception as exc:  # the hook is the integrator's code: anything may come
            why = exc if isinstance(exc, MaydayError) else type(exc).__name__
            log.warning("mayday: token refresh failed: %s", why)
            return
        self.token = token
        self.expires_at = ack.fields.get("expires_at")

    async def drop(self) -> None:
        """Cut the socket without a close frame, as a network failure would (tests and
        load tests); the client then reconnects as it would after any drop."""
        ws = self._ws
        conn = None if ws is None else ws._conn
        if conn is not None and conn.transport is not None:
            conn.transport.abort()

    async def close(self, timeout: float = 5.0) -> None:
        """Close the link for good; a server that never answers the close is cut after
        ``timeout``."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.close(), timeout)
        tasks = [t for t in (self._reader, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        # gather, not suppress(CancelledError): a close() that is itself cancelled (a
        # timeout around it) must pass that on, not swallow it with its tasks' ones.
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self.closed.set()
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
        """Send ``description={...}`` or ``candidate={...}`` / ``candidate=None``, as a
        call: it is sent again if the link drops before the server took it."""
        await self.call("signal", session_id=session_id, **payload)


async def _send_quietly(ws: aiohttp.ClientWebSocketResponse, text: str) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(text)
