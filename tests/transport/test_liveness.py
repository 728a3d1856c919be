"""The server's liveness sweep, which replaced aiohttp's per-socket heartbeat: a silent
socket is pinged, one that does not answer is dropped, and pings from clients are
answered."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.conftest import Harness


async def _hello(ws: aiohttp.ClientWebSocketResponse) -> None:
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.TEXT and '"hello"' in msg.data


async def test_a_silent_socket_is_pinged_and_dropped_when_it_does_not_answer(
    mayday: Harness,
) -> None:
    """A sweep pings a socket silent since the last one; the next, with no pong, drops it."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            mayday.ws_url, params={"token": mayday.token("user", "mute")}, autoping=False
        ) as ws,
    ):
        await _hello(ws)
        await mayday.server.sweep_liveness()  # a new socket is only noted by the first
        await mayday.server.sweep_liveness()
        ping = await ws.receive(timeout=5)
        assert ping.type is aiohttp.WSMsgType.PING
        assert len(mayday.server.hub) == 1
        await mayday.server.sweep_liveness()
        closed = await ws.receive(timeout=5)
        assert closed.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE)
        for _ in range(50):
            if not len(mayday.server.hub):
                break
            await asyncio.sleep(0.02)
        assert len(mayday.server.hub) == 0


async def test_a_socket_that_answers_pings_stays_open(mayday: Harness) -> None:
    """A client that answers every ping (as browsers do) outlives many sweeps."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(mayday.ws_url, params={"token": mayday.token("user", "alive")}) as ws,
    ):
        await _hello(ws)
        reader = asyncio.create_task(ws.receive())  # the client answers pings while reading
        for _ in range(6):
            await mayday.server.sweep_liveness()
            await asyncio.sleep(0.05)
        assert not reader.done()
        assert len(mayday.server.hub) == 1
        reader.cancel()


async def test_a_ping_from_the_client_is_answered_with_its_payload(mayday: Harness) -> None:
    """The server answers a client's ping itself, with the same payload."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            mayday.ws_url, params={"token": mayday.token("user", "pinger")}, autoping=False
        ) as ws,
    ):
        await _hello(ws)
        await ws.ping(b"are you there")
        pong = await ws.receive(timeout=5)
        assert pong.type is aiohttp.WSMsgType.PONG
        assert pong.data == b"are you there"
