"""The pure drawing of a session: strokes, shapes, undo, clear, limits and idempotence."""

from __future__ import annotations

from typing import Any

import pytest

from mayday.protocol.annotations import Annotation
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.sessions.drawing import Drawing, Limits


def ev(kind: str, **fields: Any) -> Annotation:
    return Annotation.parse({"session_id": "ses_1", "kind": kind, **fields})


def begin(sid: str, *pts: list[float]) -> Annotation:
    return ev("stroke.begin", stroke_id=sid, color="#0a84ff", width=0.01, points=list(pts))


def more(sid: str, seq: int, *pts: list[float]) -> Annotation:
    return ev("stroke.points", stroke_id=sid, stroke_seq=seq, points=list(pts))


def box(sid: str) -> Annotation:
    return ev(
        "shape", stroke_id=sid, shape="box", color="#ffcc00", width=0.004, points=[[0, 0], [1, 1]]
    )


def refused(drawing: Drawing, a: Annotation) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        drawing.apply(a)
    return caught.value


def test_a_stroke_is_begun_extended_and_ended_into_one_snapshot_item() -> None:
    """begin, two batches and end make one stroke with every point, its seq and its end."""
    d = Drawing()
    assert d.apply(begin("s1", [0.1, 0.1]))
    assert d.apply(more("s1", 1, [0.2, 0.2], [0.3, 0.3]))
    assert d.apply(more("s1", 2, [0.4, 0.4]))
    assert d.apply(ev("stroke.end", stroke_id="s1"))
    assert d.apply(box("b1"))
    assert d.snapshot() == [
        {
            "stroke_id": "s1",
            "kind": "stroke",
            "color": "#0a84ff",
            "width": 0.01,
            "points": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.4, 0.4]],
            "stroke_seq": 2,
            "ended": True,
        },
        {
            "stroke_id": "b1",
            "kind": "shape",
            "shape": "box",
            "color": "#ffcc00",
            "width": 0.004,
            "points": [[0.0, 0.0], [1.0, 1.0]],
        },
    ]
    assert d.total_points == 6


def test_repeated_reliable_events_change_nothing() -> None:
    """A repeated begin, batch, end, undo or clear is accepted and changes nothing."""
    d = Drawing()
    d.apply(begin("s1", [0.1, 0.1]))
    assert not d.apply(begin("s1", [0.9, 0.9]))
    d.apply(more("s1", 1, [0.2, 0.2]))
    assert not d.apply(more("s1", 1, [0.2, 0.2]))
    d.apply(ev("stroke.end", stroke_id="s1"))
    assert not d.apply(ev("stroke.end", stroke_id="s1"))
    before = d.snapshot()
    assert before[0]["points"] == [[0.1, 0.1], [0.2, 0.2]]
    assert d.apply(ev("undo", stroke_id="s1"))
    assert not d.apply(ev("undo", stroke_id="s1"))
    assert not d.apply(ev("stroke.end", stroke_id="s1"))  # a late retry of the end
    assert not d.apply(more("s1", 2, [0.5, 0.5]))
    assert d.snapshot() == []
    assert not d.apply(ev("clear"))


def test_undo_removes_one_stroke_and_clear_all() -> None:
    """undo takes away the named stroke only; clear takes away everything."""
    d = Drawing()
    for sid in ("a", "b", "c"):
        d.apply(begin(sid, [0.5, 0.5]))
    d.apply(ev("undo", stroke_id="b"))
    assert [s["stroke_id"] for s in d.snapshot()] == ["a", "c"]
    assert d.apply(ev("clear"))
    assert d.snapshot() == [] and d.total_points == 0
    assert not d.apply(ev("undo", stroke_id="a"))


def test_refusals_name_their_reason() -> None:
    """Unknown ids, gaps, points after the end and reused ids are refused with exact codes."""
    d = Drawing()
    assert refused(d, more("nope", 1, [0, 0])).code is ErrorCode.NOT_FOUND
    assert refused(d, ev("stroke.end", stroke_id="nope")).code is ErrorCode.NOT_FOUND
    assert refused(d, ev("undo", stroke_id="nope")).code is ErrorCode.NOT_FOUND
    d.apply(begin("s1", [0, 0]))
    gap = refused(d, more("s1", 3, [0, 0]))
    assert (gap.code, gap.message) == (
        ErrorCode.INVALID_STATE,
        'stroke "s1" expects stroke_seq 1, not 3',
    )
    d.apply(ev("stroke.end", stroke_id="s1"))
    after = refused(d, more("s1", 1, [0, 0]))
    assert (after.code, after.message) == (ErrorCode.INVALID_STATE, 'stroke "s1" has ended')
    d.apply(ev("undo", stroke_id="s1"))
    assert refused(d, begin("s1")).code is ErrorCode.INVALID_STATE
    assert refused(d, box("s1")).code is ErrorCode.INVALID_STATE


def test_limits_on_strokes_points_per_stroke_and_points_per_session() -> None:
    """Past each limit the event is too_large and the drawing is unchanged."""
    d = Drawing(Limits(strokes=3, stroke_points=3, points=5))
    d.apply(begin("a", [0, 0], [0, 0]))
    assert refused(d, more("a", 1, [0, 0], [0, 0])).code is ErrorCode.TOO_LARGE  # 4 in a stroke
    d.apply(more("a", 1, [0, 0]))
    assert refused(d, begin("b", [0, 0], [0, 0], [0, 0])).code is ErrorCode.TOO_LARGE  # 6 in all
    d.apply(begin("b", [0, 0]))
    d.apply(begin("c"))
    assert refused(d, box("d")).code is ErrorCode.TOO_LARGE  # a fourth stroke
    d.apply(ev("undo", stroke_id="c"))
    too_long = refused(d, begin("e", [0, 0], [0, 0], [0, 0], [0, 0]))
    assert too_long.code is ErrorCode.TOO_LARGE
    assert "at most 3 points" in too_long.message
    assert [s["stroke_id"] for s in d.snapshot()] == ["a", "b"]
    assert d.total_points == 4


def test_remembered_ids_are_bounded() -> None:
    """Undone ids are remembered up to four times the stroke limit, then forgotten at once."""
    d = Drawing(Limits(strokes=1, stroke_points=10, points=10))
    for i in range(4):
        d.apply(begin(f"s{i}"))
        d.apply(ev("undo", stroke_id=f"s{i}"))
    assert d.retired == {"s0", "s1", "s2", "s3"}
    d.apply(begin("s4"))
    d.apply(ev("undo", stroke_id="s4"))
    assert d.retired == {"s4"}
    assert refused(d, ev("undo", stroke_id="s0")).code is ErrorCode.NOT_FOUND
