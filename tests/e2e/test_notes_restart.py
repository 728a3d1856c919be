"""Notes survive a restart of the server process, on both backends: ``mayday serve`` as an
operator runs it writes a note, is stopped with SIGTERM and started again (memory: on the same
MAYDAY_DATA_DIR; Redis: a new process on the same redis-server), and the next advisor the
caller reaches reads the note in help.history."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from mayday.auth import issue_token
from mayday.client import HelpOffer, MaydayClient, SessionEnded, SessionStarted
from tests.conftest import SECRET
from tests.redis_server import RedisServer
from tests.serving import Served, clean_env, serve

NOTE = "Reinstalled the printer driver; call back if it jams again."


class Clients:
    """Clients of the served processes, closed at the end of the test."""

    def __init__(self) -> None:
        self.open: list[MaydayClient] = []

    async def connect(self, served: Served, role: str, sub: str, name: str) -> MaydayClient:
        token = issue_token(SECRET, role=role, sub=sub, name=name)
        client = await MaydayClient.connect(served.ws_url, token, reconnect=False)
        self.open.append(client)
        return client

    async def close_all(self) -> None:
        for client in self.open:
            with contextlib.suppress(Exception):
                await client.close()
        self.open.clear()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    made = Clients()
    yield made
    await made.close_all()


@pytest.fixture(params=["memory", "redis"])
async def start_args(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """The ``mayday serve`` arguments both processes get: a memory store on one data
    directory, or one (emptied) redis-server."""
    if request.param == "memory":
        return ["--api-only"]
    server: RedisServer = request.getfixturevalue("redis_server")
    client = Redis.from_url(server.url)
    await client.flushall()
    await client.aclose()
    return ["--api-only", "--redis", server.url]


def start(tmp_path: Path, name: str, args: list[str]) -> Served:
    env = clean_env(MAYDAY_JWT_SECRET=SECRET, MAYDAY_DATA_DIR=str(tmp_path / "data"))
    return serve(tmp_path / name, *args, env=env)


async def test_a_note_is_in_help_history_after_a_restart(
    tmp_path: Path, start_args: list[str], clients: Clients
) -> None:
    """A call noted on one server process shows its note to the advisor offered the caller's
    next request on the process started after it."""
    first = start(tmp_path, "first", start_args)
    with first:
        ada = await clients.connect(first, "advisor", "a1", "Ada")
        await ada.set_available()
        user = await clients.connect(first, "user", "u1", "Tab")
        await user.request_help(topic="Printer")
        started = await ada.accept((await ada.next(HelpOffer)).request_id)
        await user.next(SessionStarted)
        await ada.end_session(started.session_id)
        await user.next(SessionEnded)
        await ada.call("session.note", session_id=started.session_id, text=NOTE)
        await clients.close_all()
        assert first.stop() == 0

    second = start(tmp_path, "second", start_args)
    with second:
        bo = await clients.connect(second, "advisor", "a2", "Bo")
        await bo.set_available()
        user = await clients.connect(second, "user", "u1", "Tab")
        now = await user.request_help(topic="Printer")
        await bo.next(HelpOffer)
        ack = await bo.call("help.history", request_id=now.request_id)
        noted = [item for item in ack.fields["requests"] if item["note"]]
        assert [(i["request_id"], i["note"]["text"]) for i in noted] == [(started.request_id, NOTE)]
        assert noted[0]["note"]["advisor_name"] == "Ada"
        assert noted[0]["topic"] == "Printer"
        await clients.close_all()
        second.stop()
