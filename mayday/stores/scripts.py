"""Redis plumbing in one place: the client, loading the Lua scripts, and reading their
refusals back as protocol errors.

Every script lives in a ``lua/`` folder of its package (``mayday.stores`` for the
routing, the relay and the tallies; ``mayday.sessions`` for the shared screen) and
is run with EVALSHA. A script refuses an operation with ``error({err =
"code:message"})`` before it writes anything (Redis does not roll a script back);
``Script`` turns that into the same ``ProtocolError`` the memory store raises.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from importlib import resources
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.stores.topology import RedisTarget, parse_redis_url

log = logging.getLogger(__name__)

_REFUSAL = re.compile(
    r"^(?P<code>[a-z_]+):(?P<message>.*?)(?: script: \w+, on @user_script:\d+\.)?$"
)


# Every Redis client Mayday holds: one server or a Sentinel master (``Redis``), or a
# cluster (``RedisCluster``); the stores take either.
RedisClient = Redis | RedisCluster

_RETRY_ON = [RedisConnectionError, RedisTimeoutError, ConnectionRefusedError]
# Every pool, whatever the topology: blocks 20 s for a free connection rather than
# failing a burst of frames, and retries through a brief outage (``connect``).
_POOL: dict[str, Any] = {
    "timeout": 20,
    "decode_responses": True,
    "retry_on_error": _RETRY_ON,
    "health_check_interval": 10,
    "socket_connect_timeout": 2,
}


def _retry() -> Retry:
    # About 10 s of retries: a restart, or a Sentinel or Cluster failover (a second or
    # two to notice, one more to promote), is ridden out instead of failing the frame.
    return Retry(ExponentialBackoff(cap=0.5, base=0.02), retries=25)


def connect(url: str, max_connections: int = 64) -> RedisClient:
    """A client for the topology ``url`` names (mayday/stores/topology.py) that retries
    through a brief Redis outage or failover instead of failing the frame.

    The pool blocks when all its connections are busy (a burst of frames waits its
    turn) instead of raising, as redis-py's default pool does.
    """
    target = parse_redis_url(url)
    if target.kind == "sentinel":
        return _sentinel_master(target, max_connections)
    if target.kind == "cluster":
        return _cluster(target, max_connections)
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, retry=_retry(), **_POOL
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


class _SentinelBlockingPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (it asks the sentinels where the master is, on every new
    connection) with the blocking wait of ``BlockingConnectionPool``."""


class _MasterConnection(SentinelManagedConnection):
    """A connection to the Sentinel master that asks the sentinels where it is before
    every socket it opens, reconnects included.

    redis-py asks only when the pool hands a connection out (``connect``). A command
    in flight when the master dies is retried on the same connection, and that
    reconnects (``send_packed_command`` -> ``connect_check_health`` -> ``_connect``)
    to the address it had: the dead master's, 25 retries of 25 for minutes, while
    the promoted replica waits (redis-py issue #3874). That was the failover test's
    hang: a frame whose script was in flight at the kill, and every frame of its
    socket behind it.
    """

    async def _connect_retry(self) -> None:
        if self._reader:
            return  # already connected
        # ``_connect`` asks the sentinels: ask once per socket, not twice.
        await self.connect_check_health(
            check_health=self.connection_pool.check_connection, retry_socket_connect=False
        )

    async def _connect(self) -> None:
        self.host, self.port = await self.connection_pool.get_master_address()
        await super()._connect()  # type: ignore[no-untyped-call]


# Sentinel: how long a script's caller waits for a replica to have its write (WAIT), and,
# when none acknowledged in that time (no replica connected, as after a failover until
# the old master comes back), how long scripts run without waiting before trying again.
REPLICA_WAIT_MS = 250
UNACKED_PAUSE_S = 5.0


