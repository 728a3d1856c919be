"""The periodic loop of every background task stops when cancelled, also when its step
turned the cancel into an error of the kind it expects (redis-py's read did, under load:
a node's stop then waited for a relay sweeper that went on forever)."""

from __future__ import annotations

import asyncio

from mayday.transport.loops import every


async def test_a_cancel_turned_into_an_expected_error_still_stops_the_loop() -> None:
    entered = asyncio.Event()

    async def step() -> None:
        entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise ConnectionError("connection lost") from None  # as a library might

    loop = asyncio.create_task(every(0.001, step, "test", expected=(ConnectionError,)))
    await entered.wait()
    loop.cancel()
    done, _ = await asyncio.wait({loop}, timeout=2)
    assert loop in done and loop.cancelled()


async def test_a_cancel_swallowed_by_the_step_still_stops_the_loop() -> None:
    """The step catches the cancel and returns as if nothing happened (a stop under load
    hung 60 s so in tests/e2e/test_escalation.py on Redis): the loop ends all the same."""
    entered = asyncio.Event()

    async def step() -> None:
        entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return  # swallowed

    loop = asyncio.create_task(every(0.001, step, "test"))
    await entered.wait()
    loop.cancel()
    done, _ = await asyncio.wait({loop}, timeout=2)
    assert loop in done and loop.cancelled()
