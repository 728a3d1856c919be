"""Handlers for annotations, co-pilot control and screen-sharing pause.

Only the session's advisor draws, asks for control and sends input; only its
user grants, denies, revokes, pauses and resumes. Every frame is checked
against the live session (``Services.live_session``) before anything happens.
The state itself (drawing, consent, pause, audit log) is kept by the backend's
``SessionsStore`` (``Services.boards``): in this process, or in Redis, whose
scripts also refuse a change to a session that has ended.
"""

from __future__ import annotations

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
from mayday.transport.connection import Connection, mark_volatile
from mayday.transport.registry import Result, handler, on_attach
from mayday.transport.services import Services

PEERS = {Role.USER, Role.ADVISOR}


def _rate(server: Services, conn: Connection) -> None:
    if not server.allow_annotation(conn.identity.sub):
        rate = server.settings.annotation_rate_per_s
        raise ProtocolError(
            ErrorCode.RATE_LIMITED, f"annotations are limited to {rate:g} frames a second"
        )


async def _to_both(server: Services, session: Session, message: Outbound) -> None:
    frame = message.to_frame()
    await server.deliver("user", session.user_id, frame)
    await server.deliver("advisor", session.advisor_id, frame)


# ---------------------------------------------------------------- annotations


@handler("annotation", roles={Role.ADVISOR}, message=Annotation)
async def annotation(server: Services, conn: Connection, msg: Annotation) -> Result:
    _rate(server, conn)
    session, _ = await server.live_session(conn, msg.session_id, "advisor")
    changed = await server.boards.annotate(session, msg, server.clock())
    if changed:
        frame = msg.relayed().to_frame()
        if msg.volatile:
            mark_volatile(frame)
        # Not an error when the user is away for a moment: the drawing is kept, and
        # their next socket gets it whole in annotation.snapshot.
        await server.deliver("user", session.user_id, frame)
    return {"changed": changed}


@handler("annotation.snapshot", roles=PEERS, message=SessionRef)
async def annotation_snapshot(server: Services, conn: Connection, msg: SessionRef) -> Result:
    await server.live_session(conn, msg.session_id, conn.identity.role.value, fresh=True)
    conn.send((await server.boards.snapshot(msg.session_id)).to_frame())
    return None


@on_attach
async def snapshot_for_new_socket(server: Services, conn: Connection) -> None:
    """A peer of a live session that has a drawing (or consent, or a pause) connected:
    a reconnect or a second tab. It gets the whole state in one frame."""
    role, sub = conn.key
    if role not in ("user", "advisor"):
        return
    session_id = await server.boards.session_of(role, sub)
    if session_id is None:
        return
    session = await server.store.session(session_id)
    if session is None or session.state is not SessionState.ACTIVE:
        return
    if session.role_of(sub, role) == role:
        conn.send((await server.boards.snapshot(session_id)).to_frame())


# ---------------------------------------------------------------- co-pilot control


async def _control(
    server: Services, conn: Connection, msg: SessionRef, action: ControlAction
) -> Result:
    session, _ = await server.live_session(conn, msg.session_id, action.side)
    old, new = await server.boards.control(session, action, conn.identity.sub, server.clock())
    if new != old:
        await _to_both(server, session, ControlState(session.id, new.value, action.side))
    return {"state": new.value, "changed": new != old}


@handler("control.request", roles={Role.ADVISOR}, message=SessionRef)
async def control_request(server: Services, conn: Connection, msg: SessionRef) -> Result:
    return await _control(server, conn, msg, ControlAction.REQUEST)


@handler("control.grant", roles={Role.USER}, message=SessionRef)
async def control_grant(server: Services, conn: Connection, msg: SessionRef) -> Result:
    return await _control(server, conn, msg, ControlAction.GRANT)


@handler("control.deny", roles={Role.USER}, message=SessionRef)
async def control_deny(server: Services, conn: Connection, msg: SessionRef) -> Result:
    return await _control(server, conn, msg, ControlAction.DENY)


@handler("control.revoke", roles={Role.USER}, message=SessionRef)
async def control_revoke(server: Services, conn: Connection, msg: SessionRef) -> Result:
    return await _control(server, conn, msg, ControlAction.REVOKE)


@handler("control.input", roles={Role.ADVISOR}, message=ControlInput)
async def control_input(server: Services, conn: Connection, msg: ControlInput) -> Result:
    _rate(server, conn)
    session, _ = await server.live_session(conn, msg.session_id, "advisor")
    await server.boards.control_input(session, msg, conn.identity.sub, server.clock())
    await server.deliver("user", session.user_id, msg.relayed().to_frame())
    return None


# ---------------------------------------------------------------- screen sharing


async def _share(server: Services, conn: Connection, msg: SessionRef, paused: bool) -> Result:
    session, _ = await server.live_session(conn, msg.session_id, "user")
    changed = await server.boards.share(session, paused, conn.identity.sub, server.clock())
    if changed:
        await _to_both(server, session, ShareState(session.id, paused, "user"))
    return {"paused": paused, "changed": changed}


@handler("share.pause", roles={Role.USER}, message=SessionRef)
async def share_pause(server: Services, conn: Connection, msg: SessionRef) -> Result:
    return await _share(server, conn, msg, True)


@handler("share.resume", roles={Role.USER}, message=SessionRef)
async def share_resume(server: Services, conn: Connection, msg: SessionRef) -> Result:
    return await _share(server, conn, msg, False)
