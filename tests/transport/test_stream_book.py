"""The embedded backend's stream book holds no more than its bounds say (issue 16)."""

from __future__ import annotations

import tracemalloc

from mayday.transport.streams import KEEP_FRAMES, PARKED_PER_IDENTITY, StreamBook

FRAME = b'{"type":"error","code":"invalid_field","field":"topic","id":"c-000001"}'


async def test_a_stream_forgotten_past_the_per_identity_bound_is_freed_at_once() -> None:
    """One identity reconnecting 200 times within the grace: the book keeps its last
    ``PARKED_PER_IDENTITY`` streams, and the frames of the others go with them (they
    were held until their grace ran out: 10 MiB here, 30 MiB in the fuzz load test)."""
    book, key = StreamBook(grace_s=30.0), ("user", "u-1")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(200):
            stream = book.open(key)
            for _ in range(KEEP_FRAMES):
                stream.number(FRAME)
            await book.park(stream, now=1000.0 + i / 100)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(book.parked(key)) == PARKED_PER_IDENTITY
    one_stream = KEEP_FRAMES * (len(FRAME) + 100)  # the bytes, their tuple, a list slot
    assert held < (PARKED_PER_IDENTITY + 2) * one_stream, f"{held:,} bytes held"


async def test_a_stream_forgotten_for_the_bound_is_not_expired_again() -> None:
    """The expiry of a stream forgotten earlier (or claimed since) touches nothing."""
    book, key = StreamBook(grace_s=30.0), ("user", "u-1")
    streams = [book.open(key) for _ in range(PARKED_PER_IDENTITY + 1)]
    for i, stream in enumerate(streams):
        await book.park(stream, now=1000.0 + i)
    claim = await book.claim(streams[-1].token, key, 0, now=1010.0)
    assert claim is not None
    book.expire(1000.0 + 30.0 + PARKED_PER_IDENTITY - 1)
    assert book.parked(key) == []
    assert len(book) == 1  # the claimed stream, under its new token
