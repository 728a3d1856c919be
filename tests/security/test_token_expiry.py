"""Issue 16, finding 4: a socket ends with its token. ``auth.expiring`` ahead of ``exp``,
close 4401 after ``MAYDAY_TOKEN_EXPIRY_GRACE_S``, unless ``auth.refresh`` brought a new
token for the same sub and role."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp
import jwt
import pytest

from mayday.auth import issue_token
from mayday.client import AuthExpiring, LinkRestored, MaydayClient
from mayday.settings import Settings, SettingsError
from tests.conftest import StartServer

# Short tokens and a short grace, so that a test runs in seconds.
TTL_S = 3
GRACE_S = 1.0


def exp_of(token: str) -> float:
    return float(jwt.decode(token, options={"verify_signature": False})["exp"])


async def frame(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10) -> dict[str, Any]:
    msg = await ws.receive(timeout=timeout)
    assert msg.type is aiohttp.WSMsgType.TEXT, f"socket {msg.type.name}, not a frame"
    return dict(json.loads(msg.data))


async def answer(ws: aiohttp.ClientWebSocketResponse, id_: int) -> dict[str, Any]:
    """The ack or error of frame ``id_``, past any other frame."""
    while True:
        got = await frame(ws)
        if got.get("id") == id_:
            return got


async def test_a_socket_is_warned_then_closed_4401_after_the_grace(
    start_server: StartServer,
) -> None:
    """A raw socket gets `auth.expiring` about `notice_s` before `exp`, then an
    `unauthorized` error and close 4401 once the grace after `exp` is over, not before; the
    client library without a hook is closed for good at the same point. The closed
    socket's stream is kept like a drop's: a socket with a fresh token resumes it."""
    h = await start_server(token_expiry_notice_s=0.5, token_expiry_grace_s=GRACE_S)
    token = h.token("user", "u1", ttl_s=TTL_S)
    client = await MaydayClient.connect(h.ws_url, h.token("user", "u2", ttl_s=TTL_S))
    h.clients.append(client)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(h.ws_url, params={"token": token})
        hello = await frame(ws)
        notice = await frame(ws)
        assert notice["type"] == "auth.expiring"
        # 0.5 s ahead, as set (halfway would be 1 s or more: 2 to 3 s are left at first).
        assert 0 <= notice["expires_in_s"] <= 0.6
        assert notice["grace_s"] == GRACE_S
        assert notice["seq"] == hello["seq"] + 1
        last = await frame(ws, timeout=GRACE_S + 5)
        closed_at = time.time()
        assert last["type"] == "error" and last["code"] == "unauthorized"
        assert "expired" in last["message"]
        assert (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4401
        assert exp_of(token) + GRACE_S - 0.2 <= closed_at <= exp_of(token) + GRACE_S + 2
        await asyncio.wait_for(client.closed.wait(), 5)
        assert isinstance(await client.next(AuthExpiring), AuthExpiring)
        params = {
            "token": h.token("user", "u1"),
            "resume": hello["resume_token"],
            "last_seq": str(notice["seq"]),
        }
        again = await http.ws_connect(h.ws_url, params=params)
        assert (await frame(again))["resumed"] is True
        await again.close()


async def test_a_refresh_keeps_the_socket_open_past_the_old_expiry(
    start_server: StartServer,
) -> None:
    """With the default notice (60 s) a token shorter than two minutes is warned halfway
    through what it has left; `auth.refresh` with a new token for the same sub and role
    is acked with its `expires_at`, and the socket is served past the old `exp` and grace,
    with no second notice for the long new token."""
    h = await start_server(token_expiry_grace_s=GRACE_S)
    token = h.token("advisor", "a1", ttl_s=TTL_S)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(h.ws_url, params={"token": token})
        opened = time.time()
        assert (await frame(ws))["type"] == "hello"
        notice = await answer_type(ws, "auth.expiring")
        half = (exp_of(token) - opened) / 2
        assert half - 0.5 <= notice["expires_in_s"] <= half + 0.2
        fresh = h.token("advisor", "a1", ttl_s=600)
        await ws.send_json({"type": "auth.refresh", "id": 5, "token": fresh})
        ack = await answer(ws, 5)
        assert {k: v for k, v in ack.items() if k != "seq"} == {
            "type": "ack",
            "id": 5,
            "expires_at": exp_of(fresh),
        }
        await asyncio.sleep(exp_of(token) + GRACE_S + 1 - time.time())
        await ws.send_json({"type": "ping", "id": 6})
        assert (await answer(ws, 6))["type"] == "ack"
        assert not ws.closed
        await ws.close()


async def answer_type(ws: aiohttp.ClientWebSocketResponse, type_: str) -> dict[str, Any]:
    while True:
        got = await frame(ws)
        if got["type"] == type_:
            return got


async def test_refused_refreshes_get_an_error_and_the_old_deadline_holds(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A refresh with a token for another sub, for another role, expired, forged, not a
    JWT, or no token at all is refused (`forbidden` or `invalid_field`, the socket kept),
    and the socket still closes with 4401 at its old deadline. No token reaches the log
    or an error message."""
    h = await start_server(token_expiry_notice_s=1.0, token_expiry_grace_s=GRACE_S)
    token = h.token("user", "u1", ttl_s=TTL_S)
    refused = {
        "other sub": (h.token("user", "u2", ttl_s=600), "forbidden"),
        "other role": (h.token("advisor", "u1", ttl_s=600), "forbidden"),
        "expired": (h.token("user", "u1", ttl_s=-120), "invalid_field"),
        "forged": (
            issue_token("another-secret-0123456789abcdef0123", role="user", sub="u1"),
            "invalid_field",
        ),
        "not a JWT": ("not-a-token", "invalid_field"),
        "wrong audience": (h.token("user", "u1", audience="other"), "invalid_field"),
    }
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(h.ws_url, params={"token": token})
        assert (await frame(ws))["type"] == "hello"
        for id_, (why, (bad, code)) in enumerate(refused.items(), start=1):
            await ws.send_json({"type": "auth.refresh", "id": id_, "token": bad})
            error = await answer(ws, id_)
            assert (error["type"], error["code"]) == ("error", code), why
            assert bad not in error["message"], why
        await ws.send_json({"type": "auth.refresh", "id": 99})
        missing = await answer(ws, 99)
        assert (missing["code"], missing["message"]) == (
            "invalid_field",
            'field "token" is required',
        )
        await ws.send_json({"type": "ping", "id": 100})
        assert (await answer(ws, 100))["type"] == "ack"
        assert (await answer_type(ws, "auth.expiring"))["grace_s"] == GRACE_S
        assert (await frame(ws, timeout=GRACE_S + 5))["code"] == "unauthorized"
        assert (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4401
        assert time.time() >= exp_of(token) + GRACE_S - 0.2
    for bad, _ in refused.values():
        assert bad not in caplog.text
    assert token not in caplog.text


async def test_the_client_library_refreshes_through_its_hook(
    start_server: StartServer,
) -> None:
    """`MaydayClient.connect(..., refresh_token=hook)`: on `auth.expiring` the client awaits
    the hook once, sends `auth.refresh` and is served past the old deadline; it reconnects
    with the new token after a drop (with no leeway the old one is refused by then)."""
    h = await start_server(token_expiry_notice_s=1.0, token_expiry_grace_s=GRACE_S, jwt_leeway_s=0)
    old = h.token("user", "u1", ttl_s=TTL_S)
    fresh = h.token("user", "u1", ttl_s=600)
    asked: list[float] = []

    async def hook() -> str:
        asked.append(time.time())
        return fresh

    client = await MaydayClient.connect(h.ws_url, old, refresh_token=hook)
    h.clients.append(client)
    await client.next(AuthExpiring)
    await asyncio.sleep(exp_of(old) + GRACE_S + 0.5 - time.time())
    assert (client.token, client.expires_at) == (fresh, exp_of(fresh))
    assert "time" in (await client.call("ping")).fields
    await client.drop()
    restored = await client.next(LinkRestored)
    assert restored.resumed is True
    assert "time" in (await client.call("ping")).fields
    assert len(asked) == 1 and not client.closed.is_set()


def test_the_expiry_settings_and_their_bounds() -> None:
    """`MAYDAY_TOKEN_EXPIRY_GRACE_S` (default 30) and `MAYDAY_TOKEN_EXPIRY_NOTICE_S`
    (default 60) are read from the environment; a negative grace or a zero notice is
    refused, naming the variable."""
    assert (Settings().token_expiry_grace_s, Settings().token_expiry_notice_s) == (30.0, 60.0)
    env = {"MAYDAY_TOKEN_EXPIRY_GRACE_S": "5", "MAYDAY_TOKEN_EXPIRY_NOTICE_S": "90"}
    read = Settings.from_env(env)
    assert (read.token_expiry_grace_s, read.token_expiry_notice_s) == (5.0, 90.0)
    with pytest.raises(SettingsError, match="MAYDAY_TOKEN_EXPIRY_GRACE_S"):
        Settings(token_expiry_grace_s=-1)
    with pytest.raises(SettingsError, match="MAYDAY_TOKEN_EXPIRY_NOTICE_S"):
        Settings(token_expiry_notice_s=0)
