"""Inbound frames are parsed into typed messages or refused with invalid_field."""

from __future__ import annotations

from typing import Any

import pytest

from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.protocol.messages import (
    AdvisorState,
    HelpRequest,
    MediaState,
    Ping,
    RequestRef,
    SessionEnd,
    SessionRate,
    SessionTransfer,
    Signal,
    SignalRelayed,
)

OFFER = {"type": "offer", "sdp": "v=0\r\n"}
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host", "sdpMid": "0"}


def test_help_request_takes_all_optional_fields() -> None:
    """help.request keeps topic, language, skills and device as given."""
    frame = {"topic": "wifi", "language": "fr", "skills": ["printer"], "device": {"os": "ios"}}
    assert HelpRequest.parse(frame) == HelpRequest("wifi", "fr", ("printer",), {"os": "ios"})
    assert HelpRequest.parse({}) == HelpRequest()


def test_signal_keeps_payload_unchanged() -> None:
    """A description, a candidate and end-of-candidates pass through as written."""
    assert Signal.parse({"session_id": "s", "description": OFFER}).payload == {"description": OFFER}
    assert Signal.parse({"session_id": "s", "candidate": CANDIDATE}).payload == {
        "candidate": CANDIDATE
    }
    assert Signal.parse({"session_id": "s", "candidate": None}).payload == {"candidate": None}
    rollback = {"type": "rollback", "sdp": ""}
    assert Signal.parse({"session_id": "s", "description": rollback}).payload["description"] == (
        rollback
    )


def test_valid_small_messages() -> None:
    """The small messages parse to their typed form."""
    assert RequestRef.parse({"request_id": "r1"}) == RequestRef("r1")
    assert AdvisorState.parse({"state": "away"}) == AdvisorState("away")
    assert MediaState.parse({"session_id": "s", "state": "first_frame"}).state == "first_frame"
    assert SessionEnd.parse({"session_id": "s"}) == SessionEnd("s", "ended")
    assert Ping.parse({}) == Ping()


BAD: list[tuple[Any, dict[str, Any], str]] = [
    (HelpRequest, {"topic": 5}, "topic"),
    (HelpRequest, {"topic": ""}, "topic"),
    (HelpRequest, {"topic": "x" * 201}, "topic"),
    (HelpRequest, {"skills": "printer"}, "skills"),
    (HelpRequest, {"skills": ["a"] * 17}, "skills"),
    (HelpRequest, {"device": []}, "device"),
    (HelpRequest, {"device": {"blob": "x" * 3000}}, "device"),
    (RequestRef, {}, "request_id"),
    (RequestRef, {"request_id": 7}, "request_id"),
    (AdvisorState, {"state": "busy"}, "state"),
    (AdvisorState, {}, "state"),
    (Signal, {"description": OFFER}, "session_id"),
    (Signal, {"session_id": "s"}, "description"),
    (Signal, {"session_id": "s", "description": OFFER, "candidate": None}, "description"),
    (Signal, {"session_id": "s", "description": "v=0"}, "description"),
    (Signal, {"session_id": "s", "description": {"type": "bogus", "sdp": "v"}}, "type"),
    (Signal, {"session_id": "s", "description": {"type": "offer", "sdp": ""}}, "sdp"),
    (Signal, {"session_id": "s", "description": {"type": "offer", "sdp": 3}}, "sdp"),
    (Signal, {"session_id": "s", "candidate": "candidate:1"}, "candidate"),
    (Signal, {"session_id": "s", "candidate": {"sdpMid": "0"}}, "candidate"),
    (Signal, {"session_id": "s", "candidate": {**CANDIDATE, "sdpMLineIndex": -1}}, "sdpMLine"),
    (Signal, {"session_id": "s", "candidate": {**CANDIDATE, "sdpMid": 0}}, "sdpMid"),
    (MediaState, {"session_id": "s", "state": "dancing"}, "state"),
    (SessionEnd, {"session_id": ["s"]}, "session_id"),
    (SessionEnd, {"session_id": "s", "reason": 1}, "reason"),
    (Ping, {"data": {"a": 1}}, "data"),
    (SessionRate, {"score": 5}, "session_id"),
    (SessionRate, {"session_id": "s"}, "score"),
    (SessionRate, {"session_id": "s", "score": 0}, "score"),
    (SessionRate, {"session_id": "s", "score": 6}, "score"),
    (SessionRate, {"session_id": "s", "score": True}, "score"),
    (SessionRate, {"session_id": "s", "score": 4.0}, "score"),
    (SessionRate, {"session_id": "s", "score": "3"}, "score"),
    (SessionRate, {"session_id": "s", "score": None}, "score"),
    (SessionRate, {"session_id": "s", "score": 3, "comment": 7}, "comment"),
    (SessionRate, {"session_id": "s", "score": 3, "comment": "x" * 1001}, "comment"),
]


