"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mayday.client import MaydayPeer


@pytest.fixture
async def peers() -> AsyncIterator[list[MaydayPeer]]:
    """The aiortc peers a test makes, closed after it (before its clients and server)."""
    made: list[MaydayPeer] = []
    yield made
    for peer in made:
        await peer.close()
