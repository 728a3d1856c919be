"""Ratings and a request's history through the real app, on both backends: only the user
of the call rates it (during it or up to an hour after), a later rating replaces the
earlier, and GET /api/requests/{request_id} gives ops the request's view with its rating,
the advisor's note and the messages its user left for it; every refusal has its stable
code, and the socket stays open after each."""

from __future__ import annotations

import contextlib
import csv
import io
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from mayday.client import HelpOffer, HelpQueued, MaydayClient, MaydayError, SessionStarted
from mayday.stores import MemoryStore
from mayday.stores.history import HISTORY_FILE
from mayday.transport.handlers import NOTE_WINDOW_S
from tests.conftest import Harness, StartServer
from tests.e2e.test_console_data import Clock, ended_call, ops_get
from tests.redis_server import RedisServer

T0 = 1_000_000.0


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture(params=["memory", "redis"])
async def rating_server(
    request: pytest.FixtureRequest, start_server: StartServer, tmp_path: Path, clock: Clock
) -> Harness:
    """A server per backend on ``clock``: the memory one with its files in a temporary
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


async def session_of(h: Harness, request_id: str) -> str:
    req = await h.server.store.request(request_id)
    assert req is not None and req.session_id is not None
    return req.session_id


async def history(h: Harness, request_id: str, role: str = "ops") -> tuple[int, Any]:
    return await ops_get(h, f"/api/requests/{request_id}", h.token(role, f"{role}1"))


async def test_the_user_rates_the_call_and_ops_read_it_with_the_note(
    rating_server: Harness, clock: Clock
) -> None:
    """The user rates the call after it ended; rating again replaces the first; ops get
    the request's view with the rating, one rated entry on its timeline, and Ada's note."""
    h = rating_server
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await h.client("user", "u1", name="Tab")
    request_id = await ended_call(h, ada, user)
    session_id = await session_of(h, request_id)
    ack = await user.call("session.rate", session_id=session_id, score=2, comment=" Slow. ")
    assert ack.fields == {
        "request_id": request_id,
        "rating": {
            "session_id": session_id,
            "advisor_id": "a1",
            "score": 2,
            "comment": "Slow.",
            "rated_at": T0,
        },
    }
    clock.now += 60
    await user.call("session.rate", session_id=session_id, score=5)
    await ada.call("session.note", session_id=session_id, text="Driver reinstalled.")

    status, body = await history(h, request_id)
    assert status == 200
    assert (body["request_id"], body["user_id"], body["outcome"]) == (request_id, "u1", "ended")
    assert body["advisor"] == "a1" and body["topic"] == "Printer"
    assert body["rating"] == {
        "session_id": session_id,
        "advisor_id": "a1",
        "score": 5,
        "comment": None,
        "rated_at": T0 + 60,
    }
    assert [(e["t"], e["score"]) for e in body["timeline"] if e["event"] == "rated"] == [
        (T0 + 60, 5)
    ]
    assert body["notes"] == [
        {
            "session_id": session_id,
            "advisor": {"id": "a1", "name": "Ada"},
            "text": "Driver reinstalled.",
            "written_at": T0 + 60,
        }
    ]
    assert body["messages"] == []


async def test_the_request_lists_carry_the_score(rating_server: Harness, clock: Clock) -> None:
    """GET /api/ops/requests (JSON and CSV) and ops.update's recent requests give each
    request its rating_score: the latest score of a rated call, null for one not rated."""
    h = rating_server
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await h.client("user", "u1", name="Tab")
    unrated = await ended_call(h, ada, user)
    rated = await ended_call(h, ada, user)
    session_id = await session_of(h, rated)
    await user.call("session.rate", session_id=session_id, score=2)
    clock.now += 1
    await user.call("session.rate", session_id=session_id, score=5, comment="Thanks.")
    ops = h.token("ops", "ops1")

    _, listed = await ops_get(h, "/api/ops/requests", ops)
    scores = {v["request_id"]: v["rating_score"] for v in listed["requests"]}
    assert scores == {unrated: None, rated: 5}
    _, summary = await ops_get(h, "/api/ops/summary", ops)
    assert {r["request_id"]: r["rating_score"] for r in summary["recent"]} == scores
    headers = {"Authorization": f"Bearer {ops}"}
    url = h.http_url + "/api/ops/requests?format=csv"
    async with aiohttp.ClientSession(headers=headers) as http, http.get(url) as r:
        rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert {row["request_id"]: row["rating_score"] for row in rows} == {unrated: "", rated: "5"}
    _, one = await ops_get(h, f"/api/ops/requests/{rated}", ops)
    assert one["rating_score"] == 5


async def test_a_call_may_be_rated_while_it_runs(rating_server: Harness) -> None:
    """The user may rate during the call; the rating is on the request afterwards."""
    h = rating_server
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await h.client("user", "u1", name="Tab")
    queued = await user.request_help(topic="Wi-Fi")
    started = await ada.accept((await ada.next(HelpOffer)).request_id)
    await user.next(SessionStarted)
    await user.call("session.rate", session_id=started.session_id, score=4)
    await ada.end_session(started.session_id)
    _, body = await history(h, queued.request_id)
    assert body["rating"]["score"] == 4
    assert body["outcome"] == "ended"


async def test_only_the_user_of_the_call_may_rate_it(rating_server: Harness, clock: Clock) -> None:
    """Another user, the advisor, ops and an unknown session are refused, and so are bad
    scores and comments and a rating sent over an hour after the call ended; nothing is
    kept, and the user's socket still answers."""
    h = rating_server
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await h.client("user", "u1", name="Tab")
    request_id = await ended_call(h, ada, user)
    session_id = await session_of(h, request_id)
    other = await h.client("user", "u2", name="Other")
    ops = await h.client("ops", "o1")
    rate = {"session_id": session_id, "score": 5}

    assert await refused(other, "session.rate", **rate) == "forbidden"
    assert await refused(ada, "session.rate", **rate) == "forbidden"
    assert await refused(ops, "session.rate", **rate) == "forbidden"
    assert await refused(user, "session.rate", session_id="ses_nope", score=5) == "not_found"
    for score in (0, 6, True, 4.5, "5", None):
        bad = await refused(user, "session.rate", session_id=session_id, score=score)
        assert bad == "invalid_field", score
    too_long = {"session_id": session_id, "score": 3, "comment": "x" * 1001}
    assert await refused(user, "session.rate", **too_long) == "invalid_field"
    assert await refused(user, "session.rate", session_id=session_id, score=3, comment=7) == (
        "invalid_field"
    )
    clock.now += NOTE_WINDOW_S + 1
    assert await refused(user, "session.rate", **rate) == "invalid_state"
    assert await h.server.store.rating(request_id) is None
    assert (await user.call("ping")).fields["time"] == clock.now


