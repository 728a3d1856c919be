"""Where the time of one relayed ``signal`` goes inside Mayday, stage by stage.

    python -m load_tests.frame_path --frames 20000 --repeat 7

A real ``Server`` (memory store, the app's handlers) runs in this process with a
user and an advisor paired through ``help.request`` / ``help.accept``. Their
sockets are a ``Wire`` that frames what it is given as aiohttp would and writes
it into a real loopback socket pair (drained by this process), so everything
Mayday does between aiohttp handing over a text frame and the peer's socket
write runs as in the server, except aiohttp's reader. Each stage is timed
alone on the same frame, ``--frames`` times, best of ``--repeat`` (the least
disturbed by the machine's other work); ``whole`` is ``Server.receive`` plus the
event-loop turn that flushes the peer's queue, the figure the stages add up to.

What aiohttp and the kernel cost per frame is the rest of the relay
benchmark's CPU per frame (``python -m load_tests.relay --mode pingpong``):
the floor relay (``load_tests/floor.py``) pays that part too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import inspect
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from load_tests.common import SECRET, machine
from mayday.auth import Identity, TokenVerifier, issue_token
from mayday.logsafe import frame_context
from mayday.protocol.envelope import byte_length_over, decode, frame_id
from mayday.protocol.fields import check_frame_depth
from mayday.protocol.messages import SignalRelayed
from mayday.settings import Settings
from mayday.transport.app import HANDLER_MODULES, make_monitor
from mayday.transport.backend import make_backend
from mayday.transport.connection import Connection, TokenBucket, encode
from mayday.transport.registry import Registry
from mayday.transport.server import Server
from mayday.transport.wire import Wire, text_frame

CANDIDATE = {
    "candidate": (
        "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx "
        "raddr 192.168.1.20 rport 46154 generation 0 ufrag sXjG network-id 1 network-cost 10"
    ),
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "sXjG",
    "sent_at": 1234567.125,
}


class SocketWire(Wire):
    """A ``Wire`` onto one end of a loopback socket pair: the same bytes and the same
    system call as the server's, without an aiohttp response around them."""

    def __init__(self) -> None:
        self.ws = None  # type: ignore[assignment]  # only the writer task (never run here) uses it
        self.out, self.peer = socket.socketpair()
        self.out.setblocking(False)
        self.peer.setblocking(False)
        self.frames: list[bytes] = []
        self.keep = True
        self.sent = 0
        self.null = False  # frame the bytes, skip the system call

    def can_batch(self) -> bool:
        return True

    def write_batch(self, payloads: Iterable[bytes]) -> None:
        data = b"".join(map(text_frame, payloads))
        if self.null:
            return
        self.out.send(data)
        self.sent += 1
        if self.sent % 64 == 0:  # the peer's reads are aiohttp's part, not timed here
            self.drain()
        if self.keep:
            self.frames.append(data)

    def close(self) -> None:
        self.out.close()
        self.peer.close()

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self.peer.recv(1 << 20):
                pass

    def last(self) -> dict[str, Any]:
        """The last frame written (all frames here are shorter than 126 bytes or not)."""
        data = self.frames[-1]
        offset = 2 if data[1] < 126 else 4
        parsed: dict[str, Any] = orjson.loads(data[offset:])
        return parsed


async def paired(server: Server) -> tuple[Connection, SocketWire, Connection, SocketWire, str]:
    """An advisor and a user in a live session, through the real handlers."""
    wires = SocketWire(), SocketWire()
    verifier = TokenVerifier(secret=SECRET)
    ids: list[Identity] = [
        verifier.verify(issue_token(SECRET, role=r, sub=f"{r}-1", ttl_s=3600))
        for r in ("advisor", "user")
    ]
    advisor, user = (Connection(w, i, 1024) for w, i in zip(wires, ids, strict=True))
    for conn in (advisor, user):
        await server.attach(conn)
    await server.receive(advisor, '{"type":"advisor.state","state":"available"}')
    await server.receive(user, '{"type":"help.request","topic":"benchmark"}')
    await asyncio.sleep(0.01)
    offer = next(
        f for f in map(_frames_of, wires[0].frames) for f in f if f["type"] == "help.offer"
    )
    await server.receive(advisor, orjson.dumps({"type": "help.accept", **_id(offer)}).decode())
    await asyncio.sleep(0.01)
    started = next(
        f for f in map(_frames_of, wires[1].frames) for f in f if f["type"] == "session.started"
    )
    return advisor, wires[0], user, wires[1], started["session_id"]


def _id(offer: dict[str, Any]) -> dict[str, Any]:
    return {"request_id": offer["request_id"]}


def _frames_of(data: bytes) -> list[dict[str, Any]]:
    out, pos = [], 0
    while pos < len(data):
        n, pos = data[pos + 1] & 0x7F, pos + 2
        if n == 126:
            n, pos = int.from_bytes(data[pos : pos + 2], "big"), pos + 2
        out.append(orjson.loads(data[pos : pos + n]))
        pos += n
    return out


