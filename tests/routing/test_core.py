"""The pure routing core, driven with plain calls and a hand-set clock: no event loop."""

from __future__ import annotations

import copy

import pytest

from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.protocol.messages import (
    AdvisorStateChanged,
    HelpClosed,
    HelpOffer,
    HelpQueued,
    HelpRequest,
    HelpWithdrawn,
    SessionEnded,
    SessionStarted,
)
from mayday.routing.config import RouterConfig
from mayday.routing.core import Router
from mayday.routing.events import (
    CancelTimer,
    Disconnected,
    HelpCancelled,
    HelpRequested,
    MediaReported,
    Observe,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    RouteDue,
    Send,
    SessionEndRequested,
    SessionTransferRequested,
    StartTimer,
    offer_timer,
)
from mayday.routing.model import AdvisorStatus, RequestState
from tests.routing.helpers import accept, ask, available, away, messages


@pytest.fixture
def router() -> Router:
    return Router(RouterConfig(reservation_timeout_s=15.0, offerer="advisor"))


def offered_to(router: Router, request_id: str) -> str | None:
    return router.requests[request_id].offered_to


def test_request_goes_to_the_only_free_advisor(router: Router) -> None:
    """A request with one free advisor is offered to them with the user's details."""
    available(router, "a1", 0.0)
    effects = ask(router, "u1", "r1", 2.0, topic="wifi", language="en", device={"os": "x"})
    [offer] = messages(effects, HelpOffer, to="a1")
    assert offer == HelpOffer(
        request_id="r1",
        expires_in_s=15.0,
        user={"id": "u1", "name": "U1"},
        topic="wifi",
        language="en",
        skills=[],
        device={"os": "x"},
        waited_s=0.0,
    )
    assert offer_timer("r1", 1, 15.0) in effects
    [queued] = messages(effects, HelpQueued, to="u1")
    assert (queued.position, queued.state, queued.estimated_wait_s) == (1, "offered", 0.0)


def test_longest_idle_advisor_is_offered_first(router: Router) -> None:
    """Of two free advisors, the one idle longest gets the offer."""
    available(router, "late", 5.0)
    available(router, "early", 1.0)
    ask(router, "u1", "r1", 6.0)
    assert offered_to(router, "r1") == "early"


def test_requests_are_offered_in_fifo_order(router: Router) -> None:
    """With one advisor, the oldest waiting request is offered first."""
    ask(router, "u1", "r1", 1.0)
    ask(router, "u2", "r2", 2.0)
    available(router, "a1", 3.0)
    assert offered_to(router, "r1") == "a1"
    assert offered_to(router, "r2") is None


def test_decline_moves_the_offer_to_the_next_advisor_at_once(router: Router) -> None:
    """A declined offer goes straight to the next free advisor, never back to the decliner."""
    available(router, "a1", 0.0)
    available(router, "a2", 1.0)
    ask(router, "u1", "r1", 2.0)
    effects = router.handle(OfferDeclined("a1", "r1"), 3.0)
    assert CancelTimer("offer:r1") in effects
    assert [o.request_id for o in messages(effects, HelpOffer, to="a2")] == ["r1"]
    assert router.advisors["a1"].status is AdvisorStatus.AVAILABLE
    router.handle(OfferDeclined("a2", "r1"), 4.0)
    assert offered_to(router, "r1") is None
    assert router.requests["r1"].state is RequestState.QUEUED


def test_offer_timeout_sets_the_advisor_away_and_passes_the_request_on(router: Router) -> None:
    """An offer left unanswered sets its advisor away (and says so) and moves on."""
    available(router, "a1", 0.0)
    available(router, "a2", 1.0)
    ask(router, "u1", "r1", 2.0)
    effects = router.handle(OfferExpired("r1", 1), 17.0)
    assert messages(effects, HelpWithdrawn, to="a1") == [HelpWithdrawn("r1", "timeout")]
    assert messages(effects, AdvisorStateChanged, to="a1") == [
        AdvisorStateChanged("away", "offer_timeout")
    ]
    assert router.advisors["a1"].status is AdvisorStatus.AWAY
    assert router.advisors["a1"].missed_offers == 1
    assert offered_to(router, "r1") == "a2"
    events = [e.event for e in router.requests["r1"].timeline]
    assert events == ["requested", "offered", "offer.timed_out", "offered"]


