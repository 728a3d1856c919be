"""Bounds for a test's awaits that, when one is past, fail saying where every task
waits: a hang shows its cause instead of only its timeout."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


def task_stacks() -> str:
    """Where every task waits, down its chain of awaits (``Task.print_stack`` shows only
    the outermost frame of a suspended coroutine)."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        out.write(f"{task!r}\n")
        awaited: Any = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
            if frame is not None:
                code = frame.f_code
                out.write(f"  {code.co_filename}:{frame.f_lineno} {code.co_name}\n")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return out.getvalue()


async def bounded(what: str, work: Awaitable[T], timeout: float) -> T:
    """``work`` within ``timeout``; past it, every task's stack goes to stderr (taken
    before anything is cancelled) and a ``TimeoutError`` naming ``what`` is raised."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if task in done:
        return task.result()
    stacks = task_stacks()
    sys.stderr.write(f"{what}: not done within {timeout:.0f} s; every task:\n{stacks}")
    task.cancel()
    await asyncio.wait({task}, timeout=5)
    raise TimeoutError(f"{what}: not done within {timeout:.0f} s (task stacks on stderr)")