def best_us(step: Callable[[], Any], n: int, repeat: int) -> float:
    """The least CPU time of ``repeat`` runs of ``n`` calls, in µs per call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(n):
            step()
        best = min(best, time.process_time() - start)
    return best / n * 1e6


async def best_us_async(step: Callable[[], Any], n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(n):
            await step()
        best = min(best, time.process_time() - start)
    return best / n * 1e6


async def measure(n: int, repeat: int) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory(prefix="mayday-frame-path-") as data:
        settings = Settings(
            jwt_secret=SECRET,
            data_dir=Path(data),
            rate_limit_per_s=1e9,
            rate_limit_burst=10**9,
        )
        backend = make_backend(settings)
        server = Server(
            settings,
            backend,
            make_monitor(settings, backend),
            Registry.from_modules(*HANDLER_MODULES),
        )
        await server.start()
        try:
            return await _stages(server, n, repeat)
        finally:
            await server.close()


def _relayed_builder(message: Any, session_id: str) -> Callable[[], object]:
    """The relayed frame, built as the handler of the tree under test builds it
    (``SignalRelayed.frame_of`` since issue 13, the typed message's ``to_frame`` before)."""
    if hasattr(SignalRelayed, "frame_of"):
        return lambda: SignalRelayed.frame_of(message, "advisor-1", "advisor")
    return lambda: SignalRelayed(
        session_id, "advisor-1", "advisor", candidate=CANDIDATE, has_candidate=True
    ).to_frame()


async def _stages(server: Server, n: int, repeat: int) -> list[tuple[str, float]]:
    advisor, advisor_wire, user, user_wire, session_id = await paired(server)
    advisor_wire.keep = user_wire.keep = False
    text = orjson.dumps({"type": "signal", "session_id": session_id, "candidate": CANDIDATE})
    text_s = text.decode()
    frame = decode(text_s)
    spec = server.registry.lookup(frame, advisor.identity.role)
    message = spec.parse(frame)
    relayed = SignalRelayed(
        session_id, "advisor-1", "advisor", candidate=CANDIDATE, has_candidate=True
    )
    relayed_frame = relayed.to_frame()
    body = encode(relayed_frame)
    bucket = TokenBucket(1e9, 10**9)

    async def whole() -> None:
        await server.receive(advisor, text_s)
        await asyncio.sleep(0)  # the flush of the user's queue runs in this turn

    async def whole_unsent() -> None:
        user_wire.null = True
        await whole()
        user_wire.null = False

    async def loop_turn() -> None:
        await asyncio.sleep(0)

    async def session_check() -> None:
        await server.live_session(advisor, session_id)

    def envelope() -> None:
        byte_length_over(text_s, 65536)
        f = decode(text_s)
        frame_id(f)
        check_frame_depth(text_s, f)

    # Before issue 13 the server passed the ids (``frame_context(request_id, session_id)``):
    # time the call the tree under test makes, so a checkout of an earlier commit runs too.
    ids = (None, session_id) if len(inspect.signature(frame_context).parameters) == 2 else ()

    def context() -> None:
        with frame_context(*(ids or (message,))):
            pass

    relayed_of = _relayed_builder(message, session_id)

    def numbered_push() -> None:
        user.push(body)
        user._queue.clear()  # the write is timed on its own, below

    def write() -> None:
        user_wire.write_batch([body])

    gc.collect()
    gc.freeze()
    stages = [
        ("whole: Server.receive + the flush's loop turn", await best_us_async(whole, n, repeat)),
        (
            "  whole, the peer's frame not sent (no system call)",
            await best_us_async(whole_unsent, n, repeat),
        ),
        (
            "  event-loop turn (asyncio.sleep(0)), in whole",
            await best_us_async(loop_turn, n, repeat),
        ),
        ("  rate-limit bucket", best_us(bucket.take, n, repeat)),
        ("  size check, orjson decode, id, depth", best_us(envelope, n, repeat)),
        (
            "  registry lookup (type, role)",
            best_us(lambda: server.registry.lookup(frame, advisor.identity.role), n, repeat),
        ),
        ("  Signal.parse (candidate checks)", best_us(lambda: spec.parse(frame), n, repeat)),
        ("  log context (frame_context)", best_us(context, n, repeat)),
        ("  session check (cache hit)", await best_us_async(session_check, n, repeat)),
        ("  the relayed frame (SignalRelayed)", best_us(relayed_of, n, repeat)),
        ("  orjson encode of the relayed frame", best_us(lambda: encode(relayed_frame), n, repeat)),
        ("  seq number + keep for resume + queue", best_us(numbered_push, n, repeat)),
        ("  frame header + socket write (send syscall)", best_us(write, n, repeat)),
    ]
    gc.unfreeze()
    advisor_wire.close()
    user_wire.close()
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    stages = asyncio.run(measure(args.frames, args.repeat))
    print(
        f"one signal frame through Mayday, best of {args.repeat} x {args.frames:,}, "
        f"{machine()}; load average {os.getloadavg()[0]:.2f}"
    )
    for name, us in stages:
        print(f"  {us:6.2f} us  {name}")
    parts = sum(us for name, us in stages[3:])
    print(f"  {parts:6.2f} us  sum of the stages (whole includes the loop's own turn too)")


if __name__ == "__main__":
    main()
