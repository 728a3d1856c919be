"""Annotations, co-pilot control and pause end to end, through the real app over real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mayday.client import (
    AnnotationRelayed,
    AnnotationSnapshot,
    ControlInputRelayed,
    ControlState,
    ErrorFrame,
    MaydayClient,
    MaydayError,
    SessionEnded,
    ShareState,
)
from tests.annotations.helpers import PEN, draw, frame, paired, unread
from tests.conftest import Harness


async def refused(client: MaydayClient, type_: str, **fields: Any) -> MaydayError:
    with pytest.raises(MaydayError) as caught:
        await client.call(type_, **fields)
    return caught.value


async def test_every_kind_reaches_the_user_as_sent(mayday: Harness) -> None:
    """begin, points, end, shape, laser, undo and clear reach the user in order, whole."""
    user, advisor, sid = await paired(mayday)
    sent: list[dict[str, Any]] = [
        {"kind": "stroke.begin", "stroke_id": "s1", **PEN, "points": [[0.1, 0.2]]},
        {"kind": "stroke.points", "stroke_id": "s1", "stroke_seq": 1, "points": [[0.3, 0.4]]},
        {"kind": "stroke.end", "stroke_id": "s1"},
        {"kind": "shape", "stroke_id": "b1", "shape": "arrow", **PEN, "points": [[0, 0], [1, 1]]},
        {"kind": "laser", "point": [0.5, 0.5]},
        {"kind": "undo", "stroke_id": "s1"},
        {"kind": "clear"},
    ]
    for item in sent:
        assert await draw(advisor, sid, **item) == {"changed": True}
    got = [await frame(user, AnnotationRelayed) for _ in sent]
    sent[3]["points"] = [[0.0, 0.0], [1.0, 1.0]]
    assert got == [AnnotationRelayed(session_id=sid, **item) for item in sent]
    assert unread(advisor, AnnotationRelayed) == []


async def test_repeated_reliable_events_are_acked_and_not_relayed(mayday: Harness) -> None:
    """A repeated end, batch or undo is acked with changed false and never reaches the user."""
    user, advisor, sid = await paired(mayday)
    await draw(advisor, sid, "stroke.begin", stroke_id="s1", **PEN)
    await draw(advisor, sid, "stroke.points", stroke_id="s1", stroke_seq=1, points=[[0, 0]])
    assert await draw(
        advisor, sid, "stroke.points", stroke_id="s1", stroke_seq=1, points=[[0, 0]]
    ) == {"changed": False}
    await draw(advisor, sid, "stroke.end", stroke_id="s1")
    assert await draw(advisor, sid, "stroke.end", stroke_id="s1") == {"changed": False}
    await draw(advisor, sid, "undo", stroke_id="s1")
    assert await draw(advisor, sid, "undo", stroke_id="s1") == {"changed": False}
    await draw(advisor, sid, "laser", point=[0.2, 0.2])
    kinds = [(await frame(user, AnnotationRelayed)).kind for _ in range(5)]
    assert kinds == ["stroke.begin", "stroke.points", "stroke.end", "undo", "laser"]


async def test_only_the_sessions_advisor_may_draw(mayday: Harness) -> None:
    """The user, another advisor and ops are refused; unknown and ended sessions too."""
    user, advisor, sid = await paired(mayday)
    other = await mayday.client("advisor", "a2")
    ops = await mayday.client("ops", "o1")
    for who in (user, other, ops):
        assert (await refused(who, "annotation", session_id=sid, kind="clear")).code == "forbidden"
    missing = await refused(advisor, "annotation", session_id="ses_nope", kind="clear")
    assert missing.code == "not_found"
    await advisor.end_session(sid)
    await user.next(SessionEnded)
    ended = await refused(advisor, "annotation", session_id=sid, kind="clear")
    assert (ended.code, ended.message) == ("invalid_state", "session has ended")
    assert unread(user, AnnotationRelayed) == []


async def test_drawing_refusals_over_the_socket(mayday: Harness) -> None:
    """Unknown stroke, gap in stroke_seq, points past the end, an overlong stroke, bad fields."""
    _, advisor, sid = await paired(mayday)

    async def code(**fields: Any) -> tuple[str, str]:
        error = await refused(advisor, "annotation", session_id=sid, **fields)
        return error.code, error.message

    assert (await code(kind="undo", stroke_id="zz"))[0] == "not_found"
    await draw(advisor, sid, "stroke.begin", stroke_id="s1", **PEN)
    assert await code(kind="stroke.points", stroke_id="s1", stroke_seq=2, points=[[0, 0]]) == (
        "invalid_state",
        'stroke "s1" expects stroke_seq 1, not 2',
    )
    assert (await code(kind="laser", point=[1.5, 0]))[0] == "invalid_field"
    assert (await code(kind="stroke.points", stroke_id="s1", stroke_seq=1))[0] == "invalid_field"
    for seq in range(1, 16):  # 15 x 64 = 960 points, under the 1,000 a stroke may hold
        await draw(
            advisor, sid, "stroke.points", stroke_id="s1", stroke_seq=seq, points=[[0, 0]] * 64
        )
    full = await code(kind="stroke.points", stroke_id="s1", stroke_seq=16, points=[[0, 0]] * 64)
    assert full[0] == "too_large"
    await draw(advisor, sid, "stroke.end", stroke_id="s1")
    after = await code(kind="stroke.points", stroke_id="s1", stroke_seq=16, points=[[0, 0]])
    assert after == ("invalid_state", 'stroke "s1" has ended')


async def test_annotations_are_rate_limited_per_advisor(mayday: Harness) -> None:
    """Two sockets of one advisor share one annotation bucket, apart from the connection's own."""
    user, advisor, sid = await paired(mayday)
    second = await mayday.client("advisor", "a1")
    for i in range(60):
        for n, socket in enumerate((advisor, second)):
            name = f"s{i}-{n}"  # reliable frames: none is dropped on the way to the user
            await socket.send(
                "annotation", session_id=sid, kind="stroke.begin", stroke_id=name, **PEN
            )
    await advisor.call("ping")
    await second.call("ping")
    errors = [e for c in (advisor, second) for e in c.pending_events() if isinstance(e, ErrorFrame)]
    assert errors and {e.code for e in errors} == {"rate_limited"}
    assert "annotations are limited to 40 frames a second" in errors[0].message
    await asyncio.sleep(0.2)
    relayed = unread(user, AnnotationRelayed)
    assert len(relayed) + len(errors) == 120
    assert 80 <= len(relayed) < 120


