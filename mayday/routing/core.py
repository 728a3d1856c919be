"""The routing core: pure, synchronous, no I/O.

``Router.handle(event, now)`` changes the state and returns effects (frames to
send, timers to start or cancel). Refused events raise ``ProtocolError`` before
anything changes, so a refused frame leaves no trace.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from mayday.auth import turn_credentials
from mayday.protocol.base import Outbound
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.protocol.messages import (
    AdvisorStateChanged,
    HelpClosed,
    HelpOffer,
    HelpQueued,
    HelpWithdrawn,
    PeerDisconnected,
    PeerReconnected,
    QueueSummary,
    SessionEnded,
    SessionStarted,
    SessionTransferred,
    SessionTransferring,
    TransferFailed,
)
from mayday.routing.config import MEDIA_ENTRIES_KEPT, RouterConfig, Step
from mayday.routing.events import (
    AdvisorConnected,
    AdvisorStateSet,
    CancelTimer,
    Disconnected,
    Effect,
    Event,
    ExpiredAway,
    GraceExpired,
    HelpCancelled,
    HelpRequested,
    MediaReported,
    Observe,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    Reconnected,
    RequestClosed,
    RequestExpired,
    RouteDue,
    Send,
    SessionEndRequested,
    SessionOver,
    SessionTransferRequested,
    StartTimer,
    Waiting,
    grace_key,
    grace_timer,
    offer_key,
    offer_timer,
    route_key,
)
from mayday.routing.model import (
    USER_BUSY,
    Advisor,
    AdvisorStatus,
    Request,
    RequestState,
    Session,
    SessionState,
    TimelineEntry,
    Transfer,
    check_peer,
)
from mayday.routing.rank import RankedSet

log = logging.getLogger(__name__)


def half_up(value: float, digits: int) -> float:
    """Round half up, as the Redis scripts do (Python's round() rounds half to even)."""
    scale = 10.0**digits
    return math.floor(value * scale + 0.5) / scale


def ice_servers_for(config: RouterConfig, sub: str, now: float) -> list[dict[str, Any]]:
    """The configured ICE servers, plus TURN with short-lived credentials for ``sub``."""
    servers = [dict(s) for s in config.ice_servers]
    if config.turn_urls:
        username, credential = turn_credentials(config.turn_secret, sub, config.turn_ttl_s, now)
        servers.append(
            {"urls": list(config.turn_urls), "username": username, "credential": credential}
        )
    return servers


class Router:
    """Queue, advisors and sessions of one deployment, driven by events."""

    def __init__(self, config: RouterConfig | None = None) -> None:
        self.config = config or RouterConfig()
        self.requests: dict[str, Request] = {}
        # Waiting requests (queued or offered) in FIFO order of enqueue time: the order
        # their time-to-live runs out in. They are served in ``_rank``'s order.
        self.queue: dict[str, Request] = {}
        self.advisors: dict[str, Advisor] = {}
        self.sessions: dict[str, Session] = {}
        self._open_request_of_user: dict[str, str] = {}
        self._finished: deque[str] = deque()
        self._handle_times: deque[float] = deque(maxlen=50)
        # The waiting requests' order keys (``_order_key``), in the order they are served.
        self._rank = RankedSet()
        self._seq = 0
        self._status_counts: Counter[AdvisorStatus] = Counter()
        # Free advisors by (idle since, id): a heap with lazy deletion, and each free
        # advisor's current key (an entry that differs from it is stale).
        self._free_heap: list[tuple[float, str]] = []
        self._free_key: dict[str, tuple[float, str]] = {}
        # Requests whose own state changed in this operation: their users hear at once.
        self._touched: dict[str, Request] = {}
        # Waiting requests found declined by every online advisor (checked again when
        # counted: a cooldown's end or a new advisor makes one takeable again).
        self._declined_all: set[str] = set()
        self._now = 0.0
        self._out: list[Effect] = []
        self._handlers: dict[type[Any], Callable[[Any, float], None]] = {
            HelpRequested: self._on_help_requested,
            HelpCancelled: self._on_help_cancelled,
            AdvisorStateSet: self._on_advisor_state,
            AdvisorConnected: self._on_advisor_connected,
            OfferAccepted: self._on_accept,
            OfferDeclined: self._on_decline,
            OfferExpired: self._on_offer_expired,
            RequestExpired: self._on_request_expired,
            RouteDue: self._on_route_due,
            Disconnected: self._on_disconnected,
            Reconnected: self._on_reconnected,
            GraceExpired: self._on_grace_expired,
            SessionEndRequested: self._on_session_end,
            MediaReported: self._on_media,
            SessionTransferRequested: self._on_transfer,
        }

    # ------------------------------------------------------------ entry point
    def handle(self, event: Event, now: float) -> list[Effect]:
        """Apply one event at time ``now`` and return the effects to carry out."""
        self._out, self._touched, self._now = [], {}, now
        self._handlers[type(event)](event, now)
        self._dispatch(now)
        for req in self._touched.values():
            if req.state.waiting:
                self._notice(req, now)
        out, self._out = self._out, []
        return out

    def position_updates(self, request_ids: list[str], now: float) -> list[Effect]:
        """``help.queued`` for each of these requests whose position or estimate moved
        since its user last heard; the transport asks about its own users every second."""
        self._out, self._now = [], now
        for request_id in request_ids:
            req = self.requests.get(request_id)
            if req is not None and req.state.waiting:
                self._notice(req, now)
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------ queries
    def current_state(self, role: str, sub: str, now: float) -> list[Outbound]:
        """What a socket that could not resume is told, so that its client can carry on:
        a user's open request or live session; an advisor's presence, and their live
        session, held offer or claimable requests. Changes nothing."""
        if role == "user":
            req = self.open_request_of(sub)
            return [] if req is None else self._user_state(req, now)
        adv = self.advisors.get(sub) if role == "advisor" else None
        return [] if adv is None else self._advisor_state(adv, now)

    def _user_state(self, req: Request, now: float) -> list[Outbound]:
        if req.state.waiting:
            position = self._rank.rank(self._order_key(req))
            estimate = self._estimate(req, position, now)
            free = self._count(AdvisorStatus.AVAILABLE)
            match = req.match.skills
            return [HelpQueued(req.id, position, estimate, req.state.value, free, match=match)]
        session = self.sessions.get(req.session_id or "")
        adv = self.advisors.get(session.advisor_id) if session else None
        if session is None or adv is None:
            return []
        out: list[Outbound] = [self._started(session, req, adv, "user", now)]
        if self._transfer_pending(req) and req.transfer is not None and req.offered_to:
            out.append(_transferring(req.transfer, self.advisors[req.offered_to]))
        return out

    def _advisor_state(self, adv: Advisor, now: float) -> list[Outbound]:
        presence = "available" if adv.wants_available else "away"
        out: list[Outbound] = [AdvisorStateChanged(presence, "resync")]
        if adv.session_id is not None:
            session = self.sessions[adv.session_id]
            req = self.requests[session.request_id]
            out.append(self._started(session, req, adv, "advisor", now))
        elif adv.offer is not None:
            req = self.requests[adv.offer]
            left = self.config.reservation_timeout_s - (now - (req.offered_at or now))
            out.append(self._offer_frame(req, now, half_up(max(0.0, left), 3), "offer"))
        for request_id in sorted(adv.claimable):
            out.append(self._offer_frame(self.requests[request_id], now, None, "claim"))
        return out

    def session(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def open_request_of(self, user_id: str) -> Request | None:
        request_id = self._open_request_of_user.get(user_id)
        return self.requests.get(request_id) if request_id else None

    def forget_user(self, user_id: str) -> tuple[list[Request], list[Session]]:
        """Forget the user's finished requests and sessions (their data is erased); those
        forgotten. ``invalid_state`` while the user has a request open: a waiting request
        or a live call is not taken from under them."""
        if user_id in self._open_request_of_user:
            raise ProtocolError(ErrorCode.INVALID_STATE, USER_BUSY)
        requests = [r for r in self.requests.values() if r.user_id == user_id]
        sessions = [s for s in self.sessions.values() if s.user_id == user_id]
        for req in requests:
            del self.requests[req.id]
        for session in sessions:
            del self.sessions[session.id]
        if requests:
            ids = {r.id for r in requests}
            self._finished = deque(r for r in self._finished if r not in ids)
        return requests, sessions

    def summary(self, now: float) -> QueueSummary:
        head = next(iter(self.queue.values()), None)
        return QueueSummary(
            waiting=len(self.queue),
            oldest_wait_s=None if head is None else half_up(now - head.enqueued_at, 3),
            advisors_available=self._count(AdvisorStatus.AVAILABLE),
            advisors_reserved=self._count(AdvisorStatus.RESERVED),
            advisors_busy=self._count(AdvisorStatus.BUSY),
            advisors_away=self._count(AdvisorStatus.AWAY),
            declined_by_all=self._count_declined_by_all(now),
        )

    def _count_declined_by_all(self, now: float) -> int:
        """How many waiting requests every online advisor has declined (cooldowns on)."""
        return sum(1 for rid in self._declined_all if self._declined_by_all(self.queue[rid], now))

    def due_requests(self, now: float) -> list[str]:
        """Waiting requests past their time-to-live, oldest first (the queue is FIFO)."""
        deadline = now - self.config.request_ttl_s
        due = []
        for req in self.queue.values():
            if req.enqueued_at > deadline:
                break
            due.append(req.id)
        return due

    def position_of(self, request_id: str) -> int | None:
        req = self.queue.get(request_id)
        return None if req is None else self._rank.rank(self._order_key(req))

    def in_line(self) -> list[str]:
        """The waiting requests' ids in the order they are served (priority, then age)."""
        return [key[2] for key in self._rank]

    def _order_key(self, req: Request) -> tuple[float, int, str]:
        """A request's place in line: its enqueue time moved ahead ``priority_step_s`` per
        level of priority, so a priority request goes ahead of those that came at most
        that much earlier per level, and no one waits behind priority for ever; equal
        times keep arrival order (``seq``). The Redis queue orders by the same score and
        the same tiebreak (``queue_member`` in prelude.lua)."""
        return (req.enqueued_at - req.priority * self.config.priority_step_s, req.seq, req.id)

    # ------------------------------------------------------------ users
    def _on_help_requested(self, ev: HelpRequested, now: float) -> None:
        current = self.open_request_of(ev.user_id)
        if current is not None:
            raise ProtocolError(
                ErrorCode.INVALID_STATE,
                f'user already has request "{current.id}" ({current.state})',
            )
        if ev.request_id in self.requests:
            raise ProtocolError(ErrorCode.INVALID_STATE, f'request "{ev.request_id}" exists')
        ask = ev.ask
        req = Request(
            id=ev.request_id,
            user_id=ev.user_id,
            user_name=ev.user_name,
            enqueued_at=now,
            topic=ask.topic,
            language=ask.language,
            skills=frozenset(ask.skills),
            device=dict(ask.device),
            priority=ev.priority,
        )
        self.requests[req.id] = req
        self._seq += 1
        req.seq = self._seq
        self.queue[req.id] = req
        self._rank.add(self._order_key(req))
        self._touched[req.id] = req
        self._open_request_of_user[req.user_id] = req.id
        req.match = self.config.escalation[0]
        priority = req.priority or None  # on the timeline only when it is not the default
        self._record(
            req, now, "requested", topic=ask.topic, skills=sorted(ask.skills), priority=priority
        )
        self._out.append(Waiting(req.user_id, req.id))
        self._escalate(req, now)
        log.info("request %s: new from user %s", req.id, req.user_id)

    def _on_help_cancelled(self, ev: HelpCancelled, now: float) -> None:
        req = self._request(ev.request_id)
        if req.user_id != ev.user_id:
            raise ProtocolError(ErrorCode.FORBIDDEN, "request belongs to another user")
        if not req.state.waiting:
            raise ProtocolError(ErrorCode.INVALID_STATE, f"request is {req.state}, not waiting")
        outcome = RequestState(ev.outcome)
        self._leave_queue(req, outcome, now, withdraw_reason="cancelled")
        self._send("user", req.user_id, HelpClosed(req.id, outcome.value))

    # ------------------------------------------------------------ advisors
    def _on_advisor_state(self, ev: AdvisorStateSet, now: float) -> None:
        adv = self.advisors.get(ev.advisor_id)
        if adv is not None and adv.dropped_at is not None:
            # A frame from them: they are back (their return raced this frame).
            self._advisor_returned(adv.id, False, now)
        if adv is None:
            adv = Advisor(
                id=ev.advisor_id,
                name=ev.name,
                skills=ev.skills,
                levels=dict(ev.levels),
                idle_since=now,
                status_since=now,
            )
            self.advisors[adv.id] = adv
            self._status_counts[adv.status] += 1
            log.info("advisor %s: online", adv.id)
        adv.wants_available = ev.available
        if ev.available and adv.status is AdvisorStatus.AWAY:
            adv.idle_since = now
            self._set_advisor_status(adv, AdvisorStatus.AVAILABLE)
        elif not ev.available and adv.status is AdvisorStatus.AVAILABLE:
            self._set_advisor_status(adv, AdvisorStatus.AWAY)
        elif not ev.available and adv.status is AdvisorStatus.RESERVED:
            self._withdraw_offer(adv, now, AdvisorStatus.AWAY, reason="advisor_away")
        state = "available" if ev.available else "away"
        self._send("advisor", adv.id, AdvisorStateChanged(state=state, reason="requested"))

    def _on_advisor_connected(self, ev: AdvisorConnected, now: float) -> None:
        """Counted away until they choose (docs/protocol.md); nothing is sent."""
        if ev.advisor_id in self.advisors:
            return
        adv = Advisor(
            ev.advisor_id, ev.name, ev.skills, dict(ev.levels), idle_since=now, status_since=now
        )
        self.advisors[adv.id] = adv
        self._status_counts[adv.status] += 1

    def _on_accept(self, ev: OfferAccepted, now: float) -> None:
        pending = self.requests.get(ev.request_id)
        if pending is not None and self._transfer_pending(pending):
            self._accept_transfer(ev, pending, now)
            return
        claim = self._claim_mode or self._shown(ev.advisor_id, ev.request_id)
        if claim:
            req, adv = self._claimable(ev.advisor_id, ev.request_id)
        else:
            req, adv = self._held_offer(ev.advisor_id, ev.request_id)
        if ev.session_id in self.sessions:
            raise ProtocolError(ErrorCode.INVALID_STATE, f'session "{ev.session_id}" exists')
        if claim:
            self._record(req, now, "claimed", advisor=adv.id)
            self._withdraw_claims(req, "claimed", keep=adv.id)
        else:
            self._out.append(CancelTimer(offer_key(req.id)))
            self._record(req, now, "offer.accepted", advisor=adv.id, offer_no=req.offer_no)
        waited = now - req.enqueued_at
        self._out.append(Observe("time_to_accept", waited, req.topic or ""))
        self._out.append(Observe("outcome", waited, req.topic or "", "answered"))
        self._out.append(Observe("answered_by", 1.0, "", adv.id))
        session = Session(
            id=ev.session_id,
            request_id=req.id,
            user_id=req.user_id,
            advisor_id=adv.id,
            offerer=self.config.offerer,
            started_at=now,
        )
        self.sessions[session.id] = session
        del self.queue[req.id]
        self._rank.remove(self._order_key(req))
        self._stop_route(req)
        self._declined_all.discard(req.id)
        req.offered_to, req.session_id = None, session.id
        adv.offer, adv.session_id = None, session.id
        self._set_request_state(req, RequestState.IN_SESSION, now)
        self._set_advisor_status(adv, AdvisorStatus.BUSY)
        self._announce_session(session, req, adv, now)

    def _announce_session(self, session: Session, req: Request, adv: Advisor, now: float) -> None:
        """The session on the request's timeline, and ``session.started`` to both sides."""
        self._record(
            req,
            now,
            "session.started",
            session_id=session.id,
            advisor=adv.id,
            advisor_name=adv.name,
        )
        self._send("user", req.user_id, self._started(session, req, adv, "user", now))
        self._send("advisor", adv.id, self._started(session, req, adv, "advisor", now))

    def _started(
        self, session: Session, req: Request, adv: Advisor, side: str, now: float
    ) -> SessionStarted:
        """``session.started`` as one side receives it, with its own ICE credentials."""
        if side == "user":
            peer, sub = {"id": adv.id, "name": adv.name, "role": "advisor"}, req.user_id
        else:
            peer, sub = {"id": req.user_id, "name": req.user_name, "role": "user"}, adv.id
        return SessionStarted(
            session_id=session.id,
            request_id=req.id,
            peer=peer,
            offerer=session.offerer,
            ice_servers=self._ice(sub, now),
            role=side,
        )

    def _shown(self, advisor_id: str, request_id: str) -> bool:
        """Offer mode: a request everyone declined is shown to them to take (``_show``)."""
        adv = self.advisors.get(advisor_id)
        return adv is not None and request_id in adv.claimable

    def _on_decline(self, ev: OfferDeclined, now: float) -> None:
        if self._claim_mode or self._shown(ev.advisor_id, ev.request_id):
            req, adv = self._claimable(ev.advisor_id, ev.request_id)
            self._out.append(Observe("declined", 1.0, "", adv.id))
            adv.claimable.discard(req.id)
            self._record(req, now, "claim.declined", advisor=adv.id)
            self._cool_down(req, adv, now)
            return
        req, adv = self._held_offer(ev.advisor_id, ev.request_id)
        self._out.append(Observe("declined", 1.0, "", adv.id))
        self._withdraw_offer(adv, now, AdvisorStatus.AVAILABLE, outcome="declined")
        if req.state.waiting:  # not a warm transfer's offer: that request is in its call
            self._cool_down(req, adv, now)

    def _cool_down(self, req: Request, adv: Advisor, now: float) -> None:
        """A decline hides the request from its advisor for ``decline_cooldown_s``, not for
        good: a request everyone declined must not wait for nobody until it expires."""
        req.cooldowns[adv.id] = now + self.config.decline_cooldown_s
        if req.id not in self._declined_all and self._declined_by_all(req, now):
            self._declined_all.add(req.id)
            self._record(req, now, "declined_by_all", advisors=len(req.cooldowns))
            if not self._claim_mode:
                self._show(req, now)
        self._time_route(req, now)

    def _show(self, req: Request, now: float) -> None:
        """Offer mode: every online advisor declined it, so the free ones among them are
        shown it as a request they can still take (a ``help.offer`` with mode ``claim``,
        taken with ``help.accept``) until it is offered again or leaves the queue."""
        if req.state is not RequestState.QUEUED or req.user_dropped_at is not None:
            return
        for aid in sorted(req.cooldowns):
            adv = self.advisors.get(aid)
            if adv is None or adv.status is not AdvisorStatus.AVAILABLE:
                continue
            if aid in req.declined_by or not adv.fits(req, req.match):
                continue
            adv.claimable.add(req.id)
            self._send("advisor", aid, self._offer_frame(req, now, None, "claim"))

    def _declined_by_all(self, req: Request, now: float) -> bool:
        """Every online advisor has it hidden by a decline: O(its decliners), not O(team)."""
        online = len(self.advisors) - self._count(AdvisorStatus.AWAY)
        cooling = sum(
            1
            for aid in req.cooldowns
            if aid in self.advisors
            and self.advisors[aid].status is not AdvisorStatus.AWAY
            and req.hidden_from(aid, now)
            and aid not in req.declined_by
        )
        excluded = sum(
            1
            for aid in req.declined_by
            if aid in self.advisors and self.advisors[aid].status is not AdvisorStatus.AWAY
        )
        return cooling > 0 and cooling + excluded >= online

    # ------------------------------------------------------------ escalation
    def _on_route_due(self, ev: RouteDue, now: float) -> None:
        req = self.requests.get(ev.request_id)
        if req is None or not req.state.waiting:
            return
        req.route_at = None  # this timer has fired: the next is started afresh
        self._escalate(req, now)
        self._touched[req.id] = req

    def _escalate(self, req: Request, now: float) -> None:
        """Move the request on to the step its age has reached, then past each step no
        online advisor fits (TaskRouter's ``skip_if``), and time its next look. A
        request without skills fits everyone at every step: it has none to widen."""
        steps = self.config.escalation
        if not req.skills:
            self._time_route(req, now)
            return
        step, reason = req.step, "age"
        while step + 1 < len(steps) and now - req.enqueued_at >= steps[step + 1].after_s:
            step += 1
        while step + 1 < len(steps) and not self._anyone_fits(req, steps[step]):
            step, reason = step + 1, "skipped"
        if step != req.step:
            req.step, req.match = step, steps[step]
            self._record(
                req,
                now,
                "escalated",
                step=step,
                match=req.match.skills,
                min_level=req.match.min_level,
                reason=reason,
            )
            self._touched[req.id] = req
        self._time_route(req, now)

    def _anyone_fits(self, req: Request, step: Step) -> bool:
        """Whether some online advisor fits ``step`` (declines aside). With nobody online
        there is nobody to skip for: the steps then widen by age alone. Scans the team
        only for a request with skills, as the estimate does."""
        online = len(self.advisors) - self._count(AdvisorStatus.AWAY)
        if online == 0 or not req.skills or step.skills == "none":
            return True
        return any(
            a.status is not AdvisorStatus.AWAY and a.fits(req, step) for a in self.advisors.values()
        )

    def _time_route(self, req: Request, now: float) -> None:
        """One timer per waiting request, at its next step or its first cooldown's end;
        ended cooldowns are forgotten so the map stays as small as the live ones."""
        steps = self.config.escalation
        widens = req.skills and req.step + 1 < len(steps)
        due = [req.enqueued_at + steps[req.step + 1].after_s] if widens else []
        for aid, until in list(req.cooldowns.items()):
            if until <= now:
                del req.cooldowns[aid]
            else:
                due.append(until)
        at = min(due) if due else None
        if at == req.route_at:
            return
        if at is None:
            self._stop_route(req)
            return
        req.route_at = at
        self._out.append(StartTimer(route_key(req.id), max(0.0, at - now), RouteDue(req.id)))

    def _stop_route(self, req: Request) -> None:
        if req.route_at is not None:
            req.route_at = None
            self._out.append(CancelTimer(route_key(req.id)))

    def _on_offer_expired(self, ev: OfferExpired, now: float) -> None:
        req = self.requests.get(ev.request_id)
        # A timer can fire after the offer was answered: the offer number tells.
        if req is None or req.offer_no != ev.offer_no:
            return
        if req.state is not RequestState.OFFERED and not self._transfer_pending(req):
            return
        adv = self.advisors[req.offered_to] if req.offered_to else None
        if adv is None:
            return
        adv.missed_offers += 1
        adv.wants_available = False
        self._out.append(Observe("missed_offer", 1.0, "", adv.id))
        self._withdraw_offer(
            adv, now, AdvisorStatus.AWAY, reason="timeout", outcome="timed_out", timer=False
        )
        self._send("advisor", adv.id, AdvisorStateChanged(state="away", reason="offer_timeout"))

    def _on_request_expired(self, ev: RequestExpired, now: float) -> None:
        req = self.requests.get(ev.request_id)
        if req is None or not req.state.waiting:
            return
        if now - req.enqueued_at < self.config.request_ttl_s:
            return
        away = req.user_dropped_at is not None
        self._leave_queue(req, RequestState.EXPIRED, now, withdraw_reason="expired")
        # A user who is here is offered the message form; one who is away cannot be
        # (the frame waits in their parked stream): a message is left for them.
        closed = HelpClosed(req.id, RequestState.EXPIRED.value, leave_message=not away)
        self._send("user", req.user_id, closed)
        if away:
            self._out.append(
                ExpiredAway(req.id, req.user_id, req.user_name, req.topic, req.enqueued_at)
            )

    # ------------------------------------------------------------ drops and returns
    def _on_disconnected(self, ev: Disconnected, now: float) -> None:
        """A drop: the identity keeps its place for ``resume_grace_s``."""
        if ev.role == "user":
            self._user_dropped(ev.sub, now)
        elif ev.role == "advisor":
            self._advisor_dropped(ev.sub, now)

    def _user_dropped(self, user_id: str, now: float) -> None:
        req = self.open_request_of(user_id)
        if req is None or req.user_dropped_at is not None:
            return
        req.user_dropped_at, req.user_drop_no = now, req.user_drop_no + 1
        self._record(req, now, "user.dropped")
        self._out.append(Observe("drop", 1.0, "", "user"))
        if req.state.waiting:
            # Not offered while its user is away: no advisor is put in front of nobody.
            self._hold_offers(req, now)
        elif req.session_id is not None:
            self._cancel_transfer(req, now, "user_dropped")
            advisor = self.sessions[req.session_id].advisor_id
            self._send("advisor", advisor, PeerDisconnected(req.session_id, self._grace))
        self._out.append(grace_timer("user", user_id, req.user_drop_no, self._grace))

    def _advisor_dropped(self, advisor_id: str, now: float) -> None:
        adv = self.advisors.get(advisor_id)
        if adv is None or adv.dropped_at is not None:
            return
        adv.dropped_at, adv.drop_no = now, adv.drop_no + 1
        self._out.append(Observe("drop", 1.0, "", "advisor"))
        if adv.offer is not None:
            # The user is waiting: the offer passes on at once.
            self._withdraw_offer(adv, now, AdvisorStatus.AWAY)
        elif adv.status is AdvisorStatus.AVAILABLE:
            self._set_advisor_status(adv, AdvisorStatus.AWAY)
        if adv.session_id is not None:
            req = self.requests[self.sessions[adv.session_id].request_id]
            self._record(req, now, "advisor.dropped", advisor=adv.id)
            self._send("user", req.user_id, PeerDisconnected(adv.session_id, self._grace))
        self._out.append(grace_timer("advisor", adv.id, adv.drop_no, self._grace))

    @property
    def _grace(self) -> float:
        return self.config.resume_grace_s

    def _hold_offers(self, req: Request, now: float) -> None:
        """Take back what is offered of ``req``: its advisor stays free for others."""
        if req.offered_to is not None:
            adv = self.advisors[req.offered_to]
            then = AdvisorStatus.AVAILABLE if adv.wants_available else AdvisorStatus.AWAY
            self._withdraw_offer(adv, now, then, reason="user_dropped")
        if self._claim_mode or req.id in self._declined_all:
            self._withdraw_claims(req, "user_dropped")

    def _on_reconnected(self, ev: Reconnected, now: float) -> None:
        if ev.role == "user":
            self._user_returned(ev.sub, ev.resumed, now)
        elif ev.role == "advisor":
            self._advisor_returned(ev.sub, ev.resumed, now)

    def _user_returned(self, user_id: str, resumed: bool, now: float) -> None:
        req = self.open_request_of(user_id)
        if req is None or req.user_dropped_at is None:
            return
        away, req.user_dropped_at = now - req.user_dropped_at, None
        self._record(req, now, "user.returned", after_s=half_up(away, 3), resumed=resumed)
        self._out.append(Observe("returned", away, "", "user"))
        self._out.append(CancelTimer(grace_key("user", user_id)))
        if req.state.waiting:
            self._touched[req.id] = req
        elif req.session_id is not None:
            advisor = self.sessions[req.session_id].advisor_id
            self._send("advisor", advisor, PeerReconnected(req.session_id, resumed))

    def _advisor_returned(self, advisor_id: str, resumed: bool, now: float) -> None:
        adv = self.advisors.get(advisor_id)
        if adv is None or adv.dropped_at is None:
            return
        away, adv.dropped_at = now - adv.dropped_at, None
        self._out.append(Observe("returned", away, "", "advisor"))
        self._out.append(CancelTimer(grace_key("advisor", adv.id)))
        if adv.session_id is not None:
            req = self.requests[self.sessions[adv.session_id].request_id]
            self._record(req, now, "advisor.returned", after_s=half_up(away, 3), resumed=resumed)
            self._send("user", req.user_id, PeerReconnected(adv.session_id, resumed))
            return
        if adv.wants_available and adv.status is AdvisorStatus.AWAY:
            # Back in their place among the idle: they were idle all along.
            self._set_advisor_status(adv, AdvisorStatus.AVAILABLE)
        presence = "available" if adv.wants_available else "away"
        self._send("advisor", adv.id, AdvisorStateChanged(presence, "reconnected"))

    def _on_grace_expired(self, ev: GraceExpired, now: float) -> None:
        if ev.role == "user":
            req = self.open_request_of(ev.sub)
            dropped = req is not None and req.user_dropped_at is not None
            if req is not None and dropped and req.user_drop_no == ev.drop_no:
                self._user_lost(req, now)
        elif ev.role == "advisor":
            adv = self.advisors.get(ev.sub)
            if adv is not None and adv.dropped_at is not None and adv.drop_no == ev.drop_no:
                self._advisor_lost(adv, now)

    def _user_lost(self, req: Request, now: float) -> None:
        self._out.append(Observe("grace_expired", 1.0, "", "user"))
        dropped = req.user_dropped_at or now
        self._record(req, now, "grace.expired", side="user")
        if req.state.waiting:
            # Abandoned when the socket went, not when the grace ran out; no help.closed:
            # there is nobody to tell.
            self._leave_queue(
                req, RequestState.ABANDONED, now, withdraw_reason="abandoned", at=dropped
            )
        elif req.session_id is not None:
            self._end_session(self.sessions[req.session_id], "user_lost", "user", now)

    def _advisor_lost(self, adv: Advisor, now: float) -> None:
        """Past the grace: a session the advisor held ends, and its request goes back to
        the head of the queue with its enqueue time, not to be offered to them again."""
        self._out.append(Observe("grace_expired", 1.0, "", "advisor"))
        if adv.session_id is not None:
            session = self.sessions[adv.session_id]
            req = self.requests[session.request_id]
            self._record(req, now, "grace.expired", side="advisor", advisor=adv.id)
            self._record(req, now, "session.ended", reason="advisor_lost", by="advisor")
            self._close_session(session, "advisor_lost", "advisor", now)
            self._requeue(req, adv, now)
        self._advisor_offline(adv, now)

    def _requeue(
        self, req: Request, adv: Advisor, now: float, reason: str = "advisor_lost"
    ) -> None:
        req.session_id = None
        req.declined_by.add(adv.id)
        self._set_request_state(req, RequestState.QUEUED, now)
        self._open_request_of_user[req.user_id] = req.id
        self.queue[req.id] = req
        # Back in enqueue order: it goes before everyone who came after it.
        self.queue = dict(sorted(self.queue.items(), key=lambda item: item[1].seq))
        self._rank.add(self._order_key(req))
        self._out.append(Waiting(req.user_id, req.id))
        self._record(req, now, "requeued", reason=reason)
        self._escalate(req, now)

    def _advisor_offline(self, adv: Advisor, now: float) -> None:
        del self.advisors[adv.id]
        self._free_key.pop(adv.id, None)
        self._status_counts[adv.status] -= 1
        self._out.append(Observe("advisor_time", now - adv.status_since, "", adv.status.value))
        log.info("advisor %s: %s -> offline", adv.id, adv.status)

    def _on_session_end(self, ev: SessionEndRequested, now: float) -> None:
        session, side = self._session_of_peer(ev.session_id, ev.role, ev.sub)
        if session.state is SessionState.ENDED:
            raise ProtocolError(ErrorCode.INVALID_STATE, "session already ended")
        self._end_session(session, ev.reason, side, now)

    def _on_media(self, ev: MediaReported, now: float) -> None:
        session, side = self._session_of_peer(ev.session_id, ev.role, ev.sub)
        req = self.requests.get(session.request_id)
        if req is None:
            return
        req.media_reports += 1
        if req.media_reports <= MEDIA_ENTRIES_KEPT:
            self._record(req, now, f"media.{ev.state}", side=side, detail=ev.detail)
        # Time-to-advisor: help pressed to the advisor's first frame on the tablet, once.
        if ev.state == "first_frame" and side == "user" and req.first_frame_at is None:
            req.first_frame_at = now
            self._out.append(Observe("time_to_advisor", now - req.enqueued_at, req.topic or ""))
        if ev.state == "first_frame" and side == "user":
            self._transferred_leg_seen(req, session, now)

    def _end_session(self, session: Session, reason: str, by: str, now: float) -> None:
        req = self.requests[session.request_id]
        self._record(req, now, "session.ended", reason=reason, by=by)
        self._set_request_state(req, RequestState.ENDED, now)
        self._finish(req)
        self._close_session(session, reason, by, now)

    def _close_session(self, session: Session, reason: str, by: str, now: float) -> None:
        """The session is over: its advisor is free again (unless they dropped), both
        peers are told, and every node forgets it."""
        req = self.requests.get(session.request_id)
        if req is not None:
            self._cancel_transfer(req, now, "session_ended")
            req.ended_sessions.append(session.id)
        session.state, session.ended_at = SessionState.ENDED, now
        self._handle_times.append(now - session.started_at)
        adv = self.advisors.get(session.advisor_id)
        if adv is not None and adv.session_id == session.id:
            adv.session_id, adv.idle_since = None, now
            if adv.dropped_at is not None:
                # Not free while their socket is gone; their presence comes back with them.
                self._set_advisor_status(adv, AdvisorStatus.AWAY)
            else:
                back = AdvisorStatus.AVAILABLE if adv.wants_available else AdvisorStatus.AWAY
                self._set_advisor_status(adv, back)
                presence = "available" if adv.wants_available else "away"
                self._send("advisor", adv.id, AdvisorStateChanged(presence, "session_ended"))
        ended = SessionEnded(session.id, session.request_id, reason=reason, by=by)
        self._send("user", session.user_id, ended)
        self._send("advisor", session.advisor_id, ended)
        self._out.append(SessionOver(session.id, session.user_id, session.advisor_id))

    # ------------------------------------------------------------ routing
    @property
    def _claim_mode(self) -> bool:
        return self.config.routing_mode == "claim"

    def _free_advisors(self) -> list[Advisor]:
        """Every free advisor, longest idle first (claim mode shows each of them the queue)."""
        return [self.advisors[aid] for _, aid in sorted(self._free_key.values())]

    def _take_free(self, req: Request) -> Advisor | None:
        """The longest-idle free advisor who can take ``req``, off the heap, or None.

        Entries of advisors no longer free are dropped lazily as they surface;
        those skipped for this request go back. Without skills or declines
        the first valid entry fits: O(log n).
        """
        skipped, found = [], None
        while self._free_heap:
            key = heapq.heappop(self._free_heap)
            if self._free_key.get(key[1]) != key:
                continue
            adv = self.advisors[key[1]]
            if adv.can_take(req, self._now):
                found = adv
                break
            skipped.append(key)
        for key in skipped:
            heapq.heappush(self._free_heap, key)
        return found

    def _dispatch(self, now: float) -> None:
        """Offer waiting requests, oldest first, to the longest-idle free advisor that fits."""
        if not self._count(AdvisorStatus.AVAILABLE):
            return
        if self._claim_mode:
            self._announce_claims(self._free_advisors(), now)
            return
        # Offering changes states, never queue membership, so the line is walked in place.
        for key in self._rank:
            req = self.queue[key[2]]
            if req.state is not RequestState.QUEUED or req.user_dropped_at is not None:
                continue
            adv = self._take_free(req)
            if adv is None:
                continue
            self._offer(req, adv, now)
            if not self._count(AdvisorStatus.AVAILABLE):
                return

    def _offer(self, req: Request, adv: Advisor, now: float) -> None:
        if req.id in self._declined_all:
            # No longer declined by all: those shown it to take are told it is offered.
            self._declined_all.discard(req.id)
            self._withdraw_claims(req, "offered")
        req.offer_no += 1
        req.offered_to, adv.offer, req.offered_at = adv.id, req.id, now
        self._set_request_state(req, RequestState.OFFERED, now)
        self._set_advisor_status(adv, AdvisorStatus.RESERVED)
        self._record(req, now, "offered", advisor=adv.id, offer_no=req.offer_no)
        timeout = self.config.reservation_timeout_s
        self._out.append(offer_timer(req.id, req.offer_no, timeout))
        self._send("advisor", adv.id, self._offer_frame(req, now, timeout, "offer"))

    def _offer_frame(self, req: Request, now: float, expires: float | None, mode: str) -> HelpOffer:
        return HelpOffer(
            request_id=req.id,
            expires_in_s=expires,
            user={"id": req.user_id, "name": req.user_name},
            topic=req.topic,
            language=req.language,
            skills=sorted(req.skills),
            device=req.device,
            waited_s=half_up(now - req.enqueued_at, 3),
            mode=mode,
            transfer=None if req.transfer is None else req.transfer.offered(),
        )

    def _announce_claims(self, free: list[Advisor], now: float) -> None:
        """Claim mode: show every free advisor each waiting request they could take.

        Costs free advisors x waiting requests per operation: claim mode is for
        teams small enough that everyone watching the whole queue makes sense.
        """
        waiting = [
            r
            for r in (self.queue[key[2]] for key in self._rank)
            if r.state is RequestState.QUEUED and r.user_dropped_at is None
        ]
        for adv in free:
            for req in waiting:
                if req.id not in adv.claimable and adv.can_take(req, now):
                    adv.claimable.add(req.id)
                    self._send("advisor", adv.id, self._offer_frame(req, now, None, "claim"))

    def _withdraw_claims(self, req: Request, reason: str, keep: str | None = None) -> None:
        for adv in sorted(self.advisors.values(), key=lambda a: a.id):
            if req.id in adv.claimable:
                adv.claimable.discard(req.id)
                if adv.id != keep:
                    self._send("advisor", adv.id, HelpWithdrawn(req.id, reason))

    def _withdraw_offer(
        self,
        adv: Advisor,
        now: float,
        then: AdvisorStatus,
        *,
        reason: str | None = None,
        outcome: str = "withdrawn",
        timer: bool = True,
    ) -> None:
        """Take back the offer ``adv`` holds: the request waits again at its old place,
        the advisor goes to ``then``, and is told why when ``reason`` is given."""
        req = self.requests[adv.offer] if adv.offer else None
        if req is None:
            return
        if timer:
            self._out.append(CancelTimer(offer_key(req.id)))
        self._record(req, now, f"offer.{outcome}", advisor=adv.id, offer_no=req.offer_no)
        req.offered_to, adv.offer = None, None
        if req.state is RequestState.OFFERED:
            self._set_request_state(req, RequestState.QUEUED, now)
        if reason is not None:
            self._send("advisor", adv.id, HelpWithdrawn(req.id, reason))
        self._set_advisor_status(adv, then)
        if self._transfer_pending(req):
            self._transfer_failed(req, now, _transfer_failure(outcome, reason))

    def _leave_queue(
        self,
        req: Request,
        state: RequestState,
        now: float,
        *,
        withdraw_reason: str,
        at: float | None = None,
    ) -> None:
        """The request stops waiting: ``state`` as of ``at`` (``now`` unless given: a user
        who dropped abandoned when they dropped)."""
        if req.offered_to is not None:
            adv = self.advisors[req.offered_to]
            then = AdvisorStatus.AVAILABLE if adv.wants_available else AdvisorStatus.AWAY
            self._withdraw_offer(adv, now, then, reason=withdraw_reason)
        if self._claim_mode or req.id in self._declined_all:
            self._withdraw_claims(req, withdraw_reason)
        del self.queue[req.id]
        self._rank.remove(self._order_key(req))
        self._stop_route(req)
        self._declined_all.discard(req.id)
        self._set_request_state(req, state, now if at is None else at)
        self._finish(req)

    def _finish(self, req: Request) -> None:
        """Forget a finished request's user link; keep its timeline for a bounded while."""
        if self._open_request_of_user.get(req.user_id) == req.id:
            del self._open_request_of_user[req.user_id]
        self._finished.append(req.id)
        while len(self._finished) > self.config.history_limit:
            old = self.requests.pop(self._finished.popleft(), None)
            if old is not None and old.session_id is not None:
                self.sessions.pop(old.session_id, None)
            for session_id in old.ended_sessions if old is not None else ():
                self.sessions.pop(session_id, None)

    # ------------------------------------------------------------ transfers
    def _on_transfer(self, ev: SessionTransferRequested, now: float) -> None:
        """Warm: offered to the target while the call goes on. Cold: the call ends and the
        request waits again at its place (its enqueue time kept), not for the advisor who
        handed it on, offered to the target first when there is one."""
        session, req, adv = self._transferable(ev)
        target = self._transfer_target(ev, adv)
        transfer = Transfer(
            ev.transfer_id, adv.id, adv.name, session.id, ev.mode, ev.to_advisor, ev.skills, ev.note
        )
        self._record(
            req,
            now,
            "transfer",
            transfer_id=transfer.id,
            by=adv.id,
            to=transfer.to(),
            mode=ev.mode,
            note=ev.note,
            **{"from": adv.id},
        )
        req.transfer, req.transferred_at, req.transferred_from = transfer, now, session.id
        if target is not None and ev.mode == "warm":
            self._offer_transfer(req, target, now)
            return
        if ev.skills:
            req.skills = frozenset(ev.skills)
        self._send("user", req.user_id, _transferring(transfer, target))
        self._record(req, now, "session.ended", reason="transferred", by="advisor")
        self._close_session(session, "transferred", "advisor", now)
        self._requeue(req, adv, now, reason="transferred")
        # Claim mode makes no offers: the target sees it among those they may claim.
        if target is not None and not self._claim_mode:
            self._offer(req, target, now)

    def _transferable(self, ev: SessionTransferRequested) -> tuple[Session, Request, Advisor]:
        """The live session its advisor may hand on now, or the refusal."""
        sid = ev.session_id
        session, _ = check_peer(self.sessions.get(sid), sid, "advisor", ev.advisor_id, "advisor")
        if session.state is SessionState.ENDED:
            raise ProtocolError(ErrorCode.INVALID_STATE, "session already ended")
        req = self.requests[session.request_id]
        if self._transfer_pending(req):
            raise ProtocolError(ErrorCode.INVALID_STATE, "a transfer of this session is pending")
        if req.user_dropped_at is not None:
            raise ProtocolError(ErrorCode.INVALID_STATE, "the user is reconnecting")
        return session, req, self.advisors[ev.advisor_id]

    def _transfer_target(self, ev: SessionTransferRequested, adv: Advisor) -> Advisor | None:
        """The advisor named, who must be another one, online and free; None for skills."""
        if ev.to_advisor is None:
            if ev.mode == "warm":
                raise ProtocolError(ErrorCode.INVALID_FIELD, "warm transfer needs an advisor")
            return None
        if ev.to_advisor == adv.id:
            raise ProtocolError(
                ErrorCode.INVALID_FIELD, 'field "to.advisor" must be another advisor, not you'
            )
        target = self.advisors.get(ev.to_advisor)
        if target is None or target.status is not AdvisorStatus.AVAILABLE:
            raise ProtocolError(
                ErrorCode.INVALID_STATE, f'advisor "{ev.to_advisor}" is not online and free'
            )
        return target

    def _transfer_pending(self, req: Request) -> bool:
        return req.transfer is not None and req.transfer.mode == "warm"

    def _offer_transfer(self, req: Request, target: Advisor, now: float) -> None:
        """A warm transfer's offer: like any offer (its number, reservation and timer), but
        the request stays in its session until the target accepts."""
        req.offer_no += 1
        req.offered_to, target.offer, req.offered_at = target.id, req.id, now
        self._set_advisor_status(target, AdvisorStatus.RESERVED)
        self._record(req, now, "transfer.offered", advisor=target.id, offer_no=req.offer_no)
        timeout = self.config.reservation_timeout_s
        self._out.append(offer_timer(req.id, req.offer_no, timeout))
        self._send("advisor", target.id, self._offer_frame(req, now, timeout, "offer"))
        assert req.transfer is not None  # set by _on_transfer
        self._send("user", req.user_id, _transferring(req.transfer, target))

    def _accept_transfer(self, ev: OfferAccepted, req: Request, now: float) -> None:
        """The target took a warm transfer: both advisors hear, the old session ends
        (``transferred``) and the user starts a new one with the target, same request."""
        _, target = self._held_offer(ev.advisor_id, ev.request_id)
        if ev.session_id in self.sessions:
            raise ProtocolError(ErrorCode.INVALID_STATE, f'session "{ev.session_id}" exists')
        transfer, old = req.transfer, self.sessions[req.session_id or ""]
        assert transfer is not None  # _transfer_pending
        self._out.append(CancelTimer(offer_key(req.id)))
        self._record(
            req,
            now,
            "transfer.accepted",
            transfer_id=transfer.id,
            advisor=target.id,
            offer_no=req.offer_no,
        )
        self._out.append(Observe("answered_by", 1.0, "", target.id))
        req.transfer, req.offered_to, target.offer = None, None, None
        done = SessionTransferred(old.id, transfer.id, {"id": target.id, "name": target.name})
        self._send("advisor", transfer.by, done)
        self._send("advisor", target.id, done)
        self._record(req, now, "session.ended", reason="transferred", by="advisor")
        self._close_session(old, "transferred", "advisor", now)
        session = Session(ev.session_id, req.id, req.user_id, target.id, self.config.offerer, now)
        self.sessions[session.id] = session
        req.session_id, target.session_id = session.id, session.id
        self._set_advisor_status(target, AdvisorStatus.BUSY)
        self._announce_session(session, req, target, now)

    def _cancel_transfer(self, req: Request, now: float, reason: str) -> None:
        """The user dropped or the call is ending: a pending warm transfer's offer is taken
        back from its target (``help.withdrawn``), and the transfer fails."""
        if not self._transfer_pending(req) or req.offered_to is None:
            return
        target = self.advisors[req.offered_to]
        then = AdvisorStatus.AVAILABLE if target.wants_available else AdvisorStatus.AWAY
        self._withdraw_offer(target, now, then, reason=reason)

    def _transfer_failed(self, req: Request, now: float, reason: str) -> None:
        """The warm transfer's offer is gone: its advisor keeps the user, and is told."""
        transfer, req.transfer, req.transferred_at = req.transfer, None, None
        assert transfer is not None
        self._record(req, now, "transfer.failed", transfer_id=transfer.id, reason=reason)
        failed = TransferFailed(transfer.id, transfer.session_id, reason)
        self._send("advisor", transfer.by, failed)
        self._send("user", req.user_id, failed)

    def _transferred_leg_seen(self, req: Request, session: Session, now: float) -> None:
        """Time-to-advisor of a transferred leg: the transfer to the first frame of the
        session that follows it, once."""
        if req.transferred_at is None or session.id == req.transferred_from:
            return
        self._out.append(Observe("transfer_to_advisor", now - req.transferred_at, req.topic or ""))
        req.transferred_at = None

    # ------------------------------------------------------------ queue notices
    def _notice(self, req: Request, now: float) -> None:
        """Tell the user where their request stands, if that changed since they last heard."""
        position = self._rank.rank(self._order_key(req))
        estimate = self._estimate(req, position, now)
        notice = (position, req.state.value, estimate, req.match.skills)
        if notice == req.last_notice:
            return
        req.last_notice = notice
        free = self._count(AdvisorStatus.AVAILABLE)
        queued = HelpQueued(
            req.id, position, estimate, req.state.value, free, match=req.match.skills
        )
        self._send("user", req.user_id, queued)

    def _estimate(self, req: Request, position: int, now: float) -> float | None:
        """The expected wait of a request that knows its place: one mean handle time per
        request ahead that no reserved advisor is already taking, and this one, shared
        by the online advisors who could take it.

        Why not Erlang C (``mayday.metrics.erlang``, on the ops view): it predicts the
        wait of an arrival that does not yet know how many are ahead. A user who does
        is better told the conditional expectation: with every advisor busy, sessions
        end at ``online / handle`` a second, so ``k`` of them take ``k * handle /
        online`` (exact for exponential handle times).

        Dispatch has already run, so a queued request waits for a session to end.
        None when no advisor online could take it (none online, none fits its step,
        or all lost a session of it): there is no honest number to give. A decline's
        cooldown ends, so the decliners still count: a request everyone declined is
        not told that nobody can take it.
        """
        if req.state is RequestState.OFFERED:
            return 0.0
        online = len(self.advisors) - self._count(AdvisorStatus.AWAY)
        if req.skills or req.declined_by:
            online = sum(
                1
                for a in self.advisors.values()
                if a.status is not AdvisorStatus.AWAY
                and a.fits(req, req.match)
                and a.id not in req.declined_by
            )
        if online == 0:
            return None
        rounds = max(1, position - self._count(AdvisorStatus.RESERVED))
        times = self._handle_times
        handle = sum(times) / len(times) if times else self.config.default_handle_time_s
        return half_up(rounds * handle / online, 1)

    def _count(self, status: AdvisorStatus) -> int:
        return self._status_counts[status]

    # ------------------------------------------------------------ helpers
    def _request(self, request_id: str) -> Request:
        req = self.requests.get(request_id)
        if req is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f'no request "{request_id}"')
        return req

    def _claimable(self, advisor_id: str, request_id: str) -> tuple[Request, Advisor]:
        req = self._request(request_id)
        if req.state is not RequestState.QUEUED:
            raise ProtocolError(
                ErrorCode.INVALID_STATE, f'request "{request_id}" is {req.state}, not waiting'
            )
        if req.user_dropped_at is not None:
            raise ProtocolError(ErrorCode.INVALID_STATE, "the user is reconnecting")
        adv = self.advisors.get(advisor_id)
        if adv is None or adv.status is not AdvisorStatus.AVAILABLE:
            raise ProtocolError(ErrorCode.INVALID_STATE, "go available to claim requests")
        if req.id not in adv.claimable and not adv.can_take(req, self._now):
            raise ProtocolError(ErrorCode.INVALID_STATE, "this request is not one you can take")
        return req, adv

    def _held_offer(self, advisor_id: str, request_id: str) -> tuple[Request, Advisor]:
        req = self._request(request_id)
        adv = self.advisors.get(advisor_id)
        if adv is None or req.offered_to != advisor_id:
            raise ProtocolError(
                ErrorCode.INVALID_STATE, f'request "{request_id}" is not offered to you'
            )
        return req, adv

    def _session_of_peer(self, session_id: str, role: str, sub: str) -> tuple[Session, str]:
        return check_peer(self.sessions.get(session_id), session_id, role, sub)

    def _ice(self, sub: str, now: float) -> list[dict[str, Any]]:
        return ice_servers_for(self.config, sub, now)

    def _send(self, role: str, sub: str, message: Any) -> None:
        self._out.append(Send(role, sub, message))

    def _record(self, req: Request, now: float, event: str, **data: Any) -> None:
        details = {k: v for k, v in data.items() if v is not None}
        req.timeline.append(TimelineEntry(now, event, details))

    def _set_request_state(self, req: Request, new: RequestState, now: float) -> None:
        log.debug("request %s: %s -> %s", req.id, req.state, new)
        if req.state.waiting and not new.waiting:
            self._out.append(Waiting(req.user_id, None))
        req.state = new
        if new.waiting:
            self._touched[req.id] = req
        if new.final:
            self._record(req, now, new.value)
            if new is not RequestState.ENDED:
                self._out.append(RequestClosed(req.id, req.user_id, new.value))
        if new in (
            RequestState.CANCELLED,
            RequestState.ABANDONED,
            RequestState.EXPIRED,
            RequestState.MESSAGE,
        ):
            self._out.append(Observe("outcome", now - req.enqueued_at, req.topic or "", new.value))

    def _track_free(self, adv: Advisor) -> None:
        """Keep the free-advisor heap in step: push on becoming free, forget on leaving."""
        if adv.status is not AdvisorStatus.AVAILABLE or adv.id not in self.advisors:
            self._free_key.pop(adv.id, None)
            return
        key = (adv.idle_since, adv.id)
        self._free_key[adv.id] = key
        heapq.heappush(self._free_heap, key)
        if len(self._free_heap) > 2 * len(self._free_key) + 64:
            self._free_heap = list(self._free_key.values())
            heapq.heapify(self._free_heap)

    def _set_advisor_status(self, adv: Advisor, new: AdvisorStatus) -> None:
        if adv.status is not new:
            log.debug("advisor %s: %s -> %s", adv.id, adv.status, new)
            self._status_counts[adv.status] -= 1
            self._status_counts[new] += 1
            spent = self._now - adv.status_since
            self._out.append(Observe("advisor_time", spent, "", adv.status.value))
            adv.status, adv.status_since = new, self._now
            self._track_free(adv)
            if new is not AdvisorStatus.AVAILABLE:
                adv.claimable.clear()


def _transferring(transfer: Transfer, target: Advisor | None) -> SessionTransferring:
    """What the user is told of where a transfer takes them: the advisor named, or skills."""
    to: dict[str, Any] = (
        {"id": target.id, "name": target.name}
        if target is not None
        else {"skills": sorted(set(transfer.skills))}
    )
    return SessionTransferring(transfer.session_id, transfer.id, transfer.mode, to)


def _transfer_failure(outcome: str, reason: str | None) -> str:
    """Why a warm transfer failed, from how its offer was taken back."""
    if outcome == "declined":
        return "declined"
    if outcome == "timed_out":
        return "timeout"
    return reason or "advisor_dropped"
