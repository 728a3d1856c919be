"""What one read queues for other sockets leaves when the read is handled, not a turn of
the event loop later (``Burst``), and the handler knows when a read is handled
(``LingeringWebSocket.buffered``, which reads a private name of aiohttp's queue)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from mayday.auth import Identity, Role
from mayday.transport.connection import Burst, Connection
from mayday.transport.lingering import LingeringWebSocket
from mayday.transport.wire import Wire

ADVISOR = Identity(sub="adv-1", role=Role.ADVISOR, name="Ada")


class Served:
    """One real socket, served by a ``Connection``; the client side to read it."""

    def __init__(self) -> None:
        self.conns: asyncio.Queue[tuple[Connection, LingeringWebSocket]] = asyncio.Queue()
        self.done = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_get("/ws", self.handler)

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = LingeringWebSocket()
        await ws.prepare(request)
        await self.conns.put((Connection(Wire(ws, request), ADVISOR, 64), ws))
        await self.done.wait()  # the test reads and writes this socket itself
        return ws


@pytest.fixture
async def served() -> AsyncIterator[tuple[Served, TestServer]]:
    s = Served()
    server = TestServer(s.app, host="127.0.0.1")
    await server.start_server()
    yield s, server
    s.done.set()
    await server.close()


async def test_a_burst_writes_what_it_queued_before_the_loop_turns(
    served: tuple[Served, TestServer],
) -> None:
    s, server = served
    async with aiohttp.ClientSession() as http, http.ws_connect(server.make_url("/ws")) as ws:
        conn, server_ws = await s.conns.get()
        burst = Burst()
        burst.begin()
        conn.push(b'{"type":"a"}')
        assert conn.queued == 1  # asked for a flush on the next turn, not written yet
        burst.flush()
        assert conn.queued == 0  # written, in this turn
        assert (await ws.receive_json(timeout=5))["type"] == "a"
        burst.begin()  # the next read of the same handler
        conn.push(b'{"type":"b"}')
        burst.flush()
        assert conn.queued == 0
        assert (await ws.receive_json(timeout=5))["type"] == "b"
        await asyncio.gather(server_ws.close(), ws.close())


async def test_between_reads_a_burst_collects_nothing(
    served: tuple[Served, TestServer],
) -> None:
    """A timer or task the handler started shares its context, and so its burst: what it
    queues after the read must leave on the loop's turn and not pile up in the burst."""
    s, server = served
    async with aiohttp.ClientSession() as http, http.ws_connect(server.make_url("/ws")) as ws:
        conn, server_ws = await s.conns.get()
        burst = Burst()
        burst.begin()
        burst.flush()  # the read is handled

        async def later() -> int:  # a task of the handler's, after the read
            conn.push(b'{"type":"late"}')
            burst.flush()
            return conn.queued

        assert await asyncio.create_task(later()) == 1  # not collected: nothing written
        assert conn.queued == 0  # the loop's turn wrote it
        assert (await ws.receive_json(timeout=5))["type"] == "late"
        await asyncio.gather(server_ws.close(), ws.close())


async def test_without_a_burst_the_frame_leaves_on_the_next_turn(
    served: tuple[Served, TestServer],
) -> None:
    s, server = served
    async with aiohttp.ClientSession() as http, http.ws_connect(server.make_url("/ws")) as ws:
        conn, server_ws = await s.conns.get()

        async def elsewhere() -> int:  # a task of its own: no burst in its context
            conn.push(b'{"type":"c"}')
            return conn.queued

        assert await asyncio.create_task(elsewhere()) == 1
        await asyncio.sleep(0)
        assert conn.queued == 0
        assert (await ws.receive_json(timeout=5))["type"] == "c"
        await asyncio.gather(server_ws.close(), ws.close())


async def test_buffered_says_whether_frames_of_the_read_still_wait(
    served: tuple[Served, TestServer],
) -> None:
    s, server = served
    async with aiohttp.ClientSession() as http, http.ws_connect(server.make_url("/ws")) as ws:
        _, server_ws = await s.conns.get()
        assert not server_ws.buffered()
        await ws.send_str("first")
        await ws.send_str("second")
        for _ in range(50):  # both frames reach aiohttp's queue
            await asyncio.sleep(0.01)
        assert server_ws.buffered()
        assert (await server_ws.receive_str(timeout=5)) == "first"
        assert server_ws.buffered()
        assert (await server_ws.receive_str(timeout=5)) == "second"
        assert not server_ws.buffered()
        await asyncio.gather(server_ws.close(), ws.close())