async def test_snapshot_reaches_a_second_socket_and_on_request(mayday: Harness) -> None:
    """A user's new socket gets the whole drawing and consent in one frame; so does a request."""
    user, advisor, sid = await paired(mayday)
    await draw(advisor, sid, "stroke.begin", stroke_id="s1", **PEN, points=[[0.1, 0.1]])
    await draw(advisor, sid, "stroke.points", stroke_id="s1", stroke_seq=1, points=[[0.2, 0.2]])
    await draw(advisor, sid, "shape", stroke_id="b1", shape="box", **PEN, points=[[0, 0], [1, 1]])
    await draw(advisor, sid, "stroke.begin", stroke_id="gone", **PEN)
    await draw(advisor, sid, "undo", stroke_id="gone")
    await advisor.call("control.request", session_id=sid)
    expected = AnnotationSnapshot(
        session_id=sid,
        strokes=[
            {
                "stroke_id": "s1",
                "kind": "stroke",
                **PEN,
                "points": [[0.1, 0.1], [0.2, 0.2]],
                "stroke_seq": 1,
                "ended": False,
            },
            {
                "stroke_id": "b1",
                "kind": "shape",
                "shape": "box",
                **PEN,
                "points": [[0.0, 0.0], [1.0, 1.0]],
            },
        ],
        control="requested",
        paused=False,
    )
    again = await mayday.client("user", "u1")
    assert await frame(again, AnnotationSnapshot) == expected
    await user.call("annotation.snapshot", session_id=sid)
    assert await frame(user, AnnotationSnapshot) == expected
    console = await mayday.client("advisor", "a1")
    assert (await frame(console, AnnotationSnapshot)).strokes == expected.strokes
    stranger = await mayday.client("user", "u2")
    assert (await refused(stranger, "annotation.snapshot", session_id=sid)).code == "forbidden"
    assert unread(stranger, AnnotationSnapshot) == []


async def test_no_snapshot_for_a_session_without_drawing_or_after_it_ended(mayday: Harness) -> None:
    """A socket of a session with nothing drawn, or of an ended session, gets no snapshot."""
    user, advisor, sid = await paired(mayday)
    first = await mayday.client("user", "u1")
    await first.call("ping")
    assert unread(first, AnnotationSnapshot) == []
    await draw(advisor, sid, "clear")  # nothing to clear: no state either
    await draw(advisor, sid, "stroke.begin", stroke_id="s1", **PEN)
    await advisor.end_session(sid)
    await user.next(SessionEnded)
    late = await mayday.client("user", "u1")
    await late.call("ping")
    assert unread(late, AnnotationSnapshot) == []


async def audit(h: Harness, sid: str, role: str = "ops") -> tuple[int, dict[str, Any]]:
    token = h.token(role, "ops-1") if role else None
    status, body = await h.get_json(f"/api/sessions/{sid}/audit", token)
    return status, body


