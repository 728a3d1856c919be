"""Two aiortc peers, using only the client library, connect through the server's signaling."""

from __future__ import annotations

import pytest

from mayday.client import HelpOffer, MaydayPeer, PatternVideoTrack, SessionStarted
from tests.conftest import StartServer

pytestmark = pytest.mark.webrtc


@pytest.mark.parametrize("offerer", ["advisor", "user"])
async def test_tablet_and_advisor_exchange_video(start_server: StartServer, offerer: str) -> None:
    """Paired by the server, both peers reach ICE connected and decode each other's frames."""
    h = await start_server(offerer=offerer)
    advisor = await h.client("advisor", "a1")
    tablet = await h.client("user", "u1")
    await advisor.set_available()
    await tablet.request_help(topic="wifi")
    offer = await advisor.next(HelpOffer)
    adv_started = await advisor.accept(offer.request_id)
    tab_started = await tablet.next(SessionStarted)
    assert tab_started.offerer == offerer

    camera = PatternVideoTrack(shade=200)  # the advisor's face
    screen = PatternVideoTrack(shade=40)  # the tablet's screen
    adv_peer = MaydayPeer(advisor, adv_started, camera)
    tab_peer = MaydayPeer(tablet, tab_started, screen)
    try:
        await tab_peer.start()
        await adv_peer.start()
        await tab_peer.wait_connected()
        await adv_peer.wait_connected()
        await tab_peer.wait_frames(15)
        await adv_peer.wait_frames(15)
    finally:
        await adv_peer.close()
        await tab_peer.close()
    assert tab_peer.frames_received >= 15 and adv_peer.frames_received >= 15
    assert camera.frames_sent >= 15 and screen.frames_sent >= 15

    # A ping answered on each socket means its earlier media.state frames were handled.
    await tablet.call("ping")
    await advisor.call("ping")
    request = await h.server.store.request(tab_started.request_id)
    assert request is not None
    reported = {(e.event, e.data.get("side")) for e in request.timeline}
    assert {("media.connected", "user"), ("media.first_frame", "user")} <= reported
    assert ("media.first_frame", "advisor") in reported
