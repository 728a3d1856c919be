"""Finished requests and erasing a user, one contract for both stores: the memory store with
its SQLite files (history.sqlite3 among them) and the Redis store on a real redis-server
keep a finished request with its whole timeline and session where a store opened afresh
finds it (ops listing, the user's history, by id, by session), and erase one user's
requests, messages, notes, ratings and session audit logs, leaving everyone else's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from mayday.metrics.timeline import request_view
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.protocol.messages import HelpRequest
from mayday.routing.config import RouterConfig
from mayday.routing.events import (
    AdvisorStateSet,
    HelpCancelled,
    HelpRequested,
    MediaReported,
    OfferAccepted,
    SessionEndRequested,
)
from mayday.routing.model import USER_BUSY, Request, RequestState, SessionState
from mayday.sessions.redis_store import RedisSessionsStore
from mayday.sessions.store import MemorySessionsStore, SessionsStore
from mayday.stores import MemoryStore, Store
from mayday.stores.history import HISTORY_FILE, HistoryFile
from mayday.stores.memory import HELD_WITH_HISTORY_FILE
from mayday.stores.messages import MESSAGES_FILE, Message, MessageFile, Reply
from mayday.stores.notes import NOTES_FILE, Note, NoteFile
from mayday.stores.ratings import RATINGS_FILE, Rating, RatingFile
from mayday.stores.redis import RedisStore
from tests.redis_server import RedisServer

CONFIG = RouterConfig(history_ttl_s=3600.0)
Opener = Callable[[], tuple[Store, SessionsStore]]


def memory_store(data: Path, config: RouterConfig = CONFIG) -> MemoryStore:
    ttl = config.history_ttl_s
    return MemoryStore(
        config,
        notes=NoteFile(data / NOTES_FILE, ttl),
        messages=MessageFile(data / MESSAGES_FILE),
        ratings=RatingFile(data / RATINGS_FILE, ttl),
        history=HistoryFile(data / HISTORY_FILE, ttl),
    )


@pytest.fixture(params=["memory", "redis"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens a store (and its sessions store) on the same durable place each time it is
    called: the memory store on one data folder, the Redis store on one (emptied) Redis."""
    opened: list[Store] = []
    url = ""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url = server.url
        client = Redis.from_url(url)
        await client.flushall()
        await client.aclose()

    def _open() -> tuple[Store, SessionsStore]:
        store: Store
        boards: SessionsStore
        if request.param == "memory":
            store, boards = memory_store(tmp_path), MemorySessionsStore()
        else:
            redis_store = RedisStore.from_url(url, CONFIG)
            store, boards = redis_store, RedisSessionsStore(redis_store.redis, redis_store.keys)
        opened.append(store)
        return store, boards

    yield _open
    for store in opened:
        await store.close()


async def ended_call(
    store: Store,
    boards: SessionsStore,
    user: str,
    n: int,
    *,
    at: float = 100.0,
) -> tuple[str, str]:
    """User ``user`` asks for help, advisor a1 takes the call, the user pauses sharing
    once (an audit entry), the advisor ends it; (request id, session id)."""
    request_id, session_id = f"r_{user}_{n}", f"ses_{user}_{n}"
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), at)
    await store.apply(HelpRequested(user, "Tab", request_id, HelpRequest(topic="Printer")), at)
    await store.apply(OfferAccepted("a1", request_id, session_id), at + 5.0)
    session = await store.session(session_id)
    assert session is not None
    await boards.share(session, True, user, at + 10.0)
    await store.apply(SessionEndRequested("advisor", "a1", session_id, "resolved"), at + 60.0)
    return request_id, session_id


async def cancelled(store: Store, user: str, request_id: str, at: float) -> None:
    await store.apply(HelpRequested(user, "Tab", request_id, HelpRequest(topic="Wifi")), at)
    await store.apply(HelpCancelled(user, request_id), at + 3.0)


