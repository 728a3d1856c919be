"""What the server does with each routing frame. Every handler gets a validated message."""

from __future__ import annotations

import uuid
from typing import Any

from mayday.auth import Role
from mayday.metrics.timeline import history_item
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.protocol.messages import (
    AdvisorState,
    AuthRefresh,
    HelpRequest,
    MediaState,
    MessageLeave,
    MessageRef,
    MessageReplied,
    MessageReply,
    Ping,
    RequestRef,
    SessionEnd,
    SessionNote,
    SessionRate,
    SessionTransfer,
    Signal,
    SignalRelayed,
)
from mayday.routing.events import (
    AdvisorConnected,
    AdvisorStateSet,
    HelpCancelled,
    HelpRequested,
    MediaReported,
    OfferAccepted,
    OfferDeclined,
    SessionEndRequested,
    SessionTransferRequested,
)
from mayday.routing.model import Request, RequestState, Session
from mayday.stores.messages import Message, Reply, no_message
from mayday.stores.notes import NOTES_KEPT, Note
from mayday.stores.ratings import Rating
from mayday.transport.connection import Connection
from mayday.transport.registry import Result, handler, on_attach
from mayday.transport.services import Services
from mayday.webhooks.events import message_left

PEERS = {Role.USER, Role.ADVISOR}
EVERYONE = {Role.USER, Role.ADVISOR, Role.OPS}
# Earlier requests of a caller shown to the advisor taking the call.
HISTORY_SHOWN = 10
# How long after its call ended the advisor may still write (or rewrite) its note, and
# the user rate it.
NOTE_WINDOW_S = 3600.0


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@handler("help.request", roles={Role.USER}, message=HelpRequest)
async def help_request(server: Services, conn: Connection, msg: HelpRequest) -> Result:
    me = conn.identity
    request_id = new_id("req")
    await server.apply(HelpRequested(me.sub, me.name, request_id, msg, me.priority))
    return {"request_id": request_id}


@handler("help.cancel", roles={Role.USER}, message=RequestRef)
async def help_cancel(server: Services, conn: Connection, msg: RequestRef) -> Result:
    await server.apply(HelpCancelled(conn.identity.sub, msg.request_id))
    return None


@handler("advisor.state", roles={Role.ADVISOR}, message=AdvisorState)
async def advisor_state(server: Services, conn: Connection, msg: AdvisorState) -> Result:
    me = conn.identity
    available = msg.state == "available"
    await server.apply(AdvisorStateSet(me.sub, me.name, me.skills, available, me.levels))
    return None


@on_attach
async def advisor_connected(server: Services, conn: Connection) -> None:
    """An advisor's console opened: counted ``away`` until they choose (docs/protocol.md)."""
    me = conn.identity
    if me.role is Role.ADVISOR:
        await server.apply(AdvisorConnected(me.sub, me.name, me.skills, me.levels))


@handler("help.history", roles={Role.ADVISOR}, message=RequestRef)
async def help_history(server: Services, conn: Connection, msg: RequestRef) -> Result:
    """The earlier requests of the user behind a request this advisor was offered, may
    claim, or is in a session for: newest first, with their outcomes."""
    req = await server.store.request(msg.request_id)
    if req is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f'no request "{msg.request_id}"')
    if not await _is_theirs(server, req, conn.identity.sub):
        raise ProtocolError(
            ErrorCode.FORBIDDEN, "only the advisor offered a request (or in its session) sees it"
        )
    return {"request_id": req.id, "requests": await _earlier(server, req)}


