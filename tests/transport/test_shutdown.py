"""A server told to stop closes the sockets still open before it waits for its request
handlers: a client that never closes cannot hold the stop for aiohttp's shutdown timeout
(60 s), as it once held a test's teardown past its bound."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from mayday.auth import issue_token
from mayday.settings import Settings
from mayday.transport.app import bound_port, start
from tests.conftest import SECRET


async def test_stopping_closes_open_sockets_with_1001_before_waiting_on_handlers(
    tmp_path: Path,
) -> None:
    settings = Settings(port=0, jwt_secret=SECRET, data_dir=tmp_path)
    runner = await start(settings)
    url = f"ws://127.0.0.1:{bound_port(runner)}/ws"
    token = issue_token(SECRET, role="advisor", sub="stays")
    async with aiohttp.ClientSession() as http, http.ws_connect(url, params={"token": token}) as ws:
        hello = await ws.receive(timeout=5)
        assert '"hello"' in hello.data
        stop = asyncio.create_task(runner.cleanup())
        closed = await ws.receive(timeout=5)
        while closed.type is aiohttp.WSMsgType.TEXT:  # what was on its way before
            closed = await ws.receive(timeout=5)
        assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 1001
        await asyncio.wait_for(stop, 5)
