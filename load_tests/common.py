"""What every benchmark shares: servers in their own processes, tokens, percentiles."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mayday.auth import issue_token
from tests.redis_server import RedisServer

SECRET = "load-test-secret-0123456789abcdef0123456789"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class RunningServer:
    process: subprocess.Popen[str]
    base: str

    @property
    def ws_url(self) -> str:
        return self.base.replace("http", "ws", 1) + "/ws"

    def token(self, role: str, sub: str) -> str:
        return issue_token(SECRET, role=role, sub=sub, ttl_s=3600)

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process has used so far."""
        return cpu_seconds(self.process.pid)

    def rss_kib(self) -> int:
        return rss_kib(self.process.pid)


# ``--pin`` in load_tests.relay: the cores a server under test may run on (``taskset
# -c``), the generator staying off them; None runs servers wherever the kernel likes.
SERVER_CPUS: dict[str, str | None] = {"cpus": None}


def pinned(argv: Sequence[str]) -> list[str]:
    """``argv`` under ``taskset -c`` when servers are pinned (every thread it starts
    inherits the mask, which ``sched_setaffinity`` on a running pid would not give)."""
    cpus = SERVER_CPUS["cpus"]
    taskset = shutil.which("taskset")
    if cpus is None or taskset is None:
        return list(argv)
    return [taskset, "-c", cpus, *argv]


def pin_generator(server_cpus: str) -> None:
    """Servers on ``server_cpus``, this load generator on the other cores (``--pin``);
    the processes it starts from here on inherit its cores."""
    mine = set(range(os.cpu_count() or 1)) - {int(c) for c in server_cpus.split(",")}
    if not mine or shutil.which("taskset") is None:
        print("  (not pinned: needs taskset and a core left for the generator)")
        return
    SERVER_CPUS["cpus"] = server_cpus
    os.sched_setaffinity(0, mine)
    print(f"  servers pinned to cores {server_cpus}, generator to {sorted(mine)}")


def pin_server(pid: int) -> None:
    """A server started some other way (redis-server) onto the servers' cores, if pinned."""
    if SERVER_CPUS["cpus"] is not None:
        os.sched_setaffinity(pid, {int(c) for c in SERVER_CPUS["cpus"].split(",")})


@contextlib.contextmanager
def child_server(
    argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[RunningServer]:
    """Run ``argv`` until it prints ``serving on http://...``; terminate it on exit."""
    proc = subprocess.Popen(
        pinned(argv),
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"serving on (http://\S+)", line)
    if not match:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{argv[0]} did not start: {line!r}")
    try:
        yield RunningServer(proc, match.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@contextlib.contextmanager
def mayday_server(
    *extra: str,
    env: dict[str, str] | None = None,
    profile: Path | None = None,
    source: Path | None = None,
    trace: Path | None = None,
) -> Iterator[RunningServer]:
    """``mayday serve`` on a free loopback port in a child process, stopped on exit.

    With ``profile``, the server runs under cProfile and writes its stats there
    when it stops (it shuts down cleanly on SIGTERM). With ``source``, the server is
    the ``mayday`` package of that source tree (another checkout, to compare against).
    With ``trace``, the server runs under tracemalloc and writes a snapshot to that
    directory at each SIGUSR1 (``load_tests/traced_serve.py``).
    """
    if source is not None:
        env = {**(env or {}), "PYTHONPATH": str(source)}
    environ = {"MAYDAY_JWT_SECRET": SECRET, "MAYDAY_LOG_LEVEL": "WARNING", **(env or {})}
    python = [sys.executable]
    if profile is not None:
        python += ["-m", "cProfile", "-o", str(profile)]
    module = "mayday"
    if trace is not None:
        module = "load_tests.traced_serve"
        environ["MAYDAY_TRACE_DIR"] = str(trace)
    argv = [*python, "-m", module, "serve", "--host", "127.0.0.1", "--port", "0"]
    with child_server([*argv, *extra], env=environ, cwd=source) as server:
        yield server


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of our own on a free loopback port, in a temporary directory, no
    persistence; stopped and removed on exit."""
    with tempfile.TemporaryDirectory(prefix="mayday-bench-redis-") as directory:
        server = RedisServer(Path(directory)).start()
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def mayday_nodes(
    count: int, redis_url: str | None = None, *, env: dict[str, str] | None = None
) -> Iterator[list[RunningServer]]:
    """``count`` server processes: one on the memory store, or any number on ``redis_url``."""
    if count > 1 and redis_url is None:
        raise ValueError("several nodes need the Redis store")
    extra = ("--redis", redis_url) if redis_url else ()
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(mayday_server(*extra, env=env)) for _ in range(count)]


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` from /proc, in seconds (resolution one clock tick)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` (VmRSS) in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of ``values`` (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores ({cpu_model()}), "
        f"Python {platform.python_version()}"
    )


def plot_percentiles(
    rows: dict[str, tuple[float, float, float]], path: Path, title: str, ylabel: str
) -> bool:
    """A bar chart of each row's (p50, p90, p99), when matplotlib is installed (the
    ``bench`` extra); True if written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (no plot: pip install -e '.[bench]' for matplotlib)")
        return False
    names = list(rows)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    width = 0.25
    for k, q in enumerate((50, 90, 99)):
        xs = [i + (k - 1) * width for i in range(len(names))]
        ax.bar(xs, [rows[n][k] for n in names], width, label=f"p{q}")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    print(f"  plot: {path}")
    return True


def percentiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(p50, p90, p99) of ``values``."""
    return (percentile(values, 50), percentile(values, 90), percentile(values, 99))
