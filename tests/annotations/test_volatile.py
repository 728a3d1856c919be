"""Laser moves are dropped for a reader that fell behind; reliable frames never are."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any

from mayday.client import AnnotationRelayed
from mayday.transport.connection import Connection
from tests.annotations.helpers import PEN, draw, frame, paired
from tests.conftest import Harness, StartServer


class SlowReader:
    """A real WebSocket client that stops reading after the handshake: a tiny receive
    buffer and a small stream buffer, so backpressure reaches the server quickly."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, h: Harness, token: str) -> SlowReader:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", h.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{h.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status = await reader.readuntil(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 101"), status
        return cls(reader, writer)

    async def read_frame(self) -> dict[str, Any]:
        """The next text frame (server frames are not masked)."""
        head = await self.reader.readexactly(2)
        length = head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack(">H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack(">Q", await self.reader.readexactly(8))
        payload = await self.reader.readexactly(length)
        assert head[0] & 0x0F == 0x1, f"opcode {head[0] & 0x0F}"
        parsed: dict[str, Any] = json.loads(payload)
        return parsed

    def close(self) -> None:
        self.writer.close()


def connection_of(h: Harness, before: set[Connection]) -> Connection:
    (conn,) = set(h.server.hub.all()) - before
    return conn


async def test_lasers_are_dropped_for_a_slow_reader_and_reliable_frames_are_not(
    start_server: StartServer,
) -> None:
    """With a reader that stopped reading: every stroke frame is queued and arrives, in
    order and with no gap in seq; the laser moves sent meanwhile are dropped for it,
    while the fast socket of the same user gets every one."""
    h = await start_server(
        rate_limit_per_s=100_000.0,
        rate_limit_burst=100_000,
        annotation_rate_per_s=100_000.0,
        annotation_burst=100_000,
    )
    user, advisor, sid = await paired(h)
    before = set(h.server.hub.all())
    slow = await SlowReader.connect(h, h.token("user", "u1"))
    await asyncio.sleep(0.1)
    conn = connection_of(h, before)
    assert conn.volatile_limit == 32

    sent: list[tuple[str, str, int | None]] = []
    batch = [[0.123, 0.456]] * 64  # about 1.3 kB a frame
    stroke = 0
    while conn.queued <= conn.volatile_limit:
        stroke += 1
        assert stroke < 400, "the slow reader never backed up"
        if stroke % 15 == 0:
            await draw(advisor, sid, "clear")
            sent.append(("clear", "", None))
        name = f"s{stroke}"
        await draw(advisor, sid, "stroke.begin", stroke_id=name, **PEN)
        sent.append(("stroke.begin", name, None))
        for seq in range(1, 16):
            await draw(advisor, sid, "stroke.points", stroke_id=name, stroke_seq=seq, points=batch)
            sent.append(("stroke.points", name, seq))
        await draw(advisor, sid, "stroke.end", stroke_id=name)
        sent.append(("stroke.end", name, None))
    backlog = conn.queued
    assert backlog < conn.queue_limit  # backed up, not cut off

    for i in range(100):
        await draw(advisor, sid, "laser", point=[i / 100, 0.5])
    await draw(advisor, sid, "undo", stroke_id=f"s{stroke}")
    sent.append(("undo", f"s{stroke}", None))
    assert conn.dropped_volatile == 100
    assert conn.queued == backlog + 1

    got: list[dict[str, Any]] = []
    while not got or got[-1].get("kind") != "undo":
        got.append(await asyncio.wait_for(slow.read_frame(), timeout=10))
    slow.close()
    assert [f["seq"] for f in got] == list(range(1, len(got) + 1))
    annotations = [f for f in got if f["type"] == "annotation"]
    assert [(f["kind"], f.get("stroke_id", ""), f.get("stroke_seq")) for f in annotations] == sent
    assert not [f for f in got if f.get("kind") == "laser"]
    assert all("_volatile" not in f for f in got)

    fast = [await frame(user, AnnotationRelayed, timeout=10) for _ in range(len(sent) + 100)]
    assert sum(f.kind == "laser" for f in fast) == 100


async def test_a_reader_that_keeps_up_gets_every_laser(mayday: Harness) -> None:
    """Without backpressure nothing is dropped: 50 laser moves, each sent once the last was
    taken (as a page paces them), arrive in order."""
    user, advisor, sid = await paired(mayday)
    for i in range(50):
        await draw(advisor, sid, "laser", point=[i / 50, 0.5])
    got = [await frame(user, AnnotationRelayed) for _ in range(50)]
    assert [f.point[0] for f in got if f.point] == [i / 50 for i in range(50)]
