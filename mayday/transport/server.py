"""The server's I/O half: frames in, routing operations to the store, effects out.

``Server`` gives handlers their ``Services`` and the relay its ``NodeLink``; it
knows the handlers only through the ``Registry`` the app built. A frame travels:
socket → ``receive`` (envelope, rate, registry lookup, parse) → handler →
``apply`` → store → ``execute`` (frames to sockets here and, through the relay,
on other nodes; timers; notes; observations).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aiohttp import web

from mayday import __version__
from mayday.auth import AuthError, Identity, TokenVerifier
from mayday.logsafe import frame_context
from mayday.metrics.monitor import Monitor
from mayday.protocol.base import Outbound
from mayday.protocol.envelope import byte_length_over, decode, frame_id, peek_id
from mayday.protocol.errors import ErrorCode, ProtocolError, invalid_field
from mayday.protocol.fields import check_frame_depth
from mayday.protocol.messages import (
    Ack,
    DeliveryFailed,
    ErrorFrame,
    Hello,
    HelpOffer,
    HelpQueued,
    ServerDraining,
    SessionStarted,
)
from mayday.routing.events import (
    CancelTimer,
    Disconnected,
    Effect,
    Event,
    ExpiredAway,
    HelpRequested,
    Observe,
    OfferDeclined,
    Reconnected,
    RequestExpired,
    Send,
    SessionOver,
    StartTimer,
    Waiting,
)
from mayday.routing.hours import Hours, iso_utc
from mayday.routing.model import Session, SessionState, check_peer
from mayday.sessions.store import SessionsStore
from mayday.settings import Settings
from mayday.stores.base import Store
from mayday.stores.messages import expired_message
from mayday.transport.backend import Backend, make_webhooks
from mayday.transport.connection import Connection, TokenBucket, encode
from mayday.transport.expiry import TokenExpiry
from mayday.transport.hub import Hub
from mayday.transport.loops import every
from mayday.transport.registry import Registry
from mayday.transport.relay import REDIS_DOWN, Note, Outgoing, frame_parcel, note_parcel
from mayday.transport.session_cache import SessionCache
from mayday.transport.streams import Claim, Resume, Streams
from mayday.transport.timers import Timers
from mayday.transport.wire import numbered
from mayday.webhooks import events as webhook_events

log = logging.getLogger(__name__)

Clock = Callable[[], float]
# Roles that see the whole queue: every advisor console and the ops dashboard.
WATCHERS = ("advisor", "ops")
BUCKETS_KEPT = 10_000
# A resumed socket replaces the one it resumes, if that one is still open (half-open).
CLOSE_REPLACED = 4409
# A stopping node closes its sockets with "service restart" (RFC 6455): come back.
CLOSE_RESTARTING = 1012
DRAIN_PARKS_AT_ONCE = 64
# Every socket is looked at this often (``Connection.beat``): a silent one is pinged
# within 20 s of its last message and dropped 20 to 30 s after it, as aiohttp's own
# heartbeat of 20 s (ping, then 10 s for the pong) did.
LIVENESS_SWEEP_S = 10.0
# Frames posted to the relay and not yet in Redis past which a sender waits for its own
# (``relay_peer``): a Redis that slows down slows the senders, and memory stays bounded.
RELAY_BACKLOG_MAX = 10_000


class Server:
    """Holds the backend, the live connections and the timers of one process."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        monitor: Monitor,
        registry: Registry,
        clock: Clock = time.time,
        *,
        verifier: TokenVerifier | None = None,
    ) -> None:
        self._settings = settings
        # Checks the tokens of auth.refresh, and times how long a socket's token has left.
        self.verifier = verifier or TokenVerifier.from_settings(settings)
        self.backend = backend
        self.monitor = monitor
        self.registry = registry
        self._clock = clock
        self.relay = backend.relay
        self.streams: Streams = backend.streams
        self.hub = Hub(self.streams)
        self.timers = Timers()
        self.sessions = SessionCache()
        self._buckets: dict[Connection, TokenBucket] = {}
        self._expiries: dict[Connection, TokenExpiry] = {}
        self._annotation_buckets: dict[str, TokenBucket] = {}
        self._last_summary: tuple[int, ...] | None = None
        self._loops: list[asyncio.Task[None]] = []
        # Set at shutdown: sockets closing then are not users leaving.
        self.stopping = False
        # Set by a clean stop (``drain``): no new sockets, /healthz says so.
        self.draining = False
        # Sockets between the start of ``attach`` and the end of ``detach``; and how many
        # ended since the start (the garbage collector's policy sweeps by them).
        self._attached = 0
        self._detached = 0
        self._all_detached = asyncio.Event()
        # Open waiting requests of the users connected here, for the position updates;
        # kept from the ``Waiting`` effects (this node's own, and relayed ones).
        self._waiting: dict[str, str] = {}
        self.hours = Hours.parse(settings.hours)
        self.webhooks = make_webhooks(settings, backend.outbox, clock)

    # ------------------------------------------------------------ services
    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def store(self) -> Store:
        return self.backend.store

    @property
    def boards(self) -> SessionsStore:
        return self.backend.boards

    def clock(self) -> float:
        return self._clock()

    # ------------------------------------------------------------ life
    async def start(self) -> None:
        await self.relay.start(self)
        await self.webhooks.start()
        s = self.settings
        self._loops = [
            asyncio.create_task(every(s.summary_interval_s, self.publish_summary, "summary")),
            asyncio.create_task(every(s.position_interval_s, self.update_positions, "positions")),
            asyncio.create_task(every(s.ops_interval_s, self.housekeeping, "housekeeping")),
            asyncio.create_task(every(LIVENESS_SWEEP_S, self.sweep_liveness, "liveness")),
        ]

    async def close(self) -> None:
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.monitor.close()
        await self.webhooks.close()
        await self.timers.close()
        await self.backend.close()

    async def drain(self, rng: random.Random | None = None) -> int:
        """A clean stop: take no new sockets, tell each client here when to reconnect (to
        another node, or to this one restarted), close its socket with 1012, and wait
        until every socket went the way of a drop (stream parked for a resume, identity
        in its grace), at most ``drain_timeout_s``. Returns the sockets left at the end."""
        self.draining = True
        spread, rng = self.settings.drain_spread_s, rng or random.Random()
        conns = list(self.hub.all())
        log.info("draining: %d sockets told to reconnect within %.1f s", len(conns), spread)
        gate = asyncio.Semaphore(DRAIN_PARKS_AT_ONCE)
        notices = [ServerDraining(round(rng.uniform(0, spread), 2)) for _ in conns]
        try:
            async with asyncio.timeout(self.settings.drain_timeout_s):
                await asyncio.gather(
                    *(self._drain_one(c, n, gate) for c, n in zip(conns, notices, strict=True))
                )
                if self._attached:
                    await self._all_detached.wait()
        except TimeoutError:
            log.warning("drain: %d sockets still open after the timeout", self._attached)
        return self._attached

    async def _drain_one(
        self, conn: Connection, notice: ServerDraining, gate: asyncio.Semaphore
    ) -> None:
        """Stop handling its frames, tell the client, park its stream while the socket
        is still open, then close: the stream is parked before the client can hear of
        the close and resume it elsewhere. The frame being handled finishes first: its
        answer is then in the stream."""
        conn.deaf = True
        await conn.wait_idle()
        conn.push(encode(notice.to_frame()), keep=False)  # not for the next node
        async with gate:
            await self._park(conn)
        conn.close(CLOSE_RESTARTING, "server restarting", flush=True)

    async def _park(self, conn: Connection) -> None:
        """Park the socket's stream for a resume, unless a socket that resumed it took it
        over. The socket holds from here: a frame made here for its identity no longer
        numbers on it but goes round through Redis, into the parked stream."""
        if conn.stream.conn is not conn:
            return
        # What the socket sent to other nodes is in Redis before its stream can be
        # resumed elsewhere (its next frames, from there, come after them); before the
        # hold, so that what reaches it meanwhile is still numbered on its stream.
        await self.relay.settle()
        if conn.stream.conn is not conn:
            return
        conn.hold()
        try:
            await self.streams.park(conn.stream, self.clock())
        except REDIS_DOWN as exc:
            log.warning("could not park the stream of %s/%s (%s)", *conn.key, exc)

    # ------------------------------------------------------------ connections
    def room_for(self, key: tuple[str, str], resume: Resume | None) -> bool:
        """Another socket of this identity may open here: it is under
        ``max_sockets_per_identity``, or it resumes (and so replaces) one of them."""
        if self.hub.count(key) < self.settings.max_sockets_per_identity:
            return True
        return resume is not None and self.streams.live_here(resume.token)

    def socket_counts(self) -> tuple[int, int]:
        """Sockets ended since the start, and sockets open now."""
        return self._detached, self._attached

    async def attach(self, conn: Connection, resume: Resume | None = None) -> None:
        """A new socket: its stream (the one it resumes, or a new one), its hello and what
        it missed, or, when it asked to resume and could not, the current state."""
        self._attached += 1
        self._all_detached.clear()
        claim, first_here = await self._join(conn, resume)
        self._watch_expiry(conn)
        if claim is not None and claim.replaced is not None:
            claim.replaced.release_stream()
            claim.replaced.close(CLOSE_REPLACED, "resumed on another socket")
        self._buckets[conn] = TokenBucket(
            self.settings.rate_limit_per_s, self.settings.rate_limit_burst
        )
        role = conn.key[0]
        if role in WATCHERS:
            conn.push(encode((await self.store.summary(self.clock())).to_frame()), keep=False)
        back = False
        if first_here and role in ("user", "advisor"):
            back = await self._returned(role, conn.key[1], resumed=claim is not None)
        if claim is None:
            for hook in self.registry.attach_hooks:
                await hook(self, conn)
            # Asked to resume and could not, or back from a drop without asking (an app
            # that restarted and kept no token): where the identity stands.
            if resume is not None or back:
                await self._resync(conn)

    async def _returned(self, role: str, sub: str, *, resumed: bool) -> bool:
        """Back within the grace of a drop, if there was one (else the router does
        nothing); True if there was."""
        effects = await self.store.apply(Reconnected(role, sub, resumed=resumed), self.clock())
        await self.execute(effects)
        return bool(effects)

    def _watch_expiry(self, conn: Connection) -> None:
        """Time the socket's token, after its hello: a notice, then a close (expiry.py)."""
        s = self.settings
        expiry = TokenExpiry(
            conn,
            notice_s=s.token_expiry_notice_s,
            grace_s=s.token_expiry_grace_s,
            now=self.verifier.now,
        )
        self._expiries[conn] = expiry
        expiry.arm()

    def reauthorize(self, conn: Connection, token: str) -> Identity:
        """``auth.refresh``: the socket's identity with the expiry of ``token``, a valid
        token for the same sub and role. Refused with ``invalid_field`` (the token) or
        ``forbidden`` (another identity); the socket and its old deadline stay."""
        try:
            fresh = self.verifier.verify(token)
        except AuthError as exc:  # its message is safe to show: never the token
            raise invalid_field("token", f"was refused: {exc}") from None
        expiry = self._expiries.get(conn)
        if expiry is None:
            raise ProtocolError(ErrorCode.INVALID_STATE, "this socket is closing")
        return expiry.refresh(fresh)

    async def _join(self, conn: Connection, resume: Resume | None) -> tuple[Claim | None, bool]:
        """Give the socket its stream and hello and put it in the hub; return the claim
        (None: a new stream) and whether it is its identity's first socket here."""
        if resume is not None and self.streams.claim_registers:
            return await self._join_by_claim(conn, resume)
        # The location is registered first (a frame from another node then finds the
        # socket, after its hello), and there is no await from the claim to the hub.
        first_here = self.hub.count(conn.key) == 0
        if first_here:
            await self.relay.joined(*conn.key)
        claim = await self._take_stream(conn, resume)
        self._hello(conn, resume, claim)
        return claim, self.hub.add(conn) and first_here

    async def _join_by_claim(self, conn: Connection, resume: Resume) -> tuple[Claim | None, bool]:
        """A claim in Redis registers the socket's location in the same step: the socket is
        in the hub before, holding frames unnumbered, so that every frame for its identity
        lands either in the parked stream (before) or in this node's inbox (after)."""
        conn.hold()
        first_here = self.hub.add(conn)
        claim = await self._take_stream(conn, resume)
        self._hello(conn, resume, claim)
        if claim is None and first_here:
            await self.relay.joined(*conn.key)
        conn.release()
        return claim, first_here

    async def _take_stream(self, conn: Connection, resume: Resume | None) -> Claim | None:
        claim = None
        if resume is not None:
            try:
                claim = await self.streams.claim(
                    resume.token, conn.key, resume.last_seq, self.clock(), self.relay.node_id
                )
            except REDIS_DOWN as exc:
                log.warning("resume of %s/%s failed (%s): a new stream", *conn.key, exc)
        self.monitor.prom.resumed(resume is not None, claim is not None)
        conn.stream = self.streams.open(conn.key) if claim is None else claim.stream
        conn.stream.conn, conn.resumed = conn, claim is not None
        return claim

    def _hello(self, conn: Connection, resume: Resume | None, claim: Claim | None) -> None:
        me, s = conn.identity, self.settings
        replay = [] if claim is None else claim.replay
        hello = Hello(
            me.sub,
            me.role.value,
            me.name,
            __version__,
            s.max_frame_bytes,
            resume_token=conn.stream.token,
            resumed=claim is not None,
            replayed=len(replay),
            resume_grace_s=s.resume_grace_s,
        )
        if claim is None or resume is None:
            conn.greet(encode(hello.to_frame()))
            return
        # The hello of a resumed socket repeats the number the client has: it is outside
        # the numbering, and the frames sent again follow from last_seq + 1.
        conn.push_numbered(numbered(encode(hello.to_frame()), resume.last_seq))
        for frame in replay:
            conn.push_numbered(frame)
        self.monitor.prom.replayed_frames.inc(len(replay))

    async def _resync(self, conn: Connection) -> None:
        """A socket that asked to resume and could not: where its identity stands, as the
        store has it, and the shared screen of a live session."""
        role, sub = conn.key
        for message in await self.store.current_state(role, sub, self.clock()):
            conn.send(self.with_hours(message).to_frame())
            if isinstance(message, SessionStarted):
                conn.send((await self.boards.snapshot(message.session_id)).to_frame())

    async def detach(self, conn: Connection) -> None:
        """Forget ``conn`` (its stream parked for a resume); when it was the identity's last
        socket, the router hears of the drop."""
        try:
            await self._detach(conn)
        finally:
            self._attached -= 1
            self._detached += 1
            if not self._attached:
                self._all_detached.set()

    async def _detach(self, conn: Connection) -> None:
        self._buckets.pop(conn, None)
        expiry = self._expiries.pop(conn, None)
        if expiry is not None:
            expiry.cancel()
        await self._park(conn)
        if not self.hub.remove(conn):
            return
        role, sub = conn.key
        self.sessions.forget_peer(role, sub)
        if role == "user":
            self._waiting.pop(sub, None)
        if self.stopping and self.relay.node_id:
            # Leave the identity registered here: the reaper decides once this node's
            # heartbeat is stale, after its clients had time to reconnect elsewhere.
            return
        await self.apply(Disconnected(role, sub, node=self.relay.node_id))

    # ------------------------------------------------------------ inbound
    async def receive(self, conn: Connection, text: str) -> None:
        """Handle one text frame; any refusal becomes an error frame, never an exception.
        Not while the node is draining this socket: then it is not answered (the client
        sends it again on the socket it resumes on).

        The frame is charged to the sender's bucket and measured in bytes before it is
        parsed; then the envelope, the handler (type and role), the message, the call.
        One coroutine for all of it: every layer of ``await`` is paid by every relayed
        frame.
        """
        if conn.deaf:
            return
        conn.busy = True
        frame_id_: int | None = None
        try:
            if not self._buckets[conn].take():
                frame_id_ = peek_id(text)
                raise ProtocolError(ErrorCode.RATE_LIMITED, "too many frames, slow down")
            limit = self.settings.max_frame_bytes
            if byte_length_over(text, limit):
                frame_id_ = peek_id(text)
                raise ProtocolError(ErrorCode.TOO_LARGE, f"frame is over {limit} bytes")
            frame = decode(text)
            frame_id_ = conn.frame_id = frame_id(frame)
            check_frame_depth(text, frame)
            spec = self.registry.lookup(frame, conn.identity.role)
            message = spec.parse(frame)
            with frame_context(message):
                result = await spec.func(self, conn, message)
            if frame_id_ is not None:
                conn.send(Ack(frame_id_, result or {}).to_frame())
        except ProtocolError as exc:
            conn.send(ErrorFrame(exc.code.value, exc.message, frame_id_).to_frame())
        except Exception:
            log.exception("frame from %s/%s failed", *conn.key)
            internal = ErrorFrame(ErrorCode.INTERNAL_ERROR.value, "internal error", frame_id_)
            conn.send(internal.to_frame())
        finally:
            conn.handled()

    async def live_session(
        self, conn: Connection, session_id: str, side: str | None = None, *, fresh: bool = False
    ) -> tuple[Session, str]:
        me = conn.identity
        session = None if fresh else self.sessions.get(session_id)
        if session is None:
            epoch = self.sessions.epoch
            session = await self.store.session(session_id)
            if session is not None and session.state is SessionState.ACTIVE:
                self.sessions.keep(session, epoch)
        session, found = check_peer(session, session_id, me.role.value, me.sub, side)
        if session.state is not SessionState.ACTIVE:
            raise ProtocolError(ErrorCode.INVALID_STATE, "session has ended")
        return session, found

    def allow_annotation(self, advisor_id: str) -> bool:
        bucket = self._annotation_buckets.get(advisor_id)
        if bucket is None:
            if len(self._annotation_buckets) > BUCKETS_KEPT:
                self._annotation_buckets.clear()  # full buckets only cost memory
            s = self.settings
            bucket = TokenBucket(s.annotation_rate_per_s, s.annotation_burst)
            self._annotation_buckets[advisor_id] = bucket
        return bucket.take()

    # ------------------------------------------------------------ routing
    async def apply(self, event: Event) -> None:
        """Run one routing operation in the store and carry out its effects."""
        effects = await self.store.apply(event, self.clock())
        if isinstance(event, HelpRequested):
            await self.webhooks.emit(*webhook_events.requested(event))
        await self.execute(effects)

    async def announce(self, event_type: str, data: dict[str, Any]) -> None:
        await self.webhooks.emit(event_type, data)

    async def execute(self, effects: list[Effect]) -> None:
        """Carry out every effect of one routing operation, in order. One that fails (a
        frame that cannot be encoded) is logged and skipped; it must not drop the effects
        after it, which tell clients what the store already holds (issue 16, finding 1).
        An offer that could not be sent is handed back at once, as if its advisor had
        declined it: otherwise they would stay reserved for an offer they never saw, and
        be set away when its timer ran out."""
        observations: list[Observe] = []
        remote: list[Outgoing] = []
        unsent: list[OfferDeclined] = []
        away: list[ExpiredAway] = []
        for effect in effects:
            if isinstance(effect, ExpiredAway):
                away.append(effect)
                continue
            try:
                self._carry_out(effect, observations, remote)
            except Exception:
                log.exception("routing effect %s failed; the others go on", type(effect).__name__)
                if isinstance(effect, Send) and isinstance(effect.message, HelpOffer):
                    unsent.append(OfferDeclined(effect.sub, effect.message.request_id))
        # Every frame and note of one operation to the other nodes in one round trip.
        await self.relay.send_many(remote)
        await self.webhooks.emit_many(webhook_events.announced(effects))
        if observations:
            await self.monitor.observe(observations, self.clock())
        for expired in away:
            await self._leave_for(expired)
        for declined in unsent:
            with contextlib.suppress(ProtocolError):  # the offer moved on meanwhile
                await self.apply(declined)

    def _carry_out(
        self, effect: Effect, observations: list[Observe], remote: list[Outgoing]
    ) -> None:
        if isinstance(effect, Send):
            frame = self.with_hours(effect.message).to_frame()
            remote.append(self._send_here(effect.role, effect.sub, frame)[1])
        elif isinstance(effect, Observe):
            observations.append(effect)
        elif isinstance(effect, StartTimer):
            self.timers.start(effect.key, effect.delay_s, self._expiry(effect))
        elif isinstance(effect, CancelTimer):
            self.timers.cancel(effect.key)
        elif isinstance(effect, Waiting):
            self.keep_note(effect)
            remote.append(("user", effect.user_id, note_parcel(effect)))
        elif isinstance(effect, SessionOver):
            self.keep_note(effect)
            remote.append(("user", effect.user_id, note_parcel(effect)))
            remote.append(("advisor", effect.advisor_id, note_parcel(effect)))

    async def _leave_for(self, away: ExpiredAway) -> None:
        """A message for the advisors on behalf of a user whose request expired while they
        were away (``MAYDAY_EXPIRED_TO_MESSAGE``). Only the node whose operation expired
        the request gets this effect, so it is saved once. A user who already has
        ``OPEN_PER_USER`` open messages is in the inbox already: it is left out."""
        if not self.settings.expired_to_message:
            return
        left = expired_message(away, self.clock())
        try:
            await self.store.save_message(left)
        except ProtocolError as exc:
            log.info("request %s expired away: no message (%s)", away.request_id, exc.message)
        except Exception:
            log.exception("request %s expired away: its message was not saved", away.request_id)
        else:
            await self.announce("message.left", webhook_events.message_left(left))

    def with_hours(self, message: Outbound) -> Outbound:
        """A ``help.queued`` says whether anyone can answer: outside the business hours,
        or with no online advisor who could take it (no estimate), it is ``offline``,
        with the next opening in ``back_at`` when the hours know it."""
        if not isinstance(message, HelpQueued):
            return message
        now = self.clock()
        if self.hours.is_open(now):
            if message.estimated_wait_s is not None or message.state != "queued":
                return message
            return replace(message, offline=True)
        return replace(message, offline=True, back_at=iso_utc(self.hours.next_open(now)))

    def keep_note(self, note: Note) -> None:
        """Keep what an operation noted for identities connected here: a waiting request
        (for position updates), a session that is over (out of the session cache)."""
        if isinstance(note, SessionOver):
            self.sessions.forget(note.session_id)
        elif note.request_id is None:
            self._waiting.pop(note.user_id, None)
        elif self.hub.connected("user", note.user_id):
            self._waiting[note.user_id] = note.request_id

    async def deliver(self, role: str, sub: str, frame: dict[str, Any]) -> int:
        if not self.relay.node_id:
            # One process alone (``NoRelay``): no other node to hand the frame to, and a
            # relayed ``signal`` skips the parcel and the relay's await.
            return self.hub.send(role, sub, frame)
        here, parcel = self._send_here(role, sub, frame)
        (elsewhere,) = await self.relay.send_many([parcel])
        return here + elsewhere

    async def relay_peer(
        self, conn: Connection, session_id: str, role: str, sub: str, frame: dict[str, Any]
    ) -> bool:
        """Send a frame of ``conn``'s to its peer (role, sub) without waiting for the other
        nodes: sent here at once, and queued, in order, for the nodes holding a socket
        of the peer. False when it is known at once that no socket took it (one process,
        none here). When no node took a frame that no socket here took either, the
        sender gets ``delivery.failed`` naming the frame's ``id`` after its ack. The
        sender waits only while the relay's backlog is over ``RELAY_BACKLOG_MAX``."""
        if not self.relay.node_id:
            return self.hub.send(role, sub, frame) > 0
        here, parcel = self._send_here(role, sub, frame)
        future = self.relay.post(parcel)
        report = None if here else (conn, conn.frame_id, session_id)
        future.add_done_callback(lambda done: self._relayed(done, report))
        if self.relay.backlog > RELAY_BACKLOG_MAX:
            await asyncio.wait([future])
        return True

    @staticmethod
    def _relayed(
        done: asyncio.Future[int], report: tuple[Connection, int | None, str] | None
    ) -> None:
        """What the relay found for a frame ``relay_peer`` posted: tell the sender when
        it reached no socket (``report``) or could not be relayed (Redis down)."""
        if done.cancelled():
            return  # the node is stopping
        failed = done.exception()  # retrieved either way: a socket here may have taken it
        if report is None:
            return
        if failed is not None:
            code, why = ErrorCode.INTERNAL_ERROR, "the other nodes could not be reached"
        elif not done.result():
            code, why = ErrorCode.INVALID_STATE, "peer is not connected"
        else:
            return
        conn, frame_id_, session_id = report
        conn.send(DeliveryFailed(frame_id_, session_id, code.value, why).to_frame())

    def _send_here(self, role: str, sub: str, frame: dict[str, Any]) -> tuple[int, Outgoing]:
        """Send a frame made here to the sockets here, and the parcel for the relay (which
        brings it back to this node for a socket whose stream is being claimed)."""
        if self.relay.looping(role, sub):
            # An earlier frame for it is coming back here through Redis: this one follows.
            here, held = 0, True
        else:
            here, held = self.hub.send_here(role, sub, frame)
        parcel = frame_parcel(frame)
        if not here or held:
            # No socket here took it: one may be registering here meanwhile (a claim,
            # or a fresh socket between its location and the hub), and gets it back
            # through this node's inbox instead of losing it.
            parcel["loopback"] = True
        return here, (role, sub, parcel)

    def deliver_local(self, role: str, sub: str, frame: dict[str, Any]) -> int:
        """A frame from another node (or back from Redis) for the sockets here."""
        return self.hub.send(role, sub, frame, relayed=True)

    def _expiry(self, timer: StartTimer) -> Callable[[], Any]:
        async def fire() -> None:
            await self.apply(timer.event)

        return fire

    # ------------------------------------------------------------ periodic
    async def update_positions(self, chunk: int = 500) -> None:
        """Tell the waiting users connected here when their position or estimate moved; a
        chunk at a time, so that a long queue never holds the event loop for the pass."""
        waiting = list(self._waiting.values())
        for start in range(0, len(waiting), chunk):
            part = waiting[start : start + chunk]
            await self.execute(await self.store.position_updates(part, self.clock()))
            await asyncio.sleep(0)

    async def housekeeping(self) -> None:
        """Expire requests past their time-to-live, evaluate the alerts, and give the ops
        consoles connected here a fresh view."""
        now = self.clock()
        self.streams.expire(now)
        for request_id in await self.store.due_requests(now):
            await self.apply(RequestExpired(request_id))
        queue = await self.store.summary(now)
        for event in await self.monitor.check_alerts(queue, now):
            self.hub.broadcast(("ops",), event.to_frame())
            await self.webhooks.emit(f"alert.{event.state}", event.to_frame())
        if self.hub.has_role("ops"):
            snapshot = await self.monitor.snapshot(self.store, queue, now)
            self.hub.broadcast(("ops",), snapshot.to_frame())

    async def sweep_liveness(self, chunk: int = 1000) -> None:
        """Ping the silent sockets, drop those that did not answer the last ping; a chunk
        at a time, so that many sockets never hold the event loop for the pass."""
        conns = self.hub.all()
        for start in range(0, len(conns), chunk):
            for conn in conns[start : start + chunk]:
                conn.beat()
            await asyncio.sleep(0)

    async def publish_summary(self) -> None:
        """Tell advisors and ops about the queue when it changed."""
        summary = await self.store.summary(self.clock())
        if summary.shape() != self._last_summary:
            self._last_summary = summary.shape()
            self.hub.broadcast(WATCHERS, summary.to_frame())


SERVER = web.AppKey("server", Server)
