"""A request that expires, on both stores (the memory store and a real redis-server): the
same ``help.closed`` (``leave_message`` when its user is connected) and, when its user is
away, the same ``ExpiredAway`` effect; on Redis, two nodes expiring it at once get that
effect once between them."""

from __future__ import annotations

import asyncio

from mayday.protocol.messages import HelpClosed, HelpRequest
from mayday.routing.events import (
    Disconnected,
    ExpiredAway,
    HelpRequested,
    Reconnected,
    RequestExpired,
)
from mayday.routing.model import RequestState
from mayday.stores import Store
from mayday.stores.messages import expired_message
from mayday.stores.redis import RedisStore
from tests.redis_server import RedisServer
from tests.stores.test_contract import CONFIG, sent, store  # noqa: F401

TTL = CONFIG.request_ttl_s


async def ask(s: Store, user: str, request_id: str, now: float, topic: str | None) -> None:
    await s.apply(HelpRequested(user, user.title(), request_id, HelpRequest(topic)), now)


async def test_connected_user_is_offered_a_message(store: Store) -> None:  # noqa: F811
    """Its user connected (or back from a drop): leave_message true, nothing left for them."""
    await ask(store, "u1", "r1", 1.0, "Printer")
    await ask(store, "u2", "r2", 1.0, None)
    await store.apply(Disconnected("user", "u2"), 2.0)
    await store.apply(Reconnected("user", "u2", resumed=False), 3.0)
    for request_id in ("r1", "r2"):
        effects = await store.apply(RequestExpired(request_id), 1.0 + TTL)
        assert sent(effects, HelpClosed) == [HelpClosed(request_id, "expired", True)]
        assert not [e for e in effects if isinstance(e, ExpiredAway)]


async def test_user_away_gets_the_expired_away_effect(store: Store) -> None:  # noqa: F811
    """Its user dropped and within the grace: ExpiredAway with the request's user, name,
    topic and press time, help.closed without leave_message, outcome expired; once."""
    await ask(store, "u1", "r1", 1.0, "Printer")
    await ask(store, "u2", "r2", 1.5, None)
    await store.apply(Disconnected("user", "u1"), 4.0)
    await store.apply(Disconnected("user", "u2"), 4.0)
    effects = await store.apply(RequestExpired("r1"), 1.0 + TTL)
    assert [e for e in effects if isinstance(e, ExpiredAway)] == [
        ExpiredAway("r1", "u1", "U1", "Printer", 1.0)
    ]
    assert sent(effects, HelpClosed) == [HelpClosed("r1", "expired", False)]
    effects = await store.apply(RequestExpired("r2"), 1.5 + TTL)
    assert [e for e in effects if isinstance(e, ExpiredAway)] == [
        ExpiredAway("r2", "u2", "U2", None, 1.5)
    ]
    assert await store.apply(RequestExpired("r1"), 2.0 + TTL) == []
    request = await store.request("r1")
    assert request is not None and request.state is RequestState.EXPIRED


async def test_the_message_left_is_kept_once_and_listed(store: Store) -> None:  # noqa: F811
    """The message made from ExpiredAway is open in the inbox with origin expired, the
    request id and the text saying when Help was pressed; saved twice, it is still one."""
    left = expired_message(ExpiredAway("r1", "u1", "U1", "Printer", 1764754800.0), 1764755700.0)
    await store.save_message(left)
    await store.save_message(left)
    [shown] = await store.messages("open", 10)
    assert shown == left
    view = shown.view()
    assert (view["message_id"], view["origin"], view["request_id"]) == (
        "msg_r1",
        "expired",
        "r1",
    )
    assert view["text"] == (
        "Pressed Help at 2025-12-03T09:40:00Z, topic Printer; "
        "nobody answered within the wait limit."
    )
    assert (view["user"], view["contact"], view["left_at"]) == (
        {"id": "u1", "name": "U1"},
        None,
        1764755700.0,
    )


async def test_two_nodes_expiring_at_once_leave_one_message(redis_server: RedisServer) -> None:
    """On Redis, two nodes (two clients) apply the same expiry at the same moment: one of
    them gets ExpiredAway, the other nothing."""
    one = RedisStore.from_url(redis_server.url, CONFIG)
    two = RedisStore.from_url(redis_server.url, CONFIG)
    try:
        await one.redis.flushall()
        for n in range(20):
            await ask(one, f"u{n}", f"r{n}", 1.0, None)
            await one.apply(Disconnected("user", f"u{n}"), 2.0)
        results = await asyncio.gather(
            *(s.apply(RequestExpired(f"r{n}"), 1.0 + TTL) for n in range(20) for s in (one, two))
        )
        found = [e for effects in results for e in effects if isinstance(e, ExpiredAway)]
        assert sorted(e.request_id for e in found) == sorted(f"r{n}" for n in range(20))
    finally:
        await one.close()
        await two.close()
