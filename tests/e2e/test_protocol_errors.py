"""Every error code over a real socket; the connection survives each refusal."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import jwt
import pytest

from mayday.auth import issue_token
from mayday.client import ErrorFrame, Hello, MaydayClient, MaydayError
from tests.conftest import SECRET, Harness, StartServer


async def raw_error(client: MaydayClient, text: str) -> ErrorFrame:
    await client.send_raw(text)
    return await client.next(ErrorFrame)


async def still_alive(client: MaydayClient) -> None:
    ack = await client.call("ping")
    assert isinstance(ack.fields["time"], float)


async def test_hello_names_the_identity(mayday: Harness) -> None:
    """The first frame says who the token names, with seq 1."""
    client = await mayday.client("advisor", "a1", name="Ada")
    hello = client.hello
    assert hello is not None and len(hello.resume_token) >= 32
    assert hello == Hello(
        sub="a1",
        role="advisor",
        name="Ada",
        server_version="0.1.0",
        max_frame_bytes=65536,
        resume_token=hello.resume_token,
        resumed=False,
        replayed=0,
        resume_grace_s=30.0,
    )
    assert client.last_seq >= 1


@pytest.mark.parametrize(
    ("text", "code", "frame_id"),
    [
        ("{not json", "invalid_json", None),
        ("[1, 2]", "invalid_json", None),
        ('{"id": 4}', "invalid_field", 4),
        ('{"type": "help.teleport", "id": 5}', "unknown_type", 5),
        ('{"type": "ping", "id": "six"}', "invalid_field", None),
        ('{"type": "help.request", "id": 7, "topic": 12}', "invalid_field", 7),
        ('{"type": "advisor.state", "id": 8, "state": "available"}', "forbidden", 8),
        ('{"type": "help.cancel", "id": 9, "request_id": "req_nope"}', "not_found", 9),
        ('{"type": "session.end", "id": 10, "session_id": "ses_nope"}', "not_found", 10),
    ],
)
async def test_refusals_carry_code_and_id(
    mayday: Harness, text: str, code: str, frame_id: int | None
) -> None:
    """A refused frame gets one error envelope with its stable code and the frame's id."""
    client = await mayday.client("user", "u1")
    error = await raw_error(client, text)
    assert (error.code, error.id) == (code, frame_id)
    assert error.message
    await still_alive(client)


async def test_invalid_state_for_a_second_help_request(mayday: Harness) -> None:
    """Pressing Help twice is refused with invalid_state; the first request still waits."""
    user = await mayday.client("user", "u1")
    first = await user.request_help()
    with pytest.raises(MaydayError) as refused:
        await user.call("help.request")
    assert refused.value.code == "invalid_state"
    assert first.request_id in refused.value.message


async def test_too_large(mayday: Harness) -> None:
    """A frame over the size limit is refused as too_large, and the socket stays open."""
    client = await mayday.client("user", "u1")
    big = json.dumps({"type": "help.request", "id": 3, "topic": "x" * 70_000})
    error = await raw_error(client, big)
    assert (error.code, error.id) == ("too_large", 3)
    await still_alive(client)


async def test_rate_limited(start_server: StartServer) -> None:
    """A client sending faster than its budget gets rate_limited, then is served again."""
    harness = await start_server(rate_limit_per_s=20.0, rate_limit_burst=10)
    client = await harness.client("user", "u1")
    for i in range(30):
        await client.send("ping", id=1000 + i)
    errors = []
    for _ in range(30):
        event = await client.next()
        if isinstance(event, ErrorFrame):
            errors.append(event)
    assert errors and all(e.code == "rate_limited" for e in errors)
    await asyncio.sleep(0.2)
    await still_alive(client)


async def test_binary_frames_are_refused(mayday: Harness) -> None:
    """Binary frames get invalid_json; the socket stays open."""
    client = await mayday.client("user", "u1")
    await client.send_bytes(b"\x00\x01")
    error = await client.next(ErrorFrame)
    assert error.code == "invalid_json"
    await still_alive(client)


async def test_server_frames_are_numbered(mayday: Harness) -> None:
    """Every server frame carries a seq that grows by one per connection."""
    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(mayday.ws_url, params={"token": mayday.token("user", "u")})
        for i in range(3):
            await ws.send_str(json.dumps({"type": "ping", "id": i}))
        seqs = [json.loads((await ws.receive()).data)["seq"] for _ in range(4)]
        assert seqs == [1, 2, 3, 4]
        await ws.close()
    finally:
        await session.close()


def _token(**overrides: Any) -> str:
    # Built when tests are collected: valid for long enough that only "expired" expires.
    claims: dict[str, Any] = {"role": "user", "sub": "u1", "ttl_s": 6 * 3600}
    claims.update(overrides)
    secret = claims.pop("secret", SECRET)
    return issue_token(secret, **claims)


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("", "missing token"),
        ("not-a-jwt", "invalid token"),
        (_token(secret="another-secret-0123456789abcdef-0123"), "invalid token"),
        (_token(now=time.time() - 3600, ttl_s=60), "token expired"),
        (_token(audience="someone-else"), "invalid token"),
        (jwt.encode({"sub": "u", "role": "admin", "aud": "mayday", "exp": 2**40}, SECRET), "role"),
    ],
)
async def test_bad_tokens_are_refused(mayday: Harness, token: str, why: str) -> None:
    """A missing, forged, expired or foreign token gets no session: HTTP 401 for a plain
    request; for a WebSocket, one unauthorized error frame and close code 4401."""
    async with aiohttp.ClientSession() as session:
        plain = mayday.ws_url.replace("ws:", "http:")
        async with session.get(plain, params={"token": token}) as response:
            body = await response.json()
        assert response.status == 401
        assert body["code"] == "unauthorized"
        assert why in body["message"]
        ws = await session.ws_connect(mayday.ws_url, params={"token": token})
        frame = await ws.receive_json()
        assert (frame["type"], frame["code"]) == ("error", "unauthorized")
        assert why in frame["message"]
        closing = await ws.receive()
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4401
    with pytest.raises(MaydayError) as refused:
        await MaydayClient.connect(mayday.ws_url, token)
    assert refused.value.code == "unauthorized"
