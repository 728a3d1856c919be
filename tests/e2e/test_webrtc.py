"""Two aiortc peers, using only the client library, connect through the server's signaling."""

from __future__ import annotations

import pytest

from mayday.client import MaydayPeer
from tests.conftest import StartServer
from tests.e2e.calls import start_call

pytestmark = pytest.mark.webrtc


@pytest.mark.parametrize("offerer", ["advisor", "user"])
async def test_tablet_and_advisor_exchange_video(
    start_server: StartServer, peers: list[MaydayPeer], offerer: str
) -> None:
    """Paired by the server, both peers reach ICE connected and decode each other's frames."""
    h = await start_server(offerer=offerer)
    call = await start_call(h, peers)
    assert call.started.offerer == offerer
    await call.wait_frames(15)
    await call.adv_peer.close()
    await call.tab_peer.close()
    assert call.tab_peer.frames_received >= 15 and call.adv_peer.frames_received >= 15
    assert call.camera.frames_sent >= 15 and call.screen.frames_sent >= 15

    # A ping answered on each socket means its earlier media.state frames were handled.
    await call.tablet.call("ping")
    await call.advisor.call("ping")
    request = await h.server.store.request(call.started.request_id)
    assert request is not None
    reported = {(e.event, e.data.get("side")) for e in request.timeline}
    assert {("media.connected", "user"), ("media.first_frame", "user")} <= reported
    assert ("media.first_frame", "advisor") in reported
