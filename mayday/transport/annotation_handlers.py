"""Handlers for annotations, co-pilot control and screen-sharing pause.

Only the session's advisor draws, asks for control and sends input; only its
user grants, denies, revokes, pauses and resumes. Every frame is checked
against the live session (``server.store.session``) before anything happens.
The state itself (drawing, consent, pause, audit log) is kept by a
``SessionsStore``: in this process, or in Redis when the routing store is.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mayday.auth import Role
from mayday.protocol.annotations import (
    Annotation,
    ControlInput,
    ControlState,
    SessionRef,
    ShareState,
)
from mayday.protocol.base import Outbound
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.routing.model import Session, SessionState
from mayday.sessions.control import ControlAction
from mayday.sessions.drawing import Limits
from mayday.sessions.redis_store import RedisSessionsStore
from mayday.sessions.store import MemorySessionsStore, SessionsStore
from mayday.stores.base import Store
from mayday.stores.redis import RedisStore
from mayday.transport.connection import Connection, TokenBucket, mark_volatile
from mayday.transport.registry import Result, handler

if TYPE_CHECKING:
    from mayday.transport.server import Server

log = logging.getLogger(__name__)

PEERS = {Role.USER, Role.ADVISOR}
# An advisor drawing at 60 points a second sends about 30 frames a second.
ANNOTATION_RATE_PER_S = 40.0
ANNOTATION_BURST = 80
SESSION_CACHE = 10_000


class Annotations:
    """What this process keeps for the handlers: the shared session state, and one
    rate bucket per advisor (separate from each connection's own bucket)."""

    def __init__(
        self,
        store: SessionsStore,
        rate_per_s: float = ANNOTATION_RATE_PER_S,
        burst: int = ANNOTATION_BURST,
    ) -> None:
        self.store = store
        self.rate_per_s, self.burst = rate_per_s, burst
        self._buckets: dict[str, TokenBucket] = {}
        self._sessions: dict[str, Session] = {}

    @classmethod
    def for_store(cls, store: Store, limits: Limits | None = None) -> Annotations:
        """In Redis next to the routing state when that is in Redis, else in memory."""
        if isinstance(store, RedisStore):
            return cls(RedisSessionsStore(store.redis, store.keys, limits))
        return cls(MemorySessionsStore(limits))

    def allow(self, advisor: str) -> bool:
        """Take one token from ``advisor``'s bucket (all their sockets on this process)."""
        bucket = self._buckets.get(advisor)
        if bucket is None:
            if len(self._buckets) > 10_000:
                self._buckets.clear()  # full buckets only cost memory; start afresh
            bucket = self._buckets[advisor] = TokenBucket(self.rate_per_s, self.burst)
        return bucket.take()

    async def session(self, server: Server, session_id: str) -> Session | None:
        """The session, from the routing store; kept here while it is active when the
        session store checks liveness itself (Redis), since a session's peers never
        change and reading them for every frame was the largest cost of a frame."""
        cached = self._sessions.get(session_id)
        if cached is not None:
            return cached
        session = await server.store.session(session_id)
        if self.store.checks_session and session and session.state is SessionState.ACTIVE:
            if len(self._sessions) >= SESSION_CACHE:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[session_id] = session
        return session


async def live_session(
    server: Server, conn: Connection, session_id: str, side: str, *, cached: bool = True
) -> Session:
    """The active session ``session_id`` in which the sender plays ``side``, or a refusal.
    (With a cached session, the session store refuses an ended one itself.)"""
    me = conn.identity
    if cached:
        session = await server.annotations.session(server, session_id)
    else:
        session = await server.store.session(session_id)
    if session is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f'no session "{session_id}"')
    if session.role_of(me.sub, me.role.value) != side:
        who = "advisor" if side == "advisor" else "user"
        raise ProtocolError(ErrorCode.FORBIDDEN, f"only the session's {who} may send this")
    if session.state is not SessionState.ACTIVE:
        raise ProtocolError(ErrorCode.INVALID_STATE, "session has ended")
    return session


def _rate(server: Server, conn: Connection) -> None:
    if not server.annotations.allow(conn.identity.sub):
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"annotations are limited to {server.annotations.rate_per_s:g} frames a second",
        )


async def _to_both(server: Server, session: Session, message: Outbound) -> None:
    frame = message.to_frame()
    await server.deliver("user", session.user_id, frame)
    await server.deliver("advisor", session.advisor_id, frame)