def kept(req: Request | None) -> tuple[object, ...]:
    """What a finished request keeps (the live routing fields aside, as Redis does)."""
    assert req is not None
    return (request_view(req), req.skills, req.device, req.language, req.offer_no)


async def test_a_finished_request_is_read_back_by_a_store_opened_afresh(
    open_store: Opener,
) -> None:
    """An ended call and a cancelled request come back whole (fields, timeline, session)
    from a store opened on the same files or Redis: by id, in the ops listing, in the
    user's history, and the session by its id."""
    store, boards = open_store()
    request_id, session_id = await ended_call(store, boards, "u1", 1)
    await cancelled(store, "u1", "r_u1_2", 300.0)
    before = await store.request(request_id)
    cancel_before = await store.request("r_u1_2")
    session_before = await store.session(session_id)
    await store.close()

    again, _ = open_store()
    assert kept(await again.request(request_id)) == kept(before)
    assert kept(await again.request("r_u1_2")) == kept(cancel_before)
    found = await again.request(request_id)
    assert found is not None and found.state is RequestState.ENDED
    assert found.topic == "Printer" and found.session_id == session_id
    events = [e.event for e in found.timeline]
    assert events[0] == "requested" and events[-1] == "ended" and "session.ended" in events
    assert await again.session(session_id) == session_before
    assert session_before is not None and session_before.state is SessionState.ENDED
    listed = await again.recent_requests(0.0, 10)
    assert [r.id for r in listed] == ["r_u1_2", request_id]
    assert [r.id for r in await again.user_requests("u1", 10)] == ["r_u1_2", request_id]
    assert [r.id for r in await again.user_requests("u1", 1)] == ["r_u1_2"]
    assert await again.user_requests("u2", 10) == []
    assert await again.request("r_nobody") is None


async def test_a_rating_after_a_restart_joins_the_kept_timeline(open_store: Opener) -> None:
    """A call rated from a store opened after it ended gets its rated entry on the
    timeline that store reads back, and a store opened after that too."""
    store, boards = open_store()
    request_id, session_id = await ended_call(store, boards, "u1", 1)
    await store.close()
    second, _ = open_store()
    await second.save_rating(Rating(request_id, session_id, "u1", "a1", 5, "Quick.", 200.0))
    await second.close()
    third, _ = open_store()
    found = await third.request(request_id)
    assert found is not None
    assert [(e.event, e.data) for e in found.timeline[-1:]] == [("rated", {"score": 5})]


async def test_a_media_report_after_the_end_is_kept_on_the_timeline(open_store: Opener) -> None:
    """A peer's last media.state (closed) that arrives after the call ended is on the
    timeline a store opened afresh reads back, after the end entries."""
    store, boards = open_store()
    request_id, session_id = await ended_call(store, boards, "u1", 1)
    await store.apply(MediaReported("user", "u1", session_id, "closed", None), 170.0)
    await store.close()
    again, _ = open_store()
    found = await again.request(request_id)
    assert found is not None
    assert [(e.event, e.data) for e in found.timeline[-2:]] == [
        ("ended", {}),
        ("media.closed", {"side": "user"}),
    ]


async def test_the_newest_requests_come_first_across_the_restart(open_store: Opener) -> None:
    """Requests finished before a restart and after it are listed together, newest first,
    at most the limit asked for."""
    store, _ = open_store()
    await cancelled(store, "u1", "r_old", 100.0)
    await store.close()
    again, _ = open_store()
    await cancelled(again, "u1", "r_new", 500.0)
    assert [r.id for r in await again.recent_requests(0.0, 10)] == ["r_new", "r_old"]
    assert [r.id for r in await again.recent_requests(0.0, 1)] == ["r_new"]
    assert [r.id for r in await again.recent_requests(400.0, 10)] == ["r_new"]
    assert [r.id for r in await again.user_requests("u1", 10)] == ["r_new", "r_old"]


