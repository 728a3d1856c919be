"""Pairing, relay and session end through the real app over real sockets."""

from __future__ import annotations

import asyncio

import pytest

from mayday.client import (
    AdvisorStateChanged,
    ErrorFrame,
    HelpClosed,
    HelpOffer,
    HelpQueued,
    HelpWithdrawn,
    MaydayClient,
    MaydayError,
    PeerDisconnected,
    QueueSummary,
    SessionEnded,
    SessionStarted,
    SignalRelayed,
)
from tests.conftest import Harness, StartServer

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
CANDIDATE = {
    "candidate": "candidate:842163049 1 udp 1677729535 127.0.0.1 46154 typ srflx",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "abcd",
}


async def paired(h: Harness) -> tuple[MaydayClient, MaydayClient, SessionStarted, SessionStarted]:
    advisor = await h.client("advisor", "a1", name="Ada")
    user = await h.client("user", "u1", name="Tab")
    await advisor.set_available()
    await user.request_help(topic="wifi")
    offer = await advisor.next(HelpOffer)
    adv_started = await advisor.accept(offer.request_id)
    user_started = await user.next(SessionStarted)
    return user, advisor, user_started, adv_started


async def test_help_reaches_the_free_advisor_and_both_get_session_started(mayday: Harness) -> None:
    """Help pressed → offer to the free advisor → accept → session.started on both sides."""
    _user, _advisor, user_started, adv_started = await paired(mayday)
    assert user_started.session_id == adv_started.session_id
    assert user_started.request_id == adv_started.request_id
    assert user_started.peer == {"id": "a1", "name": "Ada", "role": "advisor"}
    assert adv_started.peer == {"id": "u1", "name": "Tab", "role": "user"}
    assert user_started.offerer == adv_started.offerer == "advisor"
    assert user_started.ice_servers == []


async def test_queue_position_updates_reach_waiting_users(mayday: Harness) -> None:
    """The second user waits at position 2, then moves to 1 when the first cancels."""
    first = await mayday.client("user", "u1")
    second = await mayday.client("user", "u2")
    q1 = await first.request_help()
    q2 = await second.request_help()
    assert (q1.position, q2.position) == (1, 2)
    assert q2.estimated_wait_s is None  # no advisor online
    await first.cancel(q1.request_id)
    assert await first.next(HelpClosed) == HelpClosed(q1.request_id, "cancelled")
    moved = await second.next(HelpQueued)
    assert (moved.request_id, moved.position) == (q2.request_id, 1)


async def test_signals_pass_unchanged_between_peers_only(mayday: Harness) -> None:
    """Description, candidate and end-of-candidates reach the peer unchanged, stamped with from."""
    user, advisor, user_started, _ = await paired(mayday)
    sid = user_started.session_id
    await advisor.signal(sid, description=OFFER)
    await advisor.signal(sid, candidate=CANDIDATE)
    await advisor.signal(sid, candidate=None)
    got = [await user.next(SignalRelayed) for _ in range(3)]
    assert got == [
        SignalRelayed(sid, "a1", "advisor", description=OFFER),
        SignalRelayed(sid, "a1", "advisor", candidate=CANDIDATE, has_candidate=True),
        SignalRelayed(sid, "a1", "advisor", candidate=None, has_candidate=True),
    ]
    await user.signal(sid, description={"type": "answer", "sdp": "v=0\r\n"})
    back = await advisor.next(SignalRelayed)
    assert (back.from_, back.from_role, back.description) == (
        "u1",
        "user",
        {"type": "answer", "sdp": "v=0\r\n"},
    )
    assert not [e for e in user.pending_events() if isinstance(e, SignalRelayed)]


