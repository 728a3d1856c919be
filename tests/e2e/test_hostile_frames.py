"""Findings of the security review (issue 16) reproduced over real sockets: one small
hostile frame must never take an advisor out of service, nor leave a gap in anyone's seq."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from mayday.client import (
    Ack,
    AdvisorStateChanged,
    ErrorFrame,
    HelpOffer,
    MaydayError,
    SessionStarted,
    SignalRelayed,
)
from mayday.protocol.messages import HelpQueued
from mayday.routing.events import Observe, Send
from tests.conftest import Harness, StartServer


def nested(depth: int) -> object:
    """An object ``depth`` levels deep in about two bytes a level, as the review sent it."""
    value: object = []
    for _ in range(depth - 2):
        value = [value]
    return {"d": value}


async def test_a_deeply_nested_device_is_refused_and_the_advisor_stays_free(
    mayday: Harness,
) -> None:
    """A 650-byte help.request with a device nested 300 levels deep is refused at the edge:
    no request is queued, no advisor is reserved, the next good request is offered."""
    advisor = await mayday.client("advisor", "a1")
    await advisor.set_available()
    user = await mayday.client("user", "u1")
    frame = json.dumps({"type": "help.request", "id": 1, "device": nested(300)})
    assert len(frame) < 700
    await user.send_raw(frame)
    error = await user.next(ErrorFrame)
    assert error.id == 1
    assert error.code in ("invalid_field", "invalid_json")
    summary = await mayday.server.store.summary(mayday.server.clock())
    assert (summary.waiting, summary.advisors_available, summary.advisors_reserved) == (0, 1, 0)
    queued = await user.request_help(device={"model": "Tab S9", "os": {"name": "android"}})
    offer = await advisor.next(HelpOffer)
    assert offer.request_id == queued.request_id
    assert offer.device == {"model": "Tab S9", "os": {"name": "android"}}


@pytest.mark.parametrize(
    "payload",
    [
        {"candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "x": nested(300)}},
        {"description": {"type": "offer", "sdp": "v=0\r\n", "extra": nested(300)}},
    ],
)
async def test_deep_nesting_inside_a_signal_is_refused(mayday: Harness, payload: dict) -> None:
    """Relayed signal fields are bounded too: nesting hidden in a candidate or a description
    is refused before it reaches the peer, and both sockets go on."""
    advisor = await mayday.client("advisor", "a1")
    user = await mayday.client("user", "u1")
    await advisor.set_available()
    await user.request_help()
    offer = await advisor.next(HelpOffer)
    started = await advisor.accept(offer.request_id)
    await user.next(SessionStarted)
    await advisor.send_raw(
        json.dumps({"type": "signal", "id": 5, "session_id": started.session_id, **payload})
    )
    error = await advisor.next(ErrorFrame)
    assert (error.id, error.code in ("invalid_field", "invalid_json")) == (5, True)
    await advisor.call("signal", session_id=started.session_id, candidate=None)
    relayed = await user.next(SignalRelayed)
    assert relayed.has_candidate and relayed.candidate is None


@pytest.mark.parametrize("depth", [6, 40])
async def test_nesting_limit_holds_for_every_frame_type(mayday: Harness, depth: int) -> None:
    """Any frame nested deeper than the limit is refused before a handler sees it, even in
    a field the handler ignores; within the limit a frame is served."""
    user = await mayday.client("user", "u1")
    await user.send_raw(json.dumps({"type": "ping", "id": 9, "ignored": nested(depth)}))
    event = await user.next((Ack, ErrorFrame))
    if depth <= 6:
        assert event == Ack(9, {"time": event.fields.get("time")})
    else:
        assert isinstance(event, ErrorFrame)
        assert (event.id, event.code) == (9, "invalid_json")


async def test_an_unencodable_frame_drops_no_later_effect_and_no_seq(mayday: Harness) -> None:
    """If a frame of a routing operation cannot be encoded, the effects after it are still
    carried out and the receiver's seq has no gap (the frame consumed no number)."""
    user = await mayday.client("user", "u1")
    server = mayday.server
    before = user.last_seq
    poisoned = HelpQueued("r1", 1, float("nan"), "queued", 0)
    bad = Send("user", "u1", _Unencodable(poisoned))
    good = Send("user", "u1", HelpQueued("r2", 2, 3.0, "queued", 0))
    await server.execute([bad, good, Observe("missed_offer", 1.0, "", "a1")])
    received = await user.next(HelpQueued)
    assert received.request_id == "r2"
    assert user.last_seq == before + 1