def test_a_stale_timer_changes_nothing(router: Router) -> None:
    """A timer that fires after its offer was answered is ignored."""
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    accept(router, "a1", "r1", 2.0)
    before = copy.deepcopy(router.requests)
    assert router.handle(OfferExpired("r1", 1), 16.0) == []
    assert router.requests == before


def test_accept_starts_a_session_for_both_sides(router: Router) -> None:
    """Accepting sends session.started to both peers, each naming the other."""
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    effects = accept(router, "a1", "r1", 3.0)
    [to_user] = messages(effects, SessionStarted, to="u1")
    [to_adv] = messages(effects, SessionStarted, to="a1")
    assert to_user == SessionStarted(
        session_id="ses-r1",
        request_id="r1",
        peer={"id": "a1", "name": "A1", "role": "advisor"},
        offerer="advisor",
        ice_servers=[],
        role="user",
    )
    assert to_adv.peer == {"id": "u1", "name": "U1", "role": "user"}
    assert to_adv.role == "advisor"
    assert CancelTimer("offer:r1") in effects
    assert router.advisors["a1"].status is AdvisorStatus.BUSY
    assert router.requests["r1"].state is RequestState.IN_SESSION


def test_ice_servers_carry_short_lived_turn_credentials() -> None:
    """With a TURN secret, each peer gets coturn REST credentials beside the static servers."""
    config = RouterConfig(
        ice_servers=({"urls": ["stun:stun.example:3478"]},),
        turn_urls=("turn:turn.example:3478",),
        turn_secret="s3cret",
        turn_ttl_s=600,
    )
    router = Router(config)
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    [started] = messages(accept(router, "a1", "r1", 1000.0), SessionStarted, to="u1")
    stun, turn = started.ice_servers
    assert stun == {"urls": ["stun:stun.example:3478"]}
    assert turn["urls"] == ["turn:turn.example:3478"]
    assert turn["username"] == "1600:u1"
    assert len(turn["credential"]) == 28  # base64 of a 20-byte HMAC-SHA1


@pytest.mark.parametrize(
    ("advisor", "request_id", "code"),
    [("a2", "r1", ErrorCode.INVALID_STATE), ("a1", "nope", ErrorCode.NOT_FOUND)],
)
def test_accept_refused_unless_the_offer_is_yours(
    router: Router, advisor: str, request_id: str, code: ErrorCode
) -> None:
    """Only the advisor holding an offer may accept it; an unknown request is not_found."""
    available(router, "a1", 0.0)
    available(router, "a2", 0.5)
    ask(router, "u1", "r1", 1.0)
    before = copy.deepcopy((router.requests, router.advisors))
    with pytest.raises(ProtocolError) as refused:
        accept(router, advisor, request_id, 2.0)
    assert refused.value.code is code
    assert (router.requests, router.advisors) == before


def test_cancel_withdraws_the_offer_and_frees_the_advisor(router: Router) -> None:
    """A cancelled request is closed, its offer withdrawn, and the advisor takes the next one."""
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    ask(router, "u2", "r2", 2.0)
    effects = router.handle(HelpCancelled("u1", "r1"), 3.0)
    assert messages(effects, HelpClosed, to="u1") == [HelpClosed("r1", "cancelled")]
    assert messages(effects, HelpWithdrawn, to="a1") == [HelpWithdrawn("r1", "cancelled")]
    assert offered_to(router, "r2") == "a1"
    assert router.requests["r1"].state is RequestState.CANCELLED
    [update] = messages(effects, HelpQueued, to="u2")
    assert (update.position, update.state) == (1, "offered")


