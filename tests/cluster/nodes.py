"""Real ``mayday serve --redis`` processes on loopback, and clients that move between them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from mayday.auth import issue_token
from mayday.client import MaydayClient, MaydayError
from tests.conftest import SECRET

T = TypeVar("T")


class Node:
    """One server process; its log goes to a file so a full pipe can never stall it."""

    def __init__(self, redis_url: str, log: Path, **settings: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAYDAY_")}
        env.update({"MAYDAY_JWT_SECRET": SECRET, "MAYDAY_LOG_LEVEL": "WARNING"})
        env.update({f"MAYDAY_{k.upper()}": v for k, v in settings.items()})
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mayday", "serve", "--port", "0", "--redis", redis_url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"serving on http://([\d.]+:\d+)", line)
        if match is None:
            self.stop()
            raise RuntimeError(f"node did not start: {line!r}; see {log}")
        self.ws_url = f"ws://{match.group(1)}/ws"

    def kill(self) -> None:
        """kill -9: no cleanup, no goodbye to Redis."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


def token(role: str, sub: str) -> str:
    return issue_token(SECRET, role=role, sub=sub, ttl_s=3600)


async def connect_any(
    nodes: list[Node], role: str, sub: str, first: int, resume: tuple[str, int] | None = None
) -> MaydayClient:
    """Connect to the first live node, starting at index ``first``; like a load balancer.
    The client does not reconnect by itself: the caller moves it to another node."""
    for i in range(len(nodes)):
        node = nodes[(first + i) % len(nodes)]
        if not node.alive:
            continue
        with contextlib.suppress(OSError, asyncio.TimeoutError, MaydayError):
            return await MaydayClient.connect(
                node.ws_url, token(role, sub), timeout=5, reconnect=False, resume=resume
            )
    raise ConnectionError("no node would take the connection")


async def gather_limited(limit: int, jobs: list[Callable[[], Awaitable[T]]]) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return await asyncio.gather(*(run(j) for j in jobs))


def quiet(*_: Any) -> None:
    return None
