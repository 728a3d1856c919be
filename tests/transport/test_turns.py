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


Pair = tuple[aiohttp.ClientWebSocketResponse, LingeringWebSocket]


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    """A client socket and the server's side of it, closed together at the end."""
    s = Served()
    server = TestServer(s.app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http, http.ws_connect(server.make_url("/ws")) as ws:
        server_ws = await s.sockets.get()
        yield ws, server_ws
        await asyncio.gather(server_ws.close(), ws.close())
    s.done.set()
    await server.close()


def spin(seconds: float) -> None:
    """Work on the event loop's thread for ``seconds``, as a costly frame does."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def written(pair: Pair, *texts: str) -> None:
    """The client writes ``texts``; return once they all wait in aiohttp's queue."""
    client, server_ws = pair
    for text in texts:
        await client.send_str(text)
    for _ in range(100):
        if server_ws.buffered():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # the rest of them too


async def test_buffered_says_whether_frames_of_the_read_still_wait(pair: Pair) -> None:
    _, server_ws = pair
    assert not server_ws.buffered()
    await written(pair, "first", "second")
    assert (await server_ws.receive_str(timeout=5)) == "first"
    assert server_ws.buffered()
    assert (await server_ws.receive_str(timeout=5)) == "second"
    assert not server_ws.buffered()


async def test_a_long_read_yields_once_its_slice_is_spent(pair: Pair) -> None:
    _, server_ws = pair
    turns = Turns(server_ws)
    await written(pair, "0", "1", "2", "3")
    said = []
    for _ in range(4):
        await server_ws.receive_str(timeout=5)
        spin(SLICE_S * 0.7)  # handling this frame takes most of a slice
        said.append(turns.handled())
    # Frame 0 starts the slice; frame 1 is within it; frame 2 is past it: yield; frame 3
    # ends the read, and a read that ended needs no yield (the next starts a slice of
    # its own).
    assert said == [False, False, True, False]