def test_cancel_refusals(router: Router) -> None:
    """Cancelling someone else's request is forbidden; cancelling a live session is not waiting."""
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    with pytest.raises(ProtocolError) as other:
        router.handle(HelpCancelled("u2", "r1"), 2.0)
    assert other.value.code is ErrorCode.FORBIDDEN
    accept(router, "a1", "r1", 2.0)
    with pytest.raises(ProtocolError) as late:
        router.handle(HelpCancelled("u1", "r1"), 3.0)
    assert late.value.code is ErrorCode.INVALID_STATE


def test_one_open_request_per_user(router: Router) -> None:
    """A user who already waits cannot press Help a second time."""
    ask(router, "u1", "r1", 1.0)
    with pytest.raises(ProtocolError) as again:
        ask(router, "u1", "r2", 2.0)
    assert again.value.code is ErrorCode.INVALID_STATE
    assert "r2" not in router.requests


@pytest.mark.parametrize("how", ["away", "disconnect"])
def test_advisor_leaving_passes_a_held_offer_on(router: Router, how: str) -> None:
    """An advisor who goes away or drops while holding an offer hands it to the next one."""
    available(router, "a1", 0.0)
    available(router, "a2", 1.0)
    ask(router, "u1", "r1", 2.0)
    if how == "away":
        effects = away(router, "a1", 3.0)
        assert messages(effects, HelpWithdrawn, to="a1") == [HelpWithdrawn("r1", "advisor_away")]
    else:
        effects = router.handle(Disconnected("advisor", "a1"), 3.0)
        assert router.advisors["a1"].status is AdvisorStatus.AWAY
    assert CancelTimer("offer:r1") in effects
    assert offered_to(router, "r1") == "a2"


def test_busy_advisor_gets_no_offer_until_the_session_ends(router: Router) -> None:
    """One advisor, one session: the next request waits for the end of the first."""
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    accept(router, "a1", "r1", 2.0)
    ask(router, "u2", "r2", 3.0)
    assert offered_to(router, "r2") is None
    effects = router.handle(SessionEndRequested("advisor", "a1", "ses-r1", "done"), 60.0)
    assert messages(effects, SessionEnded, to="u1") == [
        SessionEnded("ses-r1", "r1", reason="done", by="advisor")
    ]
    assert offered_to(router, "r2") == "a1"


def test_advisor_who_went_away_mid_session_stays_away_after(router: Router) -> None:
    """Going away during a session takes effect when it ends."""
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    accept(router, "a1", "r1", 2.0)
    away(router, "a1", 3.0)
    assert router.advisors["a1"].status is AdvisorStatus.BUSY
    router.handle(SessionEndRequested("user", "u1", "ses-r1", "ended"), 4.0)
    assert router.advisors["a1"].status is AdvisorStatus.AWAY


def test_skills_must_match(router: Router) -> None:
    """A request needing a skill skips advisors without it, even if they are idle longer."""
    available(router, "generalist", 0.0)
    available(router, "printers", 1.0, skills=frozenset({"printer", "wifi"}))
    ask(router, "u1", "r1", 2.0, skills=("printer",))
    assert offered_to(router, "r1") == "printers"


def test_session_end_refusals(router: Router) -> None:
    """Ending a session needs a real session, a peer of it, and a live one."""
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    accept(router, "a1", "r1", 2.0)
    cases = [
        (SessionEndRequested("user", "u1", "ses-x", "x"), ErrorCode.NOT_FOUND),
        (SessionEndRequested("user", "u2", "ses-r1", "x"), ErrorCode.FORBIDDEN),
        (SessionEndRequested("advisor", "u1", "ses-r1", "x"), ErrorCode.FORBIDDEN),
    ]
    for event, code in cases:
        with pytest.raises(ProtocolError) as refused:
            router.handle(event, 3.0)
        assert refused.value.code is code
    router.handle(SessionEndRequested("user", "u1", "ses-r1", "x"), 3.0)
    with pytest.raises(ProtocolError) as twice:
        router.handle(SessionEndRequested("user", "u1", "ses-r1", "x"), 4.0)
    assert twice.value.code is ErrorCode.INVALID_STATE


