"""Inputs to the routing core (events) and its outputs (effects)."""

from __future__ import annotations

from dataclasses import dataclass

from mayday.protocol.base import Outbound
from mayday.protocol.messages import HelpRequest


# ---------------------------------------------------------------- events
@dataclass(frozen=True)
class HelpRequested:
    user_id: str
    user_name: str
    request_id: str
    ask: HelpRequest
    # The user's token's ``priority`` claim, never a field of the frame: a client cannot
    # raise its own.
    priority: int = 0


@dataclass(frozen=True)
class HelpCancelled:
    """``help.cancel``, or ``message.leave`` naming the waiting request it replaces
    (``outcome`` ``message``)."""

    user_id: str
    request_id: str
    outcome: str = "cancelled"


@dataclass(frozen=True)
class AdvisorStateSet:
    advisor_id: str
    name: str
    skills: frozenset[str]
    available: bool
    # Each skill's level, as the token gives it (sorted by name); missing: implied.
    levels: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class AdvisorConnected:
    """An advisor's socket opened: an advisor the router does not know yet is counted
    ``away`` until they choose; one it knows (another tab, a reconnect) is unchanged."""

    advisor_id: str
    name: str
    skills: frozenset[str]
    levels: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class OfferAccepted:
    advisor_id: str
    request_id: str
    session_id: str


@dataclass(frozen=True)
class OfferDeclined:
    advisor_id: str
    request_id: str


@dataclass(frozen=True)
class OfferExpired:
    request_id: str
    offer_no: int


@dataclass(frozen=True)
class RouteDue:
    """A waiting request's next escalation step or a decline's cooldown is due: its
    match is looked at again. Idempotent: early, late or twice changes nothing more."""

    request_id: str


@dataclass(frozen=True)
class RequestExpired:
    """A waiting request reached its time-to-live; ignored if it no longer waits."""

    request_id: str


@dataclass(frozen=True)
class Disconnected:
    """The identity's last socket anywhere closed without ``session.end`` or
    ``help.cancel``: a drop. Its request or session waits for it through the grace
    period (``GraceExpired`` ends that)."""

    role: str
    sub: str
    # With several nodes on Redis: the node whose last socket of (role, sub) closed. Its
    # entry in the identity's location goes in the same atomic step, so a node that dies
    # right after cannot leave an identity that the reaper never sees. The core ignores it.
    node: str = ""


@dataclass(frozen=True)
class Reconnected:
    """A socket of the identity opened (its first on a node); ``resumed`` if it took over
    the stream of a dropped socket. Ignored unless the identity had dropped."""

    role: str
    sub: str
    resumed: bool = False


@dataclass(frozen=True)
class GraceExpired:
    """The grace period of drop number ``drop_no`` of (role, sub) ran out."""

    role: str
    sub: str
    drop_no: int


@dataclass(frozen=True)
class SessionEndRequested:
    role: str
    sub: str
    session_id: str
    reason: str


@dataclass(frozen=True)
class MediaReported:
    role: str
    sub: str
    session_id: str
    state: str
    detail: str | None = None


@dataclass(frozen=True)
class SessionTransferRequested:
    """``session.transfer``: the advisor of a live session hands its user on, warm (offered
    to ``to_advisor`` while the call goes on) or cold (the call ends and the request waits
    again at its place, needing ``skills`` when given)."""

    advisor_id: str
    session_id: str
    transfer_id: str
    to_advisor: str | None
    skills: tuple[str, ...] = ()
    note: str | None = None
    mode: str = "warm"


Event = (
    HelpRequested
    | HelpCancelled
    | AdvisorStateSet
    | AdvisorConnected
    | OfferAccepted
    | OfferDeclined
    | OfferExpired
    | RequestExpired
    | RouteDue
    | Disconnected
    | Reconnected
    | GraceExpired
    | SessionEndRequested
    | MediaReported
    | SessionTransferRequested
)


# ---------------------------------------------------------------- effects
@dataclass(frozen=True)
class Send:
    role: str
    sub: str
    message: Outbound


@dataclass(frozen=True)
class StartTimer:
    """Apply ``event`` after ``delay_s``; starting ``key`` again replaces its timer."""

    key: str
    delay_s: float
    event: OfferExpired | GraceExpired | RouteDue


@dataclass(frozen=True)
class CancelTimer:
    key: str


def offer_key(request_id: str) -> str:
    return f"offer:{request_id}"


def grace_key(role: str, sub: str) -> str:
    return f"grace:{role}:{sub}"


def route_key(request_id: str) -> str:
    return f"route:{request_id}"


def offer_timer(request_id: str, offer_no: int, delay_s: float) -> StartTimer:
    """The reservation of offer ``offer_no`` of a request."""
    return StartTimer(offer_key(request_id), delay_s, OfferExpired(request_id, offer_no))


def grace_timer(role: str, sub: str, drop_no: int, delay_s: float) -> StartTimer:
    """The grace period of drop ``drop_no`` of (role, sub)."""
    return StartTimer(grace_key(role, sub), delay_s, GraceExpired(role, sub, drop_no))


@dataclass(frozen=True)
class Observe:
    """A measurement for the metrics, emitted when it happens.

    ``metric`` is one of: ``time_to_accept`` and ``time_to_advisor`` (seconds
    since help was pressed), ``outcome`` (``label`` answered / cancelled /
    abandoned / expired / message; value: seconds waited), ``missed_offer``, ``answered_by``
    and ``declined`` (``label`` the advisor; value 1), ``advisor_time`` (``label``
    the status left; value: seconds spent in it), ``drop`` (``label`` the role;
    value 1), ``returned`` (``label`` the role; value: seconds away),
    ``grace_expired`` (``label`` the role; value 1), ``transfer_to_advisor``
    (seconds from a transfer to the new advisor's first frame on the tablet).
    ``topic`` is the request's topic or "".
    """

    metric: str
    value: float
    topic: str = ""
    label: str = ""


@dataclass(frozen=True)
class Waiting:
    """The user's request waits now (``request_id``), or no longer does (None). The node
    holding the user's sockets keeps this to send them position updates."""

    user_id: str
    request_id: str | None


@dataclass(frozen=True)
class SessionOver:
    """A session ended: every node that keeps a copy of it for its peers' sockets (to check
    their signals without a store read) forgets it."""

    session_id: str
    user_id: str
    advisor_id: str


@dataclass(frozen=True)
class ExpiredAway:
    """A request reached its time-to-live while its user was away (dropped, within the
    grace period): nobody could offer them to leave a message. The node that applied
    the expiry leaves one on their behalf when ``expired_to_message`` is on; only one
    apply finds the request still waiting, so it is made once on every backend."""

    request_id: str
    user_id: str
    user_name: str
    topic: str | None
    requested_at: float


@dataclass(frozen=True)
class RequestClosed:
    """A request left the queue for good without a session: ``outcome`` cancelled,
    abandoned, expired or message. Announced to the integrator (the ``help.closed``
    webhook), whether or not the user is there to be told."""

    request_id: str
    user_id: str
    outcome: str


Effect = (
    Send | StartTimer | CancelTimer | Observe | Waiting | SessionOver | RequestClosed | ExpiredAway
)
