"""The one periodic loop every background task of a node runs in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def every(
    interval_s: float,
    step: Callable[[], Awaitable[None]],
    what: str,
    *,
    expected: tuple[type[BaseException], ...] = (),
) -> None:
    """Run ``step`` every ``interval_s`` until cancelled. A failure is logged and the loop
    goes on; an ``expected`` one (Redis briefly unreachable) without its traceback."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await step()
            _stop_if_cancelled()  # a cancel swallowed inside the step: it returned normally
        except expected as exc:
            _stop_if_cancelled()
            log.warning("%s: %s", what, exc)
        except Exception:
            _stop_if_cancelled()
            log.exception("%s failed", what)


def _stop_if_cancelled() -> None:
    """A cancel that a library turned into an error (redis-py's read, under load, turned
    one into a connection error now and then) or swallowed whole still stops the loop:
    the task is still marked as being cancelled, and a stopping node waits for it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