async def test_a_rating_an_hour_after_the_call_is_still_taken(
    rating_server: Harness, clock: Clock
) -> None:
    """At exactly NOTE_WINDOW_S after the end, the rating is still within the window."""
    h = rating_server
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await h.client("user", "u1", name="Tab")
    request_id = await ended_call(h, ada, user)
    clock.now += NOTE_WINDOW_S
    await user.call("session.rate", session_id=await session_of(h, request_id), score=1)
    kept = await h.server.store.rating(request_id)
    assert kept is not None and kept.score == 1


async def test_the_history_holds_the_message_left_for_the_request(
    rating_server: Harness,
) -> None:
    """A request that nobody could answer and that became a message shows that message in
    its history, and no rating or note."""
    h = rating_server
    user = await h.client("user", "u1", name="Tab")
    queued: HelpQueued = await user.request_help(topic="Printer")
    left = await user.call(
        "message.leave", text="Printer jams.", request_id=queued.request_id, contact="+33 6"
    )
    await user.call("message.leave", text="Another, for no request.")
    status, body = await history(h, queued.request_id)
    assert status == 200
    assert body["outcome"] == "message"
    assert [(m["message_id"], m["text"], m["contact"]) for m in body["messages"]] == [
        (left.fields["message_id"], "Printer jams.", "+33 6")
    ]
    assert (body["rating"], body["notes"]) == (None, [])


async def test_the_history_is_for_ops_only_and_404_for_an_unknown_request(
    rating_server: Harness,
) -> None:
    """An advisor or user token gets 403, no token 401, an unknown request 404."""
    h = rating_server
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await h.client("user", "u1", name="Tab")
    request_id = await ended_call(h, ada, user)
    assert (await history(h, request_id, "advisor"))[0] == 403
    assert (await history(h, request_id, "user"))[0] == 403
    assert (await ops_get(h, f"/api/requests/{request_id}"))[0] == 401
    status, body = await history(h, "req_unknown")
    assert (status, body["code"]) == (404, "not_found")


async def test_a_forgotten_request_still_shows_what_was_kept(
    start_server: StartServer, tmp_path: Path, clock: Clock
) -> None:
    """A server started afresh on the same data directory whose history no longer keeps
    the request (past its time to keep, or a folder from before history.sqlite3) still
    returns the rating and the note of it, with the request's own fields null but its
    user's id (from the note alone too); a request nothing was kept of is 404 there."""
    first = await start_server(data_dir=tmp_path, clock=clock)
    ada = await first.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await first.client("user", "u1", name="Tab")
    request_id = await ended_call(first, ada, user)
    unrated = await ended_call(first, ada, user)
    noted_only = await ended_call(first, ada, user)
    await ada.call("session.note", session_id=await session_of(first, noted_only), text="Jam.")
    session_id = await session_of(first, request_id)
    await user.call("session.rate", session_id=session_id, score=3, comment="OK.")
    await ada.call("session.note", session_id=session_id, text="Paper tray.")
    _, kept_body = await history(first, request_id)
    store = first.server.store
    assert isinstance(store, MemoryStore)
    await store.history.flush()
    with contextlib.closing(sqlite3.connect(tmp_path / HISTORY_FILE)) as db, db:
        db.execute("DELETE FROM requests")

    again = await start_server(data_dir=tmp_path, clock=clock)
    assert await again.server.store.request(request_id) is None
    status, body = await history(again, request_id)
    assert status == 200
    assert (body["request_id"], body["user_id"]) == (request_id, "u1")
    assert body["outcome"] is None and body["timeline"] is None
    assert list(body) == list(kept_body)  # the same fields, in the same order
    assert body["rating"]["score"] == 3 and body["rating"]["comment"] == "OK."
    assert [n["text"] for n in body["notes"]] == ["Paper tray."]
    assert (await history(again, unrated))[0] == 404
    status, body = await history(again, noted_only)
    assert (status, body["user_id"], body["rating"]) == (200, "u1", None)
    assert [n["text"] for n in body["notes"]] == ["Jam."]
