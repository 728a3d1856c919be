"""Frames written in one batch by ``Wire`` arrive intact at a real aiohttp client, at
every length boundary of RFC 6455, and a socket with compression falls back to aiohttp."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from mayday.transport.wire import Wire, text_frame
from tests.conftest import StartServer

# Each side of the 7-bit, 16-bit and 64-bit length encodings.
LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 70_000]

Served = Callable[[int], Awaitable[tuple[list[str], bool]]]


def payload(n: int) -> bytes:
    return (b"0123456789abcdef" * (n // 16 + 1))[:n]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    """A server whose socket writes LENGTHS as one batch when it can; returns what a
    client with the given compression received, and whether the batch path was taken."""
    batched: list[bool] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        wire = Wire(ws, request)
        batched.append(wire.can_batch())
        if batched[-1]:
            wire.write_batch(payload(n) for n in LENGTHS)
        else:
            for n in LENGTHS:
                await ws.send_frame(payload(n), aiohttp.WSMsgType.TEXT)
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()

    async def receive(compress: int) -> tuple[list[str], bool]:
        url = server.make_url("/ws")
        async with aiohttp.ClientSession() as http, http.ws_connect(url, compress=compress) as ws:
            got = [(await ws.receive_str(timeout=5)) for _ in LENGTHS]
        return got, batched[-1]

    yield receive
    await server.close()


async def test_one_batch_arrives_as_separate_text_frames_of_every_length(
    served: Served,
) -> None:
    got, batched = await served(0)
    assert batched
    assert got == [payload(n).decode() for n in LENGTHS]


async def test_a_socket_with_compression_goes_through_aiohttp(served: Served) -> None:
    got, batched = await served(15)
    assert not batched
    assert got == [payload(n).decode() for n in LENGTHS]


@pytest.mark.parametrize(
    ("n", "header"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_header_bytes_follow_rfc_6455(n: int, header: bytes) -> None:
    frame = text_frame(payload(n))
    assert frame[: len(header)] == header
    assert len(frame) == len(header) + n


@pytest.mark.parametrize(("setting", "negotiated"), [(True, True), (False, False)])
async def test_the_server_compresses_only_when_its_setting_allows(
    start_server: StartServer, setting: bool, negotiated: bool
) -> None:
    """A client offering permessage-deflate (as browsers do) gets it with
    ``MAYDAY_WS_COMPRESS=1`` only (off by default); frames arrive either way."""
    h = await start_server(ws_compress=setting)
    url = f"{h.ws_url}?token={h.token('user', 'u1')}"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, compress=15) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello"
        assert bool(ws.compress) is negotiated