def test_media_state_is_kept_on_the_timeline(router: Router) -> None:
    """media.state reports land on the request's timeline with the side that sent them."""
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    accept(router, "a1", "r1", 2.0)
    router.handle(MediaReported("user", "u1", "ses-r1", "connected"), 2.5)
    router.handle(MediaReported("user", "u1", "ses-r1", "first_frame"), 2.7)
    tail = router.requests["r1"].timeline[-2:]
    assert [(e.t, e.event, e.data) for e in tail] == [
        (2.5, "media.connected", {"side": "user"}),
        (2.7, "media.first_frame", {"side": "user"}),
    ]


def test_queue_positions_are_updated_as_the_head_leaves(router: Router) -> None:
    """Users behind the head hear their new position at the next position update, once."""
    for i in range(3):
        ask(router, f"u{i}", f"r{i}", float(i))
    effects = router.handle(HelpCancelled("u0", "r0"), 5.0)
    assert messages(effects, HelpQueued) == []  # others' moves wait for the periodic update
    updates = router.position_updates(["r0", "r1", "r2"], 6.0)
    positions = {m.request_id: m.position for m in messages(updates, HelpQueued)}
    assert positions == {"r1": 1, "r2": 2}
    assert router.position_updates(["r1", "r2"], 7.0) == []
    assert (router.position_of("r1"), router.position_of("r2"), router.position_of("r0")) == (
        1,
        2,
        None,
    )


def test_estimate_is_unknown_without_advisors_and_grows_with_position(router: Router) -> None:
    """No advisor online: no estimate; with one busy advisor, later positions wait longer."""
    [first] = messages(ask(router, "u0", "r0", 0.0), HelpQueued)
    assert first.estimated_wait_s is None
    available(router, "a1", 1.0)
    accept(router, "a1", "r0", 2.0)
    [second] = messages(ask(router, "u1", "r1", 3.0), HelpQueued)
    [third] = messages(ask(router, "u2", "r2", 4.0), HelpQueued)
    assert second.estimated_wait_s == 300.0
    assert third.estimated_wait_s == 600.0


def test_an_estimate_when_every_online_advisor_declined(router: Router) -> None:
    """After the only advisor declines, the user is not told help is coming any moment,
    nor that nobody can take it (the decline cools down): a handle time to wait."""
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    effects = router.handle(OfferDeclined("a1", "r1"), 2.0)
    [update] = messages(effects, HelpQueued, to="u1")
    assert (update.state, update.estimated_wait_s) == ("queued", 300.0)


def test_advisor_hears_their_state_when_a_session_ends(router: Router) -> None:
    """At the end of a session the advisor is told which presence they are back in."""
    available(router, "a1", 0.0)
    ask(router, "u1", "r1", 1.0)
    accept(router, "a1", "r1", 2.0)
    effects = router.handle(SessionEndRequested("user", "u1", "ses-r1", "ended"), 3.0)
    assert messages(effects, AdvisorStateChanged, to="a1") == [
        AdvisorStateChanged("available", "session_ended")
    ]


@pytest.fixture
def claims() -> Router:
    return Router(RouterConfig(routing_mode="claim"))


