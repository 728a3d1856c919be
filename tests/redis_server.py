"""Real Redis that tests start on free loopback ports, and can kill and restart: one
redis-server, a three-master Redis Cluster, or a master and a replica that a Sentinel
watches (and fails over when the master is killed)."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PortTaken(RuntimeError):
    """redis-server could not bind a port it was given."""


class RedisServer:
    """One redis-server process in the foreground of its own temporary directory."""

    def __init__(
        self,
        directory: Path,
        *,
        appendonly: bool = False,
        password: str | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.binary, self.directory, self.appendonly = _binary(), directory, appendonly
        self.password, self.extra = password, list(args)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._started = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start (or start again, on the same ports). A port picked free can be taken by
        another process before redis-server binds it (parallel test workers): the first
        start then tries again on fresh ports, twice at most."""
        for attempt in range(3):
            try:
                return self._start()
            except PortTaken:
                if self._started or attempt == 2:
                    raise
                self._fresh_ports()
        raise AssertionError("unreachable")

    def _fresh_ports(self) -> None:
        """New ports, and none of what the failed start left (its log, a cluster node's
        config naming the old ports)."""
        self.port = free_port()
        (self.directory / "redis.log").unlink(missing_ok=True)
        for i, arg in enumerate(self.extra[:-1]):
            if arg == "--cluster-port":
                self.extra[i + 1] = str(free_port())
            elif arg == "--cluster-config-file":
                Path(self.extra[i + 1]).unlink(missing_ok=True)

    def _start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        args += ["--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always"]
        args += ["--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")]
        if self.password is not None:  # a replica authenticates to its master with it too
            args += ["--requirepass", self.password, "--masterauth", self.password]
        args += self.extra
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()
        self._started = True
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                if self.process.stderr is not None:
                    self.process.stderr.close()
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                why = PortTaken if "Address already in use" in log else RuntimeError
                raise why(f"redis-server exited with {self.process.returncode}: {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port} within 10 s")

    def cli(self, *args: str) -> str:
        """A command through redis-cli (authenticated), its answer as text."""
        return cli(self.port, *args, password=self.password)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save; what survives is what the AOF holds."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()


def _binary(name: str = "redis-server") -> str:
    binary = shutil.which(name)
    if binary is None:
        raise RuntimeError(f"{name} is not installed: run `make test`, which installs it")
    return binary


def cli(port: int, *args: str, password: str | None = None) -> str:
    """``redis-cli -p PORT ARGS``; REDISCLI_AUTH keeps the password off the command line."""
    env = {**os.environ, **({"REDISCLI_AUTH": password} if password is not None else {})}
    done = subprocess.run(
        [_binary("redis-cli"), "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``check`` until it holds; fail loudly, naming ``what``, if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what}: not within {timeout:.0f} s")


class RedisClusterServers:
    """A real Redis Cluster of three masters (no replicas) on loopback, made with
    ``redis-cli --cluster create``; each node's bus port is a free port too."""

    def __init__(self, directory: Path, *, password: str | None = None, masters: int = 3) -> None:
        self.password = password
        self.nodes = []
        for i in range(masters):
            node_dir = directory / f"node{i}"
            args = ["--cluster-enabled", "yes", "--cluster-port", str(free_port())]
            args += ["--cluster-config-file", str(node_dir / "nodes.conf")]
            args += ["--cluster-node-timeout", "2000"]
            self.nodes.append(RedisServer(node_dir, password=password, args=args))

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        auth = f":{self.password}@" if self.password is not None else ""
        return f"redis+cluster://{auth}{hosts}"

    def start(self) -> RedisClusterServers:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        first = self.nodes[0]
        cli(first.port, "--cluster", "create", *addresses, "--cluster-yes", password=self.password)
        for node in self.nodes:
            wait_for(f"cluster node {node.port} ok", functools.partial(_cluster_ok, node))
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _cluster_ok(node: RedisServer) -> bool:
    return "cluster_state:ok" in node.cli("cluster", "info")


class SentinelGroup:
    """A master, one replica of it, and one Sentinel that watches them: it calls the
    master down after a second of silence and promotes the replica."""

    service = "mayday"

    def __init__(self, directory: Path, *, password: str) -> None:
        self.directory, self.password = directory, password
        self.master = RedisServer(directory / "master", password=password)
        self.replica = RedisServer(directory / "replica", password=password)
        self.sentinel_port = free_port()
        self.sentinel: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://:{self.password}@127.0.0.1:{self.sentinel_port}/{self.service}"

    @property
    def servers(self) -> list[RedisServer]:
        return [self.master, self.replica]

    def start(self) -> SentinelGroup:
        self.master.start()
        self.replica.extra = ["--replicaof", "127.0.0.1", str(self.master.port)]
        self.replica.start()
        wait_for("replica in sync", lambda: self._in_sync(self.replica))
        self._start_sentinel()
        return self

    def _in_sync(self, replica: RedisServer) -> bool:
        return "master_link_status:up" in replica.cli("info", "replication")

    def _start_sentinel(self) -> None:
        d = self.directory / "sentinel"
        d.mkdir(parents=True, exist_ok=True)
        name = self.service
        conf = [
            f"port {self.sentinel_port}",
            "bind 127.0.0.1",
            f"dir {d}",
            f"logfile {d / 'sentinel.log'}",
            f"sentinel monitor {name} 127.0.0.1 {self.master.port} 1",
            f"sentinel auth-pass {name} {self.password}",
            f"sentinel down-after-milliseconds {name} 1000",
            f"sentinel failover-timeout {name} 5000",
        ]
        (d / "sentinel.conf").write_text("\n".join(conf) + "\n")
        self.sentinel = subprocess.Popen(
            [_binary(), str(d / "sentinel.conf"), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for("sentinel sees the replica", lambda: self._sentinel_sees_replica(d))

    def _sentinel_sees_replica(self, d: Path) -> bool:
        assert self.sentinel is not None
        if self.sentinel.poll() is not None:
            log = (d / "sentinel.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-sentinel exited with {self.sentinel.returncode}: {log}")
        try:
            replicas = cli(self.sentinel_port, "sentinel", "replicas", self.service)
        except RuntimeError:
            return False
        lines = replicas.split()
        return "flags" in lines and lines[lines.index("flags") + 1] == "slave"

    def master_port(self) -> int:
        """The master's port as the Sentinel sees it now."""
        answer = cli(self.sentinel_port, "sentinel", "get-master-addr-by-name", self.service)
        return int(answer.split()[1])

    def kill_master(self) -> RedisServer:
        """SIGKILL the current master; returns it (its replica is promoted within seconds)."""
        port = self.master_port()
        killed = next(s for s in self.servers if s.port == port)
        killed.kill()
        return killed

    def wait_promoted(self, old_port: int, timeout: float = 20.0) -> None:
        wait_for("sentinel failover", lambda: self.master_port() != old_port, timeout)

    def stop(self) -> None:
        if self.sentinel is not None and self.sentinel.poll() is None:
            self.sentinel.terminate()
            self.sentinel.wait(timeout=10)
        for server in self.servers:
            server.stop()
