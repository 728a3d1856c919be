"""Short garbage-collector pauses for a server that holds thousands of sockets.

CPython's full (generation 2) collection walks every object the collector tracks.
With 2,000 open sockets that is a pause of 50 to 150 ms, and under load one came
every few seconds: it was the tail of pairing on Redis (docs/performance.md,
benchmark 2). Objects that survived a full collection are long-lived by then, so
this policy freezes them (``gc.freeze``: moved to a generation no collection
walks) and the next full collection walks only what came since.

Frozen objects are still freed by reference counting; only reference cycles among
them wait for the sweep: every ``sweep_s`` the policy unfreezes everything,
collects once in full and freezes the survivors again. That is one full pause per
sweep interval instead of one every few seconds. The price is memory: a socket
that closes after it was frozen leaves about 40 objects in cycles (measured with
aiohttp 3.14, client and server side together) until the next sweep, so a node
holds about (sockets closed per second) x ``sweep_s`` such leftovers at most.
Sweeping as soon as the frozen set had doubled was tried and dropped: while a
node fills with sockets it swept in the middle of the load, a pause of 60 to 80
ms at 2,000 sockets.

So the policy also sweeps by the sockets that closed, which is what the leftovers
come from: once ``SWEEP_AFTER_CLOSES`` sockets, or a quarter of those open if that is
more, have closed since the last sweep, and at least ``MIN_GAP_S`` after it. The
leftovers of closed sockets stay under a quarter of what the open ones hold (the
million-frame fuzz reconnects about five times a second: its frozen garbage was 4.5
MiB after 167 s without this), and a node that only fills, or holds 40,000 sockets
and loses a few a second, still sweeps about as rarely as ``sweep_s`` says.

After each sweep glibc is asked to give its free memory back (``malloc_trim``): what
the sockets' buffers and SQLite's threads freed stays in glibc's arenas otherwise, and
a server whose live objects stayed flat over three million fuzz frames still grew 36
MiB of RSS, two thirds of it free memory glibc held (docs/performance.md, section 8).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

CHECK_S = 1.0
SWEEP_AFTER_CLOSES = 250
MIN_GAP_S = 30.0

# Sockets ended since the start, and sockets open now (``Server.socket_counts``).
SocketCounts = Callable[[], tuple[int, int]]


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS). Looked
    up among the symbols the process already has (``CDLL(None)``), not through
    ``ctypes.util.find_library``, which starts ``ldconfig`` at import."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _malloc_trim()


def give_back_free_memory() -> bool:
    """Ask the C library to return the memory it holds free to the system; False where
    it cannot be asked."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


class GcPolicy:
    """Freeze the survivors of each full collection; sweep every ``sweep_s``."""

    def __init__(
        self,
        sweep_s: float,
        check_s: float = CHECK_S,
        sockets: SocketCounts | None = None,
        min_gap_s: float = MIN_GAP_S,
    ) -> None:
        self.sweep_s, self.check_s, self.min_gap_s = sweep_s, check_s, min_gap_s
        self.sockets = sockets
        self.sweeps = 0
        self._closed_at_sweep = 0
        self._full_done = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="gc-policy")

    async def close(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)  # passes our own cancel on

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        # Only a flag: the collector calls this from wherever the collection ran.
        if phase == "stop" and info["generation"] == 2:
            self._full_done = True

    async def _run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.check_s)
            if self._due(time.monotonic() - last):
                self.sweep()
                last = time.monotonic()
            elif self._full_done:
                self._full_done = False
                gc.freeze()

    def _due(self, since_s: float) -> bool:
        """Every ``sweep_s``; sooner (not before ``min_gap_s``) once enough sockets closed."""
        if since_s >= self.sweep_s:
            return True
        if self.sockets is None or since_s < self.min_gap_s:
            return False
        closed, open_now = self.sockets()
        return closed - self._closed_at_sweep >= max(SWEEP_AFTER_CLOSES, open_now // 4)

    def sweep(self) -> None:
        """Reclaim cycles among frozen objects: unfreeze, collect in full, freeze again."""
        started = time.perf_counter()
        gc.unfreeze()
        freed = gc.collect()
        gc.freeze()
        give_back_free_memory()
        self._full_done = False
        self.sweeps += 1
        if self.sockets is not None:
            self._closed_at_sweep = self.sockets()[0]
        log.info(
            "gc sweep: %d unreachable objects freed in %.1f ms, %d frozen",
            freed,
            (time.perf_counter() - started) * 1000,
            gc.get_freeze_count(),
        )