async def user_data(store: Store, boards: SessionsStore, user: str) -> tuple[str, str]:
    """Everything that is kept about one user: an ended, rated and noted call with an
    audit entry, a cancelled request, a message answered and one still open."""
    request_id, session_id = await ended_call(store, boards, user, 1)
    await store.save_rating(Rating(request_id, session_id, user, "a1", 4, "Kind.", 170.0))
    note = Note(request_id, user, session_id, "a1", "Ada", "Paper tray.", 180.0, {})
    await store.save_note(note)
    await cancelled(store, user, f"r_{user}_2", 300.0)
    answered = Message(f"m_{user}_1", user, "Tab", "Still down.", None, f"r_{user}_2", 310.0)
    await store.save_message(answered)
    await store.reply_message(answered.id, Reply("Try again.", "a1", "Ada", 320.0))
    await store.save_message(Message(f"m_{user}_2", user, "Tab", "Hello?", None, None, 330.0))
    return request_id, session_id


async def test_erasing_a_user_takes_all_of_theirs_and_nothing_else(open_store: Opener) -> None:
    """The erase answers how many of each kind it took; then nothing of the user is found
    (requests, sessions, timelines, messages and replies, notes, ratings, audit), even by
    a store opened afresh, while another user's data is all still there."""
    store, boards = open_store()
    request_id, session_id = await user_data(store, boards, "u1")
    other_request, other_session = await user_data(store, boards, "u2")
    erased = await store.erase_user("u1")
    audit = await boards.erase("u1", erased.session_ids)
    assert erased.counts(audit) == {
        "requests": 2,
        "messages": 2,
        "notes": 1,
        "ratings": 1,
        "audit_entries": 1,
    }
    assert erased.session_ids == (session_id,)
    await store.close()

    again, boards_again = open_store()
    if isinstance(store, MemoryStore):
        boards_again = boards  # the memory store's boards live in the process only
    for one in (request_id, "r_u1_2"):
        assert await again.request(one) is None
        assert await again.rating(one) is None
        assert await again.request_messages(one) == []
    assert await again.session(session_id) is None
    assert await again.user_requests("u1", 10) == []
    assert await again.user_notes("u1", 10) == []
    assert await again.note(request_id, "u1") is None
    assert await again.message("m_u1_1") is None and await again.message("m_u1_2") is None
    assert await again.unread_replies("u1") == []
    assert await boards_again.audit(session_id) == []
    listed = {r.id for r in await again.recent_requests(0.0, 10)}
    assert listed == {other_request, "r_u2_2"}

    assert await again.session(other_session) is not None
    assert await again.rating(other_request) is not None
    assert [n.request_id for n in await again.user_notes("u2", 10)] == [other_request]
    assert [m.id for m in await again.messages("open", 10)] == ["m_u2_2"]
    assert [m.id for m in await again.messages("answered", 10)] == ["m_u2_1"]
    assert [m.id for m in await again.unread_replies("u2")] == ["m_u2_1"]
    assert len(await boards_again.audit(other_session)) == 1


async def test_erasing_again_erases_nothing(open_store: Opener) -> None:
    """A second erase of the same user, and the erase of a user never seen, take nothing."""
    store, boards = open_store()
    await user_data(store, boards, "u1")
    first = await store.erase_user("u1")
    assert first.requests == 2
    await boards.erase("u1", first.session_ids)
    second = await store.erase_user("u1")
    assert second.counts(await boards.erase("u1", second.session_ids)) == dict.fromkeys(
        ("requests", "messages", "notes", "ratings", "audit_entries"), 0
    )
    assert (await store.erase_user("u_never")).counts(0)["requests"] == 0


