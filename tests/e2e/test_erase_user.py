"""DELETE /api/users/{user_id} through the real app, on both backends: ops erase one user's
requests with their timelines, messages and replies, the notes about them, their ratings
and their sessions' audit logs; another user's data is untouched; a second call erases
nothing; a user with a request open is refused (409 invalid_state); only ops may call it,
and the erase is logged without the user's id."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from mayday.client import HelpOffer, MaydayClient, SessionEnded, SessionStarted
from mayday.routing.model import USER_BUSY
from mayday.transport.users_api import digest
from tests.conftest import Harness, StartServer
from tests.e2e.test_console_data import ops_get
from tests.redis_server import RedisServer

KINDS = ("requests", "messages", "notes", "ratings", "audit_entries")


@pytest.fixture(params=["memory", "redis"])
async def server(
    request: pytest.FixtureRequest, start_server: StartServer, tmp_path: Path
) -> Harness:
    """A server per backend: the memory one with its files in a temporary folder."""
    if request.param == "memory":
        return await start_server(data_dir=tmp_path)
    redis: RedisServer = request.getfixturevalue("redis_server")
    client = Redis.from_url(redis.url)
    await client.flushall()
    await client.aclose()
    return await start_server(redis_url=redis.url)


async def erase(h: Harness, user_id: str, role: str | None = "ops") -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {h.token(role, f'{role}1')}"} if role else {}
    url = f"{h.http_url}/api/users/{user_id}"
    async with aiohttp.ClientSession() as http, http.delete(url, headers=headers) as r:
        return r.status, await r.json()


async def a_users_data(h: Harness, ada: MaydayClient, sub: str) -> dict[str, str]:
    """A call of ``sub`` answered by Ada, with a pause of sharing (audited), a rating and a
    note; then a message Ada replies to. The ids, by kind."""
    user = await h.client("user", sub, name="Tab")
    await user.request_help(topic="Printer")
    started = await ada.accept((await ada.next(HelpOffer)).request_id)
    await user.next(SessionStarted)
    await user.call("share.pause", session_id=started.session_id)
    await ada.end_session(started.session_id)
    await user.next(SessionEnded)
    await user.call("session.rate", session_id=started.session_id, score=5, comment="Kind.")
    await ada.call("session.note", session_id=started.session_id, text="Paper tray.")
    left = await user.call("message.leave", text="It jams again.")
    message_id = left.fields["message_id"]
    await ada.call("message.reply", message_id=message_id, text="Call us tomorrow.")
    await user.close()
    return {
        "request": started.request_id,
        "session": started.session_id,
        "message": message_id,
    }


async def kept(h: Harness, ids: dict[str, str]) -> dict[str, Any]:
    """What ops can still read of those ids."""
    ops = h.token("ops", "o1")
    history = await ops_get(h, f"/api/requests/{ids['request']}", ops)
    audit = await ops_get(h, f"/api/sessions/{ids['session']}/audit", ops)
    _, answered = await ops_get(h, "/api/messages?state=answered", ops)
    return {
        "history": history[0],
        "request": (await ops_get(h, f"/api/ops/requests/{ids['request']}", ops))[0],
        "audit": audit[0],
        "message": ids["message"] in [m["message_id"] for m in answered["messages"]],
    }


async def test_ops_erase_a_users_data_and_nobody_elses(
    server: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """After the erase nothing of u1 is read back (history, request, audit, message), the
    counts say what went, u2's data all stays, and the log names u1 only by a hash."""
    ada = await server.client("advisor", "a1", name="Ada")
    await ada.set_available()
    mine = await a_users_data(server, ada, "u1")
    theirs = await a_users_data(server, ada, "u2")
    everything = {"history": 200, "request": 200, "audit": 200, "message": True}
    assert await kept(server, mine) == everything

    with caplog.at_level(logging.INFO, logger="mayday.transport.users_api"):
        status, body = await erase(server, "u1")
    assert status == 200
    assert body == {
        "user_id": "u1",
        "erased": {"requests": 1, "messages": 1, "notes": 1, "ratings": 1, "audit_entries": 1},
    }
    assert await kept(server, mine) == {
        "history": 404,
        "request": 404,
        "audit": 404,
        "message": False,
    }
    assert await kept(server, theirs) == everything
    logged = [r.getMessage() for r in caplog.records if r.name == "mayday.transport.users_api"]
    assert logged == [
        f"user data erased by ops ops1: user sha256:{digest('u1')} "
        "requests=1 messages=1 notes=1 ratings=1 audit_entries=1"
    ]
    assert "u1" not in logged[0]

    status, body = await erase(server, "u1")
    assert (status, body["erased"]) == (200, dict.fromkeys(KINDS, 0))


async def test_a_user_with_a_request_open_is_refused(server: Harness) -> None:
    """While u1 waits the erase is 409 invalid_state and erases nothing; after the
    request is cancelled it goes through."""
    user = await server.client("user", "u1", name="Tab")
    queued = await user.request_help(topic="Printer")
    status, body = await erase(server, "u1")
    assert (status, body) == (409, {"code": "invalid_state", "message": USER_BUSY})
    await user.cancel(queued.request_id)
    status, body = await erase(server, "u1")
    assert (status, body["erased"]["requests"]) == (200, 1)


async def test_only_ops_may_erase(server: Harness) -> None:
    """No token is 401; a user's or an advisor's token is 403, even for their own id; an
    id longer than a token's sub is 400."""
    assert (await erase(server, "u1", None))[0] == 401
    assert (await erase(server, "user1", "user"))[0] == 403
    status, body = await erase(server, "u1", "advisor")
    assert (status, body["code"]) == (403, "forbidden")
    status, body = await erase(server, "x" * 129)
    assert (status, body["code"]) == (400, "invalid_field")


async def test_the_access_log_names_the_erased_user_by_a_hash(
    server: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The access log line of an erase has the user id's hash in the path, not the id."""
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        assert (await erase(server, "someone-private"))[0] == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any(f"DELETE /api/users/sha256:{digest('someone-private')} 200" in x for x in lines)
    assert not any("someone-private" in x for x in lines)
