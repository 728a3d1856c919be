"""The tests' own redis-server: a port picked free but taken before redis-server binds it
(another test worker got there first) does not fail the first start; a restart keeps
its port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.redis_server import PortTaken, RedisClusterServers, RedisServer


def taken() -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


def test_a_first_start_on_a_taken_port_moves_to_a_free_one(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    with taken() as holder:
        server.port = holder.getsockname()[1]
        server.start()
        try:
            assert server.port != holder.getsockname()[1]
            assert server.cli("ping").strip() == "PONG"
        finally:
            server.stop()


def test_a_restart_keeps_its_port_and_fails_loudly_if_it_is_taken(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    port = server.port
    server.kill()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(PortTaken):
            server.start()
    assert server.port == port


def test_a_cluster_node_whose_bus_port_is_taken_gets_another(tmp_path: Path) -> None:
    cluster = RedisClusterServers(tmp_path)
    node = cluster.nodes[0]
    with taken() as holder:
        at = node.extra.index("--cluster-port") + 1
        node.extra[at] = str(holder.getsockname()[1])
        cluster.start()
        try:
            assert node.extra[at] != str(holder.getsockname()[1])
            assert "cluster_state:ok" in node.cli("cluster", "info")
        finally:
            cluster.stop()
