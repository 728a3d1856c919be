"""The periodic loop of every background task stops when cancelled, also when its step
turned the cancel into an error of the kind it expects (redis-py's read did, under load:
a node's stop then waited for a relay sweeper that went on forever), or swallowed the
cancel and returned as if nothing happened (a stop under load hung 60 s so in
tests/e2e/test_escalation.py on Redis)."""

from __future__ import annotations

import asyncio

import pytest

from mayday.transport.loops import every


@pytest.mark.parametrize("swallowed", [False, True], ids=["turned-into-error", "swallowed"])
async def test_a_cancel_the_step_did_not_pass_on_still_stops_the_loop(swallowed: bool) -> None:
    entered = asyncio.Event()

    async def step() -> None:
        entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if swallowed:
                return
            raise ConnectionError("connection lost") from None  # as a library might

    loop = asyncio.create_task(every(0.001, step, "test", expected=(ConnectionError,)))
    await entered.wait()
    loop.cancel()
    done, _ = await asyncio.wait({loop}, timeout=2)
    assert loop in done and loop.cancelled()