class SentinelMaster(Redis):
    """The master of a Sentinel service; closing it closes the sentinels' clients too.

    Replication is asynchronous: a write the master acknowledged but had not yet sent to
    its replica is lost when Sentinel promotes that replica. So every script (each routing
    operation, relay batch, message, note and rating) is followed by ``WAIT 1`` on the
    same connection, in one round trip, and its caller sees the result only once a
    replica holds it: nothing a client was told is lost in a failover. Plain commands
    (heartbeats, tallies, the webhook outbox) do not wait (docs/deploy.md).
    """

    manager: Sentinel
    _unacked_until = 0.0

    async def run_acked(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA ``script`` and WAIT for one replica, in one pipeline (one connection)."""
        if time.monotonic() < self._unacked_until:
            return await script(keys=keys, args=args)
        for _ in range(2):
            async with self.pipeline(transaction=False) as pipe:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
                pipe.execute_command("WAIT", 1, REPLICA_WAIT_MS)
                result, acked = await pipe.execute(raise_on_error=False)
            if isinstance(result, NoScriptError):  # a new master, or a SCRIPT FLUSH
                script.sha = await self.script_load(script.script)
                continue
            if isinstance(result, Exception):
                raise result
            if isinstance(acked, int) and acked < 1:
                self._unacked_until = time.monotonic() + UNACKED_PAUSE_S
                log.warning(
                    "no Redis replica acknowledged a write within %d ms: until one does, "
                    "a failover can lose the latest writes",
                    REPLICA_WAIT_MS,
                )
            return result
        return await script(keys=keys, args=args)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        for client in self.manager.sentinels:
            await client.aclose()


def _sentinel_master(target: RedisTarget, max_connections: int) -> SentinelMaster:
    ask: dict[str, object] = {"socket_connect_timeout": 2, "socket_timeout": 2}
    if target.sentinel_password is not None:
        ask |= {"username": target.sentinel_username, "password": target.sentinel_password}
    sentinel = Sentinel(list(target.hosts), sentinel_kwargs=ask)  # type: ignore[no-untyped-call, unused-ignore]
    # A new connection asks the sentinels for the master; after a failover the old one's
    # connections fail, the retry reconnects, and so reaches the promoted replica.
    master = cast(
        SentinelMaster,
        sentinel.master_for(
            target.service,
            redis_class=SentinelMaster,
            connection_pool_class=_SentinelBlockingPool,
            connection_class=_MasterConnection,
            max_connections=max_connections,
            retry=_retry(),
            **_POOL,
            username=target.username,
            password=target.password,
        ),
    )
    master.manager = sentinel
    return master


def _cluster(target: RedisTarget, max_connections: int) -> RedisCluster:
    # Every Mayday key carries one hash tag (keys.py): all of them live on one shard,
    # whose master the client follows through MOVED and a failover.
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
        max_connections=max_connections,
        decode_responses=True,
        retry=_retry(),
        retry_on_error=_RETRY_ON,
        health_check_interval=10,
        socket_connect_timeout=2,
        username=target.username,
        password=target.password,
    )


def lua_source(name: str, package: str = "mayday.stores") -> str:
    return resources.files(package).joinpath(f"lua/{name}.lua").read_text()


class Script:
    """One Lua script of ``package``, with an optional prelude of the same package put in
    front of it (the routing twin of the core, or the board helpers)."""

    def __init__(
        self,
        redis: RedisClient,
        name: str,
        *,
        package: str = "mayday.stores",
        prelude: str | None = None,
    ) -> None:
        source = lua_source(name, package)
        if prelude is not None:
            source = lua_source(prelude, package) + "\n" + source
        self.name = name
        self._redis = redis
        self._script = redis.register_script(source)

    async def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run the script; a refusal it raised comes back as a ``ProtocolError``."""
        try:
            if isinstance(self._redis, SentinelMaster):
                return await self._redis.run_acked(self._script, list(keys), list(args))
            return await self._script(keys=list(keys), args=list(args))
        except ResponseError as exc:
            raise refusal(exc) from None


def refusal(exc: ResponseError) -> Exception:
    """The ``ProtocolError`` a script refused with, or ``exc`` itself for any other error."""
    match = _REFUSAL.match(str(exc))
    if match is None:
        return exc
    try:
        code = ErrorCode(match.group("code"))
    except ValueError:
        return exc
    return ProtocolError(code, match.group("message"))
