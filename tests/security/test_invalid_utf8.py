"""A text frame that is not UTF-8 (issue 16, finding 10): the WebSocket layer closes the
socket with 1007, as RFC 6455 asks; the server and its other sockets carry on."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.conftest import Harness


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe",
        b'{"type": "ping", "data": "\xc3"}',  # a sequence cut short
        b'{"type": "ping", "data": "\xed\xa0\x80"}',  # a UTF-16 surrogate, encoded
        b'{"type": "ping", "data": "\xc0\xaf"}',  # an overlong "/"
    ],
)
async def test_invalid_utf8_text_closes_with_1007(mayday: Harness, payload: bytes) -> None:
    """The socket that sent invalid UTF-8 in a text frame is closed with code 1007 and no
    error frame; another client's socket is still served."""
    bystander = await mayday.client("user", "u2")
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(mayday.ws_url, params={"token": mayday.token("user", "u1")})
        assert (await ws.receive_json())["type"] == "hello"
        await ws.send_frame(payload, aiohttp.WSMsgType.TEXT)
        closing = await ws.receive(timeout=5)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1007
    assert "time" in (await bystander.call("ping", data=1)).fields
    for _ in range(100):  # the closed socket is detached once its handler returns
        if len(mayday.server.hub) == 1:
            break
        await asyncio.sleep(0.05)
    assert len(mayday.server.hub) == 1
