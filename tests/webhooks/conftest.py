from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.webhooks.receiver import Receiver, serve_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real endpoint on loopback that verifies signatures with the reference library."""
    async for r in serve_receiver():
        yield r
