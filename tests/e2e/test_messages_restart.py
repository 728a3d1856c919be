"""Messages and replies survive restarts of the server process, on both backends: ``mayday
serve`` is stopped with SIGTERM and started again between every step (memory: on the same
MAYDAY_DATA_DIR; Redis: a new process on the same redis-server), and nothing is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from mayday.auth import issue_token
from mayday.client import HelpClosed
from mayday.protocol.messages import MessageReplied
from tests.conftest import SECRET
from tests.e2e.test_notes_restart import Clients, clients, start  # noqa: F401
from tests.redis_server import RedisServer
from tests.serving import Served


@pytest.fixture(params=["memory", "redis"])
async def start_args(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "memory":
        return ["--api-only"]
    server: RedisServer = request.getfixturevalue("redis_server")
    client = Redis.from_url(server.url)
    await client.flushall()
    await client.aclose()
    return ["--api-only", "--redis", server.url]


async def open_messages(served: Served, state: str) -> list[dict[str, object]]:
    token = issue_token(SECRET, role="advisor", sub="a9", name="Inbox")
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{served.base}/api/messages",
            params={"state": state},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        assert resp.status == 200
        body = await resp.json()
        found: list[dict[str, object]] = body["messages"]
        return found


async def test_a_message_and_its_reply_outlive_each_restart(
    tmp_path: Path,
    start_args: list[str],
    clients: Clients,  # noqa: F811
) -> None:
    """Left on the first process, listed and answered on the second, shown to the user on
    the third and fourth, marked read on the fourth, no longer shown on the fifth."""
    with start(tmp_path, "first", start_args) as first:
        user = await clients.connect(first, "user", "u1", "Tab")
        queued = await user.request_help(topic="Printer")
        assert queued.offline is True
        ack = await user.call("message.leave", text="Printer jams", request_id=queued.request_id)
        message_id = ack.fields["message_id"]
        assert (await user.next(HelpClosed)).outcome == "message"
        await clients.close_all()
        assert first.stop() == 0

    with start(tmp_path, "second", start_args) as second:
        inbox = await open_messages(second, "open")
        assert [(m["message_id"], m["text"]) for m in inbox] == [(message_id, "Printer jams")]
        ada = await clients.connect(second, "advisor", "a1", "Ada")
        await ada.call("message.reply", message_id=message_id, text="Open tray 2.")
        await clients.close_all()
        assert second.stop() == 0

    for name in ("third", "fourth"):
        with start(tmp_path, name, start_args) as served:
            assert [m["message_id"] for m in await open_messages(served, "answered")] == [
                message_id
            ]
            user = await clients.connect(served, "user", "u1", "Tab")
            replied = await user.next(MessageReplied)
            assert (replied.message_id, replied.text) == (message_id, "Open tray 2.")
            assert replied.advisor == {"id": "a1", "name": "Ada"}
            bo = await clients.connect(served, "advisor", "a2", "Bo")
            with pytest.raises(Exception) as late:
                await bo.call("message.reply", message_id=message_id, text="Me too")
            assert getattr(late.value, "code", None) == "invalid_state"
            if name == "fourth":
                await user.call("message.read", message_id=message_id)
            await clients.close_all()
            assert served.stop() == 0

    with start(tmp_path, "fifth", start_args) as fifth:
        user = await clients.connect(fifth, "user", "u1", "Tab")
        await user.call("ping")
        await asyncio.sleep(0.2)
        assert not [e for e in user.pending_events() if isinstance(e, MessageReplied)]
        await clients.close_all()
        fifth.stop()
