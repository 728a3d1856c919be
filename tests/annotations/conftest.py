"""The end-to-end annotation tests run on both stores: in memory, and on a real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from tests.conftest import Harness, StartServer
from tests.redis_server import RedisServer


@pytest.fixture(params=["memory", "redis"])
async def mayday(request: pytest.FixtureRequest, start_server: StartServer) -> Harness:
    """A server with default settings, on the memory store or on the shared redis-server
    (emptied first)."""
    if request.param == "memory":
        return await start_server()
    redis_server: RedisServer = request.getfixturevalue("redis_server")
    client = Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    return await start_server(redis_url=redis_server.url)
