"""Browser origin (issue 16, finding 9): with MAYDAY_ALLOWED_ORIGINS, a WebSocket upgrade
or an API call from another origin is refused with 403 before its token is read."""

from __future__ import annotations

import aiohttp
import pytest

from mayday.settings import Settings, SettingsError
from tests.conftest import Harness, StartServer

ALLOWED = "https://help.example.com"
EVIL = "https://evil.example.net"


async def upgrade_status(h: Harness, token: str, origin: str | None) -> int | str:
    """What a WebSocket upgrade gets: an HTTP status when refused, else the first frame's
    type (``hello`` or ``error``)."""
    async with aiohttp.ClientSession() as http:
        try:
            ws = await http.ws_connect(h.ws_url, params={"token": token}, origin=origin)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        frame = await ws.receive_json()
        await ws.close()
        return str(frame["type"])


async def api_status(h: Harness, token: str, origin: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    if origin is not None:
        headers["Origin"] = origin
    async with (
        aiohttp.ClientSession() as http,
        http.get(h.http_url + "/api/ops/summary", headers=headers) as r,
    ):
        if r.status == 403:
            body = await r.json()
            assert body["code"] == "forbidden"
            assert "origin" in body["message"]
        return r.status


async def test_another_origin_is_refused_before_the_token(start_server: StartServer) -> None:
    """With the list set, an upgrade from another origin gets 403 whether its token is good
    or garbage (it is not read: garbage would get an unauthorized frame), while the listed
    origin and a client that sends no Origin are served."""
    h = await start_server(allowed_origins=(ALLOWED,))
    good = h.token("user", "u1")
    assert await upgrade_status(h, good, EVIL) == 403
    assert await upgrade_status(h, "garbage", EVIL) == 403
    assert await upgrade_status(h, "garbage", ALLOWED) == "error"
    assert await upgrade_status(h, good, ALLOWED) == "hello"
    assert await upgrade_status(h, good, None) == "hello"
    assert await upgrade_status(h, good, "null") == 403
    assert await upgrade_status(h, good, ALLOWED + ".evil.example.net") == 403
    assert await upgrade_status(h, good, "http://help.example.com") == 403


async def test_api_calls_follow_the_same_list(start_server: StartServer) -> None:
    """The ops API refuses another origin with 403 even with a valid ops token; the listed
    origin and no Origin at all are served."""
    h = await start_server(allowed_origins=(ALLOWED,))
    ops = h.token("ops", "o1")
    assert await api_status(h, ops, EVIL) == 403
    assert await api_status(h, "garbage", EVIL) == 403
    assert await api_status(h, ops, ALLOWED) == 200
    assert await api_status(h, ops, None) == 200


async def test_without_the_list_any_origin_passes(mayday: Harness) -> None:
    """By default (no list) the origin is not checked: the token alone decides."""
    assert await upgrade_status(mayday, mayday.token("user", "u1"), EVIL) == "hello"
    assert await api_status(mayday, mayday.token("ops", "o1"), EVIL) == 200


def test_origins_are_read_as_browsers_write_them() -> None:
    """MAYDAY_ALLOWED_ORIGINS entries are lower-cased, lose a default port and a trailing
    slash; an entry that is not an origin (a wildcard, a path, null) stops the server."""
    env = {"MAYDAY_ALLOWED_ORIGINS": "HTTPS://Help.Example.com:443/, http://127.0.0.1:8080"}
    assert Settings.from_env(env).allowed_origins == (ALLOWED, "http://127.0.0.1:8080")
    for bad in ("*", "null", "https://help.example.com/app", "help.example.com", "ftp://x"):
        with pytest.raises(SettingsError, match="MAYDAY_ALLOWED_ORIGINS"):
            Settings.from_env({"MAYDAY_ALLOWED_ORIGINS": bad})