async def test_outsiders_cannot_signal_into_a_session(mayday: Harness) -> None:
    """A client that is not a peer of the session is refused; unknown sessions are not_found."""
    _, _, started, _ = await paired(mayday)
    stranger = await mayday.client("user", "u9")
    other_advisor = await mayday.client("advisor", "a9")
    for client in (stranger, other_advisor):
        with pytest.raises(MaydayError) as refused:
            await client.call("signal", session_id=started.session_id, candidate=None)
        assert refused.value.code == "forbidden"
    with pytest.raises(MaydayError) as unknown:
        await stranger.call("signal", session_id="ses_unknown", candidate=None)
    assert unknown.value.code == "not_found"
    ops = await mayday.client("ops", "o1")
    with pytest.raises(MaydayError) as role:
        await ops.call("signal", session_id=started.session_id, candidate=None)
    assert role.value.code == "forbidden"


async def test_session_end_reaches_both_and_closes_the_relay(mayday: Harness) -> None:
    """session.end gives session.ended to both with reason and by; signals are then refused,
    also on the sockets that relayed signals before and keep the session."""
    user, advisor, started, _ = await paired(mayday)
    await user.call("signal", session_id=started.session_id, candidate=None)
    await advisor.call("signal", session_id=started.session_id, candidate=None)
    await advisor.end_session(started.session_id, reason="resolved")
    expected = SessionEnded(started.session_id, started.request_id, reason="resolved", by="advisor")
    assert await user.next(SessionEnded) == expected
    assert await advisor.next(SessionEnded) == expected
    with pytest.raises(MaydayError) as refused:
        await user.call("signal", session_id=started.session_id, candidate=None)
    assert refused.value.code == "invalid_state"
    with pytest.raises(MaydayError) as refused:
        await advisor.call("signal", session_id=started.session_id, candidate=None)
    assert refused.value.code == "invalid_state"


async def test_media_state_lands_on_the_timeline(mayday: Harness) -> None:
    """media.state from both sides is kept, with server timestamps, on the request's timeline."""
    user, advisor, started, _ = await paired(mayday)
    await user.call("media.state", session_id=started.session_id, state="connected")
    await advisor.call("media.state", session_id=started.session_id, state="connected")
    await user.call("media.state", session_id=started.session_id, state="first_frame")
    request = await mayday.server.store.request(started.request_id)
    assert request is not None
    media = [(e.event, e.data["side"]) for e in request.timeline if e.event.startswith("media.")]
    assert media == [
        ("media.connected", "user"),
        ("media.connected", "advisor"),
        ("media.first_frame", "user"),
    ]
    times = [e.t for e in request.timeline]
    assert times == sorted(times)


async def test_decline_moves_the_offer_to_a_second_advisor(mayday: Harness) -> None:
    """A declined offer reaches the next free advisor at once."""
    first = await mayday.client("advisor", "a1")
    await first.set_available()
    second = await mayday.client("advisor", "a2")
    await second.set_available()
    user = await mayday.client("user", "u1")
    queued = await user.request_help()
    offer = await first.next(HelpOffer)
    await first.decline(offer.request_id)
    moved = await second.next(HelpOffer)
    assert moved.request_id == queued.request_id


async def test_reservation_timeout_sets_away_and_moves_on(start_server: StartServer) -> None:
    """An unanswered offer expires: its advisor is set away and told, the next one gets it."""
    h = await start_server(reservation_timeout_s=0.3)
    sleepy = await h.client("advisor", "a1")
    await sleepy.set_available()
    await asyncio.sleep(0.01)
    awake = await h.client("advisor", "a2")
    await awake.set_available()
    user = await h.client("user", "u1")
    queued = await user.request_help()
    assert (await sleepy.next(HelpOffer)).expires_in_s == 0.3
    assert await sleepy.next(HelpWithdrawn, timeout=3) == HelpWithdrawn(
        queued.request_id, "timeout"
    )
    assert await sleepy.next(
        AdvisorStateChanged, where=lambda e: e.reason == "offer_timeout"
    ) == AdvisorStateChanged("away", "offer_timeout")
    assert (await awake.next(HelpOffer, timeout=3)).request_id == queued.request_id


