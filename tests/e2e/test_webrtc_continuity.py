"""The call outlives its signaling (issue 10): aiortc peers keep their media through a
socket drop, and the offerer starts the call anew when it is lost, through the session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from mayday.client import (
    Backoff,
    LinkLost,
    LinkRestored,
    MaydayClient,
    MaydayPeer,
    PatternVideoTrack,
    PeerDisconnected,
    PeerReconnected,
    SessionEnded,
    SessionStarted,
)
from mayday.client.peer import RESTART_AFTER_S, SILENCE_S
from tests.conftest import Harness, StartServer
from tests.e2e.calls import Call, cut_media, start_call

pytestmark = pytest.mark.webrtc

Entry = tuple[str, Any, Any]  # a timeline entry: event, side, detail


async def until(done: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not done():  # noqa: ASYNC110 (counters set by the peers' tasks)
            await asyncio.sleep(0.05)


async def media_timeline(
    h: Harness, call: Call, done: Callable[[list[Entry]], bool] = lambda _: True
) -> list[Entry]:
    """The request's ``media.*`` entries, once ``done`` holds for them (the peers send their
    reports as they happen, without waiting for an answer); the session still on."""
    async with asyncio.timeout(5):
        while True:
            request = await h.server.store.request(call.started.request_id)
            assert request is not None and request.state == "in_session"
            entries = [
                (e.event, e.data.get("side"), e.data.get("detail")) for e in request.timeline
            ]
            media = [e for e in entries if e[0].startswith("media.")]
            if done(media):
                return media
            await asyncio.sleep(0.05)


def after(entries: list[Entry], entry: Entry) -> list[Entry]:
    """What came after the first ``entry`` (nothing when it is not there)."""
    return entries[entries.index(entry) + 1 :] if entry in entries else []


async def test_the_call_goes_on_through_a_signaling_drop(
    start_server: StartServer, peers: list[MaydayPeer]
) -> None:
    """The tablet's socket is cut (no close frame) for 3 s mid-call: video keeps coming both
    ways while the link is down and after it is back, neither side restarts, the session
    goes on, and a signal the advisor sent meanwhile reaches the tablet's peer."""
    h = await start_server()
    call = await start_call(h, peers, tablet_reconnect=Backoff(first_s=3.0, jitter=0.0))
    await call.wait_frames(15)
    signals = call.tab_peer.signals_received

    await call.tablet.drop()
    assert await call.advisor.next(PeerDisconnected) == PeerDisconnected(call.session_id, 30.0)
    await call.advisor.signal(call.session_id, candidate=None)  # kept for the tablet
    await call.wait_frames(20)  # both ways, while the tablet's link is down
    assert not call.tablet.up.is_set(), "the link came back too early to prove anything"

    restored = await call.tablet.next(LinkRestored, timeout=5)
    assert restored.resumed and restored.after_s >= 3.0
    reconnected = await call.advisor.next(PeerReconnected)
    assert reconnected == PeerReconnected(call.session_id, True)
    await until(lambda: call.tab_peer.signals_received == signals + 1)
    await call.wait_frames(20)
    for peer in (call.tab_peer, call.adv_peer):
        assert (peer.pc.connectionState, peer.state, peer.restarts) == ("connected",) * 2 + (0,)
    assert not any(isinstance(e, SessionEnded) for e in call.advisor.pending_events())
    events = await media_timeline(h, call)
    assert not [e for e in events if e[0] in ("media.restarting", "media.disconnected")]


