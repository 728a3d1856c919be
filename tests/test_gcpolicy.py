"""The collector policy: survivors of a full collection are frozen; a sweep reclaims
reference cycles among frozen objects."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from mayday.gcpolicy import SWEEP_AFTER_CLOSES, GcPolicy, give_back_free_memory


class Node:
    """An object in a reference cycle: only the collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


async def test_survivors_of_a_full_collection_are_frozen() -> None:
    policy = GcPolicy(sweep_s=3600, check_s=0.01)
    policy.start()
    try:
        keep = [Node() for _ in range(1000)]
        assert gc.get_freeze_count() == 0
        gc.collect()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if gc.get_freeze_count():
                break
        assert gc.get_freeze_count() >= len(keep)
    finally:
        await policy.close()


async def test_a_sweep_frees_a_cycle_that_died_while_frozen() -> None:
    policy = GcPolicy(sweep_s=3600)
    node = Node()
    alive = weakref.ref(node)
    gc.collect()
    gc.freeze()
    del node
    gc.collect()
    assert alive() is not None, "a frozen cycle is not collected"
    policy.sweep()
    assert alive() is None
    assert policy.sweeps == 1
    assert gc.get_freeze_count() > 0


async def test_the_loop_sweeps_on_its_interval() -> None:
    policy = GcPolicy(sweep_s=0.05, check_s=0.01)
    policy.start()
    try:
        for _ in range(100):
            await asyncio.sleep(0.01)
            if policy.sweeps:
                break
        assert policy.sweeps >= 1
    finally:
        await policy.close()
    assert policy._on_gc not in gc.callbacks


async def test_it_sweeps_sooner_once_enough_sockets_closed() -> None:
    """Issue 16 (memory flat under load): the leftovers come from closed sockets, so the
    loop sweeps once SWEEP_AFTER_CLOSES have closed since the last sweep, or a quarter of
    the open ones if that is more, not before min_gap_s; else only every sweep_s."""
    counts = [0, 0]  # closed since the start, open now
    policy = GcPolicy(
        sweep_s=3600, check_s=0.01, sockets=lambda: (counts[0], counts[1]), min_gap_s=0.05
    )
    policy.start()

    async def sweeps_within(seconds: float) -> int:
        before = policy.sweeps
        for _ in range(int(seconds / 0.01)):
            await asyncio.sleep(0.01)
            if policy.sweeps > before:
                break
        return policy.sweeps - before

    try:
        counts[:] = [SWEEP_AFTER_CLOSES - 1, 10]
        assert await sweeps_within(0.3) == 0
        counts[:] = [SWEEP_AFTER_CLOSES, 10]
        assert await sweeps_within(2) == 1
        # 8,000 open: a quarter of them, 2,000, must close before the next sweep.
        counts[:] = [SWEEP_AFTER_CLOSES + 1_999, 8_000]
        assert await sweeps_within(0.3) == 0
        counts[:] = [SWEEP_AFTER_CLOSES + 2_000, 8_000]
        assert await sweeps_within(2) == 1
    finally:
        await policy.close()


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_free_memory_held_by_the_c_library_is_given_back() -> None:
    """Blocks of a few KiB come from glibc's heap; freed among a few survivors, they stay
    in its arenas (RSS does not fall) until ``malloc_trim`` hands their pages back."""
    blocks = [bytes(4000) + bytes([i % 256]) for i in range(20_000)]  # about 80 MB
    survivors = blocks[::50]  # pin the heap's pages here and there: no trim from the top
    del blocks
    held = _rss_kib()
    assert give_back_free_memory()
    given_back = held - _rss_kib()
    assert given_back > 40_000, f"only {given_back} KiB given back"
    assert len(survivors) == 400
