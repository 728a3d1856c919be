"""Wrap-up notes through the real app, on both backends: only the advisor who had the call
writes its note (during it or up to an hour after), a later one replaces it, and the next
advisor the caller reaches reads it in help.history; every refusal has its stable code."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from mayday.client import HelpOffer, MaydayClient, MaydayError, SessionStarted
from mayday.transport.handlers import NOTE_WINDOW_S
from tests.conftest import Harness, StartServer
from tests.e2e.test_console_data import Clock, ended_call
from tests.redis_server import RedisServer


@pytest.fixture
def clock() -> Clock:
    return Clock(1_000_000.0)


@pytest.fixture(params=["memory", "redis"])
async def notes_server(
    request: pytest.FixtureRequest, start_server: StartServer, tmp_path: Path, clock: Clock
) -> Harness:
    """A server per backend on ``clock``: the memory one with its notes file in a temporary
    folder."""
    if request.param == "memory":
        return await start_server(data_dir=tmp_path, clock=clock)
    server: RedisServer = request.getfixturevalue("redis_server")
    client = Redis.from_url(server.url)
    await client.flushall()
    await client.aclose()
    return await start_server(redis_url=server.url, clock=clock)


async def refused(client: MaydayClient, type_: str, **fields: object) -> str:
    with pytest.raises(MaydayError) as error:
        await client.call(type_, **fields)
    return error.value.code


async def next_history(h: Harness, user: MaydayClient, sub: str) -> list[dict[str, object]]:
    """help.history as a fresh advisor offered the user's next request sees it."""
    advisor = await h.client("advisor", sub, name=sub.upper())
    await advisor.set_available()
    now = await user.request_help(topic="Printer")
    await advisor.next(HelpOffer)
    ack = await advisor.call("help.history", request_id=now.request_id)
    requests: list[dict[str, object]] = ack.fields["requests"]
    return requests


async def test_the_next_advisor_reads_the_note_of_the_last_call(
    notes_server: Harness, clock: Clock
) -> None:
    """Ada notes the call she had; Bo, offered the caller's next request, sees it on that
    request's item with Ada's name; the note written again replaces the first."""
    h = notes_server
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await h.client("user", "u1", name="Tab")
    request_id = await ended_call(h, ada, user)
    session_id = (await h.server.store.request(request_id)).session_id  # type: ignore[union-attr]
    ack = await ada.call("session.note", session_id=session_id, text="  Driver reinstalled.  ")
    assert ack.fields == {"request_id": request_id, "written_at": 1_000_000.0}
    clock.now += 60
    await ada.call("session.note", session_id=session_id, text="Driver reinstalled; jams: call.")
    await ada.set_available(False)

    (item,) = await next_history(h, user, "a2")
    assert (item["request_id"], item["outcome"], item["advisor_name"]) == (
        request_id,
        "ended",
        "Ada",
    )
    assert item["note"] == {
        "text": "Driver reinstalled; jams: call.",
        "advisor_name": "Ada",
        "written_at": 1_000_060.0,
    }


async def test_a_note_may_be_written_during_the_call(notes_server: Harness) -> None:
    """The advisor may note a call while it runs; the note is on its request afterwards."""
    h = notes_server
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await h.client("user", "u1", name="Tab")
    await user.request_help(topic="Wi-Fi")
    offer = await ada.next(HelpOffer)
    started = await ada.accept(offer.request_id)
    await user.next(SessionStarted)
    await ada.call("session.note", session_id=started.session_id, text="Router reset.")
    await ada.end_session(started.session_id)
    await ada.set_available(False)
    (item,) = await next_history(h, user, "a2")
    assert item["note"]["text"] == "Router reset."  # type: ignore[index]


async def test_only_the_advisor_of_the_call_may_note_it(
    notes_server: Harness, clock: Clock
) -> None:
    """Another advisor, the user, ops and an unknown session are refused, and so are a blank
    or too long note and one written over an hour after the call ended; nothing is kept."""
    h = notes_server
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await h.client("user", "u1", name="Tab")
    request_id = await ended_call(h, ada, user)
    session_id = (await h.server.store.request(request_id)).session_id  # type: ignore[union-attr]
    bo = await h.client("advisor", "a2", name="Bo")
    ops = await h.client("ops", "o1")
    note = {"session_id": session_id, "text": "mine"}

    assert await refused(bo, "session.note", **note) == "forbidden"
    assert await refused(user, "session.note", **note) == "forbidden"
    assert await refused(ops, "session.note", **note) == "forbidden"
    assert await refused(ada, "session.note", session_id="ses_nope", text="x") == "not_found"
    assert await refused(ada, "session.note", session_id=session_id, text=" \n ") == (
        "invalid_field"
    )
    assert await refused(ada, "session.note", session_id=session_id, text="x" * 2001) == (
        "invalid_field"
    )
    assert await refused(ada, "session.note", session_id=session_id) == "invalid_field"
    clock.now += NOTE_WINDOW_S + 1
    assert await refused(ada, "session.note", **note) == "invalid_state"
    assert await h.server.store.user_notes("u1", 10) == []


async def test_the_longest_note_is_kept_whole(notes_server: Harness) -> None:
    """A note of exactly 2,000 characters is accepted and comes back unchanged."""
    h = notes_server
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await h.client("user", "u1", name="Tab")
    request_id = await ended_call(h, ada, user)
    session_id = (await h.server.store.request(request_id)).session_id  # type: ignore[union-attr]
    text = "é" * 2000
    await ada.call("session.note", session_id=session_id, text=text)
    (kept,) = await h.server.store.user_notes("u1", 10)
    assert kept.text == text