async def test_a_user_with_a_request_open_is_not_erased(open_store: Opener) -> None:
    """While the user waits, or is in a call, the erase is refused with invalid_state and
    takes nothing; once the call ended it goes through."""
    store, _ = open_store()
    await cancelled(store, "u1", "r_done", 50.0)
    await store.apply(HelpRequested("u1", "Tab", "r_wait", HelpRequest()), 100.0)
    with pytest.raises(ProtocolError) as refused:
        await store.erase_user("u1")
    assert refused.value.code is ErrorCode.INVALID_STATE
    assert refused.value.message == USER_BUSY
    assert await store.request("r_done") is not None
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 110.0)
    await store.apply(OfferAccepted("a1", "r_wait", "ses_1"), 115.0)
    with pytest.raises(ProtocolError):
        await store.erase_user("u1")
    await store.apply(SessionEndRequested("user", "u1", "ses_1", "done"), 200.0)
    assert (await store.erase_user("u1")).requests == 2


async def test_the_memory_store_forgets_finished_requests_after_the_history_ttl(
    tmp_path: Path,
) -> None:
    """A request that finished more than history_ttl_s before a later one finished is
    dropped from history.sqlite3; the later one is kept."""
    store = memory_store(tmp_path)
    await cancelled(store, "u1", "r_old", 0.0)
    await store.close()
    store = memory_store(tmp_path)
    await cancelled(store, "u1", "r_new", CONFIG.history_ttl_s + 100.0)
    await store.close()
    again = memory_store(tmp_path)
    assert await again.request("r_old") is None
    assert await again.request("r_new") is not None
    await again.close()


async def test_the_memory_store_reads_a_request_past_its_history_limit(tmp_path: Path) -> None:
    """Past the router's history limit a finished request is read from the file, even
    before a restart: the file keeps what the router forgets."""
    store = memory_store(tmp_path, RouterConfig(history_ttl_s=3600.0, history_limit=2))
    for n in range(4):
        await cancelled(store, "u1", f"r{n}", 100.0 + n)
    assert "r0" not in store.router.requests
    assert (await store.request("r0")) is not None
    assert [r.id for r in await store.user_requests("u1", 10)] == ["r3", "r2", "r1", "r0"]
    await store.close()


async def test_with_a_history_file_the_router_holds_fewer_finished_requests(
    tmp_path: Path,
) -> None:
    """Issue 16 (memory flat under load): with its history file the memory store's router
    holds the newest HELD_WITH_HISTORY_FILE finished requests, not history_limit, and
    every older one is still read, from the file; without a file it holds history_limit,
    since nothing else keeps them."""
    config = RouterConfig(history_ttl_s=3600.0, history_limit=HELD_WITH_HISTORY_FILE + 20)
    store, bare = memory_store(tmp_path, config), MemoryStore(config)
    for n in range(HELD_WITH_HISTORY_FILE + 10):
        for s in (store, bare):
            await cancelled(s, f"u{n}", f"r{n}", 100.0 + n)
    assert len(store.router.requests) == HELD_WITH_HISTORY_FILE
    assert len(bare.router.requests) == HELD_WITH_HISTORY_FILE + 10
    oldest = await store.request("r0")
    assert oldest is not None and oldest.state is RequestState.CANCELLED
    assert [r.id for r in await store.user_requests("u0", 10)] == ["r0"]
    recent = await store.recent_requests(0.0, HELD_WITH_HISTORY_FILE + 10)
    assert len(recent) == HELD_WITH_HISTORY_FILE + 10
    await store.close()
    await bare.close()


async def test_an_open_request_is_not_written_to_history(tmp_path: Path) -> None:
    """The memory store writes a request when it finishes, not before: a waiting request
    is gone after a restart (live routing state is not kept), and no file is made."""
    data = tmp_path / "data"
    store = memory_store(data)
    await store.apply(HelpRequested("u1", "Tab", "r_wait", HelpRequest()), 100.0)
    await store.close()
    assert not (data / HISTORY_FILE).exists()
    assert await memory_store(data).request("r_wait") is None
