"""Drops, returns and grace periods in the pure core: a blink of the network strands
nobody, and only a drop that outlasts the grace ends anything."""

from __future__ import annotations

import pytest

from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.protocol.messages import (
    AdvisorStateChanged,
    HelpClosed,
    HelpOffer,
    HelpQueued,
    HelpWithdrawn,
    PeerDisconnected,
    PeerReconnected,
    SessionEnded,
)
from mayday.routing.config import RouterConfig
from mayday.routing.core import Router
from mayday.routing.events import (
    CancelTimer,
    Disconnected,
    GraceExpired,
    Observe,
    OfferAccepted,
    Reconnected,
    SessionEndRequested,
    grace_timer,
)
from mayday.routing.model import AdvisorStatus, RequestState
from tests.routing.helpers import accept, ask, available, messages


@pytest.fixture
def router() -> Router:
    return Router(RouterConfig(resume_grace_s=30.0))


def in_session(router: Router) -> None:
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    accept(router, "a1", "r1", 2.0)


def test_a_waiting_user_who_drops_keeps_the_request_and_its_place(router: Router) -> None:
    """Dropped while waiting: the request stays, second in line stays second, a grace timer
    starts; back within it, the same request at the same place."""
    ask(router, "u0", "r0", 0.5)
    ask(router, "u1", "r1", 1.0)
    effects = router.handle(Disconnected("user", "u1"), 4.0)
    assert grace_timer("user", "u1", 1, 30.0) in effects
    assert router.requests["r1"].state is RequestState.QUEUED
    assert router.position_of("r1") == 2
    effects = router.handle(Reconnected("user", "u1"), 6.0)
    assert CancelTimer("grace:user:u1") in effects
    assert router.position_of("r1") == 2
    assert [e.event for e in router.requests["r1"].timeline][-2:] == [
        "user.dropped",
        "user.returned",
    ]
    assert router.requests["r1"].timeline[-1].data == {"after_s": 2.0, "resumed": False}


def test_no_offer_goes_to_a_user_who_is_away(router: Router) -> None:
    """A held offer is taken back when its user drops (the advisor stays free); nothing is
    offered while they are away; back, the request is offered again."""
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    effects = router.handle(Disconnected("user", "u1"), 2.0)
    assert messages(effects, HelpWithdrawn, to="a1") == [HelpWithdrawn("r1", "user_dropped")]
    assert router.advisors["a1"].status is AdvisorStatus.AVAILABLE
    ask(router, "u2", "r2", 3.0)
    assert router.requests["r2"].offered_to == "a1"  # the one who is there goes first
    router.handle(OfferAccepted("a1", "r2", "s2"), 3.5)
    available(router, "a2", 4.0)
    assert router.requests["r1"].state is RequestState.QUEUED
    effects = router.handle(Reconnected("user", "u1"), 5.0)
    assert [m.request_id for m in messages(effects, HelpOffer, to="a2")] == ["r1"]


def test_a_waiting_user_not_back_in_time_abandoned_when_they_dropped(router: Router) -> None:
    """Past the grace the request is abandoned, dated at the drop, and nobody is sent
    help.closed: there is no socket to send it to."""
    ask(router, "u1", "r1", 1.0)
    router.handle(Disconnected("user", "u1"), 4.0)
    effects = router.handle(GraceExpired("user", "u1", 1), 34.0)
    req = router.requests["r1"]
    assert req.state is RequestState.ABANDONED
    assert not messages(effects, HelpClosed)
    abandoned = [e for e in req.timeline if e.event == "abandoned"]
    assert [e.t for e in abandoned] == [4.0]
    assert Observe("outcome", 3.0, "", "abandoned") in effects
    assert router.open_request_of("u1") is None


def test_a_stale_grace_timer_changes_nothing(router: Router) -> None:
    """The timer of an earlier drop, firing after the user came back and dropped again,
    leaves the second drop its full grace."""
    ask(router, "u1", "r1", 1.0)
    router.handle(Disconnected("user", "u1"), 2.0)
    router.handle(Reconnected("user", "u1"), 3.0)
    router.handle(Disconnected("user", "u1"), 10.0)
    router.handle(GraceExpired("user", "u1", 1), 32.0)
    assert router.requests["r1"].state is RequestState.QUEUED
    router.handle(GraceExpired("user", "u1", 2), 40.0)
    assert router.requests["r1"].state is RequestState.ABANDONED


def test_the_peer_hears_of_a_drop_and_a_return_in_a_session(router: Router) -> None:
    """A user who drops mid-session leaves it live; the advisor gets peer.disconnected with
    the grace, then peer.reconnected saying whether the user's socket resumed."""
    in_session(router)
    effects = router.handle(Disconnected("user", "u1"), 5.0)
    assert messages(effects, PeerDisconnected, to="a1") == [PeerDisconnected("ses-r1", 30.0)]
    assert not messages(effects, SessionEnded)
    effects = router.handle(Reconnected("user", "u1", resumed=True), 7.0)
    assert messages(effects, PeerReconnected, to="a1") == [PeerReconnected("ses-r1", True)]
    assert router.requests["r1"].state is RequestState.IN_SESSION


