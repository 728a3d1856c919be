"""The webhook outbox, one contract for both backends: the SQLite file of the embedded
store and Redis (a real redis-server) queue, lease, settle and keep deliveries alike, and
a new outbox on the same file or the same Redis finds what the old one left."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from mayday.stores.keys import Keys
from mayday.stores.scripts import RedisClient, connect
from mayday.webhooks.outbox import WEBHOOKS_FILE, Attempt, Delivery, Outbox, SqliteOutbox
from mayday.webhooks.redis_outbox import RedisOutbox
from tests.conftest import TOPOLOGIES, flush, topology_url

Opener = Callable[[], Outbox]


@pytest.fixture(params=["memory", *(f"redis-{t}" for t in TOPOLOGIES)])
async def open_outbox(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens an outbox on the same durable place each time: one file, or one Redis (of
    each topology: one server, a three-master Cluster, a Sentinel's master)."""
    opened: list[Outbox] = []
    clients: list[RedisClient] = []
    url = ""
    if request.param != "memory":
        url = topology_url(request, request.param.removeprefix("redis-"))
        await flush(url)

    def _open() -> Outbox:
        outbox: Outbox
        if request.param == "memory":
            outbox = SqliteOutbox(tmp_path / WEBHOOKS_FILE)
        else:
            clients.append(connect(url))
            outbox = RedisOutbox(clients[-1], Keys())
        opened.append(outbox)
        return outbox

    yield _open
    for outbox in opened:
        await outbox.close()
    for c in clients:
        await c.aclose()


def delivery(n: int, at: float = 100.0) -> Delivery:
    return Delivery(f"msg_{n}.ep_1", f"msg_{n}", "ep_1", "help.closed", f'{{"n":{n}}}', at, at)


def attempt(d: Delivery, at: float, outcome: str, next_at: float | None) -> Attempt:
    status = 200 if outcome == "delivered" else 500
    return Attempt(
        d.id, d.webhook_id, d.endpoint, "https://a/h", d.type, d.attempts + 1, at, 3.0,
        status, None, outcome, next_at,
    )  # fmt: skip


async def test_due_deliveries_are_leased_once_until_the_lease_ends(open_outbox: Opener) -> None:
    """A claim takes the due deliveries oldest first; a second claim meanwhile gets none of
    them; once the lease ran out (its node died) they are due again."""
    outbox = open_outbox()
    await outbox.add([delivery(1, 100.0), delivery(2, 101.0), delivery(3, 500.0)])
    first = await outbox.claim(200.0, 30.0, 10)
    assert [d.id for d in first] == ["msg_1.ep_1", "msg_2.ep_1"]
    assert await outbox.claim(210.0, 30.0, 10) == []
    again = await outbox.claim(231.0, 30.0, 1)
    assert [d.id for d in again] == ["msg_1.ep_1"]
    assert await outbox.pending() == 3


async def test_a_settled_attempt_sets_the_next_try_or_ends_it(open_outbox: Opener) -> None:
    """A retry is due at its next time with its attempt counted; a delivered one is not due
    again; every attempt is listed, newest first."""
    outbox = open_outbox()
    d1, d2 = delivery(1), delivery(2)
    await outbox.add([d1, d2])
    await outbox.claim(100.0, 30.0, 10)
    await outbox.settle(d1, attempt(d1, 100.0, "retry", 105.0))
    await outbox.settle(d2, attempt(d2, 100.5, "delivered", None))
    assert await outbox.claim(104.0, 30.0, 10) == []
    (retried,) = await outbox.claim(105.0, 30.0, 10)
    assert retried.id == d1.id and retried.attempts == 1 and retried.body == d1.body
    assert await outbox.pending() == 1
    listed = await outbox.attempts(10)
    assert [(a.delivery_id, a.outcome) for a in listed] == [(d2.id, "delivered"), (d1.id, "retry")]


async def test_the_outbox_survives_a_restart(open_outbox: Opener) -> None:
    """A delivery queued, and the attempts and disabled endpoints recorded, are found by a
    new outbox on the same file or Redis: a restart loses no webhook."""
    old = open_outbox()
    d1 = delivery(1)
    await old.add([d1, delivery(2)])
    (claimed, _) = await old.claim(100.0, 30.0, 10)
    await old.settle(claimed, attempt(claimed, 100.0, "retry", 106.0))
    await old.disable("ep_9", {"at": 100.0, "status": 410})
    await old.close()
    new = open_outbox()
    assert [d.id for d in await new.claim(131.0, 30.0, 10)] == [d1.id, "msg_2.ep_1"]
    assert [a.delivery_id for a in await new.attempts(10)] == [d1.id]
    assert (await new.disabled())["ep_9"]["status"] == 410
    assert await new.enable("ep_9") is True
    assert await new.disabled() == {}
    assert await new.enable("ep_9") is False


async def test_the_attempt_log_is_bounded(open_outbox: Opener) -> None:
    """Ops see the latest 500 attempts; older ones are dropped, not kept forever."""
    outbox = open_outbox()
    d = delivery(1)
    await outbox.add([d])
    for n in range(510):
        await outbox.settle(d, attempt(d, 100.0 + n, "retry", 1e9))
    listed = await outbox.attempts(1000)
    assert len(listed) == 500 and listed[0].at == 609.0
