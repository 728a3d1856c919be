"""Request timelines survive a restart of the server process, on both backends: ``mayday
serve`` answers one call and has one request cancelled, is stopped with SIGTERM and started
again (memory: on the same MAYDAY_DATA_DIR, from history.sqlite3; Redis: a new process on
the same redis-server), and the new process still shows both requests with their whole
timelines to ops (the listing, one request, its history) and to the next advisor the
caller reaches (help.history)."""

from __future__ import annotations

from typing import Any

import aiohttp

from mayday.auth import issue_token
from mayday.client import HelpClosed, HelpOffer, SessionEnded, SessionStarted
from tests.conftest import SECRET
from tests.e2e.test_notes_restart import Clients, clients, start, start_args
from tests.serving import Served

__all__ = ["clients", "start_args"]  # the fixtures, shared with the notes' restart test


async def ops_get(served: Served, path: str) -> tuple[int, Any]:
    token = issue_token(SECRET, role="ops", sub="o1")
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.get(served.base + path, headers=headers) as r:
        return r.status, await r.json()


async def test_last_nights_requests_are_shown_after_a_restart(
    tmp_path: Any, start_args: list[str], clients: Clients
) -> None:
    """An answered call and a cancelled request made on one process are listed, shown one
    by one with their timelines, offered as the caller's history by the next one, and
    the call can still be rated there (within its hour), onto the kept timeline."""
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
        await ada.set_available(False)
        cancelled = await user.request_help(topic="Wi-Fi")
        await user.cancel(cancelled.request_id)
        await user.next(HelpClosed)
        _, answered_before = await ops_get(first, f"/api/ops/requests/{started.request_id}")
        await clients.close_all()
        assert first.stop() == 0

    second = start(tmp_path, "second", start_args)
    with second:
        status, listed = await ops_get(second, "/api/ops/requests?since=0")
        assert status == 200
        views = {v["request_id"]: v for v in listed["requests"]}
        assert [v["request_id"] for v in listed["requests"]] == [
            cancelled.request_id,
            started.request_id,
        ]
        assert views[cancelled.request_id]["outcome"] == "cancelled"
        status, answered = await ops_get(second, f"/api/ops/requests/{started.request_id}")
        assert status == 200 and answered == answered_before
        assert answered["outcome"] == "ended" and answered["advisor"] == "a1"
        events = [e["event"] for e in answered["timeline"]]
        assert events[0] == "requested" and events[-1] == "ended"
        assert "session.started" in events and "session.ended" in events
        status, history = await ops_get(second, f"/api/requests/{started.request_id}")
        assert status == 200 and history["timeline"] == answered["timeline"]

        user = await clients.connect(second, "user", "u1", "Tab")
        await user.call("session.rate", session_id=started.session_id, score=4)
        _, rated = await ops_get(second, f"/api/requests/{started.request_id}")
        assert [e["score"] for e in rated["timeline"] if e["event"] == "rated"] == [4]

        bo = await clients.connect(second, "advisor", "a2", "Bo")
        await bo.set_available()
        now = await user.request_help(topic="Printer")
        await bo.next(HelpOffer)
        ack = await bo.call("help.history", request_id=now.request_id)
        earlier = [(i["request_id"], i["outcome"]) for i in ack.fields["requests"]]
        assert earlier == [(cancelled.request_id, "cancelled"), (started.request_id, "ended")]
        await clients.close_all()
        second.stop()
