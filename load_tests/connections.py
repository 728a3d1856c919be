"""Connections: idle authenticated WebSockets on one server process, and RSS per connection.

    python -m load_tests.connections --connections 10000 --procs 4 --hold 3

Opens ``--connections`` WebSockets, each with its own user token, spread over
``--procs`` client processes on loopback; each waits for the server's
``hello`` (so each is authenticated and registered), then all sit idle for
``--hold`` seconds. Server RSS (VmRSS from /proc) is read after one warm-up
connection and again once all are open and settled; the difference over the
count is the memory per idle connection. The bare floor relay gets the same
treatment for comparison: what aiohttp itself costs per socket.

The open-file limit is raised to its hard limit (``resource.setrlimit``) in
this process, so the servers inherit it, and in each client process. Every
wait is bounded; client processes exit by themselves after ``--deadline``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import resource
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe

import aiohttp

from load_tests.common import (
    SECRET,
    RunningServer,
    child_server,
    machine,
    mayday_server,
)
from mayday.auth import issue_token

CONNECT_CONCURRENCY = 64


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft open-file limit towards ``wanted`` (up to the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------- client processes
async def _hold(url: str, target: str, first: int, count: int, pipe: Pipe, deadline: float) -> None:
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    failures: list[str] = []

    async def open_one(i: int) -> None:
        if target == "mayday":
            token = issue_token(SECRET, role="user", sub=f"idle-{i}", ttl_s=3600)
            params = {"token": token}
        else:
            params = {"room": f"idle-{i}"}
        async with gate:
            try:
                ws = await http.ws_connect(url, params=params, heartbeat=None)
                if target == "mayday":
                    msg = await ws.receive(timeout=30)
                    if msg.type is not aiohttp.WSMsgType.TEXT or '"hello"' not in msg.data:
                        raise ConnectionError(f"no hello: {msg.type.name}")
                sockets.append(ws)
            except Exception as exc:  # counted and reported, never fatal for the others
                failures.append(f"{type(exc).__name__}: {exc}")

    try:
        async with asyncio.timeout(max(1.0, deadline - time.time())):
            await asyncio.gather(*(open_one(i) for i in range(first, first + count)))
            pipe.send((len(sockets), failures[:3], len(failures)))
            # Each socket reads, as a browser's does, so that it answers the server's pings.
            readers = [asyncio.create_task(_read(ws)) for ws in sockets]
            # Idle until the parent says to close; the sockets answer pings by themselves.
            told = asyncio.Event()
            asyncio.get_running_loop().add_reader(pipe.fileno(), told.set)
            await told.wait()
            pipe.recv()
            for reader in readers:
                reader.cancel()
    except TimeoutError:
        pass
    finally:
        for ws in sockets:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 1)
        await http.close()


async def _read(ws: aiohttp.ClientWebSocketResponse) -> None:
    async for _ in ws:
        pass


def client_process(
    url: str, target: str, first: int, count: int, pipe: Pipe, deadline: float
) -> None:
    raise_fd_limit(count + 256)
    asyncio.run(_hold(url, target, first, count, pipe, deadline))


# ---------------------------------------------------------------- the run
@dataclass(frozen=True)
class Footprint:
    target: str
    connections: int
    failures: int
    rss_before_kib: int
    rss_after_kib: int
    server_count: int | None
    connect_s: float
    # The server's CPU time while the sockets opened (upgrade, token check, hello).
    connect_cpu_s: float = 0.0

    @property
    def cpu_ms_per_1000_connects(self) -> float:
        return self.connect_cpu_s / max(1, self.connections) * 1e6

    @property
    def kib_per_connection(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / max(1, self.connections)


def _server_count(server: RunningServer) -> int | None:
    """Mayday's own count of live connections, from /healthz."""
    import json

    try:
        with urllib.request.urlopen(server.base + "/healthz", timeout=5) as resp:
            return int(json.load(resp)["connections"])
    except (OSError, ValueError, KeyError):
        return None


