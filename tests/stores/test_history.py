"""What a request's history is read from, one contract for both stores: the memory store
with its SQLite files and the Redis store on a real redis-server keep and replace ratings
(on the request's timeline too), find a note and the messages by the request they are
about, and a new store on the same files or the same Redis finds them all again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from mayday.protocol.messages import HelpRequest
from mayday.routing.config import RouterConfig
from mayday.routing.events import HelpRequested
from mayday.stores import MemoryStore, Store
from mayday.stores.messages import MESSAGES_FILE, Message, MessageFile
from mayday.stores.notes import NOTES_FILE, Note, NoteFile
from mayday.stores.ratings import RATINGS_FILE, Rating, RatingFile
from mayday.stores.redis import RedisStore
from tests.redis_server import RedisServer

CONFIG = RouterConfig(history_ttl_s=3600.0)
Opener = Callable[[], Store]


@pytest.fixture(params=["memory", "redis"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens a store on the same durable place each time it is called: the memory store on
    one data folder, the Redis store on one (emptied) redis-server."""
    opened: list[Store] = []
    url = ""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url = server.url
        client = Redis.from_url(url)
        await client.flushall()
        await client.aclose()

    def _open() -> Store:
        store: Store
        if request.param == "memory":
            store = MemoryStore(
                CONFIG,
                notes=NoteFile(tmp_path / NOTES_FILE, CONFIG.history_ttl_s),
                messages=MessageFile(tmp_path / MESSAGES_FILE),
                ratings=RatingFile(tmp_path / RATINGS_FILE, CONFIG.history_ttl_s),
            )
        else:
            store = RedisStore.from_url(url, CONFIG)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        await store.close()


def rating(score: int, comment: str | None = None, *, at: float = 200.0) -> Rating:
    return Rating("r1", "ses_1", "u1", "a1", score, comment, at)


async def requested(store: Store, request_id: str = "r1") -> None:
    await store.apply(HelpRequested("u1", "Tab", request_id, HelpRequest()), 100.0)


async def rated_entries(store: Store, request_id: str = "r1") -> list[tuple[float, dict]]:
    req = await store.request(request_id)
    assert req is not None
    return [(e.t, e.data) for e in req.timeline if e.event == "rated"]


async def test_a_rating_is_kept_and_a_later_one_replaces_it(open_store: Opener) -> None:
    """The rating of a request comes back whole; rating again keeps only the new one, on
    the timeline too (one rated entry, with the new score)."""
    store = open_store()
    await requested(store)
    assert await store.rating("r1") is None
    first = rating(2, "Slow to answer.")
    await store.save_rating(first)
    assert await store.rating("r1") == first
    assert await rated_entries(store) == [(200.0, {"score": 2})]
    second = rating(5, at=260.0)
    await store.save_rating(second)
    assert await store.rating("r1") == second
    assert await rated_entries(store) == [(260.0, {"score": 5})]
    assert await store.rating("r2") is None


async def test_a_note_is_on_the_timeline_once_and_a_rewrite_replaces_it(
    open_store: Opener,
) -> None:
    """session.note is on the request's timeline too: one noted entry with the advisor (no
    text), moved to the rewrite's time when the note is written again."""
    store = open_store()
    await requested(store)
    call = {"request_id": "r1", "requested_at": 100.0}
    await store.save_note(Note("r1", "u1", "ses_1", "a1", "Ada", "Printer jam", 200.0, call))
    await store.save_note(
        Note("r1", "u1", "ses_1", "a1", "Ada", "Printer jam, tray 2", 230.0, call)
    )
    req = await store.request("r1")
    assert req is not None
    noted = [(e.t, e.data) for e in req.timeline if e.event == "noted"]
    assert noted == [(230.0, {"advisor": "a1"})]
    assert all("Printer" not in str(e.data) for e in req.timeline)


async def test_a_rating_outlives_the_store_that_wrote_it(open_store: Opener) -> None:
    """A store opened afresh on the same files (memory) or Redis finds the rating, whole,
    even where the request itself is forgotten (the memory store)."""
    first = open_store()
    await requested(first)
    kept = rating(4, "Kind and quick.")
    await first.save_rating(kept)
    await first.close()
    assert await open_store().rating("r1") == kept


