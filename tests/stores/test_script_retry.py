"""A routing script sent again with the same call (what redis-py does when a dropped
connection or a Sentinel failover lost its answer) is not run twice: the second run
answers the first one's effects. Found by the failover test: an accept run twice was
refused the second time while its session stood, and the user was never told."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from mayday.protocol.errors import ProtocolError
from mayday.protocol.messages import HelpRequest
from mayday.routing.events import AdvisorConnected, AdvisorStateSet, HelpRequested, OfferAccepted
from mayday.stores.redis import RedisStore
from tests.redis_server import RedisServer
from tests.stores.test_contract import CONFIG


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisStore]:
    client = Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    redis_store = RedisStore.from_url(redis_server.url, CONFIG)
    yield redis_store
    await redis_store.close()


async def _offered(store: RedisStore) -> OfferAccepted:
    await store.apply(AdvisorConnected("a1", "Ada", frozenset()), 1.0)
    await store.apply(AdvisorStateSet("a1", "Ada", frozenset(), True), 1.0)
    await store.apply(HelpRequested("u1", "Una", "req_1", HelpRequest(topic="wifi")), 2.0)
    return OfferAccepted("a1", "req_1", "ses_1")


async def _run_twice(store: RedisStore, event: OfferAccepted, op: str) -> list[object]:
    name, args = store._args[type(event)](event)
    keys = [store.keys.queue, op]
    argv = [store.keys.prefix, repr(3.0), store._cfg, *args]
    return [await store._scripts[name](keys, argv) for _ in range(2)]


async def test_an_accept_sent_again_with_its_key_answers_its_effects_once(
    store: RedisStore,
) -> None:
    first, again = await _run_twice(store, await _offered(store), f"{store.keys.prefix}op:x1")
    assert first == again
    started = [e for e in json.loads(str(first)) if e.get("m", {}).get("type") == "session.started"]
    assert {e["sub"] for e in started} == {"a1", "u1"}
    session = await store.session("ses_1")
    assert session is not None and session.request_id == "req_1"


async def test_without_its_key_the_second_run_is_refused(store: RedisStore) -> None:
    """What the key prevents: the same accept run again as a new call is refused."""
    event = await _offered(store)
    name, args = store._args[type(event)](event)
    argv = [store.keys.prefix, repr(3.0), store._cfg, *args]
    await store._scripts[name]([store.keys.queue], argv)
    with pytest.raises(ProtocolError):
        await store._scripts[name]([store.keys.queue], argv)