def test_claim_mode_shows_every_free_advisor_and_first_claim_wins(claims: Router) -> None:
    """In claim mode all free advisors see the request; exactly one claim succeeds."""
    available(claims, "a1", 0.0)
    available(claims, "a2", 1.0)
    effects = ask(claims, "u1", "r1", 2.0)
    shown = {
        e.sub: e.message
        for e in effects
        if isinstance(e, Send) and isinstance(e.message, HelpOffer)
    }
    assert sorted(shown) == ["a1", "a2"]
    assert all(m.mode == "claim" and m.expires_in_s is None for m in shown.values())
    assert not [e for e in effects if isinstance(e, StartTimer)]
    won = accept(claims, "a2", "r1", 3.0)
    assert messages(won, HelpWithdrawn, to="a1") == [HelpWithdrawn("r1", "claimed")]
    assert len(messages(won, SessionStarted)) == 2
    with pytest.raises(ProtocolError) as late:
        accept(claims, "a1", "r1", 3.0)
    assert late.value.code is ErrorCode.INVALID_STATE


def test_claim_mode_decline_and_cancel(claims: Router) -> None:
    """A claim-mode decline hides the request from that advisor only; a cancel from everyone."""
    available(claims, "a1", 0.0)
    available(claims, "a2", 1.0)
    ask(claims, "u1", "r1", 2.0)
    # Nothing is sent; the decline is counted (the ops table's declines) and its cooldown
    # timed, after which the request is shown to them again.
    assert claims.handle(OfferDeclined("a1", "r1"), 3.0) == [
        Observe("declined", 1.0, "", "a1"),
        StartTimer("route:r1", 60.0, RouteDue("r1")),
    ]
    assert claims.advisors["a1"].claimable == set()
    effects = claims.handle(HelpCancelled("u1", "r1"), 4.0)
    assert messages(effects, HelpWithdrawn) == [HelpWithdrawn("r1", "cancelled")]
    assert claims.advisors["a2"].claimable == set()


def test_claim_mode_advisor_coming_back_sees_the_waiting_queue(claims: Router) -> None:
    """An advisor who goes available is shown every request already waiting, oldest first."""
    ask(claims, "u1", "r1", 1.0)
    ask(claims, "u2", "r2", 2.0)
    effects = available(claims, "a1", 3.0)
    assert [m.request_id for m in messages(effects, HelpOffer, to="a1")] == ["r1", "r2"]
    away(claims, "a1", 4.0)
    again = available(claims, "a1", 5.0)
    assert [m.request_id for m in messages(again, HelpOffer, to="a1")] == ["r1", "r2"]


def test_a_zero_priority_step_keeps_arrival_order() -> None:
    """With MAYDAY_PRIORITY_STEP_S at 0 a priority claim changes nothing: first come,
    first served; at 60 s the same claim puts the later request first."""
    for step, first in ((0.0, "r1"), (60.0, "r2")):
        router = Router(RouterConfig(priority_step_s=step))
        router.handle(HelpRequested("u1", "U1", "r1", HelpRequest()), 1.0)
        router.handle(HelpRequested("u2", "U2", "r2", HelpRequest(), priority=10), 2.0)
        assert router.in_line()[0] == first
        [offer] = messages(available(router, "a1", 3.0), HelpOffer, to="a1")
        assert offer.request_id == first


def test_a_transferred_requests_sessions_are_forgotten_with_it() -> None:
    """Past the history limit a request that was transferred takes both its sessions with
    it: the old leg is not kept for ever."""
    router = Router(RouterConfig(history_limit=1))
    available(router, "a1", 1.0)
    available(router, "a2", 1.5)
    ask(router, "u1", "r1", 2.0)
    router.handle(OfferAccepted("a1", "r1", "s1"), 3.0)
    router.handle(SessionTransferRequested("a1", "s1", "t1", "a2"), 4.0)
    router.handle(OfferAccepted("a2", "r1", "s2"), 5.0)
    router.handle(SessionEndRequested("user", "u1", "s2", "done"), 6.0)
    assert set(router.sessions) == {"s1", "s2"}
    for n in range(2, 4):
        ask(router, f"u{n}", f"r{n}", 7.0 + n)
        router.handle(HelpCancelled(f"u{n}", f"r{n}"), 7.5 + n)
    assert "r1" not in router.requests
    assert router.sessions == {}
