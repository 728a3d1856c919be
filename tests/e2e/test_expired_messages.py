"""Requests that reach their time-to-live, through the real app on both backends: a connected
user's ``help.closed`` offers to leave a message (``leave_message``); a user who is away
(dropped, within the grace) gets a message left for them in the advisors' inbox when
``MAYDAY_EXPIRED_TO_MESSAGE`` is on (not when off), which an advisor answers like any other;
on Redis, two nodes make it once; and it outlives restarts of the process."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from mayday.client import HelpClosed
from mayday.protocol.messages import MessageReplied
from mayday.routing.model import RequestState
from tests.conftest import SECRET, Harness, StartServer, two_nodes
from tests.e2e.test_messages import listed
from tests.e2e.test_messages_restart import open_messages, start_args  # noqa: F401
from tests.e2e.test_notes_restart import Clients, clients  # noqa: F401
from tests.redis_server import RedisServer
from tests.serving import clean_env, serve

# Expire within a second, checked five times a second; a drop keeps its place long enough.
FAST = {"request_ttl_s": 1.0, "ops_interval_s": 0.1, "resume_grace_s": 30.0}


@pytest.fixture(params=["memory", "redis"])
async def start_fast(
    request: pytest.FixtureRequest, start_server: StartServer, tmp_path: Path
) -> Any:
    """Start a server with fast expiry (and the given overrides) on the test's backend."""
    backend: dict[str, Any] = {"data_dir": tmp_path}
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        client = Redis.from_url(server.url)
        await client.flushall()
        await client.aclose()
        backend = {"redis_url": server.url}

    async def _start(**overrides: Any) -> Harness:
        return await start_server(**{**FAST, **backend, **overrides})

    return _start


async def expired(h: Harness, request_id: str) -> None:
    """Wait until the store has the request expired (at most 10 s)."""
    for _ in range(200):
        req = await h.server.store.request(request_id)
        if req is not None and req.state is RequestState.EXPIRED:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"request {request_id} did not expire")


async def inbox_of(h: Harness, count: int) -> Any:
    """The advisors' inbox once it holds ``count`` messages (at most 10 s): the message
    for a user away is saved just after the expiry that made it, not in the same step."""
    for _ in range(200):
        status, body = await listed(h)
        assert status == 200
        if body["count"] >= count:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"the inbox has {body['count']} messages, not {count}")


async def test_connected_user_is_offered_to_leave_a_message(start_fast: Any) -> None:
    """Nobody answers within the TTL while the user is connected: help.closed outcome
    expired with leave_message true; nothing is put in the inbox for them; the message
    they then leave (no request: it is closed) is kept."""
    h = await start_fast()
    user = await h.client("user", "u1", name="Tab", reconnect=False)
    queued = await user.request_help(topic="Printer")
    closed = await user.next(HelpClosed, timeout=10)
    assert closed == HelpClosed(queued.request_id, "expired", True)
    assert (await listed(h))[1]["count"] == 0
    ack = await user.call("message.leave", text="Still jammed.")
    [shown] = (await listed(h))[1]["messages"]
    assert (shown["message_id"], shown["origin"]) == (ack.fields["message_id"], "user")


async def test_user_away_gets_a_message_left_and_answered(start_fast: Any) -> None:
    """The user drops while waiting and the request expires within the grace: the inbox
    has a message for them (origin expired, the request id, when Help was pressed and the
    topic); the request's outcome stays expired; an advisor replies and the user, back
    later, gets message.replied."""
    h = await start_fast()
    user = await h.client("user", "u1", name="Tab", reconnect=False)
    queued = await user.request_help(topic="Printer")
    await user.close()
    await expired(h, queued.request_id)
    body = await inbox_of(h, 1)
    assert body["count"] == 1
    [shown] = body["messages"]
    assert shown["message_id"] == f"msg_{queued.request_id}"
    assert (shown["origin"], shown["request_id"], shown["state"]) == (
        "expired",
        queued.request_id,
        "open",
    )
    assert shown["user"] == {"id": "u1", "name": "Tab"}
    assert shown["text"].startswith("Pressed Help at 20")
    assert shown["text"].endswith(", topic Printer; nobody answered within the wait limit.")
    req = await h.server.store.request(queued.request_id)
    assert req is not None and req.state is RequestState.EXPIRED

    ada = await h.client("advisor", "a1", name="Ada")
    await ada.call("message.reply", message_id=shown["message_id"], text="Call us at 9.")
    back = await h.client("user", "u1", name="Tab", reconnect=False)
    replied = await back.next(MessageReplied)
    assert (replied.message_id, replied.text) == (shown["message_id"], "Call us at 9.")


