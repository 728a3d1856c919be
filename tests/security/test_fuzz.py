"""The fuzz suite (issue 16): adversarial frames of every client type against the real app
over real sockets. Every answer is checked by ``FuzzSocket``: ``seq`` with no gap, errors
only with documented codes (never ``internal_error``), an answer for every readable
``id``, no close but 1007 and 1009; a bystander pair still relays. The generator and the
checks are shared with the load test (``load_tests/fuzz_frames.py``, ``load_tests/fuzz.py``).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from load_tests.fuzz_frames import (
    CLIENT_TYPES,
    MUTATIONS,
    Bystander,
    Cell,
    FuzzSocket,
    Ids,
    Tally,
    answered_id,
    fuzz_cell,
    fuzz_frame,
    open_cell,
)
from mayday.transport.app import HANDLER_MODULES
from mayday.transport.registry import Registry
from tests.conftest import Harness, StartServer

UNLIMITED = {
    "rate_limit_per_s": 1e9,
    "rate_limit_burst": 1_000_000_000,
    "annotation_rate_per_s": 1e9,
    "annotation_burst": 1_000_000_000,
}
_cells = itertools.count()


@dataclass
class Arena:
    """A server, a bystander pair on it, and a way to open fuzz cells."""

    harness: Harness
    http: aiohttp.ClientSession
    bystander: Bystander
    tally: Tally

    def token(self, role: str, sub: str, *, skills: list[str] | None = None) -> str:
        return self.harness.token(role, sub, skills=skills)

    async def cell(self) -> Cell:
        tag = f"c{next(_cells)}"
        url = self.harness.ws_url
        return await open_cell(self.http, url, self.token, tag, self.bystander.ids, self.tally)


@pytest.fixture
async def arena(start_server: StartServer) -> AsyncIterator[Arena]:
    """A server without rate limits (so that every frame reaches its handler) and a
    bystander pair in a live session."""
    harness = await start_server(**UNLIMITED)
    tally = Tally()
    async with aiohttp.ClientSession() as http:
        arena = Arena(harness, http, None, tally)  # type: ignore[arg-type]
        arena.bystander = await Bystander.open(http, harness.ws_url, arena.token, "by", tally)
        yield arena
        await arena.bystander.close()


def test_the_generator_covers_every_client_frame_type() -> None:
    """The fuzz templates name exactly the frame types the app registers handlers for."""
    assert set(CLIENT_TYPES) == Registry.from_modules(*HANDLER_MODULES).types


def test_answered_id_is_the_id_of_a_strict_json_object() -> None:
    """The id a frame must be answered with: strict JSON only, or a leading id of a frame
    refused unparsed."""
    assert answered_id('{"id": 7, "type": "ping"}') == 7
    assert answered_id('{"id": 7, "type": "ping", "x": NaN}') is None
    assert answered_id('{"id": true, "type": "ping"}') is None
    assert answered_id('[{"id": 7}]') is None
    assert answered_id('{"id": 9, "pad": "' + "a" * 70_000 + '"}') == 9


def test_the_checker_reports_bad_codes_seq_gaps_and_unanswered_ids() -> None:
    """FuzzSocket flags an internal_error, an undocumented code and a gap in seq."""
    tally = Tally()
    sock = FuzzSocket(None, "", "", Ids(), tally, "probe")  # type: ignore[arg-type]
    sock._check({"type": "hello", "seq": 1})
    sock._check({"type": "error", "code": "internal_error", "message": "x", "seq": 2})
    sock._check({"type": "error", "code": "oops", "message": "x", "seq": 3})
    sock._check({"type": "ack", "id": 1, "seq": 5})
    assert len(tally.violations) == 3
    assert "internal_error" in tally.violations[0] and "oops" in tally.violations[1]
    assert "seq 5 after 3" in tally.violations[2]


async def test_every_type_with_every_mutation(arena: Arena) -> None:
    """One frame of each client type with each mutation, from a user, an advisor and an
    ops socket of a live session: all answered as documented, the bystander unharmed."""
    cell = await arena.cell()
    rng = random.Random(16)
    for sock, type_, mutation in itertools.product(cell.sockets, CLIENT_TYPES, MUTATIONS):
        await sock.send(fuzz_frame(rng, sock.ids, sock.new_id(), type_, mutation))
        if not cell.live:
            await sock.barrier()
            await cell.repair()
    for sock in cell.sockets:
        await sock.barrier()
    await arena.bystander.relay_once()
    await cell.close()
    assert arena.tally.violations == []
    assert set(arena.tally.sent) == set(MUTATIONS)
    assert arena.tally.closes[1007] == arena.tally.closes[1009] == 3 * len(CLIENT_TYPES)
    assert "internal_error" not in arena.tally.codes


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rng=st.randoms(use_true_random=False))
async def test_random_frame_streams(arena: Arena, rng: random.Random) -> None:
    """Hypothesis draws streams of 60 fuzzed frames from a fresh cell's three sockets;
    every answer is documented and the bystander pair relays after each stream."""
    cell = await arena.cell()
    await fuzz_cell(cell, rng, 60, batch=16)
    await cell.close()
    await arena.bystander.relay_once()
    assert arena.tally.violations == []
    assert "internal_error" not in arena.tally.codes
