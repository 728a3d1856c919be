"""An aiortc ``RTCPeerConnection`` driven over Mayday signaling, for either side of a session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, cast

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
from mayday.protocol.messages import PeerReconnected, SessionEnded, SessionStarted, SignalRelayed

log = logging.getLogger(__name__)

# How long the call may stay disconnected, or closed by the peer, before the offerer starts
# it anew; a failed one is started anew at once. The same figure as the web pages'.
RESTART_AFTER_S = 3.0
# aiortc has no "disconnected" state: a connected call that got no packet from the peer
# (RTP, or the RTCP reports both sides send about every second) for this long counts as one.
SILENCE_S = 2.0
_LISTEN_EVERY_S = 0.5
REPORTED = frozenset({"connected", "disconnected", "failed", "closed"})
_RESTART_REASONS = {
    "failed": "ice_failed",
    "disconnected": "ice_disconnected",
    "closed": "connection_closed",
}


class _Feed(MediaStreamTrack):
    """The track as one connection sends it. aiortc stops a sender's track when the
    sender stops; this one stops, and the source goes on for the next connection."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind, self._source = source.kind, source

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        return await self._source.recv()


@dataclass(frozen=True)
class _Restart:
    """Start the call anew, if ``pc`` is still the call's connection and is still lost."""

    reason: str
    pc: RTCPeerConnection


