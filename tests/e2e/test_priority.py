"""A user's priority comes from their token and orders the queue, end to end on both
backends (issue 11)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from mayday.client import HelpOffer, HelpQueued
from tests.conftest import Harness, StartServer
from tests.redis_server import RedisServer


@pytest.fixture(params=["memory", "redis"])
async def server(request: pytest.FixtureRequest, start_server: StartServer) -> Harness:
    if request.param == "memory":
        return await start_server()
    redis: RedisServer = request.getfixturevalue("redis_server")
    client = Redis.from_url(redis.url)
    await client.flushall()
    await client.aclose()
    return await start_server(redis_url=redis.url)


async def ops_view(h: Harness, request_id: str) -> Any:
    headers = {"Authorization": f"Bearer {h.token('ops', 'ops-1')}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{h.http_url}/api/ops/requests/{request_id}", headers=headers) as resp,
    ):
        assert resp.status == 200
        return await resp.json()


async def test_a_priority_token_goes_ahead_and_a_frame_field_does_not(server: Harness) -> None:
    """A user whose token says priority 1 is put ahead of two who pressed Help seconds
    earlier and is offered first; a `priority` field in a plain user's frame changes
    nothing; the request's view and timeline show the priority."""
    first = await server.client("user", "u1", name="First")
    sneaky = await server.client("user", "u2", name="Sneaky")
    vip = await server.client("user", "vip", name="Pro", priority=1)
    q1 = await first.request_help()
    q2 = await sneaky.request_help(priority=10)  # not a field of help.request: ignored
    q3 = await vip.request_help()
    assert (q1.position, q2.position, q3.position) == (1, 2, 1)
    moved = await first.next(HelpQueued, where=lambda e: e.position == 2)
    assert moved.request_id == q1.request_id
    assert (await sneaky.next(HelpQueued, where=lambda e: e.position == 3)).request_id == (
        q2.request_id
    )
    advisor = await server.client("advisor", "a1", name="Ada")
    await advisor.set_available()
    offer = await advisor.next(HelpOffer)
    assert (offer.request_id, offer.user) == (q3.request_id, {"id": "vip", "name": "Pro"})
    await advisor.accept(offer.request_id)
    view = await ops_view(server, q3.request_id)
    assert view["priority"] == 1
    assert view["timeline"][0] == {
        "t": view["requested_at"],
        "event": "requested",
        "skills": [],
        "priority": 1,
    }
    assert (await ops_view(server, q2.request_id))["priority"] == 0
