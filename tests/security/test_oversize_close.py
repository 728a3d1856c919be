"""A frame past the 1 MiB cap is refused with close code 1009, and the client reads that
code, however large the frame (issue 16: the million-frame fuzz saw 1006 where 1009 was
due). aiohttp closed the socket while the client was still writing; the kernel's reset
then threw away the close frame the client had not read yet, which happened on every
16 MiB frame on loopback. The server now keeps reading (and dropping) until the client
closes, at most ``LINGER_S``; a client that never closes is cut off after it."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from mayday.transport.lingering import LINGER_S
from tests.conftest import Harness

MiB = 1 << 20


def _frame(size: int) -> str:
    return '{"type": "ping", "data": "' + "a" * size + '"}'


@pytest.mark.parametrize("size", [MiB + 1, 16 * MiB])
async def test_a_frame_past_the_cap_is_closed_with_1009_that_the_client_reads(
    mayday: Harness, size: int
) -> None:
    """Three times each: the whole frame is written without a reset, the client reads a
    close frame with 1009, its own close handshake completes with 1009; another client
    is served meanwhile."""
    bystander = await mayday.client("user", "u2")
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            ws = await http.ws_connect(mayday.ws_url, params={"token": mayday.token("user", "u1")})
            assert (await ws.receive_json())["type"] == "hello"
            await ws.send_str(_frame(size))  # raised ConnectionResetError at 16 MiB before
            closing = await ws.receive(timeout=5)
            assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1009)
            assert ws.close_code == 1009
    assert "time" in (await bystander.call("ping", data=1)).fields


async def test_a_client_that_never_closes_is_cut_off_after_the_linger(mayday: Harness) -> None:
    """The client reads the 1009 and does not answer it: the server closes the TCP socket
    itself, LINGER_S later (not before the client could read the close, not never)."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(
            mayday.ws_url, params={"token": mayday.token("user", "u1")}, autoclose=False
        )
        assert (await ws.receive_json())["type"] == "hello"
        await ws.send_str(_frame(4 * MiB))
        began = time.monotonic()
        closing = await ws.receive(timeout=5)
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1009)
        sock = ws.get_extra_info("socket")
        # Polled: the client's socket has no event for "the server closed the TCP socket".
        while sock.fileno() != -1 and time.monotonic() - began < LINGER_S + 5:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        waited = time.monotonic() - began
        assert LINGER_S * 0.5 <= waited <= LINGER_S + 3, waited
    for _ in range(100):  # and the socket is detached
        if len(mayday.server.hub) == 0:
            break
        await asyncio.sleep(0.05)
    assert len(mayday.server.hub) == 0
