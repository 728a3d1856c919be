"""Annotation and control frames are parsed to typed messages or refused with invalid_field."""

from __future__ import annotations

from typing import Any

import pytest

from mayday.protocol.annotations import Annotation, ControlInput, SessionRef
from mayday.protocol.errors import ErrorCode, ProtocolError

S = {"session_id": "ses_1"}
PEN = {"stroke_id": "s1", "color": "#FF3B30", "width": 0.005}


def test_every_kind_parses_and_goes_out_with_only_its_fields() -> None:
    """Each kind parses to its typed form and is relayed with exactly its own fields."""
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (
            {"kind": "stroke.begin", **PEN, "points": [[0.1, 0.2]]},
            {"kind": "stroke.begin", **PEN, "color": "#ff3b30", "points": [[0.1, 0.2]]},
        ),
        (
            {"kind": "stroke.points", "stroke_id": "s1", "stroke_seq": 1, "points": [[0, 1]]},
            {"kind": "stroke.points", "stroke_id": "s1", "stroke_seq": 1, "points": [[0.0, 1.0]]},
        ),
        ({"kind": "stroke.end", "stroke_id": "s1"}, {"kind": "stroke.end", "stroke_id": "s1"}),
        (
            {"kind": "shape", "shape": "box", **PEN, "points": [[0.1, 0.1], [0.5, 0.6]]},
            {
                "kind": "shape",
                "stroke_id": "s1",
                "shape": "box",
                "color": "#ff3b30",
                "width": 0.005,
                "points": [[0.1, 0.1], [0.5, 0.6]],
            },
        ),
        ({"kind": "laser", "point": [0.5, 0.25]}, {"kind": "laser", "point": [0.5, 0.25]}),
        ({"kind": "laser", "point": None}, {"kind": "laser", "point": None}),
        ({"kind": "undo", "stroke_id": "s1"}, {"kind": "undo", "stroke_id": "s1"}),
        ({"kind": "clear", "stroke_id": "ignored"}, {"kind": "clear"}),
    ]
    for frame, wire in cases:
        parsed = Annotation.parse({**S, **frame, "type": "annotation", "id": 3})
        assert parsed.relayed().to_frame() == {"type": "annotation", **S, **wire}
    assert Annotation.parse({**S, "kind": "laser", "point": [0.1, 0.1]}).volatile
    assert not Annotation.parse({**S, "kind": "clear"}).volatile


def test_coordinates_are_rounded_to_four_decimals() -> None:
    """Points keep four decimals, a fifth of a pixel on a 2000-pixel screen."""
    a = Annotation.parse({**S, "kind": "stroke.begin", **PEN, "points": [[0.123456, 1 / 3]]})
    assert a.points == ((0.1235, 0.3333),)


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"kind": "scribble"}, "kind"),
        ({"kind": "stroke.begin", **PEN, "stroke_id": ""}, "stroke_id"),
        ({"kind": "stroke.begin", **PEN, "stroke_id": "has space"}, "stroke_id"),
        ({"kind": "stroke.begin", **PEN, "stroke_id": "x" * 65}, "stroke_id"),
        ({"kind": "stroke.begin", **PEN, "color": "red"}, "color"),
        ({"kind": "stroke.begin", **PEN, "width": 0}, "width"),
        ({"kind": "stroke.begin", **PEN, "width": 0.5}, "width"),
        ({"kind": "stroke.begin", **PEN, "width": True}, "width"),
        ({"kind": "stroke.begin", **PEN, "points": [[1.01, 0.5]]}, "points"),
        ({"kind": "stroke.begin", **PEN, "points": [[-0.01, 0.5]]}, "points"),
        ({"kind": "stroke.begin", **PEN, "points": [[0.5]]}, "points"),
        ({"kind": "stroke.begin", **PEN, "points": [["0.5", 0.5]]}, "points"),
        ({"kind": "stroke.begin", **PEN, "points": "0.5,0.5"}, "points"),
        ({"kind": "stroke.points", "stroke_id": "s1", "points": [[0, 0]]}, "stroke_seq"),
        (
            {"kind": "stroke.points", "stroke_id": "s1", "stroke_seq": 0, "points": [[0, 0]]},
            "stroke_seq",
        ),
        ({"kind": "stroke.points", "stroke_id": "s1", "stroke_seq": 1, "points": []}, "points"),
        ({"kind": "stroke.points", "stroke_id": "s1", "stroke_seq": 1}, "points"),
        (
            {"kind": "stroke.points", "stroke_id": "s1", "stroke_seq": 1, "points": [[0, 0]] * 65},
            "points",
        ),
        ({"kind": "stroke.end"}, "stroke_id"),
        ({"kind": "shape", "shape": "circle", **PEN, "points": [[0, 0], [1, 1]]}, "shape"),
        ({"kind": "shape", "shape": "arrow", **PEN, "points": [[0, 0]]}, "points"),
        ({"kind": "laser"}, "point"),
        ({"kind": "laser", "point": [2, 0]}, "point"),
        ({"kind": "undo", "stroke_id": 7}, "stroke_id"),
        ({"session_id": "", "kind": "clear"}, "session_id"),
    ],
)
def test_bad_annotation_fields_are_refused_by_name(frame: dict[str, Any], field: str) -> None:
    """A missing, mistyped or out-of-range field is invalid_field, and the message names it."""
    with pytest.raises(ProtocolError) as refused:
        Annotation.parse({**S, **frame})
    assert refused.value.code is ErrorCode.INVALID_FIELD
    assert f'"{field}"' in refused.value.message


def test_control_input_tap_and_scroll() -> None:
    """A tap has a point; a scroll has a point and a delta in -1..1; both go out unchanged."""
    tap = ControlInput.parse({**S, "action": "tap", "point": [0.5, 0.4], "delta": [1, 1]})
    assert tap.relayed().to_frame() == {
        "type": "control.input",
        **S,
        "action": "tap",
        "point": [0.5, 0.4],
    }
    scroll = ControlInput.parse({**S, "action": "scroll", "point": [0, 1], "delta": [0, -0.25]})
    assert scroll.relayed().to_frame()["delta"] == [0.0, -0.25]
    assert scroll.audit_data() == {"action": "scroll", "point": [0.0, 1.0], "delta": [0.0, -0.25]}
    assert SessionRef.parse(S) == SessionRef("ses_1")


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"action": "drag", "point": [0, 0]}, "action"),
        ({"action": "tap"}, "point"),
        ({"action": "tap", "point": [0.5, 1.5]}, "point"),
        ({"action": "scroll", "point": [0.5, 0.5]}, "delta"),
        ({"action": "scroll", "point": [0.5, 0.5], "delta": [0, -2]}, "delta"),
    ],
)
def test_bad_control_input_is_refused_by_name(frame: dict[str, Any], field: str) -> None:
    """control.input needs a known action, a point in the frame and, to scroll, a delta."""
    with pytest.raises(ProtocolError) as refused:
        ControlInput.parse({**S, **frame})
    assert refused.value.code is ErrorCode.INVALID_FIELD
    assert f'"{field}"' in refused.value.message
