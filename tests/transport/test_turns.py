"""A socket whose read holds many frames gives the event loop back after ``SLICE_S`` of
handling that read (``Turns``), and the handler knows when a read is done
(``LingeringWebSocket.buffered``, which reads a private name of aiohttp's queue)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from mayday.transport.app import SLICE_S, Turns
from mayday.transport.lingering import LingeringWebSocket


class Served:
    """One real socket whose server side the test reads itself."""

    def __init__(self) -> None:
        self.sockets: asyncio.Queue[LingeringWebSocket] = asyncio.Queue()
        self.done = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_get("/ws", self.handler)

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = LingeringWebSocket()
        await ws.prepare(request)
        await self.sockets.put(ws)
        await self.done.wait()
        return ws


@pytest.fixture
async def served() -> AsyncIterator[tuple[Served, TestServer]]:
    s = Served()
    server = TestServer(s.app, host="127.0.0.1")
    await server.start_server()
    yield s, server
    s.done.set()
    await server.close()


def spin(seconds: float) -> None:
    """Work on the event loop's thread for ``seconds``, as a costly frame does."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def arrived(ws: LingeringWebSocket) -> None:
    for _ in range(100):  # what the client wrote reaches aiohttp's queue
        if ws.buffered():
            return
        await asyncio.sleep(0.01)


async def test_buffered_says_whether_frames_of_the_read_still_wait(
    served: tuple[Served, TestServer],
) -> None:
    s, server = served
    async with aiohttp.ClientSession() as http, http.ws_connect(server.make_url("/ws")) as ws:
        server_ws = await s.sockets.get()
        assert not server_ws.buffered()
        await ws.send_str("first")
        await ws.send_str("second")
        await arrived(server_ws)
        await asyncio.sleep(0.05)
        assert (await server_ws.receive_str(timeout=5)) == "first"
        assert server_ws.buffered()
        assert (await server_ws.receive_str(timeout=5)) == "second"
        assert not server_ws.buffered()
        await asyncio.gather(server_ws.close(), ws.close())


async def test_a_long_read_yields_once_its_slice_is_spent(
    served: tuple[Served, TestServer],
) -> None:
    s, server = served
    async with aiohttp.ClientSession() as http, http.ws_connect(server.make_url("/ws")) as ws:
        server_ws = await s.sockets.get()
        turns = Turns(server_ws)
        for i in range(4):
            await ws.send_str(str(i))
        await arrived(server_ws)
        await asyncio.sleep(0.05)
        said = []
        for _ in range(4):
            await server_ws.receive_str(timeout=5)
            spin(SLICE_S * 0.7)  # handling this frame takes most of a slice
            said.append(turns.handled())
        # Frame 0 starts the slice; frame 1 is within it; frame 2 is past it: yield;
        # frame 3 ends the read, and a read that ended needs no yield (the next starts a
        # slice of its own).
        assert said == [False, False, True, False]
        await asyncio.gather(server_ws.close(), ws.close())
