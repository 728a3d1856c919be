"""Advisors' notes, one contract for both stores: the memory store with its SQLite file and
the Redis store on a real redis-server keep, replace, bound and hand back notes alike, and a
new store on the same file or the same Redis finds them again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from mayday.routing.config import RouterConfig
from mayday.stores import MemoryStore, Store
from mayday.stores.notes import NOTES_FILE, NOTES_KEPT, Note, NoteFile
from mayday.stores.redis import RedisStore
from tests.redis_server import RedisServer

CONFIG = RouterConfig(history_ttl_s=3600.0)
Opener = Callable[[], Store]


@pytest.fixture(params=["memory", "redis"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens a store on the same durable place each time it is called: the memory store on
    one notes file, the Redis store on one (emptied) redis-server."""
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
            store = MemoryStore(CONFIG, notes=NoteFile(tmp_path / NOTES_FILE, CONFIG.history_ttl_s))
        else:
            store = RedisStore.from_url(url, CONFIG)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        await store.close()


def note(request_id: str, text: str, *, user: str = "u1", at: float = 100.0) -> Note:
    call = {"request_id": request_id, "requested_at": at, "topic": "Printer", "outcome": "ended"}
    return Note(request_id, user, f"ses_{request_id}", "a1", "Ada", text, at + 60.0, call)


async def test_notes_come_back_newest_call_first_and_per_user(open_store: Opener) -> None:
    """Each user's notes, newest call first; another user's are not among them."""
    store = open_store()
    await store.save_note(note("r1", "first", at=100.0))
    await store.save_note(note("r2", "second", at=200.0))
    await store.save_note(note("r9", "someone else", user="u2", at=300.0))
    assert [n.text for n in await store.user_notes("u1", 10)] == ["second", "first"]
    assert [n.text for n in await store.user_notes("u2", 10)] == ["someone else"]
    assert await store.user_notes("u3", 10) == []
    assert [n.text for n in await store.user_notes("u1", 1)] == ["second"]


async def test_a_later_note_on_the_same_call_replaces_the_earlier(open_store: Opener) -> None:
    """Writing the note of a call again keeps only the new text, with everything else."""
    store = open_store()
    await store.save_note(note("r1", "draft"))
    final = note("r1", "final words")
    await store.save_note(final)
    assert await store.user_notes("u1", 10) == [final]


async def test_a_caller_keeps_the_notes_of_their_latest_calls_only(open_store: Opener) -> None:
    """Past NOTES_KEPT notes for one caller, the notes of their oldest calls are forgotten."""
    store = open_store()
    for i in range(NOTES_KEPT + 3):
        await store.save_note(note(f"r{i}", f"call {i}", at=1000.0 + i))
    kept = await store.user_notes("u1", 100)
    assert len(kept) == NOTES_KEPT
    assert kept[0].text == f"call {NOTES_KEPT + 2}"
    assert kept[-1].text == "call 3"


async def test_notes_outlive_the_store_that_wrote_them(open_store: Opener) -> None:
    """A store opened afresh on the same file (memory) or Redis finds the notes, whole."""
    first = open_store()
    written = note("r1", "Reinstalled the driver; call back if it jams.")
    await first.save_note(written)
    await first.close()
    assert await open_store().user_notes("u1", 10) == [written]


async def test_a_store_that_sees_no_note_makes_no_file(tmp_path: Path) -> None:
    """Reading notes where none were ever written leaves the data directory alone."""
    path = tmp_path / "data" / NOTES_FILE
    store = MemoryStore(CONFIG, notes=NoteFile(path, CONFIG.history_ttl_s))
    assert await store.user_notes("u1", 10) == []
    await store.close()
    assert not path.parent.exists()


async def test_old_notes_are_forgotten_after_the_history_ttl(tmp_path: Path) -> None:
    """The memory store drops notes written longer than history_ttl_s ago."""
    store = MemoryStore(CONFIG, notes=NoteFile(tmp_path / NOTES_FILE, CONFIG.history_ttl_s))
    await store.save_note(note("r1", "old", at=0.0))
    await store.save_note(note("r2", "new", at=CONFIG.history_ttl_s + 100.0))
    assert [n.text for n in await store.user_notes("u1", 10)] == ["new"]
    await store.close()


async def test_redis_keeps_a_callers_notes_for_the_history_ttl(redis_url: str) -> None:
    """The notes hash of a caller expires history_ttl_s after its latest note."""
    store = RedisStore.from_url(redis_url, CONFIG)
    await store.save_note(note("r1", "kept a while"))
    ttl = await store.redis.ttl(store.keys.notes("u1"))
    assert CONFIG.history_ttl_s - 5 < ttl <= CONFIG.history_ttl_s
    await store.close()