def test_a_user_lost_past_the_grace_ends_the_session_for_the_advisor(router: Router) -> None:
    """The advisor gets session.ended with reason user_lost and is free again."""
    in_session(router)
    router.handle(Disconnected("user", "u1"), 5.0)
    effects = router.handle(GraceExpired("user", "u1", 1), 35.0)
    assert messages(effects, SessionEnded, to="a1") == [
        SessionEnded("ses-r1", "r1", reason="user_lost", by="user")
    ]
    assert router.requests["r1"].state is RequestState.ENDED
    assert router.advisors["a1"].status is AdvisorStatus.AVAILABLE


def test_an_advisor_lost_puts_the_request_back_at_the_head(router: Router) -> None:
    """Past the grace: the user gets session.ended advisor_lost and help.queued at position
    1; the request keeps its enqueue time, is offered to the next advisor with waited_s from
    the first press, never to the lost advisor again."""
    in_session(router)
    ask(router, "u2", "r2", 3.0)
    router.handle(Disconnected("advisor", "a1"), 10.0)
    effects = router.handle(GraceExpired("advisor", "a1", 1), 40.0)
    assert messages(effects, SessionEnded, to="u1") == [
        SessionEnded("ses-r1", "r1", reason="advisor_lost", by="advisor")
    ]
    [queued] = messages(effects, HelpQueued, to="u1")
    assert (queued.request_id, queued.position) == ("r1", 1)
    assert router.requests["r1"].enqueued_at == 1.0
    assert "a1" not in router.advisors
    effects = available(router, "a2", 41.0)
    [offer] = messages(effects, HelpOffer, to="a2")
    assert (offer.request_id, offer.waited_s) == ("r1", 40.0)
    assert "a1" in router.requests["r1"].declined_by
    events = [e.event for e in router.requests["r1"].timeline]
    assert events[-4:] == ["grace.expired", "session.ended", "requeued", "offered"]


def test_an_advisor_who_drops_holding_an_offer_passes_it_on_and_keeps_their_place(
    router: Router,
) -> None:
    """The offer goes to the next advisor at once; the one who dropped is not offered
    anything while away, and comes back available, still idle since before."""
    available(router, "a1", 0.0)
    available(router, "a2", 1.0)
    ask(router, "u1", "r1", 2.0)
    effects = router.handle(Disconnected("advisor", "a1"), 3.0)
    assert router.requests["r1"].offered_to == "a2"
    assert router.advisors["a1"].status is AdvisorStatus.AWAY
    ask(router, "u2", "r2", 4.0)
    assert router.requests["r2"].offered_to is None
    effects = router.handle(Reconnected("advisor", "a1"), 5.0)
    assert messages(effects, AdvisorStateChanged, to="a1") == [
        AdvisorStateChanged("available", "reconnected")
    ]
    assert router.requests["r2"].offered_to == "a1"
    assert router.advisors["a1"].idle_since == 0.0


def test_an_advisor_in_session_who_returns_keeps_it(router: Router) -> None:
    """A drop and a return mid-session: the user hears both, the session goes on."""
    in_session(router)
    effects = router.handle(Disconnected("advisor", "a1"), 5.0)
    assert messages(effects, PeerDisconnected, to="u1") == [PeerDisconnected("ses-r1", 30.0)]
    effects = router.handle(Reconnected("advisor", "a1"), 8.0)
    assert messages(effects, PeerReconnected, to="u1") == [PeerReconnected("ses-r1", False)]
    assert router.advisors["a1"].status is AdvisorStatus.BUSY


def test_a_dropped_advisor_whose_session_ends_comes_back_free(router: Router) -> None:
    """The user ends the session while the advisor is away: the advisor is not left busy,
    and comes back to the presence they chose."""
    in_session(router)
    router.handle(Disconnected("advisor", "a1"), 5.0)
    router.handle(SessionEndRequested("user", "u1", "ses-r1", "done"), 6.0)
    assert router.advisors["a1"].status is AdvisorStatus.AWAY
    router.handle(Reconnected("advisor", "a1"), 7.0)
    assert router.advisors["a1"].status is AdvisorStatus.AVAILABLE


def test_claims_wait_for_a_user_who_is_away() -> None:
    """Claim mode: a request whose user dropped is withdrawn from the free advisors and
    cannot be claimed until they are back."""
    router = Router(RouterConfig(routing_mode="claim"))
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    effects = router.handle(Disconnected("user", "u1"), 2.0)
    assert messages(effects, HelpWithdrawn, to="a1") == [HelpWithdrawn("r1", "user_dropped")]
    with pytest.raises(ProtocolError) as refused:
        accept(router, "a1", "r1", 3.0)
    assert refused.value.code is ErrorCode.INVALID_STATE
    effects = router.handle(Reconnected("user", "u1"), 4.0)
    assert [m.request_id for m in messages(effects, HelpOffer, to="a1")] == ["r1"]