@pytest.mark.parametrize(("kind", "frame", "names"), BAD)
def test_bad_fields_are_refused_with_the_field_named(
    kind: Any, frame: dict[str, Any], names: str
) -> None:
    """Every malformed field is refused as invalid_field, and the message names it."""
    with pytest.raises(ProtocolError) as refused:
        kind.parse(frame)
    assert refused.value.code is ErrorCode.INVALID_FIELD
    assert names in refused.value.message


def test_session_rate_takes_a_score_and_a_trimmed_comment() -> None:
    """Every score from 1 to 5 passes; the comment is trimmed, a blank one is none, and
    1,000 characters once trimmed are accepted whole."""
    for score in range(1, 6):
        assert SessionRate.parse({"session_id": "s", "score": score}) == SessionRate("s", score)
    rated = SessionRate.parse({"session_id": "s", "score": 4, "comment": "  Kind.\n"})
    assert rated == SessionRate("s", 4, "Kind.")
    assert SessionRate.parse({"session_id": "s", "score": 2, "comment": " \t "}).comment is None
    longest = SessionRate.parse({"session_id": "s", "score": 5, "comment": f" {'é' * 1000} "})
    assert longest.comment == "é" * 1000


def test_session_transfer_is_warm_by_default_and_trims_its_note() -> None:
    """``mode`` defaults to warm; a note is trimmed, a blank one is none; skills are sorted."""
    warm = SessionTransfer.parse({"session_id": "s1", "to": {"advisor": "a2"}, "note": " hi "})
    assert warm == SessionTransfer("s1", "a2", (), "hi", "warm")
    cold = SessionTransfer.parse(
        {"session_id": "s1", "to": {"skills": ["wifi", "printer"]}, "note": "  ", "mode": "cold"}
    )
    assert cold == SessionTransfer("s1", None, ("printer", "wifi"), None, "cold")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ({"to": {"skills": ["printer"]}}, "warm transfer needs an advisor"),
        ({"to": {"advisor": "a2", "skills": ["x"]}}, 'field "to" must be'),
        ({"to": "a2"}, 'field "to" must be'),
        ({"to": {"skills": []}, "mode": "cold"}, 'field "to.skills"'),
        ({"to": {"advisor": ""}}, 'field "advisor" must not be empty'),
        ({"to": {"advisor": "a2"}, "note": "x" * 501}, 'field "note" must be at most 500'),
        ({"to": {"advisor": "a2"}, "note": 7}, 'field "note" must be a string'),
        ({"to": {"advisor": "a2"}, "mode": "hot"}, 'field "mode" must be one of warm, cold'),
    ],
)
def test_session_transfer_refuses_bad_fields(frame: dict[str, Any], message: str) -> None:
    """Each malformed transfer is invalid_field, with what is wrong named."""
    with pytest.raises(ProtocolError) as refused:
        SessionTransfer.parse({"session_id": "s1", **frame})
    assert refused.value.code is ErrorCode.INVALID_FIELD
    assert refused.value.message.startswith(message)


@pytest.mark.parametrize(
    "frame",
    [
        {"session_id": "ses_1", "description": {"type": "offer", "sdp": "v=0"}},
        {"session_id": "ses_1", "candidate": {"candidate": "candidate:1 1 udp", "sdpMid": "0"}},
        {"session_id": "ses_1", "candidate": None},
    ],
)
def test_relayed_signal_frame_is_the_message_frame(frame: dict[str, Any]) -> None:
    """``SignalRelayed.frame_of`` builds exactly the frame of the typed message, in order."""
    signal = Signal.parse(frame)
    typed = SignalRelayed(
        "ses_1",
        "adv-1",
        "advisor",
        description=signal.payload.get("description"),
        candidate=signal.payload.get("candidate"),
        has_candidate="candidate" in signal.payload,
    ).to_frame()
    built = SignalRelayed.frame_of(signal, "adv-1", "advisor")
    assert list(built.items()) == list(typed.items())