async def test_control_consent_input_revoke_and_audit(mayday: Harness) -> None:
    """Input is refused until granted, reaches the tablet while granted, is refused after
    revoke; every step is in the session's audit log for ops."""
    user, advisor, sid = await paired(mayday)
    tap = {"session_id": sid, "action": "tap", "point": [0.5, 0.4]}
    early = await refused(advisor, "control.input", **tap)
    assert (early.code, early.message) == (
        "invalid_state",
        'input refused: control is "off", not granted',
    )

    ack = await advisor.call("control.request", session_id=sid)
    assert ack.fields == {"state": "requested", "changed": True}
    assert await frame(user, ControlState) == ControlState(sid, "requested", "advisor")
    assert await frame(advisor, ControlState) == ControlState(sid, "requested", "advisor")

    await user.call("control.grant", session_id=sid)
    assert await frame(advisor, ControlState) == ControlState(sid, "granted", "user")
    await advisor.call("control.input", **tap)
    scroll = {"session_id": sid, "action": "scroll", "point": [0.5, 0.5], "delta": [0, 0.25]}
    await advisor.call("control.input", **scroll)
    assert await frame(user, ControlInputRelayed) == ControlInputRelayed(**tap)
    assert await frame(user, ControlInputRelayed) == ControlInputRelayed(**scroll)

    assert (await user.call("control.revoke", session_id=sid)).fields["state"] == "revoked"
    assert (await user.call("control.revoke", session_id=sid)).fields["changed"] is False
    assert (await frame(advisor, ControlState)).state == "revoked"
    late = await refused(advisor, "control.input", **tap)
    assert late.message == 'input refused: control is "revoked", not granted'
    assert unread(user, ControlInputRelayed) == []

    status, body = await audit(mayday, sid)
    assert status == 200
    assert (body["session_id"], body["user_id"], body["advisor_id"]) == (sid, "u1", "a1")
    entries = body["entries"]
    assert [(e["event"], e["by"], e["side"]) for e in entries] == [
        ("control.input.refused", "a1", "advisor"),
        ("control.request", "a1", "advisor"),
        ("control.grant", "u1", "user"),
        ("control.input", "a1", "advisor"),
        ("control.input", "a1", "advisor"),
        ("control.revoke", "u1", "user"),
        ("control.input.refused", "a1", "advisor"),
    ]
    assert entries[0]["reason"] == 'input refused: control is "off", not granted'
    assert entries[4] == {
        **entries[4],
        "action": "scroll",
        "point": [0.5, 0.5],
        "delta": [0.0, 0.25],
    }
    assert entries[2]["from"] == "requested"
    times = [e["t"] for e in entries]
    assert times == sorted(times) and times[0] > 1.7e9


async def test_audit_needs_an_ops_token(mayday: Harness) -> None:
    """No token is 401, a user's token 403, an unknown session 404."""
    _, _, sid = await paired(mayday)
    assert (await audit(mayday, sid, role=""))[0] == 401
    assert (await audit(mayday, sid, role="user"))[0] == 403
    status, body = await audit(mayday, "ses_nope")
    assert (status, body["code"]) == (404, "not_found")
    assert (await audit(mayday, sid))[1]["entries"] == []


async def test_consent_belongs_to_each_side(mayday: Harness) -> None:
    """Only the advisor asks; only the session's user decides; a grant needs a request."""
    user, advisor, sid = await paired(mayday)
    other_user = await mayday.client("user", "u2")
    assert (await refused(user, "control.request", session_id=sid)).code == "forbidden"
    assert (await refused(advisor, "control.grant", session_id=sid)).code == "forbidden"
    unasked = await refused(user, "control.grant", session_id=sid)
    assert unasked.message == "cannot grant: there is no pending request for control"
    await advisor.call("control.request", session_id=sid)
    assert (await refused(other_user, "control.grant", session_id=sid)).code == "forbidden"
    assert (await user.call("control.deny", session_id=sid)).fields["state"] == "denied"
    assert (await frame(advisor, ControlState, timeout=5)).state == "requested"
    assert (await frame(advisor, ControlState)).state == "denied"
    denied = await refused(advisor, "control.input", session_id=sid, action="tap", point=[0, 0])
    assert denied.message == 'input refused: control is "denied", not granted'


async def test_pause_refuses_drawing_and_control_and_tells_both(mayday: Harness) -> None:
    """While the user pauses sharing, drawing, laser, requests and input are refused, and the
    advisor is told why; after resume they work again."""
    user, advisor, sid = await paired(mayday)
    await advisor.call("control.request", session_id=sid)
    await user.call("control.grant", session_id=sid)
    assert (await user.call("share.pause", session_id=sid)).fields == {
        "paused": True,
        "changed": True,
    }
    shared = ShareState(sid, paused=True, by="user")
    assert await frame(advisor, ShareState) == shared
    assert await frame(user, ShareState) == shared
    paused = "annotation refused: the user paused screen sharing"
    for kind, extra in (("laser", {"point": [0.1, 0.1]}), ("clear", {})):
        error = await refused(advisor, "annotation", session_id=sid, kind=kind, **extra)
        assert (error.code, error.message) == ("invalid_state", paused)
    tap = await refused(advisor, "control.input", session_id=sid, action="tap", point=[0, 0])
    assert tap.message == "input refused: the user paused screen sharing"
    await user.call("share.resume", session_id=sid)
    assert (await frame(advisor, ShareState)).paused is False
    await advisor.call("control.input", session_id=sid, action="tap", point=[0, 0])
    assert await draw(advisor, sid, "laser", point=[0.1, 0.1]) == {"changed": True}
    status, body = await audit(mayday, sid)
    assert status == 200
    events = [e["event"] for e in body["entries"]]
    assert events == [
        "control.request",
        "control.grant",
        "share.pause",
        "control.input.refused",
        "share.resume",
        "control.input",
    ]
    assert (await refused(advisor, "share.pause", session_id=sid)).code == "forbidden"