class _Unencodable:
    """Stands for a frame the encoder refuses (a value orjson cannot write)."""

    def __init__(self, inner: HelpQueued) -> None:
        self.inner = inner

    def to_frame(self) -> dict[str, object]:
        return {**self.inner.to_frame(), "bad": {1, 2}}


async def test_advisor_is_not_set_away_by_a_poisoned_request(start_server: StartServer) -> None:
    """The original symptom: with a 0.5 s reservation, the advisor who gets nothing is never
    set away because of a hostile request."""
    harness = await start_server(reservation_timeout_s=0.5)
    advisor = await harness.client("advisor", "a1")
    await advisor.set_available()
    user = await harness.client("user", "u1")
    with pytest.raises(MaydayError):
        await user.call("help.request", device=nested(300))
    await asyncio.sleep(1.0)
    away = [
        e
        for e in advisor.pending_events()
        if isinstance(e, AdvisorStateChanged) and e.reason == "offer_timeout"
    ]
    assert not away
    assert not [e for e in advisor.pending_events() if isinstance(e, HelpOffer)]


async def test_an_offer_that_cannot_be_sent_is_handed_back(
    mayday: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An offer frame that fails to encode does not leave its advisor reserved with a timer
    running: the offer is handed back as declined, the advisor stays free and is offered
    the next request."""
    original = HelpOffer.to_frame

    def poisoned(self: HelpOffer) -> dict[str, object]:
        frame = original(self)
        if self.topic == "poison":
            frame["bad"] = {1, 2}  # a set: orjson cannot write it
        return frame

    monkeypatch.setattr(HelpOffer, "to_frame", poisoned)
    advisor = await mayday.client("advisor", "a1")
    await advisor.set_available()
    first = await mayday.client("user", "u1")
    queued = await first.request_help(topic="poison")
    store = mayday.server.store
    request = await store.request(queued.request_id)
    assert request is not None
    # Declined: hidden from a1 for the decline cooldown, not excluded for good.
    assert (request.state.value, set(request.cooldowns), request.declined_by) == (
        "queued",
        {"a1"},
        set(),
    )
    summary = await store.summary(mayday.server.clock())
    assert (summary.advisors_available, summary.advisors_reserved) == (1, 0)
    second = await mayday.client("user", "u2")
    fine = await second.request_help(topic="wifi")
    offer = await advisor.next(HelpOffer)
    assert offer.request_id == fine.request_id


async def test_the_size_limit_counts_bytes_not_characters(mayday: Harness) -> None:
    """A frame of 33,805 characters that is 67,573 bytes in UTF-8 is over the 65,536-byte
    limit: too_large, with its id, and the socket goes on."""
    user = await mayday.client("user", "u1")
    text = json.dumps({"type": "ping", "id": 4, "data": "é" * 33_780}, ensure_ascii=False)
    assert len(text) < 65_536 < len(text.encode())
    await user.send_raw(text)
    error = await user.next(ErrorFrame)
    assert (error.code, error.id) == ("too_large", 4)
    assert (await user.call("ping")).fields["time"] > 0


async def test_invalid_frames_are_charged_to_the_rate_bucket(start_server: StartServer) -> None:
    """Frames that are not even JSON count against the budget: past the burst they are
    refused as rate_limited before any parse."""
    harness = await start_server(rate_limit_per_s=1.0, rate_limit_burst=20)
    user = await harness.client("user", "u1")
    for _ in range(40):
        await user.send_raw("{not json")
    codes = [(await user.next(ErrorFrame)).code for _ in range(40)]
    assert codes.count("invalid_json") <= 21
    assert codes.count("rate_limited") >= 19
    assert set(codes) == {"invalid_json", "rate_limited"}


async def test_a_fast_writer_that_reads_is_rate_limited_not_cut_off(
    mayday: Harness,
) -> None:
    """1,000 frames written at once by a client that reads promptly: it gets its acks and
    rate_limited errors, and is not closed as a slow consumer."""
    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(mayday.ws_url, params={"token": mayday.token("user", "u")})
        await ws.receive()  # hello
        burst = "".join(json.dumps({"type": "ping", "id": i}) + "\n" for i in range(1000))
        for line in burst.splitlines():
            await ws.send_str(line)
        answers = [json.loads((await ws.receive(timeout=10)).data) for _ in range(1000)]
        assert not ws.closed
        kinds = {a["type"] if a["type"] == "ack" else a["code"] for a in answers}
        assert kinds == {"ack", "rate_limited"}
        assert sorted(a["id"] for a in answers) == list(range(1000))
        await ws.close()
    finally:
        await session.close()
