"""A call between two aiortc peers from the client library, for the WebRTC tests."""

from __future__ import annotations

from dataclasses import dataclass

from mayday.client import (
    Backoff,
    HelpOffer,
    MaydayClient,
    MaydayPeer,
    PatternVideoTrack,
    SessionStarted,
)
from tests.conftest import Harness


@dataclass
class Call:
    """A tablet and an advisor paired by the server, each with an aiortc peer."""

    tablet: MaydayClient
    advisor: MaydayClient
    started: SessionStarted  # the advisor's
    tab_peer: MaydayPeer
    adv_peer: MaydayPeer
    screen: PatternVideoTrack  # what the tablet sends
    camera: PatternVideoTrack  # what the advisor sends

    @property
    def session_id(self) -> str:
        return self.started.session_id

    async def wait_frames(self, more: int, timeout: float = 15.0) -> None:
        """Until each side has decoded ``more`` of the other's frames on top of what it had."""
        await self.tab_peer.wait_frames(self.tab_peer.frames_received + more, timeout)
        await self.adv_peer.wait_frames(self.adv_peer.frames_received + more, timeout)


async def start_call(
    h: Harness, peers: list[MaydayPeer], *, tablet_reconnect: bool | Backoff = True
) -> Call:
    """Pair a tablet and an advisor and wait until both peers are connected."""
    advisor = await h.client("advisor", "a1")
    tablet = await h.client("user", "u1", reconnect=tablet_reconnect)
    await advisor.set_available()
    await tablet.request_help(topic="wifi")
    offer = await advisor.next(HelpOffer)
    adv_started = await advisor.accept(offer.request_id)
    tab_started = await tablet.next(SessionStarted)
    camera = PatternVideoTrack(shade=200)  # the advisor's face
    screen = PatternVideoTrack(shade=40)  # the tablet's screen
    adv_peer = MaydayPeer(advisor, adv_started, camera)
    tab_peer = MaydayPeer(tablet, tab_started, screen)
    peers += [adv_peer, tab_peer]
    await tab_peer.start()
    await adv_peer.start()
    await tab_peer.wait_connected()
    await adv_peer.wait_connected()
    return Call(tablet, advisor, adv_started, tab_peer, adv_peer, screen, camera)


async def cut_media(peer: MaydayPeer) -> None:
    """The peer's media path vanishes (the device is gone, or its network changed): its ICE
    transports stop without a DTLS goodbye, so the other side just hears nothing more."""
    for transceiver in peer.pc.getTransceivers():
        await transceiver.receiver.transport.transport.stop()
