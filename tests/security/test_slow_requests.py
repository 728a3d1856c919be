"""Half-sent HTTP requests (issue 16, finding 10): a connection that does not finish its
request head within MAYDAY_HTTP_HEADER_TIMEOUT_S is closed; everyone else is served."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from mayday.transport.http_guard import HeadScanner, Phase
from tests.conftest import Harness, StartServer

TIMEOUT_S = 0.5
# Room for a busy machine: the close must come after the timeout and well before this.
SLACK_S = 2.0


async def closed_after(reader: asyncio.StreamReader, started: float | None = None) -> float:
    """Seconds from ``started`` (now, by default) until the server closes the connection
    (the reader sees EOF or a reset)."""
    started = time.monotonic() if started is None else started
    try:
        rest = await asyncio.wait_for(reader.read(), TIMEOUT_S + SLACK_S)
    except ConnectionResetError:
        rest = b""
    assert rest == b""
    return time.monotonic() - started


async def healthz(h: Harness) -> int:
    async with aiohttp.ClientSession() as http, http.get(h.http_url + "/healthz") as r:
        return r.status


@pytest.fixture
async def guarded(start_server: StartServer) -> Harness:
    return await start_server(http_header_timeout_s=TIMEOUT_S)


async def test_half_a_request_line_is_closed_while_others_are_served(guarded: Harness) -> None:
    """A raw socket that sends half a request line is closed after the header timeout,
    while a normal client is served in the meantime."""
    reader, writer = await asyncio.open_connection("127.0.0.1", guarded.port)
    opened = time.monotonic()  # the task below may start late on a busy machine
    writer.write(b"GET /healthz HTT")
    await writer.drain()
    waited = asyncio.create_task(closed_after(reader, opened))
    assert await healthz(guarded) == 200
    elapsed = await waited
    assert TIMEOUT_S * 0.8 <= elapsed < TIMEOUT_S + SLACK_S
    writer.close()


async def test_dribbling_bytes_does_not_reset_the_clock(guarded: Harness) -> None:
    """Headers sent a few bytes at a time, each within the timeout, are still cut off at
    the timeout after the first: the deadline covers the whole head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", guarded.port)
    started = time.monotonic()
    closed = asyncio.create_task(reader.read())
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    for i in range(0, len(request), 4):
        if closed.done():
            break
        writer.write(request[i : i + 4])
        await asyncio.sleep(0.05)
    await asyncio.wait_for(closed, SLACK_S)
    assert time.monotonic() - started < TIMEOUT_S + SLACK_S
    assert closed.result() == b""
    writer.close()


async def test_a_silent_connection_is_closed(guarded: Harness) -> None:
    """A connection that opens and sends nothing is closed after the same timeout."""
    reader, writer = await asyncio.open_connection("127.0.0.1", guarded.port)
    assert await closed_after(reader) >= TIMEOUT_S * 0.8
    writer.close()


async def test_kept_alive_connections_and_websockets_are_not_cut(guarded: Harness) -> None:
    """A kept-alive connection may wait longer than the header timeout between two
    requests, and a WebSocket lives on past it: only an unfinished head is timed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", guarded.port)
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    for _ in range(2):
        writer.write(request)
        status = await asyncio.wait_for(reader.readline(), SLACK_S)
        assert status.startswith(b"HTTP/1.1 200")
        await asyncio.wait_for(reader.readuntil(b"}"), SLACK_S)  # the JSON body
        await asyncio.sleep(TIMEOUT_S * 2)
    writer.close()
    client = await guarded.client("user", "u1")
    await asyncio.sleep(TIMEOUT_S * 2)
    assert "time" in (await client.call("ping", data=1)).fields


async def test_idle_keep_alive_connections_close(start_server: StartServer) -> None:
    """MAYDAY_HTTP_IDLE_TIMEOUT_S closes a kept-alive connection that sends nothing more."""
    h = await start_server(http_idle_timeout_s=TIMEOUT_S)
    reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await reader.readuntil(b"}")).startswith(b"HTTP/1.1 200")
    assert await closed_after(reader) < TIMEOUT_S + SLACK_S
    writer.close()


def test_the_scanner_follows_heads_bodies_and_upgrades() -> None:
    """Pipelined heads, a body split over reads, LF-only lines and an upgrade each leave
    the scanner in the right phase."""
    s = HeadScanner()
    s.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n")
    assert (s.phase, s.heads) == (Phase.HEAD, 1)
    s.feed(b"Host: x\r\n\r\n")
    assert (s.phase, s.heads) == (Phase.IDLE, 2)
    s.feed(b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345")
    assert s.phase is Phase.BODY
    s.feed(b"67890")
    assert s.phase is Phase.IDLE
    s.feed(b"POST /x HTTP/1.1\r\ncontent-length: 3\r\nHost: x\r\n\r\nabc")
    assert s.phase is Phase.IDLE
    s.feed(b"\r\nGET / HTTP/1.1\nHost: x\n\n")
    assert (s.phase, s.heads) == (Phase.IDLE, 5)
    s.feed(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello")
    assert s.phase is Phase.OFF
    s.feed(b"GET / HTT")
    assert s.phase is Phase.OFF
