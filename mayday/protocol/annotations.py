"""Typed frames for screen annotations and co-pilot control.

The advisor draws on the user's screen with ``annotation`` frames whose
``kind`` says what happened; coordinates are normalised to the shared video
frame (0..1 on both axes), so the sizes and shapes of the two screens do not
matter. Control frames carry the user's consent and the advisor's taps. Every
class here parses a raw frame and refuses it with ``invalid_field``; the
limits that depend on the session's drawing (points per stroke, strokes per
session) are kept by ``mayday.sessions.drawing``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from mayday.protocol.base import Outbound
from mayday.protocol.errors import invalid_field
from mayday.protocol.fields import MISSING, choice, req_str

KINDS = ("stroke.begin", "stroke.points", "stroke.end", "shape", "laser", "undo", "clear")
SHAPES = ("arrow", "box", "highlight")
INPUT_ACTIONS = ("tap", "scroll")
MAX_POINTS_PER_FRAME = 64
MAX_WIDTH = 0.1
# Four decimals: a ten-thousandth of the frame, a fifth of a pixel on a 2000-pixel screen.
DECIMALS = 4
_STROKE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

Point = tuple[float, float]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _coordinate(name: str, value: Any, low: float = 0.0, high: float = 1.0) -> float:
    if not _number(value) or not low <= value <= high:
        raise invalid_field(name, f"must be a number from {low:g} to {high:g}")
    return round(float(value), DECIMALS)


def point(frame: Mapping[str, Any], name: str, low: float = 0.0, high: float = 1.0) -> Point:
    """``[x, y]`` with both in ``low..high``, rounded to ``DECIMALS``."""
    value = frame.get(name, MISSING)
    if value is MISSING:
        raise invalid_field(name, "is required")
    return _pair(name, value, low, high)


def _pair(name: str, value: Any, low: float, high: float) -> Point:
    if not isinstance(value, list) or len(value) != 2:
        raise invalid_field(name, "must be a list [x, y]")
    return (_coordinate(name, value[0], low, high), _coordinate(name, value[1], low, high))


def points(
    frame: Mapping[str, Any], name: str, *, least: int, most: int = MAX_POINTS_PER_FRAME
) -> tuple[Point, ...]:
    """A list of ``[x, y]`` in 0..1, of ``least`` to ``most`` points."""
    value = frame.get(name, [] if least == 0 else MISSING)
    if value is MISSING:
        raise invalid_field(name, "is required")
    if not isinstance(value, list) or not least <= len(value) <= most:
        raise invalid_field(name, f"must be a list of {least} to {most} points [x, y]")
    return tuple(_pair(name, item, 0.0, 1.0) for item in value)


def stroke_id(frame: Mapping[str, Any]) -> str:
    value = req_str(frame, "stroke_id", 64)
    if not _STROKE_ID.match(value):
        raise invalid_field("stroke_id", "may hold only letters, digits and _ . : -")
    return value


def _colour(frame: Mapping[str, Any]) -> str:
    value = frame.get("color")
    if not isinstance(value, str) or not _COLOUR.match(value):
        raise invalid_field("color", 'must be a colour "#rrggbb"')
    return value.lower()


def _width(frame: Mapping[str, Any]) -> float:
    value: Any = frame.get("width")
    if not _number(value) or not 0 < value <= MAX_WIDTH:
        raise invalid_field("width", f"must be a number above 0 and at most {MAX_WIDTH:g}")
    return round(float(value), DECIMALS)


def _stroke_seq(frame: Mapping[str, Any]) -> int:
    value = frame.get("stroke_seq")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise invalid_field("stroke_seq", "must be an integer of at least 1")
    return value


def wire_points(pts: tuple[Point, ...]) -> list[list[float]]:
    return [[x, y] for x, y in pts]


@dataclass(frozen=True)
class Annotation:
    """One ``annotation`` frame from the advisor, checked field by field for its ``kind``.

    - ``stroke.begin``: ``stroke_id``, ``color``, ``width``, optional first ``points``
    - ``stroke.points``: ``stroke_id``, ``stroke_seq`` (1, 2, ... per stroke), ``points``
    - ``stroke.end``: ``stroke_id``
    - ``shape``: ``stroke_id``, ``shape`` (arrow, box, highlight), ``color``, ``width``,
      ``points`` (two: from and to, or two opposite corners)
    - ``laser``: ``point`` (``[x, y]``, or null when the pointer left the picture)
    - ``undo``: ``stroke_id``
    - ``clear``: nothing more
    """

    session_id: str
    kind: str
    stroke_id: str | None = None
    stroke_seq: int | None = None
    color: str | None = None
    width: float | None = None
    shape: str | None = None
    points: tuple[Point, ...] = ()
    laser: Point | None = None

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        session_id = req_str(frame, "session_id", 64)
        kind = choice(frame, "kind", KINDS)
        match kind:
            case "stroke.begin":
                return cls(
                    session_id,
                    kind,
                    stroke_id=stroke_id(frame),
                    color=_colour(frame),
                    width=_width(frame),
                    points=points(frame, "points", least=0),
                )
            case "stroke.points":
                return cls(
                    session_id,
                    kind,
                    stroke_id=stroke_id(frame),
                    stroke_seq=_stroke_seq(frame),
                    points=points(frame, "points", least=1),
                )
            case "shape":
                return cls(
                    session_id,
                    kind,
                    stroke_id=stroke_id(frame),
                    shape=choice(frame, "shape", SHAPES),
                    color=_colour(frame),
                    width=_width(frame),
                    points=points(frame, "points", least=2, most=2),
                )
            case "laser":
                if "point" not in frame:
                    raise invalid_field("point", "is required ([x, y], or null to hide it)")
                laser = None if frame["point"] is None else point(frame, "point")
                return cls(session_id, kind, laser=laser)
            case "stroke.end" | "undo":
                return cls(session_id, kind, stroke_id=stroke_id(frame))
            case _:
                return cls(session_id, kind)

    @property
    def volatile(self) -> bool:
        """Laser moves are worth nothing once stale: dropped, never queued, under backpressure."""
        return self.kind == "laser"

    def relayed(self) -> AnnotationRelayed:
        """The frame the user receives: only the fields of this kind."""
        has_points = self.kind in ("stroke.begin", "stroke.points", "shape")
        return AnnotationRelayed(
            session_id=self.session_id,
            kind=self.kind,
            stroke_id=self.stroke_id,
            stroke_seq=self.stroke_seq if self.kind == "stroke.points" else None,
            shape=self.shape if self.kind == "shape" else None,
            color=self.color,
            width=self.width if self.color is not None else None,
            points=wire_points(self.points) if has_points else None,
            point=None if self.laser is None else list(self.laser),
        )


@dataclass(frozen=True)
class SessionRef:
    """A frame that names only a session: ``control.request``, ``control.grant``,
    ``control.deny``, ``control.revoke``, ``share.pause``, ``share.resume``,
    ``annotation.snapshot``."""

    session_id: str

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        return cls(req_str(frame, "session_id", 64))


@dataclass(frozen=True)
class ControlInput:
    """``control.input``: a tap at ``point``, or a scroll at ``point`` by ``delta``
    (fractions of the frame, -1..1 on each axis; positive ``dy`` scrolls down)."""

    session_id: str
    action: str
    point: Point
    delta: Point | None = None

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        session_id = req_str(frame, "session_id", 64)
        action = choice(frame, "action", INPUT_ACTIONS)
        at = point(frame, "point")
        delta = point(frame, "delta", -1.0, 1.0) if action == "scroll" else None
        return cls(session_id, action, at, delta)

    def relayed(self) -> ControlInputRelayed:
        """The frame the user receives."""
        delta = None if self.delta is None else list(self.delta)
        return ControlInputRelayed(self.session_id, self.action, list(self.point), delta)

    def audit_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"action": self.action, "point": list(self.point)}
        if self.delta is not None:
            data["delta"] = list(self.delta)
        return data


# ---------------------------------------------------------------- outbound


@dataclass(frozen=True)
class AnnotationRelayed(Outbound):
    """An ``annotation`` as the user receives it: the fields of its ``kind`` only
    (``point`` for a laser, where ``null`` means the pointer left the picture)."""

    TYPE: ClassVar[str] = "annotation"
    session_id: str
    kind: str
    stroke_id: str | None = None
    stroke_seq: int | None = None
    shape: str | None = None
    color: str | None = None
    width: float | None = None
    points: list[list[float]] | None = None
    point: list[float] | None = None

    def to_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": self.TYPE, "session_id": self.session_id}
        frame["kind"] = self.kind
        for name in ("stroke_id", "stroke_seq", "shape", "color", "width", "points"):
            value = getattr(self, name)
            if value is not None:
                frame[name] = value
        if self.kind == "laser":
            frame["point"] = self.point
        return frame


@dataclass(frozen=True)
class AnnotationSnapshot(Outbound):
    """The whole shared-screen state of a session in one frame: its strokes in drawing
    order, the consent state and whether sharing is paused."""

    TYPE: ClassVar[str] = "annotation.snapshot"
    session_id: str
    strokes: list[dict[str, Any]] = field(default_factory=list)
    control: str = "off"
    paused: bool = False


@dataclass(frozen=True)
class ControlState(Outbound):
    """Co-pilot consent changed (``by`` the side that changed it)."""

    TYPE: ClassVar[str] = "control.state"
    session_id: str
    state: str
    by: str


@dataclass(frozen=True)
class ShareState(Outbound):
    """The user paused or resumed screen sharing."""

    TYPE: ClassVar[str] = "share.state"
    session_id: str
    paused: bool
    by: str = "user"


@dataclass(frozen=True)
class ControlInputRelayed(Outbound):
    """A tap or a scroll of the advisor's, with the user's consent."""

    TYPE: ClassVar[str] = "control.input"
    session_id: str
    action: str
    point: list[float]
    delta: list[float] | None = None

    def to_frame(self) -> dict[str, Any]:
        frame = super().to_frame()
        if self.delta is None:
            del frame["delta"]
        return frame
