"""The current drawing of one session: pure state, no I/O, no clock.

The server keeps it so that a peer that reconnects or joins late gets the whole
picture in one frame (``snapshot``) instead of a replay of every point. Reliable
events are idempotent: a repeated ``stroke.begin``, ``stroke.points`` (same
``stroke_seq``), ``stroke.end``, ``undo`` or ``clear`` changes nothing and is
not relayed again. ``mayday/sessions/lua/draw.lua`` is this module's twin in
Redis; a differential test holds them to the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mayday.protocol.annotations import Annotation, Point, wire_points
from mayday.protocol.errors import ErrorCode, ProtocolError


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a session's drawing, and so its snapshot, small."""

    strokes: int = 200
    stroke_points: int = 1000
    points: int = 20_000

    @property
    def retired(self) -> int:
        """How many undone or cleared ids are remembered (to answer a late retry as a
        no-op); past it the memory starts afresh, in both stores alike."""
        return 4 * self.strokes


@dataclass
class Stroke:
    """A freehand stroke (``kind`` "stroke") or a shape (``kind`` "shape")."""

    id: str
    kind: str
    color: str
    width: float
    points: list[Point] = field(default_factory=list)
    shape: str | None = None
    seq: int = 0
    ended: bool = False

    def to_snapshot(self) -> dict[str, Any]:
        item: dict[str, Any] = {"stroke_id": self.id, "kind": self.kind}
        if self.shape is not None:
            item["shape"] = self.shape
        item.update(color=self.color, width=self.width, points=wire_points(tuple(self.points)))
        if self.kind == "stroke":
            item.update(stroke_seq=self.seq, ended=self.ended)
        return item


def _refuse(code: ErrorCode, message: str) -> ProtocolError:
    return ProtocolError(code, message)


class Drawing:
    """Strokes and shapes by id, in the order they were drawn."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.strokes: dict[str, Stroke] = {}
        self.retired: set[str] = set()
        self.total_points = 0

    def apply(self, a: Annotation) -> bool:
        """Apply one reliable event; True if the drawing changed (and the event is relayed).

        Raises ``ProtocolError``: ``not_found`` for a stroke id never drawn,
        ``invalid_state`` for a reused id, points after a stroke's end or a gap in
        ``stroke_seq``, ``too_large`` past a limit.
        """
        match a.kind:
            case "stroke.begin" | "shape":
                return self._add(a)
            case "stroke.points":
                return self._extend(a)
            case "stroke.end":
                return self._end(a)
            case "undo":
                return self._undo(a)
            case "clear":
                return self._clear()
        raise ValueError(f'"{a.kind}" does not change the drawing')

    def snapshot(self) -> list[dict[str, Any]]:
        """Every stroke and shape, oldest first, with all its points."""
        return [stroke.to_snapshot() for stroke in self.strokes.values()]

    # ------------------------------------------------------------ events
    def _add(self, a: Annotation) -> bool:
        assert a.stroke_id is not None and a.color is not None and a.width is not None
        if a.stroke_id in self.strokes:
            return False  # a repeated begin
        if a.stroke_id in self.retired:
            raise _refuse(
                ErrorCode.INVALID_STATE, f'stroke id "{a.stroke_id}" was already used and removed'
            )
        if len(self.strokes) >= self.limits.strokes:
            raise _refuse(
                ErrorCode.TOO_LARGE,
                f"the drawing holds {self.limits.strokes} strokes, its limit; undo or clear first",
            )
        self._check_stroke(len(a.points))
        self._check_room(len(a.points))
        kind = "shape" if a.kind == "shape" else "stroke"
        self.strokes[a.stroke_id] = Stroke(
            a.stroke_id, kind, a.color, a.width, list(a.points), a.shape, 0, kind == "shape"
        )
        self.total_points += len(a.points)
        return True

    def _extend(self, a: Annotation) -> bool:
        stroke = self._known(a)
        if stroke is None:
            return False
        assert a.stroke_seq is not None
        if stroke.ended:
            raise _refuse(ErrorCode.INVALID_STATE, f'stroke "{stroke.id}" has ended')
        if a.stroke_seq <= stroke.seq:
            return False  # a repeated batch
        if a.stroke_seq != stroke.seq + 1:
            raise _refuse(
                ErrorCode.INVALID_STATE,
                f'stroke "{stroke.id}" expects stroke_seq {stroke.seq + 1}, not {a.stroke_seq}',
            )
        self._check_stroke(len(stroke.points) + len(a.points))
        self._check_room(len(a.points))
        stroke.points.extend(a.points)
        stroke.seq = a.stroke_seq
        self.total_points += len(a.points)
        return True

    def _end(self, a: Annotation) -> bool:
        stroke = self._known(a)
        if stroke is None or stroke.ended:
            return False
        stroke.ended = True
        return True

    def _undo(self, a: Annotation) -> bool:
        stroke = self._known(a)
        if stroke is None:
            return False
        del self.strokes[stroke.id]
        self.total_points -= len(stroke.points)
        self._retire([stroke.id])
        return True

    def _clear(self) -> bool:
        if not self.strokes:
            return False
        self._retire(list(self.strokes))
        self.strokes.clear()
        self.total_points = 0
        return True

    # ------------------------------------------------------------ helpers
    def _known(self, a: Annotation) -> Stroke | None:
        """The live stroke ``a`` names; None if it was undone or cleared (a late retry)."""
        assert a.stroke_id is not None
        stroke = self.strokes.get(a.stroke_id)
        if stroke is None and a.stroke_id not in self.retired:
            raise _refuse(ErrorCode.NOT_FOUND, f'no stroke "{a.stroke_id}" in this drawing')
        return stroke

    def _check_stroke(self, points: int) -> None:
        if points > self.limits.stroke_points:
            raise _refuse(
                ErrorCode.TOO_LARGE,
                f"a stroke holds at most {self.limits.stroke_points} points; end it, begin another",
            )

    def _check_room(self, adding: int) -> None:
        if self.total_points + adding > self.limits.points:
            raise _refuse(
                ErrorCode.TOO_LARGE,
                f"the drawing holds at most {self.limits.points} points; undo or clear first",
            )

    def _retire(self, ids: list[str]) -> None:
        if len(self.retired) + len(ids) > self.limits.retired:
            self.retired.clear()
        self.retired.update(ids)
