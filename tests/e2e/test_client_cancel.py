"""A client call that is cancelled ends cancelled, even when its answer comes in the same
turn of the loop: a loop that stops on cancel (an advisor's, a relay's) stops."""

from __future__ import annotations

import asyncio

from tests.conftest import Harness


async def test_a_call_cancelled_as_its_ack_arrives_is_cancelled(mayday: Harness) -> None:
    """A cancel that lands between the ack and the caller's wake-up, and that the task
    accepted, ends the call cancelled (``asyncio.wait_for`` of Python 3.11 returned the ack and lost
    the cancel, so the failover test's advisor loop went on waiting for an offer)."""
    advisor = await mayday.client("advisor", "a1")
    call = asyncio.create_task(advisor.call("advisor.state", state="available"))
    await asyncio.sleep(0)  # the call registers its answer's future before it awaits
    pending = next(iter(advisor._pending.values()))
    accepted: list[bool] = []
    pending.future.add_done_callback(lambda _: accepted.append(call.cancel()))
    async with asyncio.timeout(5):
        (outcome,) = await asyncio.gather(call, return_exceptions=True)
    assert len(accepted) == 1
    if accepted[0]:  # the task took the cancel: it must not return the ack
        assert isinstance(outcome, asyncio.CancelledError), outcome