def measure(
    target: str, server: RunningServer, n: int, procs: int, hold: float, timeout: float
) -> Footprint:
    """Open ``n`` idle sockets on ``server`` from ``procs`` processes; RSS before and after."""
    ctx = mp.get_context("spawn")
    deadline = time.time() + timeout
    clients: list[tuple[mp.process.BaseProcess, Pipe]] = []

    def spawn(first: int, count: int) -> Pipe:
        parent_end, child_end = ctx.Pipe()
        args = (server.ws_url, target, first, count, child_end, deadline)
        proc = ctx.Process(target=client_process, args=args)
        proc.start()
        clients.append((proc, parent_end))
        return parent_end

    def opened(pipe: Pipe) -> tuple[int, int]:
        if not pipe.poll(max(0.1, deadline - time.time())):
            raise TimeoutError("client processes did not open their connections in time")
        ok, examples, n_failed = pipe.recv()
        if examples:
            print(f"    {target}: {n_failed} failed in one client, e.g. {examples[0]}")
        return ok, n_failed

    try:
        # One connection first, so one-time allocations (imports, caches) land in the baseline.
        opened(spawn(n, 1))
        time.sleep(1.0)
        before = server.rss_kib()
        start, cpu0 = time.perf_counter(), server.cpu_seconds()
        share, extra = divmod(n, procs)
        pipes = [spawn(k * share + min(k, extra), share + (k < extra)) for k in range(procs)]
        results = [opened(pipe) for pipe in pipes]
        connect_s, connect_cpu = time.perf_counter() - start, server.cpu_seconds() - cpu0
        time.sleep(hold)
        after = server.rss_kib()
        seen = _server_count(server) if target == "mayday" else None
    finally:
        for _, pipe in clients:
            with contextlib.suppress(OSError):
                pipe.send("close")
        for proc, _ in clients:
            proc.join(timeout=15)
            if proc.is_alive():
                proc.kill()
                proc.join()
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    return Footprint(target, ok, failed, before, after, seen, connect_s, connect_cpu)


@contextlib.contextmanager
def _server(target: str) -> Iterator[RunningServer]:
    import sys

    if target == "mayday":
        with mayday_server() as server:
            yield server
    else:
        with child_server([sys.executable, "-m", "load_tests.floor", "--port", "0"]) as server:
            yield server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--hold", type=float, default=3.0, help="idle seconds before measuring")
    parser.add_argument("--timeout", type=float, default=180.0, help="bound on the whole run")
    parser.add_argument("--targets", default="mayday,floor")
    args = parser.parse_args()
    limit = raise_fd_limit(args.connections + 1024)
    print(f"idle connections, {machine()}; open-file limit {limit}")
    results = []
    for target in args.targets.split(","):
        with _server(target) as server:
            fp = measure(target, server, args.connections, args.procs, args.hold, args.timeout)
        results.append(fp)
        seen = "" if fp.server_count is None else f", server counts {fp.server_count}"
        print(
            f"  {fp.target:7s} {fp.connections:,} open ({fp.failures} failed{seen}) in "
            f"{fp.connect_s:.1f} s; RSS {fp.rss_before_kib / 1024:.1f} -> "
            f"{fp.rss_after_kib / 1024:.1f} MiB = {fp.kib_per_connection:.1f} KiB per connection"
            f"; server CPU {fp.cpu_ms_per_1000_connects:.0f} ms per 1,000 connects",
            flush=True,
        )
    by = {fp.target: fp for fp in results}
    if "mayday" in by:
        m = by["mayday"]
        print(f"  mayday KiB per idle connection / 16 KiB target = {m.kib_per_connection / 16:.2f}")
        if "floor" in by:
            f = by["floor"]
            print(
                "  mayday/floor: RSS per connection "
                f"{m.kib_per_connection / f.kib_per_connection:.2f}"
                f", CPU per connect {m.cpu_ms_per_1000_connects / f.cpu_ms_per_1000_connects:.2f}"
                " [issue 13: <= 1.2, token check included]"
            )


if __name__ == "__main__":
    main()
