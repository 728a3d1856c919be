"""Typed frames: what clients send (validated at the edge) and what the server sends.

Inbound classes parse a raw JSON object with ``parse`` and refuse it with
``invalid_field``; a handler only ever sees one of these. Outbound classes turn
themselves into the JSON object put on the wire with ``to_frame``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from mayday.auth import MAX_TOKEN_CHARS
from mayday.protocol.base import Outbound
from mayday.protocol.errors import ErrorCode, ProtocolError, invalid_field
from mayday.protocol.fields import choice, opt_str, req_str, small_object, str_list

ADVISOR_STATES = ("available", "away")
MEDIA_STATES = (
    "new",
    "connecting",
    "connected",
    "first_frame",
    "disconnected",
    "failed",
    "closed",
    # The offerer starts the call anew (ICE restart, or a new peer connection); the
    # answerer takes the new offer. ``detail`` says why.
    "restarting",
)
SDP_TYPES = ("offer", "answer", "pranswer", "rollback")
MAX_SDP = 60_000
MAX_CANDIDATE = 1_024
MAX_NOTE_CHARS = 2_000  # one wrap-up note
MAX_MESSAGE_CHARS = 2_000  # a message left offline, or its reply
MAX_CONTACT_CHARS = 200
MAX_COMMENT_CHARS = 1_000  # the comment of a rating
SCORES = range(1, 6)  # a rating's score: 1 (worst) to 5
MAX_TRANSFER_NOTE_CHARS = 500  # the note handed on with a transfer
TRANSFER_MODES = ("warm", "cold")


# ---------------------------------------------------------------- inbound


@dataclass(frozen=True)
class HelpRequest:
    topic: str | None = None
    language: str | None = None
    skills: tuple[str, ...] = ()
    device: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        return cls(
            topic=opt_str(frame, "topic", 200),
            language=opt_str(frame, "language", 35),
            skills=str_list(frame, "skills"),
            device=small_object(frame, "device"),
        )


@dataclass(frozen=True)
class RequestRef:
    """``help.cancel``, ``help.accept`` and ``help.decline``: a request named by id."""

    request_id: str

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        return cls(request_id=req_str(frame, "request_id", 64))


@dataclass(frozen=True)
class AdvisorState:
    state: str

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        return cls(state=choice(frame, "state", ADVISOR_STATES))


@dataclass(frozen=True)
class Signal:
    """One SDP description, or one ICE candidate, or ``candidate: null`` (end of candidates).

    ``payload`` keeps the validated field exactly as the sender wrote it, so the
    relay passes it on unchanged (extra keys included: the load tests stamp their
    candidates; the frame's size and depth bound what they can hold).
    """

    session_id: str
    payload: Mapping[str, Any]

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        session_id = req_str(frame, "session_id", 64)
        has_desc, has_cand = "description" in frame, "candidate" in frame
        if has_desc == has_cand:
            raise invalid_field("description", 'or "candidate" is required, not both')
        if has_desc:
            return cls(session_id, {"description": _description(frame["description"])})
        return cls(session_id, {"candidate": _candidate(frame["candidate"])})


def _description(desc: Any) -> dict[str, Any]:
    if not isinstance(desc, dict):
        raise invalid_field("description", "must be an object {type, sdp}")
    if desc.get("type") not in SDP_TYPES:
        raise invalid_field("description.type", "must be one of " + ", ".join(SDP_TYPES))
    sdp = desc.get("sdp", "")
    if not isinstance(sdp, str) or len(sdp) > MAX_SDP:
        raise invalid_field("description.sdp", f"must be a string of at most {MAX_SDP}")
    if desc["type"] != "rollback" and not sdp:
        raise invalid_field("description.sdp", "must not be empty")
    return desc


def _candidate(cand: Any) -> dict[str, Any] | None:
    if cand is None:
        return None
    if not isinstance(cand, dict):
        raise invalid_field("candidate", "must be an RTCIceCandidateInit object or null")
    text = cand.get("candidate")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE:
        raise invalid_field("candidate.candidate", "must be a string")
    mid, index = cand.get("sdpMid"), cand.get("sdpMLineIndex")
    if mid is not None and not isinstance(mid, str):
        raise invalid_field("candidate.sdpMid", "must be a string or null")
    if index is not None and (
        not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 1024
    ):
        raise invalid_field("candidate.sdpMLineIndex", "must be an integer 0..1023 or null")
    ufrag = cand.get("usernameFragment")
    if ufrag is not None and (not isinstance(ufrag, str) or len(ufrag) > 256):
        raise invalid_field("candidate.usernameFragment", "must be a string or null")
    if mid is not None and len(mid) > 64:
        raise invalid_field("candidate.sdpMid", "must be at most 64 characters")
    return cand


@dataclass(frozen=True)
class MediaState:
    session_id: str
    state: str
    detail: str | None = None

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        return cls(
            session_id=req_str(frame, "session_id", 64),
            state=choice(frame, "state", MEDIA_STATES),
            detail=opt_str(frame, "detail", 200),
        )


@dataclass(frozen=True)
class SessionEnd:
    session_id: str
    reason: str = "ended"

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        return cls(
            session_id=req_str(frame, "session_id", 64),
            reason=opt_str(frame, "reason", 64) or "ended",
        )


@dataclass(frozen=True)
class SessionNote:
    """The advisor's wrap-up note on a session's call: trimmed, never blank."""

    session_id: str
    text: str

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        text = req_str(frame, "text", MAX_NOTE_CHARS).strip()
        if not text:
            raise invalid_field("text", "must not be blank")
        return cls(session_id=req_str(frame, "session_id", 64), text=text)


@dataclass(frozen=True)
class SessionRate:
    """The user's rating of a session's call: a score from 1 to 5 and an optional comment,
    trimmed of surrounding white space (a blank one is no comment)."""

    session_id: str
    score: int
    comment: str | None = None

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        score = frame.get("score")
        # bool is an int in Python: ``true`` must not pass for a score of 1.
        if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
            raise invalid_field("score", f"must be an integer from {SCORES[0]} to {SCORES[-1]}")
        return cls(
            session_id=req_str(frame, "session_id", 64), score=score, comment=_comment(frame)
        )


@dataclass(frozen=True)
class SessionTransfer:
    """The advisor of a live session hands its user on: ``to`` names one advisor
    (``to_advisor``) or the skills the next one needs; ``note`` (trimmed, a blank one is
    none) goes with it. A warm transfer needs an advisor: it is offered to them while the
    call goes on, and skills name nobody to offer it to."""

    session_id: str
    to_advisor: str | None
    skills: tuple[str, ...]
    note: str | None
    mode: str

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        session_id = req_str(frame, "session_id", 64)
        mode = choice(frame, "mode", TRANSFER_MODES) if "mode" in frame else "warm"
        to_advisor, skills = _transfer_to(frame.get("to"))
        if mode == "warm" and to_advisor is None:
            raise ProtocolError(ErrorCode.INVALID_FIELD, "warm transfer needs an advisor")
        return cls(session_id, to_advisor, skills, _transfer_note(frame), mode)


def _transfer_to(to: Any) -> tuple[str | None, tuple[str, ...]]:
    """``{"advisor": ID}`` or ``{"skills": [...]}`` (at least one), nothing else."""
    if not isinstance(to, dict) or len(to) != 1 or not {"advisor", "skills"} & to.keys():
        raise invalid_field("to", 'must be {"advisor": ID} or {"skills": [...]}')
    if "advisor" in to:
        return req_str(to, "advisor", 64), ()
    skills = str_list(to, "skills")
    if not skills:
        raise invalid_field("to.skills", "must name at least one skill")
    return None, tuple(sorted(set(skills)))


def _transfer_note(frame: Mapping[str, Any]) -> str | None:
    value = frame.get("note")
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_field("note", "must be a string")
    note = value.strip()
    if len(note) > MAX_TRANSFER_NOTE_CHARS:
        raise invalid_field("note", f"must be at most {MAX_TRANSFER_NOTE_CHARS} characters")
    return note or None


def _comment(frame: Mapping[str, Any]) -> str | None:
    value = frame.get("comment")
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_field("comment", "must be a string")
    comment = value.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise invalid_field("comment", f"must be at most {MAX_COMMENT_CHARS} characters")
    return comment or None


def _text(frame: Mapping[str, Any], max_len: int) -> str:
    text = req_str(frame, "text", max_len).strip()
    if not text:
        raise invalid_field("text", "must not be blank")
    return text


@dataclass(frozen=True)
class MessageLeave:
    """A message for the advisors when nobody could answer; ``request_id`` is the user's
    waiting request it replaces."""

    text: str
    request_id: str | None = None
    contact: str | None = None

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        return cls(
            text=_text(frame, MAX_MESSAGE_CHARS),
            request_id=opt_str(frame, "request_id", 64),
            contact=opt_str(frame, "contact", MAX_CONTACT_CHARS),
        )


@dataclass(frozen=True)
class MessageReply:
    message_id: str
    text: str

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        return cls(
            message_id=req_str(frame, "message_id", 64), text=_text(frame, MAX_MESSAGE_CHARS)
        )


@dataclass(frozen=True)
class MessageRef:
    """``message.read``: a message named by id."""

    message_id: str

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        return cls(message_id=req_str(frame, "message_id", 64))


@dataclass(frozen=True)
class AuthRefresh:
    """A new token for this socket, before its current one runs out."""

    # Never shown: a message's repr may end up in a traceback.
    token: str = field(repr=False)

    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        return cls(token=req_str(frame, "token", MAX_TOKEN_CHARS))


@dataclass(frozen=True)
class Ping:
    @classmethod
    def parse(cls, frame: Mapping[str, Any]) -> Self:
        if "data" in frame and not isinstance(frame["data"], str | int | float | None):
            raise invalid_field("data", "must be a string, a number or null")
        return cls()


# ---------------------------------------------------------------- outbound


@dataclass(frozen=True)
class HelpQueued(Outbound):
    TYPE: ClassVar[str] = "help.queued"
    request_id: str
    position: int
    estimated_wait_s: float | None
    state: str
    advisors_available: int
    # Outside business hours, or nobody online who could take it: say so, and when the
    # next opening is (ISO 8601 UTC; None when unknown or within the hours).
    offline: bool = False
    back_at: str | None = None
    # The escalation step in force: which of the request's skills an advisor must have
    # ("all", "any" or "none"; MAYDAY_ESCALATION).
    match: str = "all"


@dataclass(frozen=True)
class HelpClosed(Outbound):
    """The user's request left the queue without a session (cancelled, expired...)."""

    TYPE: ClassVar[str] = "help.closed"
    request_id: str
    outcome: str
    # An expired request whose user is connected: offer them to leave a message instead.
    leave_message: bool = False


@dataclass(frozen=True)
class MessageReplied(Outbound):
    """An advisor's reply to the user's message: at once, and after each ``hello`` until
    the user sends ``message.read``. ``advisor`` is ``{id, name}``, ``at`` epoch seconds."""

    TYPE: ClassVar[str] = "message.replied"
    message_id: str
    text: str
    advisor: dict[str, str]
    at: float


@dataclass(frozen=True)
class HelpOffer(Outbound):
    TYPE: ClassVar[str] = "help.offer"
    request_id: str
    expires_in_s: float | None
    user: dict[str, str]
    topic: str | None
    language: str | None
    skills: list[str]
    device: dict[str, Any]
    waited_s: float
    mode: str = "offer"
    # A transfer's offer (or a request a colleague handed back to the queue): ``{transfer_id,
    # from: {id, name}, note}``; left out of the frame when there is none.
    transfer: dict[str, Any] | None = None

    def to_frame(self) -> dict[str, Any]:
        frame = super().to_frame()
        if self.transfer is None:
            del frame["transfer"]
        return frame


@dataclass(frozen=True)
class HelpWithdrawn(Outbound):
    TYPE: ClassVar[str] = "help.withdrawn"
    request_id: str
    reason: str


@dataclass(frozen=True)
class AdvisorStateChanged(Outbound):
    TYPE: ClassVar[str] = "advisor.state"
    state: str
    reason: str


@dataclass(frozen=True)
class SessionStarted(Outbound):
    TYPE: ClassVar[str] = "session.started"
    session_id: str
    request_id: str
    peer: dict[str, str]
    offerer: str
    ice_servers: list[dict[str, Any]]
    role: str


@dataclass(frozen=True)
class SessionEnded(Outbound):
    TYPE: ClassVar[str] = "session.ended"
    session_id: str
    request_id: str
    reason: str
    by: str


@dataclass(frozen=True)
class SessionTransferred(Outbound):
    """A warm transfer was accepted: sent to both advisors; ``session_id`` is the session
    handed on (it ends with reason ``transferred``), ``to`` the new advisor ``{id, name}``."""

    TYPE: ClassVar[str] = "session.transferred"
    session_id: str
    transfer_id: str
    to: dict[str, str]


@dataclass(frozen=True)
class SessionTransferring(Outbound):
    """To the user: their advisor is handing them on. Warm: sent when the colleague is
    offered the call (the first advisor still in it); cold: right before the session ends.
    ``to`` is ``{id, name}`` of the advisor named, or ``{skills: [...]}``."""

    TYPE: ClassVar[str] = "session.transferring"
    session_id: str
    transfer_id: str
    mode: str
    to: dict[str, Any]


@dataclass(frozen=True)
class TransferFailed(Outbound):
    """A warm transfer did not happen (``reason``: declined, timeout, advisor_away,
    advisor_dropped, user_dropped, session_ended): the advisor who asked keeps the user;
    sent to that advisor and to the user."""

    TYPE: ClassVar[str] = "transfer.failed"
    transfer_id: str
    session_id: str
    reason: str


@dataclass(frozen=True)
class DeliveryFailed(Outbound):
    """A relayed frame the server acked when it queued it for the peer's node reached no
    socket after all: ``id`` is the acked frame's (``None`` if it had none), ``code``
    and ``message`` what its error would have said (``invalid_state``, "peer is not
    connected"; ``internal_error`` when Redis could not be reached)."""

    TYPE: ClassVar[str] = "delivery.failed"
    id: int | None
    session_id: str
    code: str
    message: str


@dataclass(frozen=True)
class PeerDisconnected(Outbound):
    """The other peer's last socket closed; the session waits ``grace_s`` for it."""

    TYPE: ClassVar[str] = "peer.disconnected"
    session_id: str
    grace_s: float


@dataclass(frozen=True)
class PeerReconnected(Outbound):
    """The other peer is back: ``resumed`` if its socket took up where it left (its call
    goes on), false if it came back without its state (a reload: start the call anew)."""

    TYPE: ClassVar[str] = "peer.reconnected"
    session_id: str
    resumed: bool = True


@dataclass(frozen=True)
class ServerDraining(Outbound):
    """This node is stopping (a rolling restart): the socket closes with 1012 right after;
    reconnect in ``reconnect_in_s`` with ``?resume=`` to take up where it left."""

    TYPE: ClassVar[str] = "server.draining"
    reconnect_in_s: float


@dataclass(frozen=True)
class AuthExpiring(Outbound):
    """This socket's token expires in ``expires_in_s``; send ``auth.refresh`` with a new one
    or the socket is closed with 4401 ``grace_s`` after that. Not kept for a resume (the
    next socket brings its own token)."""

    TYPE: ClassVar[str] = "auth.expiring"
    expires_in_s: float
    grace_s: float


@dataclass(frozen=True)
class Hello(Outbound):
    """First frame on every connection: who the server thinks you are."""

    TYPE: ClassVar[str] = "hello"
    sub: str
    role: str
    name: str
    server_version: str
    max_frame_bytes: int
    # Single use: reconnect with ``?resume=TOKEN&last_seq=N`` to take up this socket's
    # frames where they stopped (docs/protocol.md, "Resuming").
    resume_token: str = ""
    resumed: bool = False
    # On a resumed socket: how many frames the server sends again right after this one.
    replayed: int = 0
    resume_grace_s: float = 0.0


@dataclass(frozen=True)
class Ack(Outbound):
    """A client frame with an ``id`` succeeded; ``fields`` are the handler's answer."""

    TYPE: ClassVar[str] = "ack"
    id: int
    fields: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> dict[str, Any]:
        return {"type": self.TYPE, "id": self.id, **self.fields}

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> Self:
        extra = {k: v for k, v in frame.items() if k not in ("type", "id", "seq")}
        return cls(frame["id"], extra)


@dataclass(frozen=True)
class ErrorFrame(Outbound):
    """A client frame was refused: ``code`` is one of the stable error codes; ``id`` is
    the refused frame's, when it had a valid one."""

    TYPE: ClassVar[str] = "error"
    code: str
    message: str
    id: int | None = None

    def to_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": self.TYPE, "code": self.code, "message": self.message}
        if self.id is not None:
            frame["id"] = self.id
        return frame


@dataclass(frozen=True)
class SignalRelayed(Outbound):
    """A ``signal`` as the peer receives it: the sender's fields plus ``from``."""

    TYPE: ClassVar[str] = "signal"
    session_id: str
    from_: str
    from_role: str
    description: dict[str, Any] | None = None
    candidate: dict[str, Any] | None = None
    has_candidate: bool = False

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> Self:
        return cls(
            session_id=frame["session_id"],
            from_=frame["from"],
            from_role=frame.get("from_role", ""),
            description=frame.get("description"),
            candidate=frame.get("candidate"),
            has_candidate="candidate" in frame,
        )

    def to_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": self.TYPE, "session_id": self.session_id}
        if self.description is not None:
            frame["description"] = self.description
        if self.has_candidate:
            frame["candidate"] = self.candidate
        frame["from"], frame["from_role"] = self.from_, self.from_role
        return frame

    @classmethod
    def frame_of(cls, signal: Signal, from_: str, from_role: str) -> dict[str, Any]:
        """``to_frame`` of the relay of ``signal``, built without the object: one for every
        relayed frame, and a frozen dataclass's ``__init__`` was the larger part of it."""
        return {
            "type": cls.TYPE,
            "session_id": signal.session_id,
            **signal.payload,
            "from": from_,
            "from_role": from_role,
        }


@dataclass(frozen=True)
class QueueSummary(Outbound):
    """The queue as advisors and ops see it; sent when it changes, at most once a second."""

    TYPE: ClassVar[str] = "queue.summary"
    waiting: int
    oldest_wait_s: float | None
    advisors_available: int
    advisors_reserved: int
    advisors_busy: int
    advisors_away: int
    # Waiting requests every online advisor has declined: still theirs to take (the
    # cooldown ends, or one takes it), and the declined_by_all alert.
    declined_by_all: int = 0

    def shape(self) -> tuple[int, ...]:
        """What makes a summary worth sending again (the oldest wait grows by itself)."""
        return (
            self.waiting,
            self.advisors_available,
            self.advisors_reserved,
            self.advisors_busy,
            self.advisors_away,
            self.declined_by_all,
        )