async def test_user_who_disconnects_while_waiting_abandons_after_the_grace(
    start_server: StartServer,
) -> None:
    """Closing the tablet's socket while waiting hands the offer back at once (the advisor
    stays free) and, past the grace, the request is abandoned as of the drop."""
    h = await start_server(resume_grace_s=0.5)
    advisor = await h.client("advisor", "a1")
    await advisor.set_available()
    user = await h.client("user", "u1")
    queued = await user.request_help()
    await advisor.next(HelpOffer)
    await user.close()
    assert await advisor.next(HelpWithdrawn) == HelpWithdrawn(queued.request_id, "user_dropped")
    await asyncio.sleep(1.0)
    request = await h.server.store.request(queued.request_id)
    assert request is not None and request.state == "abandoned"
    dropped = next(e.t for e in request.timeline if e.event == "user.dropped")
    assert [e.t for e in request.timeline if e.event == "abandoned"] == [dropped]


async def test_advisor_who_disconnects_in_session_is_lost_after_the_grace(
    start_server: StartServer,
) -> None:
    """An advisor whose socket drops and does not come back: the user hears of the drop,
    then session.ended advisor_lost, and is first in line again."""
    h = await start_server(resume_grace_s=0.5)
    user, advisor, started, _ = await paired(h)
    await advisor.close()
    assert (await user.next(PeerDisconnected)).session_id == started.session_id
    ended = await user.next(SessionEnded, timeout=5)
    assert (ended.reason, ended.by) == ("advisor_lost", "advisor")
    queued = await user.next(HelpQueued, where=lambda e: e.request_id == started.request_id)
    assert queued.position == 1


async def test_second_socket_of_the_same_user_keeps_the_request(mayday: Harness) -> None:
    """With two sockets open, closing one does not abandon; the other still hears updates."""
    tab_a = await mayday.client("user", "u1")
    tab_b = await mayday.client("user", "u1")
    queued = await tab_a.request_help()
    await tab_a.close()
    advisor = await mayday.client("advisor", "a1")
    await advisor.set_available()
    assert (await advisor.next(HelpOffer)).request_id == queued.request_id
    update = await tab_b.next(HelpQueued, where=lambda e: e.state == "offered")
    assert update.request_id == queued.request_id


async def test_refusals_keep_the_connection_usable(mayday: Harness) -> None:
    """After a run of bad frames the same socket still pairs and relays."""
    advisor = await mayday.client("advisor", "a1")
    for bad in ("{", '{"type": 1}', '{"type": "help.accept", "request_id": "x"}'):
        await advisor.send_raw(bad)
        assert isinstance(await advisor.next(ErrorFrame), ErrorFrame)
    await advisor.set_available()
    user = await mayday.client("user", "u1")
    await user.request_help()
    offer = await advisor.next(HelpOffer)
    assert (await advisor.accept(offer.request_id)).request_id == offer.request_id


async def test_advisors_see_the_queue_summary_change(start_server: StartServer) -> None:
    """Advisors get the queue on connect and again when it changes: depth, oldest wait, states."""
    h = await start_server(summary_interval_s=0.05)
    advisor = await h.client("advisor", "a1")
    first = await advisor.next(QueueSummary)
    assert (first.waiting, first.oldest_wait_s, first.advisors_away) == (0, None, 0)
    user = await h.client("user", "u1")
    await user.request_help()
    await asyncio.sleep(0.2)
    waiting = await advisor.next(QueueSummary, where=lambda s: s.waiting == 1)
    assert waiting.oldest_wait_s is not None and waiting.oldest_wait_s >= 0
    await advisor.set_available()
    offered = await advisor.next(QueueSummary, where=lambda s: s.advisors_reserved == 1)
    assert offered.waiting == 1
    tablet_summaries = [e for e in user.pending_events() if isinstance(e, QueueSummary)]
    assert tablet_summaries == []
