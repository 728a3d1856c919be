"""Random interleavings of every routing event keep the router's invariants."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mayday.protocol.errors import ProtocolError
from mayday.protocol.messages import HelpOffer, HelpQueued, HelpRequest
from mayday.routing.config import RouterConfig, Step
from mayday.routing.core import Router
from mayday.routing.events import (
    AdvisorStateSet,
    CancelTimer,
    Disconnected,
    Effect,
    Event,
    GraceExpired,
    HelpCancelled,
    HelpRequested,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    Reconnected,
    RequestExpired,
    RouteDue,
    Send,
    SessionEndRequested,
    SessionTransferRequested,
    StartTimer,
)
from mayday.routing.model import AdvisorStatus, RequestState, SessionState

USERS = [f"u{i}" for i in range(5)]
ADVISORS = [f"a{i}" for i in range(4)]
# One, two and three skills: every kind of key of the Redis store's waiting index.
SKILLS = ["", "printer", "scanner", "printer+scanner", "fax+printer+scanner"]
# Skills widen by age (one op a second) and declines cool down: the routing timers fire
# early or late in these histories, as they may across nodes.
ESCALATION = (Step(0, "all", 3), Step(2, "any"), Step(4, "none"))
COOLDOWN_S = 4.0
# Token priorities, mostly the default; with PRIORITY_STEP_S of 3 s and one op a second,
# a priority request passes some of those waiting and not others.
PRIORITIES = [0, 0, 0, 1, 2, -1]
PRIORITY_STEP_S = 3.0

TRANSFER = st.tuples(
    st.just("transfer"),
    st.integers(0, 10),
    st.sampled_from([*ADVISORS, "printer"]),
    st.sampled_from(["warm", "cold"]),
)
op = st.one_of(
    st.tuples(
        st.just("request"),
        st.sampled_from(USERS),
        st.sampled_from(SKILLS),
        st.sampled_from(PRIORITIES),
    ),
    st.tuples(st.just("cancel"), st.sampled_from(USERS)),
    st.tuples(st.just("state"), st.sampled_from(ADVISORS), st.booleans()),
    st.tuples(st.just("accept"), st.sampled_from(ADVISORS), st.booleans()),
    st.tuples(st.just("decline"), st.sampled_from(ADVISORS), st.booleans()),
    st.tuples(st.just("timeout"), st.integers(0, 10)),
    st.tuples(st.just("user_gone"), st.sampled_from(USERS)),
    st.tuples(st.just("advisor_gone"), st.sampled_from(ADVISORS)),
    st.tuples(st.just("user_back"), st.sampled_from(USERS), st.booleans()),
    st.tuples(st.just("advisor_back"), st.sampled_from(ADVISORS), st.booleans()),
    st.tuples(st.just("grace"), st.integers(0, 10)),
    st.tuples(st.just("end"), st.integers(0, 10), st.booleans()),
    st.tuples(st.just("expire"), st.integers(0, 10)),
    *[TRANSFER] * 5,  # sessions are rare in a random history: try them often
    st.tuples(st.just("route"), st.integers(0, 10)),
)

# Histories start with some advisors online and some users waiting, so that
# offers, declines, timeouts and sessions come early and often.
opening = st.lists(
    st.one_of(
        st.tuples(st.just("state"), st.sampled_from(ADVISORS), st.just(True)),
        st.tuples(
            st.just("request"),
            st.sampled_from(USERS),
            st.sampled_from(SKILLS),
            st.sampled_from(PRIORITIES),
        ),
    ),
    min_size=1,
    max_size=8,
)
history = st.builds(lambda head, tail: head + tail, opening, st.lists(op, max_size=60))
# Calls from the start, so that transfers have sessions to hand on: three advisors free,
# two users in a call with the first two (each takes the offer it holds).
IN_CALLS: list[tuple[object, ...]] = [
    *[("state", a, True) for a in ADVISORS[:3]],
    ("request", "u0", "", 0),
    ("request", "u1", "", 0),
    ("accept", "a0", True),
    ("accept", "a1", True),
]
transfer_history = st.lists(st.one_of(op, TRANSFER), max_size=40).map(lambda t: IN_CALLS + t)


def advisor_state(advisor: str, available: bool) -> AdvisorStateSet:
    """a0 knows printers (4), scanners (the implied 3) and faxes (5); a1 printers (3) and
    scanners (1); a2 scanners at 2; a3 nothing."""
    skills = frozenset({"printer"}) if advisor in ("a0", "a1") else frozenset()
    levels = (("printer", 4),) if advisor == "a0" else ()
    if advisor == "a0":
        skills, levels = frozenset({"printer", "scanner", "fax"}), (("printer", 4), ("fax", 5))
    if advisor == "a1":
        skills, levels = frozenset({"printer", "scanner"}), (("scanner", 1),)
    if advisor == "a2":
        skills, levels = frozenset({"scanner"}), (("scanner", 2),)
    return AdvisorStateSet(advisor, advisor, skills, available, levels)


@dataclass
class Driver:
    """Turns abstract ops into events, keeps the pending timers, and checks after each."""

    router: Router = field(default_factory=Router)
    now: float = 0.0
    created: list[str] = field(default_factory=list)
    timers: dict[str, OfferExpired | GraceExpired | RouteDue] = field(default_factory=dict)

    def run(self, operation: tuple[object, ...]) -> None:
        self.now += 1.0
        event = self.event_for(operation)
        if event is None:
            return
        if isinstance(event, OfferExpired | GraceExpired | RouteDue):
            self.timers = {k: v for k, v in self.timers.items() if v != event}  # it fired
        try:
            effects = self.router.handle(event, self.now)
        except ProtocolError:
            return
        if isinstance(event, HelpRequested):
            self.created.append(event.request_id)
        self.track_timers(effects)
        for effect in effects:
            if isinstance(effect, Send) and isinstance(effect.message, HelpQueued):
                waiting = self.router.requests[effect.message.request_id].state.waiting
                assert waiting, "help.queued for a request that is no longer waiting"
        check_invariants(self.router)
        if not isinstance(event, SessionTransferRequested):  # a transfer names its advisor
            check_offers_in_fifo_order(self.router, effects)
        check_dropped_identities(self.router, self.timers)
        check_never_stranded(self.router, self.timers)

    def event_for(self, operation: tuple[object, ...]) -> Event | None:
        kind, *args = operation
        r = self.router
        if kind == "request":
            user, skill, priority = str(args[0]), str(args[1]), int(str(args[2]))
            ask = HelpRequest(skills=tuple(sorted(skill.split("+"))) if skill else ())
            return HelpRequested(user, user, f"r{len(self.created)}", ask, priority)
        if kind == "cancel":
            req = r.open_request_of(str(args[0]))
            return HelpCancelled(str(args[0]), req.id) if req else None
        if kind == "state":
            return advisor_state(str(args[0]), bool(args[1]))
        if kind in ("accept", "decline"):
            return self.answer(kind, str(args[0]), bool(args[1]))
        if kind in ("timeout", "grace", "route"):
            prefix = {"timeout": "offer:", "grace": "grace:", "route": "route:"}[str(kind)]
            pending = sorted(k for k in self.timers if k.startswith(prefix))
            if not pending:
                return None
            return self.timers[pending[int(str(args[0])) % len(pending)]]
        if kind in ("user_gone", "advisor_gone"):
            return Disconnected(kind.removesuffix("_gone"), str(args[0]))
        if kind in ("user_back", "advisor_back"):
            return Reconnected(kind.removesuffix("_back"), str(args[0]), bool(args[1]))
        if kind == "expire":
            waiting = list(r.queue)
            return RequestExpired(waiting[int(str(args[0])) % len(waiting)]) if waiting else None
        return self.moved_on(kind, args)

    def moved_on(self, kind: str, args: list[object]) -> Event | None:
        """A call moved on: transferred, or ended."""
        if kind == "transfer":
            return self.transfer(int(str(args[0])), str(args[1]), str(args[2]))
        return self.end(int(str(args[0])), bool(args[1]))

    def transfer(self, index: int, to: str, mode: str) -> Event | None:
        """A transfer of some live session to an advisor or to the skill "printer"; refusals
        (to themselves, to someone busy, warm to skills, one pending) count too."""
        sessions = sorted(self.router.sessions.values(), key=lambda s: s.id)
        live = [s for s in sessions if s.state is SessionState.ACTIVE]
        if not live:
            # Sessions are rare in a random history: start one from an offer held, if any.
            holders = sorted(a.id for a in self.router.advisors.values() if a.offer)
            return self.answer("accept", holders[index % len(holders)], True) if holders else None
        s = live[index % len(live)]
        req = self.router.requests[s.request_id]
        if req.transfer is not None and req.transfer.mode == "warm" and index % 2:
            # Half the time the op is the target's answer to a pending warm transfer.
            return self.answer("accept", str(req.offered_to), True)
        to_advisor, skills = (None, (to,)) if to == "printer" else (to, ())
        tid = f"t{self.now}"
        return SessionTransferRequested(s.advisor_id, s.id, tid, to_advisor, skills, "n", mode)

    def answer(self, kind: str, advisor: str, own: bool) -> Event | None:
        adv = self.router.advisors.get(advisor)
        # Sometimes answer the advisor's own offer (or a request it may claim), sometimes any
        # request: refusals count too.
        target = None
        if adv is not None and own:
            target = adv.offer or min(adv.claimable, default=None)
        if target is None and self.created:
            target = self.created[len(self.created) // 2]
        if target is None:
            return None
        if kind == "accept":
            return OfferAccepted(advisor, target, f"s-{target}-{self.now}")
        return OfferDeclined(advisor, target)

    def end(self, index: int, by_user: bool) -> Event | None:
        sessions = sorted(self.router.sessions.values(), key=lambda s: s.id)
        if not sessions:
            return None
        s = sessions[index % len(sessions)]
        if by_user:
            return SessionEndRequested("user", s.user_id, s.id, "done")
        return SessionEndRequested("advisor", s.advisor_id, s.id, "done")

    def track_timers(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, StartTimer):
                self.timers[effect.key] = effect.event
            elif isinstance(effect, CancelTimer):
                self.timers.pop(effect.key, None)


def check_invariants(r: Router) -> None:
    holders: dict[str, str] = {}
    for req in r.requests.values():
        assert req.state in RequestState
        assert (req.id in r.queue) == req.state.waiting
        # A pending warm transfer: its target holds the offer of a request in session.
        warm = req.transfer is not None and req.transfer.mode == "warm"
        if req.state is RequestState.OFFERED or warm:
            assert not warm or req.state is RequestState.IN_SESSION
            assert req.offered_to is not None, "an offered request names its advisor"
            adv = r.advisors[req.offered_to]
            assert adv.offer == req.id and adv.status is AdvisorStatus.RESERVED
            assert req.offered_to not in holders, "one advisor holds two offers"
            holders[req.offered_to] = req.id
        else:
            assert req.offered_to is None, "only an offered request names an advisor"
    busy: dict[str, int] = {}
    for s in r.sessions.values():
        if s.state is SessionState.ACTIVE:
            busy[s.advisor_id] = busy.get(s.advisor_id, 0) + 1
            assert r.requests[s.request_id].state is RequestState.IN_SESSION
    assert all(n == 1 for n in busy.values()), "an advisor in two sessions"
    for adv in r.advisors.values():
        assert (adv.status is AdvisorStatus.BUSY) == (adv.id in busy)
        assert (adv.status is AdvisorStatus.RESERVED) == (adv.offer is not None)
        waiting = [q for q in r.queue.values() if q.state is RequestState.QUEUED]
        able = {q.id for q in waiting if adv.can_take(q, r._now) and q.user_dropped_at is None}
        if adv.status is AdvisorStatus.AVAILABLE and r.config.routing_mode == "offer":
            assert not able, "a free advisor left idle"
        elif adv.status is AdvisorStatus.AVAILABLE:
            assert able <= adv.claimable, "a free advisor not shown a request it could claim"
        else:
            assert not adv.claimable, "only a free advisor may claim"
    # A request handed on (a transfer, a lost advisor) has ended sessions and one live one.
    claimed = [s.request_id for s in r.sessions.values() if s.state is SessionState.ACTIVE]
    assert len(claimed) == len(set(claimed)), "one request in two sessions"
    enqueued = [q.enqueued_at for q in r.queue.values()]
    assert enqueued == sorted(enqueued), "queue out of FIFO order"
    line = r.in_line()
    assert sorted(line) == sorted(r.queue), "the line and the queue hold different requests"
    step = r.config.priority_step_s
    keys = [(r.queue[q].enqueued_at - r.queue[q].priority * step, r.queue[q].seq) for q in line]
    assert keys == sorted(keys), "line out of priority-then-arrival order"
    for position, request_id in enumerate(line, start=1):
        assert r.position_of(request_id) == position, "rank index disagrees with the line"
    free = {a.id for a in r.advisors.values() if a.status is AdvisorStatus.AVAILABLE}
    assert set(r._free_key) == free, "free-advisor heap out of step"
    for status in AdvisorStatus:
        actual = sum(1 for a in r.advisors.values() if a.status is status)
        assert r.summary(0.0).__dict__[f"advisors_{status.value}"] == actual


def check_offers_in_fifo_order(r: Router, effects: list[Effect]) -> None:
    """No request was passed over for an advisor who could have taken one ahead of it."""
    order = r.in_line()
    for effect in effects:
        if (
            isinstance(effect, Send)
            and isinstance(effect.message, HelpOffer)
            and effect.message.mode == "offer"
        ):
            adv = r.advisors[effect.sub]
            ahead = order[: order.index(effect.message.request_id)]
            for older in (r.queue[q] for q in ahead):
                passed_over = older.state is RequestState.QUEUED and adv.can_take(older, r._now)
                assert not passed_over or older.user_dropped_at is not None


def check_never_stranded(
    r: Router, timers: dict[str, OfferExpired | GraceExpired | RouteDue]
) -> None:
    """A waiting request with a cooldown on or a wider step ahead (it has skills) has its
    timer running, and its step is never ahead of its age unless one was skipped."""
    steps = r.config.escalation
    for q in r.queue.values():
        if q.cooldowns or (q.skills and q.step + 1 < len(steps)):
            assert f"route:{q.id}" in timers, "a waiting request no timer will widen"
        assert q.match == steps[q.step]
        skipped = any(e.data.get("reason") == "skipped" for e in q.timeline)
        assert skipped or r._now - q.enqueued_at >= steps[q.step].after_s, "widened too soon"


def check_dropped_identities(
    r: Router, timers: dict[str, OfferExpired | GraceExpired | RouteDue]
) -> None:
    """Whoever dropped has a grace timer running, is offered nothing and offers nothing."""
    for req in r.requests.values():
        if req.user_dropped_at is not None and r.open_request_of(req.user_id) is req:
            assert req.state in (RequestState.QUEUED, RequestState.IN_SESSION)
            assert f"grace:user:{req.user_id}" in timers, "a dropped user with no grace timer"
    for adv in r.advisors.values():
        if adv.dropped_at is not None:
            assert adv.status in (AdvisorStatus.AWAY, AdvisorStatus.BUSY)
            assert f"grace:advisor:{adv.id}" in timers, "a dropped advisor with no grace timer"


@pytest.mark.parametrize("mode", ["offer", "claim"])
@settings(max_examples=300, deadline=None)
@given(ops=history)
def test_random_interleavings_keep_every_invariant(
    mode: str, ops: list[tuple[object, ...]]
) -> None:
    """No double offers, no advisor in two sessions, FIFO kept, and no request lost."""
    driver = Driver(
        router=Router(
            RouterConfig(
                routing_mode=mode,
                request_ttl_s=5.0,
                priority_step_s=PRIORITY_STEP_S,
                escalation=ESCALATION,
                decline_cooldown_s=COOLDOWN_S,
            )
        )
    )
    for operation in ops:
        driver.run(operation)
    finals = {
        RequestState.ENDED,
        RequestState.CANCELLED,
        RequestState.ABANDONED,
        RequestState.EXPIRED,
    }
    for request_id in driver.created:
        state = driver.router.requests[request_id].state
        assert state in finals or state.waiting or state is RequestState.IN_SESSION
    assert set(driver.created) == set(driver.router.requests)


@pytest.mark.parametrize("mode", ["offer", "claim"])
@settings(max_examples=200, deadline=None)
@given(ops=transfer_history)
def test_transfers_keep_every_invariant(mode: str, ops: list[tuple[object, ...]]) -> None:
    """Histories that start in calls and transfer them warm and cold keep the invariants:
    one offer per request, one session per advisor, and no request lost."""
    driver = Driver(router=Router(RouterConfig(routing_mode=mode, request_ttl_s=5.0)))
    for operation in ops:
        driver.run(operation)
    for request_id in driver.created:
        state = driver.router.requests[request_id].state
        assert state.final or state.waiting or state is RequestState.IN_SESSION


@pytest.mark.parametrize("mode", ["offer", "claim"])
@settings(max_examples=150, deadline=None)
@given(ops=history)
def test_draining_ends_every_request_on_purpose(mode: str, ops: list[tuple[object, ...]]) -> None:
    """After any history, users leaving and sessions ending close every request: none stuck."""
    driver = Driver(
        router=Router(
            RouterConfig(
                routing_mode=mode,
                request_ttl_s=5.0,
                priority_step_s=PRIORITY_STEP_S,
                escalation=ESCALATION,
                decline_cooldown_s=COOLDOWN_S,
            )
        )
    )
    for operation in ops:
        driver.run(operation)
    for user in USERS:
        driver.run(("user_gone", user))
    while any(k.startswith("grace:user:") for k in driver.timers):
        driver.run(("grace", 0))
    for request_id in driver.created:
        state = driver.router.requests[request_id].state
        assert state.final
    assert driver.router.queue == {}
    assert all(a.status is not AdvisorStatus.BUSY for a in driver.router.advisors.values())