@pytest.mark.parametrize("offerer", ["advisor", "user"])
async def test_a_restarted_tablet_app_gets_its_call_back(
    start_server: StartServer, peers: list[MaydayPeer], offerer: str
) -> None:
    """The tablet app dies mid-call (media and socket gone at once, no goodbye) and a new
    process comes back with a resume token the server no longer knows: it gets the session
    again, the advisor peer.reconnected with resumed false, and the call is started anew at
    once (the advisor offers again, or takes the new tablet's offer as the new call)."""
    h = await start_server(offerer=offerer)
    call = await start_call(h, peers, tablet_reconnect=False)
    await call.wait_frames(15)
    await cut_media(call.tab_peer)
    await call.tab_peer.close()
    await call.tablet.drop()
    await call.advisor.next(PeerDisconnected)

    tablet = await MaydayClient.connect(h.ws_url, h.token("user", "u1"), resume=("gone", 0))
    h.clients.append(tablet)
    assert tablet.hello is not None and not tablet.hello.resumed
    started = await tablet.next(SessionStarted)
    assert (started.session_id, started.offerer) == (call.session_id, offerer)
    assert await call.advisor.next(PeerReconnected) == PeerReconnected(call.session_id, False)
    tab_peer = MaydayPeer(tablet, started, PatternVideoTrack(shade=40))
    peers.append(tab_peer)
    await tab_peer.start()

    frames = call.adv_peer.frames_received
    await tab_peer.wait_frames(15)
    await call.adv_peer.wait_frames(frames + 15)
    # Once: at peer.reconnected, not again when the old connection's silence ran out.
    assert (call.adv_peer.restarts, tab_peer.restarts) == (1, 0)
    why = "peer_lost_state" if offerer == "advisor" else "new_offer"
    restart: Entry = ("media.restarting", "advisor", why)
    back = {("media.first_frame", "user", None), ("media.first_frame", "advisor", None)}
    await media_timeline(h, call, lambda events: back <= set(after(events, restart)))


async def test_a_lost_media_path_is_restarted_by_the_offerer(
    start_server: StartServer, peers: list[MaydayPeer]
) -> None:
    """The tablet's media path vanishes mid-call while both sockets stay up (a network
    change): the advisor, who offers, hears nothing for SILENCE_S, reports the call
    disconnected and, RESTART_AFTER_S later, starts it anew with a new connection and a
    fresh offer; the tablet takes it as the new call and video flows both ways again."""
    h = await start_server(offerer="advisor")
    call = await start_call(h, peers)
    await call.wait_frames(15)
    loop = asyncio.get_running_loop()
    cut = loop.time()
    await cut_media(call.tab_peer)

    await until(lambda: call.adv_peer.restarts == 1, timeout=SILENCE_S + RESTART_AFTER_S + 3)
    assert loop.time() - cut >= SILENCE_S + RESTART_AFTER_S
    await call.tab_peer.wait_connected()
    await call.wait_frames(15)
    assert (call.adv_peer.restarts, call.tab_peer.restarts) == (1, 1)
    restart: Entry = ("media.restarting", "advisor", "ice_disconnected")
    back = {("media.connected", "user", None), ("media.connected", "advisor", None)}
    events = await media_timeline(h, call, lambda events: back <= set(after(events, restart)))
    assert ("media.disconnected", "advisor", None) in events[: events.index(restart)]
    assert ("media.restarting", "user", "new_offer") in after(events, restart)
    lost = [e for c in (call.tablet, call.advisor) for e in c.pending_events()]
    assert not [e for e in lost if isinstance(e, LinkLost | SessionEnded)]


async def test_a_tablet_that_lost_its_network_starts_the_call_anew_once_back(
    start_server: StartServer, peers: list[MaydayPeer]
) -> None:
    """The tablet, which offers here, loses its network for 4 s mid-call (socket and media
    path at once): its connection closes, the restart it makes RESTART_AFTER_S later waits
    for the link, and once the link is back the advisor takes the new offer as the new
    call and video flows both ways again."""
    h = await start_server(offerer="user")
    call = await start_call(h, peers, tablet_reconnect=Backoff(first_s=4.0, jitter=0.0))
    await call.wait_frames(15)
    await call.tablet.drop()
    await cut_media(call.tab_peer)

    await until(lambda: call.tab_peer.restarts == 1, timeout=RESTART_AFTER_S + 1)
    assert not call.tablet.up.is_set(), "the restart should have come while the link was down"
    assert (await call.tablet.next(LinkRestored, timeout=5)).resumed
    await call.adv_peer.wait_connected()
    await call.wait_frames(15)
    assert (call.tab_peer.restarts, call.adv_peer.restarts) == (1, 1)
    restart: Entry = ("media.restarting", "user", "connection_closed")
    back = {("media.connected", "user", None), ("media.connected", "advisor", None)}
    events = await media_timeline(h, call, lambda events: back <= set(after(events, restart)))
    assert ("media.restarting", "advisor", "new_offer") in after(events, restart)
