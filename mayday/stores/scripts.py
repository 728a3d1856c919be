"""Redis plumbing in one place: the client, loading the Lua scripts, and reading their
refusals back as protocol errors.

Every script lives in a ``lua/`` folder of its package (``mayday.stores`` for the
routing, the relay and the tallies; ``mayday.sessions`` for the shared screen) and
is run with EVALSHA. A script refuses an operation with ``error({err =
"code:message"})`` before it writes anything (Redis does not roll a script back);
``Script`` turns that into the same ``ProtocolError`` the memory store raises.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mayday.protocol.errors import ErrorCode, ProtocolError

_REFUSAL = re.compile(
    r"^(?P<code>[a-z_]+):(?P<message>.*?)(?: script: \w+, on @user_script:\d+\.)?$"
)


def connect(url: str, max_connections: int = 64) -> Redis:
    """A client that retries through a brief Redis outage instead of failing the frame.

    The pool blocks when all its connections are busy (a burst of frames waits its
    turn) instead of raising, as redis-py's default pool does.
    """
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.02), retries=25)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=20,
        decode_responses=True,
        retry=retry,
        retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionRefusedError],
        health_check_interval=10,
        socket_connect_timeout=2,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


def lua_source(name: str, package: str = "mayday.stores") -> str:
    return resources.files(package).joinpath(f"lua/{name}.lua").read_text()


class Script:
    """One Lua script of ``package``, with an optional prelude of the same package put in
    front of it (the routing twin of the core, or the board helpers)."""

    def __init__(
        self,
        redis: Redis,
        name: str,
        *,
        package: str = "mayday.stores",
        prelude: str | None = None,
    ) -> None:
        source = lua_source(name, package)
        if prelude is not None:
            source = lua_source(prelude, package) + "\n" + source
        self.name = name
        self._script = redis.register_script(source)

    async def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run the script; a refusal it raised comes back as a ``ProtocolError``."""
        try:
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