# ---------------------------------------------------------------- annotations


@handler("annotation", roles={Role.ADVISOR}, message=Annotation)
async def annotation(server: Server, conn: Connection, msg: Annotation) -> Result:
    _rate(server, conn)
    session = await live_session(server, conn, msg.session_id, "advisor")
    changed = await server.annotations.store.annotate(session, msg, server.clock())
    if changed:
        frame = msg.relayed().to_frame()
        if msg.volatile:
            mark_volatile(frame)
        # Not an error when the user is away for a moment: the drawing is kept, and
        # their next socket gets it whole in annotation.snapshot.
        await server.deliver("user", session.user_id, frame)
    return {"changed": changed}


@handler("annotation.snapshot", roles=PEERS, message=SessionRef)
async def annotation_snapshot(server: Server, conn: Connection, msg: SessionRef) -> Result:
    me = conn.identity
    await live_session(server, conn, msg.session_id, me.role.value, cached=False)
    conn.send((await server.annotations.store.snapshot(msg.session_id)).to_frame())
    return None


async def peer_attached(server: Server, conn: Connection) -> None:
    """A peer of a live session that has a drawing (or consent, or a pause) connected:
    a reconnect or a second tab. It gets the whole state in one frame."""
    role, sub = conn.key
    if role not in ("user", "advisor"):
        return
    store = server.annotations.store
    session_id = await store.session_of(role, sub)
    if session_id is None:
        return
    session = await server.store.session(session_id)
    if session is None or session.state is not SessionState.ACTIVE:
        return
    if session.role_of(sub, role) == role:
        conn.send((await store.snapshot(session_id)).to_frame())


# ---------------------------------------------------------------- co-pilot control


async def _control(
    server: Server, conn: Connection, msg: SessionRef, action: ControlAction
) -> Result:
    session = await live_session(server, conn, msg.session_id, action.side)
    old, new = await server.annotations.store.control(
        session, action, conn.identity.sub, server.clock()
    )
    if new != old:
        await _to_both(server, session, ControlState(session.id, new.value, action.side))
    return {"state": new.value, "changed": new != old}


@handler("control.request", roles={Role.ADVISOR}, message=SessionRef)
async def control_request(server: Server, conn: Connection, msg: SessionRef) -> Result:
    return await _control(server, conn, msg, ControlAction.REQUEST)


@handler("control.grant", roles={Role.USER}, message=SessionRef)
async def control_grant(server: Server, conn: Connection, msg: SessionRef) -> Result:
    return await _control(server, conn, msg, ControlAction.GRANT)


@handler("control.deny", roles={Role.USER}, message=SessionRef)
async def control_deny(server: Server, conn: Connection, msg: SessionRef) -> Result:
    return await _control(server, conn, msg, ControlAction.DENY)


@handler("control.revoke", roles={Role.USER}, message=SessionRef)
async def control_revoke(server: Server, conn: Connection, msg: SessionRef) -> Result:
    return await _control(server, conn, msg, ControlAction.REVOKE)


@handler("control.input", roles={Role.ADVISOR}, message=ControlInput)
async def control_input(server: Server, conn: Connection, msg: ControlInput) -> Result:
    _rate(server, conn)
    session = await live_session(server, conn, msg.session_id, "advisor")
    await server.annotations.store.control_input(session, msg, conn.identity.sub, server.clock())
    await server.deliver("user", session.user_id, msg.relayed().to_frame())
    return None


# ---------------------------------------------------------------- screen sharing


async def _share(server: Server, conn: Connection, msg: SessionRef, paused: bool) -> Result:
    session = await live_session(server, conn, msg.session_id, "user")
    changed = await server.annotations.store.share(
        session, paused, conn.identity.sub, server.clock()
    )
    if changed:
        await _to_both(server, session, ShareState(session.id, paused, "user"))
    return {"paused": paused, "changed": changed}


@handler("share.pause", roles={Role.USER}, message=SessionRef)
async def share_pause(server: Server, conn: Connection, msg: SessionRef) -> Result:
    return await _share(server, conn, msg, True)


@handler("share.resume", roles={Role.USER}, message=SessionRef)
async def share_resume(server: Server, conn: Connection, msg: SessionRef) -> Result:
    return await _share(server, conn, msg, False)