class MaydayPeer:
    """One side of a session's WebRTC call.

    The side named ``offerer`` in ``session.started`` sends the first offer;
    the other answers. aiortc gathers every candidate inside
    ``setLocalDescription``, so descriptions go out as full SDP followed by
    end-of-candidates; trickled candidates from a browser are applied once
    the remote description is set (aiortc drops them before that).

    The call outlives the signaling socket: through a drop the peer
    connection is left alone (the client resumes, and the server keeps the
    signals sent meanwhile). When the call itself is lost, the offerer starts
    it anew through the same session, with a new peer connection and a fresh
    offer (aiortc has no ICE restart): when the connection failed; when it
    has been disconnected, or closed by the peer, for ``restart_after_s``;
    when the peer came back without its state (``peer.reconnected`` with
    ``resumed`` false); when this side's own link came back without its state
    (``session.started`` again). The answerer takes an offer with new ICE
    credentials as the new call, on a new peer connection. Each restart is
    reported as ``media.state`` ``restarting``, its reason in ``detail``.
    """

    def __init__(
        self,
        client: MaydayClient,
        started: SessionStarted,
        track: MediaStreamTrack | None = None,
        *,
        report_media: bool = True,
        restart_after_s: float = RESTART_AFTER_S,
    ) -> None:
        self.client, self.started, self.track = client, started, track
        self.session_id = started.session_id
        self.report_media = report_media
        self.restart_after_s = restart_after_s
        self.connected = asyncio.Event()  # the current connection is up
        self.first_frame = asyncio.Event()
        self.frames_received = 0  # over every connection of the call
        self.signals_received = 0
        self.restarts = 0  # new connections after the first, on either side
        self.state = "new"  # the current connection's, "disconnected" by silence too
        self.failed: str | None = None
        self._frame_arrived = asyncio.Event()
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._early_candidates: list[dict[str, Any] | None] = []
        self._attached = False  # this side's media is on the current connection
        self._restart_timer: asyncio.TimerHandle | None = None
        # The packet count last read from the peer, on which connection, and when it moved.
        self._heard: tuple[RTCPeerConnection | None, int] = (None, -1)
        self._heard_at = 0.0
        self._ended = self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.pc = self._new_pc()

    @property
    def is_offerer(self) -> bool:
        return self.started.offerer == self.started.role

    async def start(self) -> None:
        """Begin signaling: the offerer sends its offer now; both follow the session."""
        self.client.on_signal(self.session_id, self._events.put_nowait)
        self.client.watch(self.session_id, self._events.put_nowait)
        if self.is_offerer:
            await self._offer()
        self._spawn(self._follow())
        self._spawn(self._listen())

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
        self._closed = True
        self._cancel_restart()
        self.client.off_signal(self.session_id)
        self.client.unwatch(self.session_id)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()
        if self.track is not None:
            self.track.stop()  # as aiortc does with a sender's track when the call is over

    # ------------------------------------------------------------ the session
    async def _follow(self) -> None:
        """Signals, peer notices and restarts, one at a time and in the order they came."""
        while True:
            event = await self._events.get()
            try:
                await self._take(event)
            except Exception as exc:  # a bad remote SDP must not kill the reader
                log.warning("session %s: %s not applied: %s", self.session_id, event, exc)

    async def _take(self, event: Any) -> None:
        if isinstance(event, SignalRelayed):
            self.signals_received += 1
            await self._on_signal(event)
        elif isinstance(event, _Restart):
            if event.pc is self.pc and self.state != "connected":
                await self._restart(event.reason)
        elif isinstance(event, PeerReconnected) and not event.resumed:
            await self._restart("peer_lost_state")
        elif isinstance(event, SessionStarted):
            self.started = event  # fresh ICE servers for the next connection
            await self._restart("link_not_resumed")
        elif isinstance(event, SessionEnded):
            self._ended = True
            self._cancel_restart()

    async def _restart(self, reason: str) -> None:
        """The offerer starts the call anew: a new peer connection and a fresh offer."""
        if not self.is_offerer or self._ended:
            return
        self._restarted(reason)
        await self._replace_pc()
        await self._offer()

    def _restarted(self, reason: str) -> None:
        self.restarts += 1
        log.info("session %s: the call starts anew (%s)", self.session_id, reason)
        self._spawn(self._report("restarting", reason))

    async def _replace_pc(self) -> None:
        old, self.pc = self.pc, self._new_pc()
        self._cancel_restart()
        self._attached = False
        self._early_candidates.clear()
        self.connected.clear()
        self._set_state("new")
        with contextlib.suppress(Exception):  # what the old one says on its way out is moot
            await old.close()

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=_ice_servers(self.started)))
        pc.on("connectionstatechange", lambda: self._on_pc_state(pc))
        pc.on("track", lambda track: self._on_track(track))
        return pc

    # ------------------------------------------------------------ signaling
    async def _on_signal(self, signal: SignalRelayed) -> None:
        if signal.description is not None:
            desc = RTCSessionDescription(signal.description["sdp"], signal.description["type"])
            if desc.type == "offer":
                await self._on_offer(desc)
            elif self.pc.signalingState == "have-local-offer":
                await self._set_remote(desc)
            else:
                log.info("session %s: %s with no offer of ours waiting", self.session_id, desc.type)
        elif signal.has_candidate:
            if _remote_description(self.pc) is None:
                self._early_candidates.append(signal.candidate)
            else:
                await self._add_candidate(signal.candidate)

    async def _on_offer(self, offer: RTCSessionDescription) -> None:
        if self.is_offerer and self.pc.signalingState != "stable":
            # Glare: the offerer role from session.started decides, and ours stands.
            log.info("session %s: a colliding offer ignored (we offer)", self.session_id)
            return
        if self._replaced_by(offer):
            self._restarted("new_offer")
            await self._replace_pc()
        await self._set_remote(offer)
        self._attach_local()
        await self._send_local(await self.pc.createAnswer())

    def _replaced_by(self, offer: RTCSessionDescription) -> bool:
        """An offer that starts the call anew: new ICE credentials (a peer connection
        of the peer's that is new, or an ICE restart, which aiortc cannot do in place),
        or one for a connection of ours that is over."""
        pc, current = self.pc, _remote_description(self.pc)
        if pc.signalingState == "closed" or pc.connectionState == "failed":
            return True
        return current is not None and _ice_ufrags(current.sdp) != _ice_ufrags(offer.sdp)

    async def _set_remote(self, desc: RTCSessionDescription) -> None:
        await self.pc.setRemoteDescription(desc)
        early, self._early_candidates = self._early_candidates, []
        for candidate in early:
            await self._add_candidate(candidate)

    async def _add_candidate(self, init: dict[str, Any] | None) -> None:
        if init is None or not init.get("candidate"):
            await self.pc.addIceCandidate(None)
            return
        remote = _remote_description(self.pc)
        ufrag = init.get("usernameFragment")
        if ufrag and remote is not None and ufrag not in _ice_ufrags(remote.sdp):
            return  # trickled for a connection of the peer's that is gone
        text = init["candidate"]
        candidate = candidate_from_sdp(
            text.split(":", 1)[1] if text.startswith("candidate:") else text
        )
        candidate.sdpMid = init.get("sdpMid")
        candidate.sdpMLineIndex = init.get("sdpMLineIndex")
        await self.pc.addIceCandidate(candidate)

    async def _offer(self) -> None:
        self._attach_local()
        await self._send_local(await self.pc.createOffer())

    def _attach_local(self) -> None:
        """This side's media, once on each connection; an offerer with nothing to send
        still asks for the peer's video."""
        if self._attached:
            return
        self._attached = True
        if self.track is not None:
            self.pc.addTrack(_Feed(self.track))
        elif self.is_offerer:
            self.pc.addTransceiver("video", direction="recvonly")

    async def _send_local(self, description: RTCSessionDescription) -> None:
        await self.pc.setLocalDescription(description)
        local = self.pc.localDescription
        await self._signal(description={"type": local.type, "sdp": local.sdp})
        await self._signal(candidate=None)

    async def _signal(self, **payload: Any) -> None:
        """A signal waits for the link however long a drop lasts (within the grace the
        server keeps the session); a call the server did not answer is not sent twice."""
        while True:
            try:
                await self.client.signal(self.session_id, **payload)
                return
            except TimeoutError:
                if self.client.up.is_set() or self.client.closed.is_set():
                    raise

    # ------------------------------------------------------------ media
    def _on_pc_state(self, pc: RTCPeerConnection) -> None:
        if pc is self.pc and not self._closed:
            self._set_state(pc.connectionState)

    def _set_state(self, state: str) -> None:
        """Every change of the call's state goes through here: logged, reported, acted on."""
        old, self.state = self.state, state
        if old == state:
            return
        log.info("session %s: media %s -> %s", self.session_id, old, state)
        if state == "connected":
            self.connected.set()
            self._cancel_restart()
        elif state in _RESTART_REASONS:
            if state == "failed":
                self.failed = "ice failed"
            delay = 0.0 if state == "failed" else self.restart_after_s
            self._restart_in(delay, _RESTART_REASONS[state])
        if state in REPORTED:
            self._spawn(self._report(state))

    def _restart_in(self, delay: float, reason: str) -> None:
        """The offerer starts the call anew after ``delay`` unless it is back by then; a
        shorter delay (a failure) replaces a longer one, a longer one does not."""
        if not self.is_offerer or self._ended or self._closed:
            return
        if self._restart_timer is not None:
            if delay > 0:
                return
            self._restart_timer.cancel()
        loop = asyncio.get_running_loop()
        self._restart_timer = loop.call_later(delay, self._restart_due, _Restart(reason, self.pc))

    def _restart_due(self, restart: _Restart) -> None:
        self._restart_timer = None
        self._events.put_nowait(restart)

    def _cancel_restart(self) -> None:
        if self._restart_timer is not None:
            self._restart_timer.cancel()
            self._restart_timer = None

    async def _listen(self) -> None:
        """The ``disconnected`` aiortc lacks: a connected call that hears nothing from the
        peer for ``SILENCE_S`` is disconnected, and connected again when packets return."""
        while True:
            await asyncio.sleep(_LISTEN_EVERY_S)
            with contextlib.suppress(Exception):  # a connection closing under our feet
                await self._check_silence()

    async def _check_silence(self) -> None:
        pc = self.pc
        if self.state not in ("connected", "disconnected") or not _media_flows(pc):
            return
        received = await _packets_received(pc)
        now = time.monotonic()
        if pc is not self.pc:
            return
        if (pc, received) != self._heard:
            self._heard, self._heard_at = (pc, received), now
            if self.state == "disconnected" and pc.connectionState == "connected":
                self._set_state("connected")
        elif now - self._heard_at >= SILENCE_S and self.state == "connected":
            self._set_state("disconnected")

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._spawn(self._consume(track))

    async def _consume(self, track: MediaStreamTrack) -> None:
        """Count the peer's frames; each connection's first is reported (after a restart,
        the moment the video came back)."""
        first = True
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames_received += 1
                self._frame_arrived.set()
                self.first_frame.set()
                if first:
                    first = False
                    self._spawn(self._report("first_frame"))

    async def _report(self, state: str, detail: str | None = None) -> None:
        if not self.report_media or self._ended:
            return
        with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
            await self.client.report_media(self.session_id, state, detail)

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


def _remote_description(pc: RTCPeerConnection) -> RTCSessionDescription | None:
    # aiortc types it as always there; it is None until a remote description is set.
    return cast("RTCSessionDescription | None", pc.remoteDescription)


def _ice_ufrags(sdp: str) -> set[str]:
    return {
        line[len("a=ice-ufrag:") :].strip()
        for line in sdp.splitlines()
        if line.startswith("a=ice-ufrag:")
    }


def _media_flows(pc: RTCPeerConnection) -> bool:
    """Media goes at least one way, so the peer sends something: RTP, or reports on ours."""
    flowing = ("sendrecv", "sendonly", "recvonly")
    return any(t.currentDirection in flowing for t in pc.getTransceivers())


async def _packets_received(pc: RTCPeerConnection) -> int:
    """Every packet the peer got through to us (DTLS, RTP, RTCP), from the transport stats."""
    stats = await pc.getStats()
    return sum(s.packetsReceived for s in stats.values() if s.type == "transport")
