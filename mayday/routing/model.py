"""What the router knows: requests, advisors, sessions, and their states."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from mayday.auth import IMPLIED_LEVEL
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.routing.config import Step


class RequestState(enum.StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    IN_SESSION = "in_session"
    ENDED = "ended"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    EXPIRED = "expired"
    # The user left a message instead of waiting (``message.leave`` with its request id).
    MESSAGE = "message"

    @property
    def waiting(self) -> bool:
        return self in (RequestState.QUEUED, RequestState.OFFERED)

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset(
    {
        RequestState.ENDED,
        RequestState.CANCELLED,
        RequestState.ABANDONED,
        RequestState.EXPIRED,
        RequestState.MESSAGE,
    }
)


# Why a user's data is not erased now (``DELETE /api/users/{user_id}``, both stores).
USER_BUSY = "the user has a request open: cancel or end it first"


class AdvisorStatus(enum.StrEnum):
    AWAY = "away"
    AVAILABLE = "available"
    RESERVED = "reserved"
    BUSY = "busy"


class SessionState(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


@dataclass(frozen=True)
class TimelineEntry:
    t: float
    event: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transfer:
    """A transfer of a request's session: pending while ``mode`` is warm (its target holds
    the request's offer); a cold one stays on the request for the offers that follow."""

    id: str
    by: str
    by_name: str
    session_id: str
    mode: str
    to_advisor: str | None
    skills: tuple[str, ...]
    note: str | None

    def to(self) -> dict[str, Any]:
        """Where it goes, as ``session.transfer`` named it."""
        return {"advisor": self.to_advisor} if self.to_advisor else {"skills": list(self.skills)}

    def offered(self) -> dict[str, Any]:
        """The ``transfer`` of a ``help.offer``."""
        return {
            "transfer_id": self.id,
            "from": {"id": self.by, "name": self.by_name},
            "note": self.note,
        }


@dataclass
class Request:
    id: str
    user_id: str
    user_name: str
    enqueued_at: float
    topic: str | None = None
    language: str | None = None
    skills: frozenset[str] = frozenset()
    device: dict[str, Any] = field(default_factory=dict)
    # From the user's token (``priority`` claim): higher is served sooner (core._order_key).
    priority: int = 0
    state: RequestState = RequestState.QUEUED
    seq: int = 0
    offered_to: str | None = None
    offered_at: float | None = None
    offer_no: int = 0
    # Advisors it is never offered to again (one who lost its session, or handed it on).
    declined_by: set[str] = field(default_factory=set)
    # Advisors who declined it, until when it is hidden from them (decline_cooldown_s).
    cooldowns: dict[str, float] = field(default_factory=dict)
    # The escalation step in force (an index into RouterConfig.escalation) and that step.
    step: int = 0
    match: Step = field(default_factory=Step)
    # When its one routing timer (core._time_route) is due; None: no timer runs.
    route_at: float | None = None
    session_id: str | None = None
    first_frame_at: float | None = None
    # While its user's socket is gone (a drop): when, and which drop (for its timer).
    user_dropped_at: float | None = None
    user_drop_no: int = 0
    timeline: list[TimelineEntry] = field(default_factory=list)
    media_reports: int = 0  # media.state reports received (MEDIA_ENTRIES_KEPT recorded)
    # (position, state, estimate) last told to the user, so updates go only on change.
    last_notice: tuple[int, str, float | None, str] | None = None
    # The latest transfer, and when it was asked from which session: the transferred
    # leg's time-to-advisor runs until a first frame in another session.
    transfer: Transfer | None = None
    transferred_at: float | None = None
    transferred_from: str | None = None
    # Sessions of this request that ended while it went on (transferred, or its advisor
    # lost): forgotten with the request, as its last session is.
    ended_sessions: list[str] = field(default_factory=list)

    def hidden_from(self, advisor_id: str, now: float) -> bool:
        """Not to be offered to this advisor now: excluded for good, or declined lately."""
        return advisor_id in self.declined_by or self.cooldowns.get(advisor_id, now) > now


@dataclass
class Advisor:
    id: str
    name: str
    skills: frozenset[str] = frozenset()
    # Proficiency per skill, 1 to 5; a skill missing here has the implied level.
    levels: dict[str, int] = field(default_factory=dict)
    status: AdvisorStatus = AdvisorStatus.AWAY
    # The presence the advisor chose; a busy or reserved advisor returns to it.
    wants_available: bool = False
    idle_since: float = 0.0
    status_since: float = 0.0
    offer: str | None = None
    session_id: str | None = None
    missed_offers: int = 0
    # While their socket is gone (a drop): when, and which drop (for its timer).
    dropped_at: float | None = None
    drop_no: int = 0
    # Claim mode: the waiting requests this advisor has been shown while free.
    claimable: set[str] = field(default_factory=set)

    def level(self, skill: str) -> int:
        if skill not in self.skills:
            return 0
        return self.levels.get(skill, IMPLIED_LEVEL)

    def fits(self, request: Request, step: Step) -> bool:
        """Whether this advisor has what ``step`` asks of the request's skills (declines
        aside): all of them, any one, or none, each at ``step.min_level`` at least."""
        if step.skills == "none" or not request.skills:
            return True
        good = (self.level(s) >= step.min_level for s in request.skills)
        return all(good) if step.skills == "all" else any(good)

    def can_take(self, request: Request, now: float) -> bool:
        """Fits the step in force, and the request is not hidden from them now."""
        return self.fits(request, request.match) and not request.hidden_from(self.id, now)


@dataclass
class Session:
    id: str
    request_id: str
    user_id: str
    advisor_id: str
    offerer: str
    started_at: float
    state: SessionState = SessionState.ACTIVE
    ended_at: float | None = None

    def role_of(self, sub: str, role: str) -> str | None:
        """The side ``sub`` plays in this session, or None if it is not a peer of it."""
        if role == "user" and sub == self.user_id:
            return "user"
        if role == "advisor" and sub == self.advisor_id:
            return "advisor"
        return None

    def peer_of(self, side: str) -> tuple[str, str]:
        """(role, sub) of the other side."""
        return ("advisor", self.advisor_id) if side == "user" else ("user", self.user_id)


def check_peer(
    session: Session | None, session_id: str, role: str, sub: str, side: str | None = None
) -> tuple[Session, str]:
    """The session and the side (role, sub) plays in it, or the refusal: ``not_found``
    when there is no such session, ``forbidden`` when the sender is not a peer of it (or,
    with ``side``, not the peer that plays that side). The one peer check of the server;
    ``session_of_peer`` in the Redis scripts is its twin."""
    if session is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f'no session "{session_id}"')
    found = session.role_of(sub, role)
    if side is not None and found != side:
        raise ProtocolError(ErrorCode.FORBIDDEN, f"only the session's {side} may send this")
    if found is None:
        raise ProtocolError(ErrorCode.FORBIDDEN, "you are not a peer of this session")
    return session, found
