"""An aiortc ``RTCPeerConnection`` driven over Mayday signaling, for either side of a session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from mayday.client.client import MaydayClient
from mayday.protocol.messages import SessionStarted, SignalRelayed

log = logging.getLogger(__name__)


class MaydayPeer:
    """One side of a session's WebRTC call.

    The side named ``offerer`` in ``session.started`` sends the first offer;
    the other answers. aiortc gathers every candidate inside
    ``setLocalDescription``, so descriptions go out as full SDP followed by
    end-of-candidates; trickled candidates from a browser are applied once
    the remote description is set (aiortc drops them before that).
    """

    def __init__(
        self,
        client: MaydayClient,
        started: SessionStarted,
        track: MediaStreamTrack | None = None,
        *,
        report_media: bool = True,
    ) -> None:
        self.client, self.started, self.track = client, started, track
        self.session_id = started.session_id
        self.report_media = report_media
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=_ice_servers(started)))
        self.connected = asyncio.Event()
        self.first_frame = asyncio.Event()
        self.frames_received = 0
        self._frame_arrived = asyncio.Event()
        self._have_remote = False
        self.failed: str | None = None
        self._inbox: asyncio.Queue[SignalRelayed] = asyncio.Queue()
        self._early_candidates: list[dict[str, Any] | None] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.pc.on("connectionstatechange", self._on_state)
        self.pc.on("track", self._on_track)

    @property
    def is_offerer(self) -> bool:
        return self.started.offerer == self.started.role

    async def start(self) -> None:
        """Begin signaling: the offerer sends its offer now; both start reading signals."""
        self.client.on_signal(self.session_id, self._inbox.put_nowait)
        self._spawn(self._read_signals())
        if self.is_offerer:
            if self.track is not None:
                self.pc.addTrack(self.track)
            else:
                self.pc.addTransceiver("video", direction="recvonly")
            await self._send_local(await self.pc.createOffer())

    async def wait_connected(self, timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            await self.connected.wait()

    async def wait_frames(self, count: int, timeout: float = 15.0) -> None:
        """Wait until ``count`` video frames from the peer have been decoded."""
        async with asyncio.timeout(timeout):
            while self.frames_received < count:
                self._frame_arrived.clear()
                await self._frame_arrived.wait()

    async def close(self) -> None:
        self.client.off_signal(self.session_id)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()

    # ------------------------------------------------------------ signaling
    async def _read_signals(self) -> None:
        while True:
            signal = await self._inbox.get()
            try:
                await self._on_signal(signal)
            except Exception as exc:  # a bad remote SDP must not kill the reader
                log.warning("session %s: signal refused: %s", self.session_id, exc)

    async def _on_signal(self, signal: SignalRelayed) -> None:
        if signal.description is not None:
            desc = RTCSessionDescription(signal.description["sdp"], signal.description["type"])
            await self.pc.setRemoteDescription(desc)
            self._have_remote = True
            for early in self._early_candidates:
                await self._add_candidate(early)
            self._early_candidates.clear()
            if desc.type == "offer":
                if self.track is not None:
                    self.pc.addTrack(self.track)
                await self._send_local(await self.pc.createAnswer())
        elif signal.has_candidate:
            if not self._have_remote:
                self._early_candidates.append(signal.candidate)
            else:
                await self._add_candidate(signal.candidate)

    async def _add_candidate(self, init: dict[str, Any] | None) -> None:
        if init is None or not init.get("candidate"):
            await self.pc.addIceCandidate(None)
            return
        text = init["candidate"]
        candidate = candidate_from_sdp(
            text.split(":", 1)[1] if text.startswith("candidate:") else text
        )
        candidate.sdpMid = init.get("sdpMid")
        candidate.sdpMLineIndex = init.get("sdpMLineIndex")
        await self.pc.addIceCandidate(candidate)

    async def _send_local(self, description: RTCSessionDescription) -> None:
        await self.pc.setLocalDescription(description)
        local = self.pc.localDescription
        await self.client.signal(
            self.session_id, description={"type": local.type, "sdp": local.sdp}
        )
        await self.client.signal(self.session_id, candidate=None)

    # ------------------------------------------------------------ media
    async def _on_state(self) -> None:
        state = self.pc.connectionState
        log.debug("session %s: peer connection %s", self.session_id, state)
        if state == "connected":
            self.connected.set()
        elif state == "failed":
            self.failed = "ice failed"
        if state in ("connected", "failed") and self.report_media:
            await self._report(state)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._spawn(self._consume(track))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames_received += 1
                self._frame_arrived.set()
                if self.frames_received == 1:
                    self.first_frame.set()
                    if self.report_media:
                        await self._report("first_frame")

    async def _report(self, state: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.client.report_media(self.session_id, state)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _ice_servers(started: SessionStarted) -> list[RTCIceServer]:
    # An explicit list, even empty: with none aiortc falls back to a public STUN server.
    return [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in started.ice_servers
    ]