async def test_setting_off_leaves_no_message(start_fast: Any) -> None:
    """MAYDAY_EXPIRED_TO_MESSAGE off: the request of a user away still expires, and the
    inbox stays empty."""
    h = await start_fast(expired_to_message=False)
    user = await h.client("user", "u1", name="Tab", reconnect=False)
    queued = await user.request_help(topic="Printer")
    await user.close()
    await expired(h, queued.request_id)
    await asyncio.sleep(0.3)  # housekeeping runs a few more times
    assert (await listed(h))[1]["count"] == 0


async def test_two_nodes_leave_one_message(start_server: StartServer, redis_url: str) -> None:
    """On Redis, both nodes expire requests: each request of a user away becomes one
    message, whichever node applied the expiry."""
    one, two = await two_nodes(start_server, redis_url, **FAST)
    ids = []
    for n, node in enumerate((one, two, one, two)):
        user = await node.client("user", f"u{n}", name=f"User {n}", reconnect=False)
        ids.append((await user.request_help(topic=f"T{n}")).request_id)
        await user.close()
    for request_id in ids:
        await expired(one, request_id)
    await inbox_of(one, len(ids))
    await asyncio.sleep(0.3)  # a second message for one of them would be saved by now
    for node in (one, two):
        body = (await listed(node))[1]
        assert sorted(m["request_id"] for m in body["messages"]) == sorted(ids)
        assert all(m["origin"] == "expired" for m in body["messages"])


async def test_the_message_left_outlives_restarts(
    tmp_path: Path,
    start_args: list[str],  # noqa: F811
    clients: Clients,  # noqa: F811
) -> None:
    """Real ``mayday serve`` processes, stopped with SIGTERM between the steps (memory: on
    one MAYDAY_DATA_DIR; Redis: one redis-server): the message left on the first for a
    user who dropped is in the second's inbox and answered there; the third shows the
    reply to the user."""
    env = clean_env(
        MAYDAY_JWT_SECRET=SECRET,
        MAYDAY_DATA_DIR=str(tmp_path / "data"),
        MAYDAY_REQUEST_TTL_S="1",
        MAYDAY_OPS_INTERVAL_S="0.1",
    )
    with serve(tmp_path / "first", *start_args, env=env) as first:
        user = await clients.connect(first, "user", "u1", "Tab")
        queued = await user.request_help(topic="Printer")
        await clients.close_all()
        for _ in range(200):
            inbox = await open_messages(first, "open")
            if inbox:
                break
            await asyncio.sleep(0.05)
        assert [(m["request_id"], m["origin"]) for m in inbox] == [(queued.request_id, "expired")]
        assert first.stop() == 0

    with serve(tmp_path / "second", *start_args, env=env) as second:
        [left] = await open_messages(second, "open")
        assert (left["message_id"], left["origin"]) == (f"msg_{queued.request_id}", "expired")
        ada = await clients.connect(second, "advisor", "a1", "Ada")
        await ada.call("message.reply", message_id=left["message_id"], text="Fixed remotely.")
        await clients.close_all()
        assert second.stop() == 0

    with serve(tmp_path / "third", *start_args, env=env) as third:
        user = await clients.connect(third, "user", "u1", "Tab")
        replied = await user.next(MessageReplied)
        assert (replied.message_id, replied.text) == (left["message_id"], "Fixed remotely.")
        await clients.close_all()
        assert third.stop() == 0