async def _earlier(server: Services, req: Request) -> list[dict[str, Any]]:
    """The caller's earlier requests with their notes; a noted call whose request is no
    longer kept (the memory store restarted) is shown as it stood when noted."""
    found = await server.store.user_requests(req.user_id, HISTORY_SHOWN + 1)
    notes = {n.request_id: n for n in await server.store.user_notes(req.user_id, NOTES_KEPT)}
    notes.pop(req.id, None)
    items = []
    for earlier in (r for r in found if r.id != req.id):
        note = notes.pop(earlier.id, None)
        items.append(history_item(earlier, note.shown() if note else None))
    items += [{**n.call, "note": n.shown()} for n in notes.values()]
    items.sort(key=lambda item: -float(item["requested_at"]))
    return items[:HISTORY_SHOWN]


async def _is_theirs(server: Services, req: Request, advisor_id: str) -> bool:
    if req.offered_to == advisor_id:
        return True
    if server.settings.routing_mode == "claim" and req.state is RequestState.QUEUED:
        return True  # every free advisor is shown every waiting request
    session = await server.store.session(req.session_id) if req.session_id else None
    return session is not None and session.advisor_id == advisor_id


@handler("session.note", roles={Role.ADVISOR}, message=SessionNote)
async def session_note(server: Services, conn: Connection, msg: SessionNote) -> Result:
    """The wrap-up note of the advisor who had the call, during it or up to an hour after;
    a later note on the same call replaces the earlier one."""
    session = await server.store.session(msg.session_id)
    if session is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f'no session "{msg.session_id}"')
    now = server.clock()
    _check_note(session, conn.identity.sub, now)
    req = await server.store.request(session.request_id)
    if req is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f'no request "{session.request_id}"')
    me = conn.identity
    note = Note(req.id, req.user_id, session.id, me.sub, me.name, msg.text, now, history_item(req))
    await server.store.save_note(note)
    return {"request_id": req.id, "written_at": now}


def _check_note(session: Session, advisor_id: str, now: float) -> None:
    if session.advisor_id != advisor_id:
        raise ProtocolError(ErrorCode.FORBIDDEN, "only the advisor of the session notes its call")
    _check_wrap_up(session, now, "its note")


def _check_wrap_up(session: Session, now: float, what: str) -> None:
    """A call's wrap-up (the advisor's note, the user's rating) is open while the call runs
    and ``NOTE_WINDOW_S`` after it ended."""
    if session.ended_at is not None and now - session.ended_at > NOTE_WINDOW_S:
        raise ProtocolError(
            ErrorCode.INVALID_STATE, f"the call ended over an hour ago: {what} is closed"
        )


@handler("session.rate", roles={Role.USER}, message=SessionRate)
async def session_rate(server: Services, conn: Connection, msg: SessionRate) -> Result:
    """The user's rating of a call they had, during it or up to an hour after; a later
    rating of the same request replaces the earlier one."""
    session = await server.store.session(msg.session_id)
    if session is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f'no session "{msg.session_id}"')
    if session.user_id != conn.identity.sub:
        raise ProtocolError(ErrorCode.FORBIDDEN, "only the user of the session rates its call")
    now = server.clock()
    _check_wrap_up(session, now, "its rating")
    rating = Rating(
        session.request_id,
        session.id,
        session.user_id,
        session.advisor_id,
        msg.score,
        msg.comment,
        now,
    )
    await server.store.save_rating(rating)
    return {"request_id": rating.request_id, "rating": rating.view()}


@handler("message.leave", roles={Role.USER}, message=MessageLeave)
async def message_leave(server: Services, conn: Connection, msg: MessageLeave) -> Result:
    """A message for the advisors instead of a wait; the request it names closes with
    outcome ``message``. Every refusal comes before any change: the request is checked,
    then the message stored (``rate_limited`` past the bound), then the request closed."""
    me = conn.identity
    if msg.request_id is not None:
        req = await server.store.request(msg.request_id)
        if req is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f'no request "{msg.request_id}"')
        if req.user_id != me.sub:
            raise ProtocolError(ErrorCode.FORBIDDEN, "request belongs to another user")
        if not req.state.waiting:
            raise ProtocolError(ErrorCode.INVALID_STATE, f"request is {req.state}, not waiting")
    left = Message(
        new_id("msg"), me.sub, me.name, msg.text, msg.contact, msg.request_id, server.clock()
    )
    await server.store.save_message(left)
    await server.announce("message.left", message_left(left))
    if msg.request_id is not None:
        # Race: an advisor may accept the request between the check and here; the close is
        # then refused (invalid_state) and the message stays, answered like any other.
        await server.apply(HelpCancelled(me.sub, msg.request_id, RequestState.MESSAGE.value))
    return {"message_id": left.id}


