"""What the server does with each client frame. Every handler gets a validated message."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from mayday.auth import Role
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.protocol.messages import (
    AdvisorState,
    HelpRequest,
    MediaState,
    Ping,
    RequestRef,
    SessionEnd,
    Signal,
)
from mayday.routing.events import (
    AdvisorStateSet,
    HelpCancelled,
    HelpRequested,
    MediaReported,
    OfferAccepted,
    OfferDeclined,
    SessionEndRequested,
)
from mayday.routing.model import Session, SessionState
from mayday.transport.registry import Result, handler

if TYPE_CHECKING:
    from mayday.transport.connection import Connection
    from mayday.transport.server import Server

PEERS = {Role.USER, Role.ADVISOR}
EVERYONE = {Role.USER, Role.ADVISOR, Role.OPS}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@handler("help.request", roles={Role.USER}, message=HelpRequest)
async def help_request(server: Server, conn: Connection, msg: HelpRequest) -> Result:
    me = conn.identity
    request_id = new_id("req")
    await server.apply(HelpRequested(me.sub, me.name, request_id, msg))
    return {"request_id": request_id}


@handler("help.cancel", roles={Role.USER}, message=RequestRef)
async def help_cancel(server: Server, conn: Connection, msg: RequestRef) -> Result:
    await server.apply(HelpCancelled(conn.identity.sub, msg.request_id))
    return None


@handler("advisor.state", roles={Role.ADVISOR}, message=AdvisorState)
async def advisor_state(server: Server, conn: Connection, msg: AdvisorState) -> Result:
    me = conn.identity
    await server.apply(AdvisorStateSet(me.sub, me.name, me.skills, msg.state == "available"))
    return None


@handler("help.accept", roles={Role.ADVISOR}, message=RequestRef)
async def help_accept(server: Server, conn: Connection, msg: RequestRef) -> Result:
    session_id = new_id("ses")
    await server.apply(OfferAccepted(conn.identity.sub, msg.request_id, session_id))
    return {"session_id": session_id}


@handler("help.decline", roles={Role.ADVISOR}, message=RequestRef)
async def help_decline(server: Server, conn: Connection, msg: RequestRef) -> Result:
    await server.apply(OfferDeclined(conn.identity.sub, msg.request_id))
    return None


@handler("signal", roles=PEERS, message=Signal)
async def signal(server: Server, conn: Connection, msg: Signal) -> Result:
    me = conn.identity
    session = conn.live_sessions.get(msg.session_id) or await _signal_session(
        server, conn, msg.session_id
    )
    side = session.role_of(me.sub, me.role.value)
    assert side is not None  # checked before the session was kept
    peer_role, peer_sub = session.peer_of(side)
    frame: dict[str, Any] = {"type": "signal", "session_id": session.id, **msg.payload}
    frame["from"], frame["from_role"] = me.sub, side
    if not await server.deliver(peer_role, peer_sub, frame):
        raise ProtocolError(ErrorCode.INVALID_STATE, "peer is not connected")
    return None


async def _signal_session(server: Server, conn: Connection, session_id: str) -> Session:
    """The active session ``session_id`` of which the sender is a peer, read from the
    store and kept on the connection until ``session.ended`` reaches it: a session's
    peers never change, and reading them for every frame was, on Redis, a round trip
    per relayed candidate."""
    me = conn.identity
    ends_seen = conn.ends_seen
    session = await server.store.session(session_id)
    if session is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f'no session "{session_id}"')
    if session.role_of(me.sub, me.role.value) is None:
        raise ProtocolError(ErrorCode.FORBIDDEN, "you are not a peer of this session")
    if session.state is not SessionState.ACTIVE:
        raise ProtocolError(ErrorCode.INVALID_STATE, "session has ended")
    if conn.ends_seen == ends_seen:  # no session.ended arrived while the store answered
        conn.keep_session(session)
    return session


@handler("media.state", roles=PEERS, message=MediaState)
async def media_state(server: Server, conn: Connection, msg: MediaState) -> Result:
    me = conn.identity
    await server.apply(MediaReported(me.role.value, me.sub, msg.session_id, msg.state, msg.detail))
    return None


@handler("session.end", roles=PEERS, message=SessionEnd)
async def session_end(server: Server, conn: Connection, msg: SessionEnd) -> Result:
    me = conn.identity
    await server.apply(SessionEndRequested(me.role.value, me.sub, msg.session_id, msg.reason))
    return None


@handler("ping", roles=EVERYONE, message=Ping)
async def ping(server: Server, conn: Connection, msg: Ping) -> Result:
    return {"time": server.clock()}
