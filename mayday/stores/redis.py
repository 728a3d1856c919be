"""The Redis store: routing state shared by any number of server processes.

Each routing operation is one Lua script (``lua/prelude.lua`` plus the
operation's body), run with EVALSHA: one round trip, atomic, so two
processes never interleave inside an operation. The scripts are the Redis
twin of ``mayday.routing.core``; the contract suite runs the same scenarios
and random interleavings against both and requires the same effects.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any, cast

from mayday.protocol.base import Outbound
from mayday.protocol.frames import SERVER_FRAMES
from mayday.protocol.messages import QueueSummary, SessionStarted
from mayday.routing.config import RouterConfig
from mayday.routing.core import ice_servers_for
from mayday.routing.events import (
    AdvisorConnected,
    AdvisorStateSet,
    CancelTimer,
    Disconnected,
    Effect,
    Event,
    ExpiredAway,
    GraceExpired,
    HelpCancelled,
    HelpRequested,
    MediaReported,
    Observe,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    Reconnected,
    RequestClosed,
    RequestExpired,
    RouteDue,
    Send,
    SessionEndRequested,
    SessionOver,
    SessionTransferRequested,
    StartTimer,
    Waiting,
)
from mayday.routing.model import (
    USER_BUSY,
    Advisor,
    AdvisorStatus,
    Request,
    RequestState,
    Session,
    SessionState,
    TimelineEntry,
)
from mayday.stores.erasure import Erased
from mayday.stores.keys import Keys
from mayday.stores.messages import MESSAGE_STATES, OPEN_PER_USER, Message, Reply
from mayday.stores.notes import NOTES_KEPT, Note
from mayday.stores.ratings import Rating
from mayday.stores.scripts import RedisClient, Script, connect

SCRIPTS = (
    "help_request",
    "help_cancel",
    "advisor_state",
    "advisor_connected",
    "advisors",
    "colleagues",
    "accept",
    "decline",
    "offer_expired",
    "disconnected",
    "reconnected",
    "grace_expired",
    "session_end",
    "media",
    "summary",
    "state",
    "reap",
    "positions",
    "request_expired",
    "transfer",
    "route_due",
)
# cjson writes an empty Lua table as {}: these fields are lists on the wire.
_LIST_FIELDS = frozenset({"skills", "ice_servers"})


class RedisStore:
    """Routing state in Redis; every ``apply`` is one EVALSHA."""

    def __init__(
        self, redis: RedisClient, config: RouterConfig | None = None, *, keys: Keys | None = None
    ) -> None:
        self.redis = redis
        self.config = config or RouterConfig()
        self.keys = keys or Keys()
        self._scripts = {n: Script(redis, n, prelude="prelude") for n in SCRIPTS}
        self._note_save = Script(redis, "note_save")
        self._rating_save = Script(redis, "rating_save")
        self._message_save = Script(redis, "message_save")
        self._message_reply = Script(redis, "message_reply")
        self._user_erase = Script(redis, "user_erase")
        self._cfg = self.config.lua_config()
        self._args: dict[type[Any], Callable[[Any], tuple[str, list[Any]]]] = {
            HelpRequested: _help_requested,
            HelpCancelled: lambda e: ("help_cancel", [e.user_id, e.request_id, e.outcome]),
            AdvisorStateSet: lambda e: (
                "advisor_state",
                [
                    e.advisor_id,
                    e.name,
                    json.dumps(sorted(e.skills)),
                    "1" if e.available else "0",
                    _levels(e.levels),
                ],
            ),
            AdvisorConnected: lambda e: (
                "advisor_connected",
                [e.advisor_id, e.name, json.dumps(sorted(e.skills)), _levels(e.levels)],
            ),
            OfferAccepted: lambda e: ("accept", [e.advisor_id, e.request_id, e.session_id]),
            OfferDeclined: lambda e: ("decline", [e.advisor_id, e.request_id]),
            OfferExpired: lambda e: ("offer_expired", [e.request_id, e.offer_no]),
            RequestExpired: lambda e: ("request_expired", [e.request_id]),
            RouteDue: lambda e: ("route_due", [e.request_id]),
            Disconnected: lambda e: ("disconnected", [e.role, e.sub, e.node]),
            Reconnected: lambda e: ("reconnected", [e.role, e.sub, "1" if e.resumed else "0"]),
            GraceExpired: lambda e: ("grace_expired", [e.role, e.sub, e.drop_no]),
            SessionEndRequested: lambda e: (
                "session_end",
                [e.role, e.sub, e.session_id, e.reason],
            ),
            MediaReported: lambda e: (
                "media",
                [e.role, e.sub, e.session_id, e.state, e.detail or ""],
            ),
            SessionTransferRequested: _transfer_requested,
        }

    @classmethod
    def from_url(cls, url: str, config: RouterConfig | None = None) -> RedisStore:
        return cls(connect(url), config)

    # ------------------------------------------------------------ operations
    async def apply(self, event: Event, now: float) -> list[Effect]:
        name, args = self._args[type(event)](event)
        return self._effects(await self._run(name, now, args), now)

    async def position_updates(self, request_ids: list[str], now: float) -> list[Effect]:
        if not request_ids:
            return []
        return self._effects(await self._run("positions", now, list(request_ids)), now)

    async def reap(self, now: float, dead_before: float) -> tuple[list[str], list[Effect]]:
        """Claim one node whose heartbeat is older than ``dead_before`` and disconnect
        everyone it leaves without a socket; returns the node ids reaped and the effects."""
        raw = await self._run("reap", now, [repr(dead_before)])
        nodes = [item["node"] for item in json.loads(raw) if item["k"] == "reaped"]
        return nodes, self._effects(raw, now)

    def _effects(self, raw: str, now: float) -> list[Effect]:
        return [self._effect(item, now) for item in json.loads(raw) if item["k"] != "reaped"]

    async def current_state(self, role: str, sub: str, now: float) -> list[Outbound]:
        effects = self._effects(await self._run("state", now, [role, sub]), now)
        return [e.message for e in effects if isinstance(e, Send)]

    async def summary(self, now: float) -> QueueSummary:
        return QueueSummary(**json.loads(await self._run("summary", now, [])))

    async def _run(self, name: str, now: float, args: list[Any]) -> str:
        # One key per call: a retry of this very call (same key) is answered from it.
        op = f"{self.keys.prefix}op:{uuid.uuid4().hex}"
        result = await self._scripts[name](
            [self.keys.queue, op], [self.keys.prefix, repr(now), self._cfg, *args]
        )
        return str(result)

    def _effect(self, item: dict[str, Any], now: float) -> Effect:
        if item["k"] == "timer":
            return StartTimer(item["key"], float(item["delay_s"]), _timer_event(item["event"]))
        if item["k"] == "cancel":
            return CancelTimer(item["key"])
        if item["k"] == "observe":
            return Observe(item["metric"], float(item["value"]), item["topic"], item["label"])
        if item["k"] == "waiting":
            return Waiting(item["user_id"], item["request_id"])
        if item["k"] == "closed":
            return RequestClosed(item["request_id"], item["user_id"], item["outcome"])
        if item["k"] == "session_over":
            return SessionOver(item["session_id"], item["user_id"], item["advisor_id"])
        if item["k"] == "expired_away":
            return ExpiredAway(
                item["request_id"],
                item["user_id"],
                item["user_name"],
                item["topic"],
                float(item["requested_at"]),
            )
        return Send(item["role"], item["sub"], self._message(item["m"], item["sub"], now))

    def _message(self, frame: dict[str, Any], sub: str, now: float) -> Outbound:
        fields = {k: ([] if k in _LIST_FIELDS and v == {} else v) for k, v in frame.items()}
        kind = SERVER_FRAMES[fields.pop("type")]
        if kind is SessionStarted:
            fields["ice_servers"] = ice_servers_for(self.config, sub, now)
        return kind(**fields)

    # ------------------------------------------------------------ queries
    async def session(self, session_id: str) -> Session | None:
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.session(session_id)))
        if not raw:
            return None
        return Session(
            id=raw["id"],
            request_id=raw["request_id"],
            user_id=raw["user_id"],
            advisor_id=raw["advisor_id"],
            offerer=raw["offerer"],
            started_at=float(raw["started_at"]),
            state=SessionState(raw["state"]),
            ended_at=float(raw["ended_at"]) if raw["ended_at"] else None,
        )

    async def request(self, request_id: str) -> Request | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.request(request_id))
            pipe.lrange(self.keys.timeline(request_id), 0, -1)
            raw, timeline = await pipe.execute()
        if not raw:
            return None
        step, steps = int(raw.get("step") or 0), self.config.escalation
        return Request(
            id=raw["id"],
            user_id=raw["user_id"],
            user_name=raw["user_name"],
            enqueued_at=float(raw["enqueued_at"]),
            topic=raw["topic"] or None,
            language=raw["language"] or None,
            skills=frozenset(json.loads(raw["skills"])),
            device=json.loads(raw["device"]) or {},
            priority=int(raw.get("priority") or 0),
            state=RequestState(raw["state"]),
            offered_to=raw["offered_to"] or None,
            offer_no=int(raw["offer_no"]),
            declined_by=set(json.loads(raw["declined"]) or []),
            cooldowns={a: float(t) for a, t in json.loads(raw.get("cooldowns") or "{}").items()},
            step=step,
            match=steps[min(step, len(steps) - 1)],
            session_id=raw["session_id"] or None,
            first_frame_at=float(raw["first_frame_at"]) if raw.get("first_frame_at") else None,
            timeline=[_entry(item) for item in timeline],
        )

    async def recent_requests(self, since: float, limit: int) -> list[Request]:
        found = await self.redis.zrevrangebyscore(
            self.keys.requests, "+inf", since, start=0, num=limit
        )
        requests = [await self.request(str(request_id)) for request_id in found]
        return [r for r in requests if r is not None]

    async def user_requests(self, user_id: str, limit: int) -> list[Request]:
        found = await self.redis.lrange(self.keys.user_requests(user_id), 0, max(0, limit - 1))
        requests = [await self.request(str(request_id)) for request_id in found]
        return [r for r in requests if r is not None]

    async def save_note(self, note: Note) -> None:
        k, e = self.keys, note.timeline_entry()
        await self._note_save(
            [k.notes(note.user_id), k.timeline(note.request_id), k.note_entry(note.request_id)],
            [
                note.request_id,
                note.to_json(),
                note.requested_at,
                NOTES_KEPT,
                self.config.history_ttl_s,
                json.dumps([e.t, e.event, e.data]),
            ],
        )

    async def user_notes(self, user_id: str, limit: int) -> list[Note]:
        raw = await self.redis.hvals(self.keys.notes(user_id))
        notes = sorted((Note.from_json(str(r)) for r in raw), key=lambda n: -n.requested_at)
        return notes[:limit]

    async def note(self, request_id: str, user_id: str | None) -> Note | None:
        if user_id is None:
            return None
        raw = await self.redis.hget(self.keys.notes(user_id), request_id)
        return None if raw is None else Note.from_json(str(raw))

    async def save_rating(self, rating: Rating) -> None:
        e = rating.timeline_entry()
        await self._rating_save(
            [self.keys.rating(rating.request_id), self.keys.timeline(rating.request_id)],
            [rating.to_json(), json.dumps([e.t, e.event, e.data]), self.config.history_ttl_s],
        )

    async def rating(self, request_id: str) -> Rating | None:
        raw = await self.redis.hget(self.keys.rating(request_id), "body")
        return None if raw is None else Rating.from_json(str(raw))

    async def save_message(self, message: Message) -> None:
        k = self.keys
        await self._message_save(
            [
                k.message(message.id),
                k.messages("open"),
                k.user_open_messages(message.user_id),
                k.request_messages(message.request_id or ""),
            ],
            [
                message.id,
                message.to_json(),
                message.left_at,
                OPEN_PER_USER,
                message.request_id or "",
            ],
        )

    async def message(self, message_id: str) -> Message | None:
        raw = await self.redis.hgetall(self.keys.message(message_id))
        return _message(raw) if raw else None

    async def messages(self, state: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        ids = await self.redis.zrange(self.keys.messages(state), 0, limit - 1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for message_id in ids:
                pipe.hgetall(self.keys.message(str(message_id)))
            found = await pipe.execute()
        return [_message(raw) for raw in found if raw]

    async def request_messages(self, request_id: str) -> list[Message]:
        ids = await self.redis.smembers(self.keys.request_messages(request_id))
        async with self.redis.pipeline(transaction=False) as pipe:
            for message_id in ids:
                pipe.hgetall(self.keys.message(str(message_id)))
            found = await pipe.execute()
        return sorted((_message(raw) for raw in found if raw), key=lambda m: (m.left_at, m.id))

    async def reply_message(self, message_id: str, reply: Reply) -> Message:
        k = self.keys
        # The user is only known from the message itself; a message id names one user for
        # ever, so reading it before the script runs cannot race.
        left = await self.message(message_id)
        user_id = left.user_id if left else ""
        body = await self._message_reply(
            [
                k.message(message_id),
                k.messages("open"),
                k.messages("answered"),
                k.user_open_messages(user_id),
                k.user_unread(user_id),
            ],
            [message_id, json.dumps(asdict(reply))],
        )
        return replace(Message.from_json(body), reply=reply)

    async def mark_message_read(self, message_id: str, at: float) -> None:
        left = await self.message(message_id)
        if left is None or left.read_at is not None:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(self.keys.message(message_id), "read_at", at)
            pipe.zrem(self.keys.user_unread(left.user_id), message_id)
            await pipe.execute()

    async def unread_replies(self, user_id: str) -> list[Message]:
        ids = await self.redis.zrange(self.keys.user_unread(user_id), 0, -1)
        found = [await self.message(str(message_id)) for message_id in ids]
        return [m for m in found if m is not None and m.reply is not None]

    async def erase_user(self, user_id: str) -> Erased:
        k = self.keys
        # Requests and messages are not indexed by user past the latest 20 requests and
        # the open or unread messages: the candidates are read from the indexes of all of
        # them, a chunk at a time (never one long command), and the script erases those
        # that are the user's, rechecked inside it.
        requests = await self._of_user(k.requests, k.request, "user_id", str, user_id)
        requests |= set(map(str, await self.redis.lrange(k.user_requests(user_id), 0, -1)))
        messages: set[str] = set()
        for state in MESSAGE_STATES:
            index = k.messages(state)
            messages |= await self._of_user(index, k.message, "body", _body_user, user_id)
        messages |= set(map(str, await self.redis.smembers(k.user_open_messages(user_id))))
        messages |= set(map(str, await self.redis.zrange(k.user_unread(user_id), 0, -1)))
        raw = await self._user_erase(
            [k.queue],
            [
                k.prefix,
                user_id,
                json.dumps(sorted(requests)),
                json.dumps(sorted(messages)),
                USER_BUSY,
            ],
        )
        erased = json.loads(raw)
        return Erased(
            requests=int(erased["requests"]),
            messages=int(erased["messages"]),
            notes=int(erased["notes"]),
            ratings=int(erased["ratings"]),
            session_ids=tuple(sorted(erased["session_ids"] or ())),
        )

    async def _of_user(
        self,
        index: str,
        key_of: Callable[[str], str],
        field: str,
        user_of: Callable[[str], str],
        user_id: str,
    ) -> set[str]:
        """The members of ``index`` (a ZSET of ids) whose record's ``field`` names
        ``user_id`` (``user_of`` reads it), read a chunk at a time (ZSCAN: an id kept all
        along is seen, whatever is added or removed meanwhile)."""
        found: set[str] = set()
        chunk: list[str] = []
        async for member, _ in self.redis.zscan_iter(index, count=500):
            chunk.append(str(member))
            if len(chunk) >= 500:
                found |= await self._owned(chunk, key_of, field, user_of, user_id)
                chunk = []
        return found | await self._owned(chunk, key_of, field, user_of, user_id)

    async def _owned(
        self,
        ids: list[str],
        key_of: Callable[[str], str],
        field: str,
        user_of: Callable[[str], str],
        user_id: str,
    ) -> set[str]:
        if not ids:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for one in ids:
                pipe.hget(key_of(one), field)
            values = await pipe.execute()
        return {i for i, v in zip(ids, values, strict=True) if v and user_of(v) == user_id}

    async def advisors(self, limit: int) -> list[Advisor]:
        return [_listed(a) for a in json.loads(await self._run("advisors", 0.0, [limit]))]

    async def colleagues(self, limit: int) -> list[Advisor]:
        return [
            replace(
                _listed(a), skills=frozenset(json.loads(a["skills"])), idle_since=float(a["idle"])
            )
            for a in json.loads(await self._run("colleagues", 0.0, [limit]))
        ]

    async def due_offers(self, now: float) -> list[OfferExpired]:
        """Offers past their expiry, whichever process made them (a dead one included)."""
        found = await self.redis.zrangebyscore(self.keys.offers, "-inf", now, start=0, num=100)
        due = [str(request_id) for request_id in found]
        if not due:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for request_id in due:
                pipe.hget(self.keys.request(request_id), "offer_no")
            numbers = await pipe.execute()
        return [OfferExpired(r, int(n)) for r, n in zip(due, numbers, strict=True) if n]

    async def due_graces(self, now: float) -> list[GraceExpired]:
        """Grace periods past their end, whichever process started them (a dead one too)."""
        found = await self.redis.zrangebyscore(self.keys.graces, "-inf", now, start=0, num=100)
        due = []
        for member in found:
            role, rest = str(member).split("|", 1)
            sub, drop_no = rest.rsplit("|", 1)
            due.append(GraceExpired(role, sub, int(drop_no)))
        return due

    async def due_routes(self, now: float) -> list[RouteDue]:
        """Escalation steps and decline cooldowns due, whichever process timed them."""
        found = await self.redis.zrangebyscore(self.keys.route_due, "-inf", now, start=0, num=100)
        return [RouteDue(str(request_id)) for request_id in found]

    async def due_requests(self, now: float) -> list[str]:
        """Waiting requests past their time-to-live, oldest first."""
        deadline = now - self.config.request_ttl_s
        found = await self.redis.zrangebyscore(
            self.keys.queue_since, "-inf", deadline, start=0, num=100
        )
        return [str(request_id) for request_id in found]

    async def close(self) -> None:
        await self.redis.aclose()


def _listed(a: dict[str, Any]) -> Advisor:
    """An advisor as the listing scripts give one: id, name, state and since when."""
    return Advisor(
        id=a["id"],
        name=a["name"],
        status=AdvisorStatus(a["status"]),
        status_since=float(a["since"]),
    )


def _body_user(body: str) -> str:
    return str(json.loads(body).get("user_id"))


def _message(raw: dict[Any, Any]) -> Message:
    """A message from its hash: the body as left, and the reply and read time added later."""
    fields = {str(k): v for k, v in raw.items()}
    message = Message.from_json(fields["body"])
    reply = fields.get("reply")
    read_at = fields.get("read_at")
    return replace(
        message,
        reply=Reply(**json.loads(reply)) if reply else None,
        read_at=float(read_at) if read_at is not None else None,
    )


def _help_requested(e: HelpRequested) -> tuple[str, list[Any]]:
    ask = {"topic": e.ask.topic, "language": e.ask.language}
    return (
        "help_request",
        [
            e.user_id,
            e.user_name,
            e.request_id,
            json.dumps(ask),
            json.dumps(sorted(set(e.ask.skills))),
            json.dumps(e.ask.device),
            str(e.priority),
        ],
    )


def _transfer_requested(e: SessionTransferRequested) -> tuple[str, list[Any]]:
    return (
        "transfer",
        [
            e.advisor_id,
            e.session_id,
            e.transfer_id,
            e.to_advisor or "",
            json.dumps(sorted(set(e.skills))),
            e.note or "",
            e.mode,
        ],
    )


def _levels(levels: tuple[tuple[str, int], ...]) -> str:
    """An advisor's skill levels as a JSON object (``{}`` when the token gave none)."""
    return json.dumps(dict(levels)) if levels else "{}"


def _timer_event(raw: dict[str, Any]) -> OfferExpired | GraceExpired | RouteDue:
    if raw["e"] == "route_due":
        return RouteDue(raw["request_id"])
    if raw["e"] == "offer_expired":
        return OfferExpired(raw["request_id"], int(raw["offer_no"]))
    return GraceExpired(raw["role"], raw["sub"], int(raw["drop_no"]))


def _entry(item: str) -> TimelineEntry:
    t, event, data = json.loads(item)
    details = {k: ([] if k in _LIST_FIELDS and v == {} else v) for k, v in (data or {}).items()}
    return TimelineEntry(float(t), event, details)
