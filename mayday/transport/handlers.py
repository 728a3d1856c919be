"""What the server does with each routing frame. Every handler gets a validated message."""

from __future__ import annotations

import uuid

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
    SignalRelayed,
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
from mayday.transport.connection import Connection
from mayday.transport.registry import Result, handler
from mayday.transport.services import Services

PEERS = {Role.USER, Role.ADVISOR}
EVERYONE = {Role.USER, Role.ADVISOR, Role.OPS}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@handler("help.request", roles={Role.USER}, message=HelpRequest)
async def help_request(server: Services, conn: Connection, msg: HelpRequest) -> Result:
    me = conn.identity
    request_id = new_id("req")
    await server.apply(HelpRequested(me.sub, me.name, request_id, msg))
    return {"request_id": request_id}


@handler("help.cancel", roles={Role.USER}, message=RequestRef)
async def help_cancel(server: Services, conn: Connection, msg: RequestRef) -> Result:
    await server.apply(HelpCancelled(conn.identity.sub, msg.request_id))
    return None


@handler("advisor.state", roles={Role.ADVISOR}, message=AdvisorState)
async def advisor_state(server: Services, conn: Connection, msg: AdvisorState) -> Result:
    me = conn.identity
    await server.apply(AdvisorStateSet(me.sub, me.name, me.skills, msg.state == "available"))
    return None


@handler("help.accept", roles={Role.ADVISOR}, message=RequestRef)
async def help_accept(server: Services, conn: Connection, msg: RequestRef) -> Result:
    session_id = new_id("ses")
    await server.apply(OfferAccepted(conn.identity.sub, msg.request_id, session_id))
    return {"session_id": session_id}


@handler("help.decline", roles={Role.ADVISOR}, message=RequestRef)
async def help_decline(server: Services, conn: Connection, msg: RequestRef) -> Result:
    await server.apply(OfferDeclined(conn.identity.sub, msg.request_id))
    return None


@handler("signal", roles=PEERS, message=Signal)
async def signal(server: Services, conn: Connection, msg: Signal) -> Result:
    me = conn.identity
    session, side = await server.live_session(conn, msg.session_id)
    peer_role, peer_sub = session.peer_of(side)
    relayed = SignalRelayed(
        session.id,
        me.sub,
        side,
        description=msg.payload.get("description"),
        candidate=msg.payload.get("candidate"),
        has_candidate="candidate" in msg.payload,
    )
    if not await server.deliver(peer_role, peer_sub, relayed.to_frame()):
        raise ProtocolError(ErrorCode.INVALID_STATE, "peer is not connected")
    return None


@handler("media.state", roles=PEERS, message=MediaState)
async def media_state(server: Services, conn: Connection, msg: MediaState) -> Result:
    me = conn.identity
    await server.apply(MediaReported(me.role.value, me.sub, msg.session_id, msg.state, msg.detail))
    return None


@handler("session.end", roles=PEERS, message=SessionEnd)
async def session_end(server: Services, conn: Connection, msg: SessionEnd) -> Result:
    me = conn.identity
    await server.apply(SessionEndRequested(me.role.value, me.sub, msg.session_id, msg.reason))
    return None


@handler("ping", roles=EVERYONE, message=Ping)
async def ping(server: Services, conn: Connection, msg: Ping) -> Result:
    return {"time": server.clock()}
