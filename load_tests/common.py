"""What every benchmark shares: a server in its own process, tokens, percentiles."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mayday.auth import issue_token

SECRET = "load-test-secret-0123456789abcdef0123456789"


@dataclass(frozen=True)
class RunningServer:
    process: subprocess.Popen[str]
    base: str

    @property
    def ws_url(self) -> str:
        return self.base.replace("http", "ws", 1) + "/ws"

    def token(self, role: str, sub: str) -> str:
        return issue_token(SECRET, role=role, sub=sub, ttl_s=3600)


@contextlib.contextmanager
def mayday_server(*extra: str, env: dict[str, str] | None = None) -> Iterator[RunningServer]:
    """``mayday serve`` on a free loopback port in a child process, stopped on exit."""
    environ = {**os.environ, "MAYDAY_JWT_SECRET": SECRET, "MAYDAY_LOG_LEVEL": "WARNING"}
    environ.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "mayday", "serve", "--port", "0", *extra],
        env=environ,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"serving on (http://\S+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
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


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of ``values`` (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
