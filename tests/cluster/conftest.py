"""The cluster tests' fixture: real server processes on the shared redis-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
import redis as redis_sync

from tests.cluster.nodes import Node
from tests.redis_server import RedisServer


class StartNodes(Protocol):
    def __call__(self, count: int, **settings: str) -> list[Node]: ...


@pytest.fixture
def start_nodes(redis_server: RedisServer, tmp_path: Path) -> Iterator[StartNodes]:
    """Start server processes on the shared (emptied) redis-server; all stop after the test."""
    with redis_sync.Redis.from_url(redis_server.url) as client:
        client.flushall()
    nodes: list[Node] = []

    def start(count: int, **settings: str) -> list[Node]:
        for _ in range(count):
            nodes.append(Node(redis_server.url, tmp_path / f"node{len(nodes)}.log", **settings))
        return list(nodes)

    yield start
    for node in nodes:
        node.stop()
