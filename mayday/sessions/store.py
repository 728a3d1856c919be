"""Where a session's drawing, consent, pause and audit log live: in this process, or in
Redis so that every server process sees the same (a peer may reconnect to another one).

Each operation is atomic: the memory store is one synchronous call into the pure
``Drawing`` and ``Control``; the Redis store (``redis_store.py``) is one Lua script.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from mayday.protocol.annotations import Annotation, AnnotationSnapshot, ControlInput
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.routing.model import Session
from mayday.sessions.control import ConsentState, Control, ControlAction
from mayday.sessions.drawing import Drawing, Limits

# A drawing matters while its session lives; the audit log is kept for ops afterwards.
BOARD_TTL_S = 24 * 3600
AUDIT_TTL_S = 7 * 24 * 3600
PAUSED_ANNOTATION = "annotation refused: the user paused screen sharing"


@dataclass(frozen=True)
class AuditEntry:
    """One line of a session's audit log, with the server's timestamp."""

    t: float
    event: str
    by: str
    side: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"t": self.t, "event": self.event, "by": self.by, "side": self.side, **self.data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AuditEntry:
        base = {k: raw[k] for k in ("t", "event", "by", "side")}
        return cls(**base, data={k: v for k, v in raw.items() if k not in base})


class SessionsStore(Protocol):
    """Per-session annotation and control state; every method is one atomic operation.

    ``checks_session``: the store itself refuses a change to a session that is no
    longer active (atomically with the change), so a caller may hold a cached copy
    of the session's peers instead of reading it again for every frame.
    """

    checks_session: bool

    async def annotate(self, session: Session, a: Annotation, now: float) -> bool:
        """Apply ``a`` (a laser only checks the pause); True if it is to be relayed."""
        ...

    async def snapshot(self, session_id: str) -> AnnotationSnapshot: ...

    async def control(
        self, session: Session, action: ControlAction, by: str, now: float
    ) -> tuple[ConsentState, ConsentState]:
        """Take ``action``; (old, new), the same state twice when it changed nothing.
        Each change is audited."""
        ...

    async def share(self, session: Session, paused: bool, by: str, now: float) -> bool:
        """Pause or resume screen sharing; True if it changed (and was audited)."""
        ...

    async def control_input(self, session: Session, inp: ControlInput, by: str, now: float) -> None:
        """Audit an input and accept it, or audit its refusal and raise ``invalid_state``."""
        ...

    async def audit(self, session_id: str) -> list[AuditEntry]: ...

    async def session_of(self, role: str, sub: str) -> str | None:
        """The latest session of (role, sub) that has annotation or control state."""
        ...

    async def erase(self, user_id: str, session_ids: tuple[str, ...]) -> int:
        """Erase these sessions of the user (the user's data is erased): their audit logs
        and shared screens; how many audit entries there were."""
        ...


def control_entry(action: ControlAction, by: str, now: float, old: ConsentState) -> AuditEntry:
    return AuditEntry(now, f"control.{action}", by, action.side, {"from": old.value})


def share_entry(paused: bool, by: str, now: float) -> AuditEntry:
    return AuditEntry(now, "share.pause" if paused else "share.resume", by, "user")


def input_entry(inp: ControlInput, by: str, now: float, reason: str | None = None) -> AuditEntry:
    if reason is None:
        return AuditEntry(now, "control.input", by, "advisor", inp.audit_data())
    data = {**inp.audit_data(), "reason": reason}
    return AuditEntry(now, "control.input.refused", by, "advisor", data)


@dataclass
class Board:
    """One session's state in the memory store."""

    drawing: Drawing
    control: Control
    touched: float


class MemorySessionsStore:
    """The embedded default: every operation is synchronous, so atomic by itself.

    It knows nothing of the routing: its caller reads the session (in this process,
    cheap) before every operation."""

    checks_session = False

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._boards: dict[str, Board] = {}
        self._audit: dict[str, list[AuditEntry]] = {}
        self._of: dict[tuple[str, str], str] = {}

    def _board(self, session: Session, now: float, new: Board | None = None) -> Board:
        """The session's board; ``new`` (or a fresh one) becomes it if it has none yet.
        Only a change creates a board, so a refused or repeated event leaves no state."""
        board = self._boards.get(session.id)
        if board is None:
            self._forget_before(now - BOARD_TTL_S)
            board = new or self._fresh(session.id, now)
            self._boards[session.id] = board
            self._of[("user", session.user_id)] = session.id
            self._of[("advisor", session.advisor_id)] = session.id
        board.touched = now
        return board

    def _fresh(self, session_id: str, now: float) -> Board:
        return Board(Drawing(self.limits), Control(session_id), now)

    def _peek(self, session: Session, now: float) -> Board:
        """The session's board, or a fresh one not yet kept."""
        return self._boards.get(session.id) or self._fresh(session.id, now)

    def _forget_before(self, stale: float) -> None:
        """Drop boards untouched for a day (their sessions are long over)."""
        for session_id in [s for s, b in self._boards.items() if b.touched < stale]:
            del self._boards[session_id]
        self._of = {k: s for k, s in self._of.items() if s in self._boards}
        for session_id, log in list(self._audit.items()):
            if log[-1].t < stale - (AUDIT_TTL_S - BOARD_TTL_S):
                del self._audit[session_id]

    async def annotate(self, session: Session, a: Annotation, now: float) -> bool:
        board = self._boards.get(session.id)
        if board is not None and board.control.paused:
            raise ProtocolError(ErrorCode.INVALID_STATE, PAUSED_ANNOTATION)
        if a.volatile:
            return True
        board = self._peek(session, now)
        if not board.drawing.apply(a):
            return False
        self._board(session, now, board)
        return True

    async def snapshot(self, session_id: str) -> AnnotationSnapshot:
        board = self._boards.get(session_id)
        if board is None:
            return AnnotationSnapshot(session_id, [])
        c = board.control
        return AnnotationSnapshot(session_id, board.drawing.snapshot(), c.state.value, c.paused)

    async def control(
        self, session: Session, action: ControlAction, by: str, now: float
    ) -> tuple[ConsentState, ConsentState]:
        board = self._peek(session, now)
        old = board.control.state
        if not board.control.apply(action):
            return old, old
        self._board(session, now, board)
        self._record(session.id, control_entry(action, by, now, old))
        return old, board.control.state

    async def share(self, session: Session, paused: bool, by: str, now: float) -> bool:
        board = self._peek(session, now)
        if not board.control.set_paused(paused):
            return False
        self._board(session, now, board)
        self._record(session.id, share_entry(paused, by, now))
        return True

    async def control_input(self, session: Session, inp: ControlInput, by: str, now: float) -> None:
        board = self._board(session, now)
        try:
            board.control.check_input()
        except ProtocolError as exc:
            self._record(session.id, input_entry(inp, by, now, exc.message))
            raise
        self._record(session.id, input_entry(inp, by, now))

    async def audit(self, session_id: str) -> list[AuditEntry]:
        return list(self._audit.get(session_id, ()))

    async def session_of(self, role: str, sub: str) -> str | None:
        return self._of.get((role, sub))

    async def erase(self, user_id: str, session_ids: tuple[str, ...]) -> int:
        entries = 0
        for session_id in session_ids:
            entries += len(self._audit.pop(session_id, ()))
            self._boards.pop(session_id, None)
        gone = set(session_ids)
        self._of = {k: s for k, s in self._of.items() if s not in gone}
        return entries

    def _record(self, session_id: str, entry: AuditEntry) -> None:
        self._audit.setdefault(session_id, []).append(entry)