async def test_a_rating_of_a_forgotten_request_is_kept_without_a_timeline(
    open_store: Opener,
) -> None:
    """Rating a request whose timeline is gone keeps the rating and makes no timeline."""
    store = open_store()
    await store.save_rating(rating(3))
    assert await store.rating("r1") == rating(3)
    assert await store.request("r1") is None
    if isinstance(store, RedisStore):
        assert not await store.redis.exists(store.keys.timeline("r1"))


async def test_notes_and_messages_are_found_by_their_request(open_store: Opener) -> None:
    """A note is found by its request (and its user, which Redis files it under); the
    messages that name a request come back oldest first, and only those; all of them
    again from a store opened afresh."""
    store = open_store()
    note = Note("r1", "u1", "ses_1", "a1", "Ada", "Reset the router.", 300.0, {})
    await store.save_note(note)
    later = Message("m2", "u1", "Tab", "Still down.", None, "r1", 500.0)
    earlier = Message("m1", "u1", "Tab", "Down again.", "+33 6", "r1", 400.0)
    await store.save_message(later)
    await store.save_message(earlier)
    await store.save_message(Message("m3", "u1", "Tab", "Other.", None, "r2", 450.0))
    await store.save_message(Message("m4", "u1", "Tab", "No request.", None, None, 460.0))
    await store.close()
    again = open_store()
    assert await again.note("r1", "u1") == note
    assert await again.note("r2", "u1") is None
    assert [m.id for m in await again.request_messages("r1")] == ["m1", "m2"]
    assert await again.request_messages("r1") == [earlier, later]
    assert await again.request_messages("r9") == []


async def test_redis_keeps_a_rating_for_the_history_ttl(redis_url: str) -> None:
    """The rating hash of a request expires history_ttl_s after it was written, and the
    timeline it was put on keeps the expiry it had."""
    store = RedisStore.from_url(redis_url, CONFIG)
    await store.redis.flushall()
    await requested(store)
    await store.save_rating(rating(5))
    ttl = await store.redis.ttl(store.keys.rating("r1"))
    assert CONFIG.history_ttl_s - 5 < ttl <= CONFIG.history_ttl_s
    assert await store.redis.ttl(store.keys.timeline("r1")) == -1  # open: kept till it ends
    await store.close()


async def test_the_memory_store_forgets_ratings_after_the_history_ttl(tmp_path: Path) -> None:
    """Ratings written longer than history_ttl_s ago are dropped from the file."""
    ratings = RatingFile(tmp_path / RATINGS_FILE, CONFIG.history_ttl_s)
    await ratings.save(Rating("r1", "s1", "u1", "a1", 1, None, 0.0))
    await ratings.save(Rating("r2", "s2", "u1", "a1", 5, None, CONFIG.history_ttl_s + 100.0))
    assert await ratings.get("r1") is None
    assert (await ratings.get("r2")) is not None
    await ratings.close()


async def test_a_store_that_sees_no_rating_makes_no_file(tmp_path: Path) -> None:
    """Reading ratings, notes and messages of a request where none were ever written
    leaves the data directory alone."""
    data = tmp_path / "data"
    store = MemoryStore(
        CONFIG,
        notes=NoteFile(data / NOTES_FILE, CONFIG.history_ttl_s),
        messages=MessageFile(data / MESSAGES_FILE),
        ratings=RatingFile(data / RATINGS_FILE, CONFIG.history_ttl_s),
    )
    assert await store.rating("r1") is None
    assert await store.note("r1", "u1") is None
    assert await store.request_messages("r1") == []
    await store.close()
    assert not data.exists()


async def test_messages_are_found_by_request_through_an_index(tmp_path: Path) -> None:
    """SQLite finds the messages of a request through its index, not a scan of them all."""
    messages = MessageFile(tmp_path / MESSAGES_FILE)
    await messages.save(Message("m1", "u1", "Tab", "Hello.", None, "r1", 1.0))
    plan = messages._open().execute(
        "EXPLAIN QUERY PLAN SELECT body FROM messages WHERE json_extract(body, '$.request_id') = ?",
        ("r1",),
    )
    assert any("messages_by_request" in str(row) for row in plan)
    await messages.close()
