"""A rating survives a restart of the server process, on both backends: ``mayday serve``
takes a call's rating and note, is stopped with SIGTERM and started again (memory: on the
same MAYDAY_DATA_DIR; Redis: a new process on the same redis-server), and ops read the
rating and the note in GET /api/requests/{request_id} from the new process."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from mayday.auth import issue_token
from mayday.client import HelpOffer, SessionEnded, SessionStarted
from tests.conftest import SECRET
from tests.e2e.test_notes_restart import Clients, clients, start, start_args

__all__ = ["clients", "start_args"]  # the fixtures, shared with the notes' restart test


async def test_a_rating_is_in_the_requests_history_after_a_restart(
    tmp_path: Path, start_args: list[str], clients: Clients
) -> None:
    """A call rated and noted on one server process is shown with its rating and note by
    the process started after it, the request itself with its rated entry too."""
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
        await user.call("session.rate", session_id=started.session_id, score=4, comment="Kind.")
        await ada.call("session.note", session_id=started.session_id, text="Paper tray.")
        await clients.close_all()
        assert first.stop() == 0

    second = start(tmp_path, "second", start_args)
    with second:
        token = issue_token(SECRET, role="ops", sub="o1")
        url = f"{second.base}/api/requests/{started.request_id}"
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
        ):
            assert response.status == 200
            body = await response.json()
        second.stop()
    assert body["rating"]["score"] == 4 and body["rating"]["comment"] == "Kind."
    assert [n["text"] for n in body["notes"]] == ["Paper tray."]
    assert body["outcome"] == "ended" and body["user_id"] == "u1"
    assert [e["score"] for e in body["timeline"] if e["event"] == "rated"] == [4]
