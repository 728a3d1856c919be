"""Which Redis a ``--redis`` URL names: one server, a master that Sentinel watches, or a
Redis Cluster.

- ``redis://`` ``rediss://`` ``unix://``: one server (redis-py's own URL forms).
- ``redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE_NAME``: ask
  those sentinels for the master of ``SERVICE_NAME``, and again after a failover.
- ``redis+cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]``: a Redis Cluster, found
  from those startup nodes.

The user and password are those of the Redis servers that hold the data (the master and
its replicas, or the cluster's nodes); the sentinels are asked without them unless
``?sentinel_password=`` (and ``sentinel_username=``) is given. The URL is parsed once,
when the settings are read, so a wrong one stops the server at start with a message
that names the part at fault, and never shows the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote

SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"
SINGLE_SCHEMES = ("redis", "rediss", "unix")
_SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")

Kind = Literal["single", "sentinel", "cluster"]


class RedisUrlError(ValueError):
    """A ``--redis`` URL that names no Redis; the message never holds the password."""


@dataclass(frozen=True)
class RedisTarget:
    kind: Kind
    url: str  # the URL as given (for "single", redis-py reads it itself)
    hosts: tuple[tuple[str, int], ...] = ()  # the sentinels, or the cluster's startup nodes
    service: str = ""  # Sentinel: the name of the master it watches
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None


def parse_redis_url(url: str) -> RedisTarget:
    """The topology ``url`` names; ``RedisUrlError`` if it names none."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise RedisUrlError("the Redis URL needs a scheme: redis://, redis+sentinel:// or ...")
    if scheme in SINGLE_SCHEMES:
        return RedisTarget("single", url)
    if scheme not in (SENTINEL_SCHEME, CLUSTER_SCHEME):
        names = ", ".join(f"{s}://" for s in (*SINGLE_SCHEMES, SENTINEL_SCHEME, CLUSTER_SCHEME))
        raise RedisUrlError(f"unknown Redis URL scheme {scheme}://, expected one of {names}")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    username, password = _credentials(userinfo) if at else (None, None)
    hosts = _hosts(hostlist, scheme)
    options = _options(query, scheme)
    if scheme == CLUSTER_SCHEME:
        if path.strip("/"):
            raise RedisUrlError("a redis+cluster:// URL has no path: a cluster has one database")
        return RedisTarget("cluster", url, hosts, username=username, password=password)
    service = unquote(path.strip("/"))
    if not service or "/" in service:
        raise RedisUrlError(
            "a redis+sentinel:// URL ends with the service name: "
            "redis+sentinel://HOST:PORT[,HOST:PORT...]/SERVICE_NAME"
        )
    return RedisTarget(
        "sentinel",
        url,
        hosts,
        service,
        username,
        password,
        options.get("sentinel_username"),
        options.get("sentinel_password"),
    )


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    user, colon, password = userinfo.partition(":")
    return (unquote(user) or None, unquote(password) if colon else None)


def _hosts(hostlist: str, scheme: str) -> tuple[tuple[str, int], ...]:
    hosts = []
    for item in hostlist.split(","):
        host, colon, port = item.strip().rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RedisUrlError(
                f"{scheme}:// needs HOST:PORT[,HOST:PORT...] with every port given, "
                f"not {item.strip()!r}"
            )
        hosts.append((host.strip("[]"), int(port)))
    return tuple(hosts)


def _options(query: str, scheme: str) -> dict[str, str]:
    raw = parse_qs(query, keep_blank_values=True)
    allowed = _SENTINEL_OPTIONS if scheme == SENTINEL_SCHEME else ()
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        known = ", ".join(allowed) or "none"
        # Option names only: a value may be a password.
        raise RedisUrlError(f"{scheme}:// does not take {', '.join(unknown)} (options: {known})")
    return {name: values[-1] for name, values in raw.items()}