@handler("message.reply", roles={Role.ADVISOR}, message=MessageReply)
async def message_reply(server: Services, conn: Connection, msg: MessageReply) -> Result:
    """The one reply to a message: the first advisor's wins, on any node; the user gets it
    at once on every socket they have open, and at their next connections."""
    me = conn.identity
    reply = Reply(msg.text, me.sub, me.name, server.clock())
    answered = await server.store.reply_message(msg.message_id, reply)
    await server.deliver("user", answered.user_id, _replied(answered, reply).to_frame())
    advisor = {"id": me.sub, "name": me.name}
    event = {
        **message_left(answered),
        "reply": {"text": reply.text, "advisor": advisor, "at": reply.at},
    }
    await server.announce("message.replied", event)
    return {"message_id": answered.id, "at": reply.at}


@handler("message.read", roles={Role.USER}, message=MessageRef)
async def message_read(server: Services, conn: Connection, msg: MessageRef) -> Result:
    """The user saw the reply: no more ``message.replied`` for it."""
    found = await server.store.message(msg.message_id)
    if found is None:
        raise no_message(msg.message_id)
    if found.user_id != conn.identity.sub:
        raise ProtocolError(ErrorCode.FORBIDDEN, "the message was left by another user")
    if found.reply is None:
        raise ProtocolError(ErrorCode.INVALID_STATE, "the message has no reply yet")
    await server.store.mark_message_read(found.id, server.clock())
    return None


@on_attach
async def replies_for_new_socket(server: Services, conn: Connection) -> None:
    """A user's connection opened: every reply they have not marked read, oldest first."""
    me = conn.identity
    if me.role is not Role.USER:
        return
    for answered in await server.store.unread_replies(me.sub):
        if answered.reply is not None:
            conn.send(_replied(answered, answered.reply).to_frame())


def _replied(message: Message, reply: Reply) -> MessageReplied:
    advisor = {"id": reply.advisor_id, "name": reply.advisor_name}
    return MessageReplied(message.id, reply.text, advisor, reply.at)


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
    relayed = SignalRelayed.frame_of(msg, me.sub, side)
    if not await server.relay_peer(conn, msg.session_id, peer_role, peer_sub, relayed):
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


@handler("session.transfer", roles={Role.ADVISOR}, message=SessionTransfer)
async def session_transfer(server: Services, conn: Connection, msg: SessionTransfer) -> Result:
    """The advisor of a live session hands its user on to a colleague or to skills, warm or
    cold (docs/protocol.md, "Transfers"); the ack's ``transfer_id`` names it in what
    follows."""
    me = conn.identity
    transfer_id = new_id("tra")
    ev = SessionTransferRequested(
        me.sub, msg.session_id, transfer_id, msg.to_advisor, msg.skills, msg.note, msg.mode
    )
    await server.apply(ev)
    return {"transfer_id": transfer_id}


@handler("ping", roles=EVERYONE, message=Ping)
async def ping(server: Services, conn: Connection, msg: Ping) -> Result:
    return {"time": server.clock()}


@handler("auth.refresh", roles=EVERYONE, message=AuthRefresh)
async def auth_refresh(server: Services, conn: Connection, msg: AuthRefresh) -> Result:
    """A new token before this socket's runs out: its expiry applies from now on."""
    identity = server.reauthorize(conn, msg.token)
    return {"expires_at": identity.expires_at}
