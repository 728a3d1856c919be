"""Messages left when nobody could answer, and the advisors' replies to them.

A user leaves a message (``message.leave``) instead of waiting; an advisor replies once
(``message.reply``: the first reply wins, on every node); the user is shown the reply at
each connection until they mark it read (``message.read``). The Redis store keeps
messages in Redis (``RedisStore.save_message``); the memory store in ``MessageFile``,
an SQLite file under the data directory, like the notes (mayday/stores/notes.py), so
that last night's messages are still there in the morning.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.routing.events import ExpiredAway
from mayday.routing.hours import iso_utc
from mayday.stores.sqlite_file import SqliteFile

MESSAGES_FILE = "messages.sqlite3"
# Open (unanswered) messages one user may have at once: what one identity can make the
# advisors' inbox hold is bounded where it enters.
OPEN_PER_USER = 5
MESSAGE_STATES = ("open", "answered")


@dataclass(frozen=True)
class Reply:
    """The advisor's answer to a message; ``at`` is the server clock, epoch seconds."""

    text: str
    advisor_id: str
    advisor_name: str
    at: float


@dataclass(frozen=True)
class Message:
    id: str
    user_id: str
    user_name: str
    text: str
    contact: str | None
    request_id: str | None
    left_at: float
    reply: Reply | None = None
    read_at: float | None = None
    # "user": left with message.leave; "expired": made by the server for a request that
    # expired while its user was away (``expired_message``).
    origin: str = "user"

    @property
    def state(self) -> str:
        return "open" if self.reply is None else "answered"

    def view(self) -> dict[str, Any]:
        """The message as ``GET /api/messages`` shows it."""
        reply: dict[str, Any] | None = None
        if self.reply is not None:
            r = self.reply
            advisor = {"id": r.advisor_id, "name": r.advisor_name}
            reply = {"text": r.text, "advisor": advisor, "at": r.at}
        return {
            "message_id": self.id,
            "state": self.state,
            "user": {"id": self.user_id, "name": self.user_name},
            "text": self.text,
            "contact": self.contact,
            "request_id": self.request_id,
            "left_at": self.left_at,
            "reply": reply,
            "read": self.read_at is not None,
            "origin": self.origin,
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Message:
        data = json.loads(raw)
        reply = data.pop("reply", None)
        return cls(**data, reply=Reply(**reply) if reply else None)


def expired_message(away: ExpiredAway, at: float) -> Message:
    """The message left for a user whose request expired while they were away. Its id is
    the request's (``msg_`` + request id): however often it is saved, there is one."""
    topic = away.topic or "none"
    text = (
        f"Pressed Help at {iso_utc(away.requested_at)}, topic {topic}; "
        "nobody answered within the wait limit."
    )
    return Message(
        f"msg_{away.request_id}",
        away.user_id,
        away.user_name,
        text,
        None,
        away.request_id,
        at,
        origin="expired",
    )


def too_many_open() -> ProtocolError:
    return ProtocolError(
        ErrorCode.RATE_LIMITED, f"at most {OPEN_PER_USER} messages may wait for a reply"
    )


def already_answered(message_id: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_STATE, f'message "{message_id}" is already answered')


def no_message(message_id: str) -> ProtocolError:
    return ProtocolError(ErrorCode.NOT_FOUND, f'no message "{message_id[:64]}"')


_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    left_at REAL NOT NULL,
    state TEXT NOT NULL,
    unread INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_state ON messages (state, left_at);
CREATE INDEX IF NOT EXISTS messages_by_user ON messages (user_id, state);
CREATE INDEX IF NOT EXISTS messages_by_request ON messages (json_extract(body, '$.request_id'));
"""


class MessageFile(SqliteFile):
    """Messages in one SQLite file (``path``), or in this process only when ``path`` is
    None. Opened at the first use; calls run in a thread, one at a time (the lock), so
    the first reply to a message wins (``UPDATE ... WHERE state = 'open'``)."""

    def __init__(self, path: Path | None) -> None:
        super().__init__(path, _SCHEMA)

    async def erase_user(self, user_id: str) -> int:
        """Delete every message of the user (their data is erased); how many there were."""
        return await self.run(self._delete_user, "messages", user_id)

    async def save(self, message: Message) -> None:
        """Keep a new message; ``rate_limited`` when its user has too many open."""
        await self.run(self._save, message)

    async def get(self, message_id: str) -> Message | None:
        return await self.run(self._get, message_id)

    async def listed(self, state: str, limit: int) -> list[Message]:
        """Messages in ``state``, oldest first, at most ``limit``."""
        return await self.run(self._listed, state, limit)

    async def reply(self, message_id: str, reply: Reply) -> Message:
        """Store the reply; ``not_found``, or ``invalid_state`` if one is stored already."""
        return await self.run(self._reply, message_id, reply)

    async def mark_read(self, message_id: str, at: float) -> None:
        await self.run(self._mark_read, message_id, at)

    async def unread(self, user_id: str) -> list[Message]:
        """The user's answered messages whose reply they have not marked read, oldest
        first."""
        return await self.run(self._unread, user_id)

    async def of_request(self, request_id: str) -> list[Message]:
        """The messages that name this request, oldest first."""
        return await self.run(self._of_request, request_id)

    def _save(self, message: Message) -> None:
        db = self._open()
        with db:  # one transaction: the count and the insert
            db.execute("BEGIN IMMEDIATE")
            known = "SELECT 1 FROM messages WHERE message_id = ?"
            if db.execute(known, (message.id,)).fetchone():
                return  # saved before (a retry, or the one made for an expired request)
            (count,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE user_id = ? AND state = 'open'",
                (message.user_id,),
            ).fetchone()
            if count >= OPEN_PER_USER:
                raise too_many_open()
            db.execute(
                "INSERT INTO messages VALUES (?, ?, ?, 'open', 0, ?)",
                (message.id, message.user_id, message.left_at, message.to_json()),
            )

    def _get(self, message_id: str) -> Message | None:
        if self._untouched():
            return None
        row = (
            self._open()
            .execute("SELECT body FROM messages WHERE message_id = ?", (message_id,))
            .fetchone()
        )
        return None if row is None else Message.from_json(row[0])

    def _listed(self, state: str, limit: int) -> list[Message]:
        if self._untouched():
            return []
        rows = self._open().execute(
            "SELECT body FROM messages WHERE state = ? ORDER BY left_at, message_id LIMIT ?",
            (state, limit),
        )
        return [Message.from_json(body) for (body,) in rows]

    def _reply(self, message_id: str, reply: Reply) -> Message:
        found = self._get(message_id)
        if found is None:
            raise no_message(message_id)
        answered = replace(found, reply=reply)
        db = self._open()
        with db:
            db.execute("BEGIN IMMEDIATE")
            # The state in the WHERE clause decides between two replies, even from two
            # processes on one file: the second updates nothing.
            changed = db.execute(
                "UPDATE messages SET state = 'answered', unread = 1, body = ?"
                " WHERE message_id = ? AND state = 'open'",
                (answered.to_json(), message_id),
            ).rowcount
        if not changed:
            raise already_answered(message_id)
        return answered

    def _mark_read(self, message_id: str, at: float) -> None:
        found = self._get(message_id)
        if found is None or found.read_at is not None:
            return
        db = self._open()
        db.execute(
            "UPDATE messages SET unread = 0, body = ? WHERE message_id = ?",
            (replace(found, read_at=at).to_json(), message_id),
        )

    def _unread(self, user_id: str) -> list[Message]:
        if self._untouched():
            return []
        rows = self._open().execute(
            "SELECT body FROM messages WHERE user_id = ? AND unread = 1 ORDER BY left_at",
            (user_id,),
        )
        return [Message.from_json(body) for (body,) in rows]

    def _of_request(self, request_id: str) -> list[Message]:
        if self._untouched():
            return []
        # The request id is read from the body (an index on that expression), not from a
        # column: files written before this query existed need no migration.
        rows = self._open().execute(
            "SELECT body FROM messages WHERE json_extract(body, '$.request_id') = ?"
            " ORDER BY left_at, message_id",
            (request_id,),
        )
        return [Message.from_json(body) for (body,) in rows]
