"""A dropped socket strands nobody (issue 10): resume with the last seq, what was missed
sent again once and in order, the peer told, and the current state when a resume fails."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from mayday.client import (
    Ack,
    AnnotationSnapshot,
    Backoff,
    ErrorFrame,
    HelpOffer,
    HelpQueued,
    LinkLost,
    LinkRestored,
    MaydayClient,
    PeerDisconnected,
    PeerReconnected,
    SessionEnded,
    SessionStarted,
    SignalRelayed,
)
from tests.conftest import Harness, StartServer

# Back after about half a second: long enough for the peer to send something meanwhile.
SLOW_BACK = Backoff(first_s=0.5, jitter=0.0)
CANDIDATE = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}


async def in_session(
    h: Harness, user_backoff: Backoff = SLOW_BACK
) -> tuple[MaydayClient, MaydayClient, SessionStarted]:
    advisor = await h.client("advisor", "a1", name="Ada")
    user = await h.client("user", "u1", name="Tab", reconnect=user_backoff)
    await advisor.set_available()
    await user.request_help()
    started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
    await user.next(SessionStarted)
    return user, advisor, started


async def test_a_user_dropped_mid_session_resumes_and_gets_what_it_missed(
    mayday: Harness,
) -> None:
    """The tablet's socket is cut (no close frame) and comes back within the grace: it
    resumes, the advisor's signal sent meanwhile arrives once, and the advisor saw
    peer.disconnected then peer.reconnected (resumed)."""
    user, advisor, started = await in_session(mayday)
    sid = started.session_id
    await user.drop()
    gone = await advisor.next(PeerDisconnected)
    assert gone == PeerDisconnected(sid, 30.0)
    await advisor.signal(sid, candidate=CANDIDATE)  # the user is away: kept for them
    restored = await user.next(LinkRestored, timeout=5)
    assert restored.resumed and restored.replayed >= 1
    relayed = await user.next(SignalRelayed)
    assert (relayed.session_id, relayed.candidate) == (sid, CANDIDATE)
    assert await advisor.next(PeerReconnected) == PeerReconnected(sid, True)
    await advisor.signal(sid, candidate=None)
    assert (await user.next(SignalRelayed)).candidate is None
    again = [e for e in user.pending_events() if isinstance(e, SignalRelayed)]
    assert again == []
    assert [e for e in user.pending_events() if isinstance(e, LinkLost)] == [LinkLost(1006)]
    request = await mayday.server.store.request(started.request_id)
    assert request is not None and request.state == "in_session"
    events = [e.event for e in request.timeline]
    assert events[-2:] == ["user.dropped", "user.returned"]


async def test_a_waiting_user_dropped_keeps_the_same_request_and_place(mayday: Harness) -> None:
    """Second in line, dropped and back: the same request at the same place, nothing new
    pressed; the client told its application of the loss and the return."""
    first = await mayday.client("user", "u0")
    await first.request_help()
    user = await mayday.client("user", "u1", reconnect=SLOW_BACK)
    queued = await user.request_help()
    assert queued.position == 2
    await user.drop()
    assert isinstance(await user.next(LinkLost), LinkLost)
    assert (await user.next(LinkRestored, timeout=5)).resumed
    request = await mayday.server.store.request(queued.request_id)
    assert request is not None and request.state == "queued"
    assert mayday.server.store.router.position_of(queued.request_id) == 2  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="already has request"):
        await user.call("help.request")


async def test_a_call_lost_in_a_drop_is_sent_again(start_server: StartServer) -> None:
    """A call sent while the socket is down goes out on the new socket, once, and is
    answered (not also sent again with the calls the old socket left unanswered)."""
    h = await start_server()
    user = await h.client("user", "u1", reconnect=SLOW_BACK)
    await user.drop()
    await asyncio.sleep(0.05)
    queued = await user.request_help(topic="wifi")  # sent once the link is back
    assert queued.position == 1
    await user.call("ping")  # after any second answer to the request
    answers = [e for e in user.pending_events() if isinstance(e, Ack | ErrorFrame)]
    assert answers == [], "the request was sent twice"


async def test_a_failed_resume_gets_the_current_state(mayday: Harness) -> None:
    """A socket that asks to resume with a token the server does not know (a restarted
    process, a reloaded page) gets resumed false, then the live session again with fresh
    ICE servers and the shared screen."""
    _user, advisor, started = await in_session(mayday)
    await advisor.call(
        "annotation", session_id=started.session_id, kind="clear"
    )  # nothing drawn: the snapshot is empty but comes
    async with aiohttp.ClientSession() as http:
        params = {"token": mayday.token("user", "u1"), "resume": "no-such-token", "last_seq": "7"}
        ws = await http.ws_connect(mayday.ws_url, params=params)
        frames = [json.loads((await ws.receive()).data) for _ in range(3)]
        await ws.close()
    hello, again, snapshot = frames
    assert (hello["type"], hello["resumed"], hello["seq"]) == ("hello", False, 1)
    assert again["type"] == "session.started" and again["session_id"] == started.session_id
    assert again["role"] == "user" and again["peer"]["name"] == "Ada"
    assert snapshot["type"] == AnnotationSnapshot.TYPE and snapshot["seq"] == 3


async def test_a_plain_return_from_a_drop_gets_the_current_state(mayday: Harness) -> None:
    """An app that restarted and kept no token comes back with a plain connection within
    the grace: it is a return, not a second tab, so it gets the live session again, and
    the advisor hears that the user is back without their state."""
    user, advisor, started = await in_session(mayday)
    await user.close()
    assert (await advisor.next(PeerDisconnected)).session_id == started.session_id
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(mayday.ws_url, params={"token": mayday.token("user", "u1")})
        hello = json.loads((await ws.receive(timeout=5)).data)
        again = json.loads((await ws.receive(timeout=5)).data)
        back = await advisor.next(PeerReconnected)
        second = await http.ws_connect(mayday.ws_url, params={"token": mayday.token("user", "u1")})
        second_hello = json.loads((await second.receive()).data)
        with pytest.raises(TimeoutError):  # a second tab: nothing but its hello
            await second.receive(timeout=0.5)
        await ws.close()
        await second.close()
    assert (hello["type"], hello["resumed"]) == ("hello", False)
    assert again["type"] == "session.started" and again["session_id"] == started.session_id
    assert back == PeerReconnected(started.session_id, False)
    assert second_hello["type"] == "hello"


async def test_a_resumed_socket_replaces_the_one_it_resumes(mayday: Harness) -> None:
    """A socket that resumes while the old one is still open (the client gave up on a
    half-open one) takes over its stream; the old one is closed with 4409."""
    async with aiohttp.ClientSession() as http:
        token = mayday.token("user", "u1")
        old = await http.ws_connect(mayday.ws_url, params={"token": token})
        hello = json.loads((await old.receive()).data)
        params = {"token": token, "resume": hello["resume_token"], "last_seq": "1"}
        new = await http.ws_connect(mayday.ws_url, params=params)
        resumed = json.loads((await new.receive()).data)
        assert (resumed["resumed"], resumed["seq"], resumed["replayed"]) == (True, 1, 0)
        closing = await old.receive(timeout=5)
        assert closing.type is aiohttp.WSMsgType.CLOSE and old.close_code == 4409
        await new.send_str(json.dumps({"type": "ping", "id": 1}))
        ack = json.loads((await new.receive()).data)
        assert (ack["type"], ack["seq"]) == ("ack", 2)  # the numbering goes on
        reuse = await http.ws_connect(mayday.ws_url, params=params)
        again = json.loads((await reuse.receive()).data)
        assert again["resumed"] is False  # the token was used up
        for ws in (new, reuse):
            await ws.close()


async def test_more_missed_than_kept_is_a_resync(start_server: StartServer) -> None:
    """A socket away while more frames came than its stream keeps cannot be given them
    all: resumed false, and the current state instead."""
    h = await start_server(rate_limit_per_s=10_000.0, rate_limit_burst=10_000)
    h.server.streams.keep_frames = 8
    user, advisor, started = await in_session(h, Backoff(first_s=1.5, jitter=0.0))
    await user.drop()
    await advisor.next(PeerDisconnected)
    for i in range(20):
        await advisor.signal(started.session_id, candidate={"candidate": f"c{i}"})
    restored = await user.next(LinkRestored, timeout=6)
    assert not restored.resumed
    again = await user.next(SessionStarted)
    assert again.session_id == started.session_id


async def test_an_advisor_lost_gives_the_request_to_the_next_with_the_first_wait(
    start_server: StartServer,
) -> None:
    """The advisor's console goes for good: the next advisor is offered the same request,
    its waited_s counted from the first press."""
    h = await start_server(resume_grace_s=0.5)
    user, advisor, started = await in_session(h)
    pressed = (await h.server.store.request(started.request_id)).enqueued_at  # type: ignore[union-attr]
    await advisor.close()
    ended = await user.next(SessionEnded, timeout=5)
    assert ended.reason == "advisor_lost"
    queued = await user.next(HelpQueued, where=lambda e: e.request_id == started.request_id)
    assert queued.position == 1
    other = await h.client("advisor", "a2")
    await other.set_available()
    offer = await other.next(HelpOffer)
    assert offer.request_id == started.request_id
    assert offer.waited_s >= h.server.clock() - pressed - 0.5
