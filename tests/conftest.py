"""Shared fixtures: a real Mayday server on a free loopback port, and clients for it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis, RedisCluster

from mayday.auth import issue_token
from mayday.client import Backoff, MaydayClient
from mayday.settings import Settings
from mayday.stores.scripts import connect
from mayday.transport.app import bound_port, create_app, start
from mayday.transport.server import SERVER, Server
from tests.hangs import bounded
from tests.redis_server import RedisClusterServers, RedisServer, SentinelGroup

SECRET = "test-secret-0123456789abcdef0123456789"


@dataclass
class Harness:
    """One running server and the clients a test opened on it (closed at teardown)."""

    settings: Settings
    port: int
    server: Server
    clients: list[MaydayClient] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, role: str, sub: str, **claims: Any) -> str:
        return issue_token(self.settings.jwt_secret, role=role, sub=sub, **claims)

    async def get_json(self, path: str, token: str | None = None) -> tuple[int, Any]:
        """GET ``path`` of this server's HTTP API with ``token`` as the bearer (none:
        no Authorization header); the status and the JSON body."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.http_url}{path}", headers=headers) as resp,
        ):
            return resp.status, await resp.json()

    async def client(
        self, role: str, sub: str, *, reconnect: bool | Backoff = True, **claims: Any
    ) -> MaydayClient:
        c = await MaydayClient.connect(
            self.ws_url, self.token(role, sub, **claims), reconnect=reconnect
        )
        self.clients.append(c)
        return c


StartServer = Callable[..., Awaitable[Harness]]


async def two_nodes(start_server: StartServer, url: str, **overrides: object) -> list[Harness]:
    """Two server processes' worth of nodes on one Redis (in this process)."""
    return [await start_server(redis_url=url, **overrides) for _ in range(2)]


@pytest.fixture
async def start_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[StartServer]:
    """Start a server with the given setting overrides; everything stops after the test.
    Its data directory is a fresh temporary one unless given: no test writes notes into
    the home folder, nor reads another test's."""
    runners = []
    harnesses: list[Harness] = []

    async def _start(**overrides: Any) -> Harness:
        clock = overrides.pop("clock", None)
        data_dir = overrides.pop("data_dir", None) or tmp_path_factory.mktemp("data")
        settings = Settings(**{"port": 0, "jwt_secret": SECRET, "data_dir": data_dir, **overrides})
        app = create_app(settings, clock=clock)
        runner = await start(settings, app)
        runners.append(runner)
        harness = Harness(settings, bound_port(runner), app[SERVER])
        harnesses.append(harness)
        return harness

    yield _start
    for harness in harnesses:
        for c in harness.clients:
            with contextlib.suppress(Exception):
                await bounded("closing a client", c.close(), 10)
    for runner in runners:
        # Bounded, so that a stuck shutdown fails this test, with every task's stack,
        # instead of hanging the run.
        await bounded("stopping a server", runner.cleanup(), 60)


@pytest.fixture
async def mayday(start_server: StartServer) -> Harness:
    """A server with default settings."""
    return await start_server()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the whole run, on a free port; fails loudly if it can't start."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """The shared redis-server, emptied before the test."""
    client = Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    yield redis_server.url


# The Redis topologies a test can run on (docs/deploy.md): one server, a three-master
# Redis Cluster, a master and replica behind a Sentinel. Each starts once per run.
TOPOLOGIES = ("single", "cluster", "sentinel")
REDIS_PASSWORD = "topology-test-password"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A real Redis Cluster of three masters on loopback, with a password, for the run."""
    cluster = RedisClusterServers(tmp_path_factory.mktemp("cluster"), password=REDIS_PASSWORD)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    """A real master, its replica and a Sentinel watching them, with a password, for the run."""
    group = SentinelGroup(tmp_path_factory.mktemp("sentinel"), password=REDIS_PASSWORD)
    try:
        yield group.start()
    finally:
        group.stop()


def topology_url(request: pytest.FixtureRequest, topology: str) -> str:
    """The ``--redis`` URL of the run's Redis of ``topology`` (started on first use)."""
    if topology == "cluster":
        cluster: RedisClusterServers = request.getfixturevalue("redis_cluster")
        return cluster.url
    if topology == "sentinel":
        group: SentinelGroup = request.getfixturevalue("redis_sentinel")
        return group.url
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


async def flush(url: str) -> None:
    """Empty the Redis ``url`` names: every master of a cluster, or Sentinel's master."""
    client = connect(url)
    try:
        if isinstance(client, RedisCluster):
            await client.flushall(target_nodes=RedisCluster.PRIMARIES)
        else:
            await client.flushall()
    finally:
        await client.aclose()


@pytest.fixture(params=TOPOLOGIES)
async def any_redis_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """Each Redis topology in turn (one server, Cluster, Sentinel), emptied before the test."""
    url = topology_url(request, request.param)
    await flush(url)
    yield url
