"""Advisors' wrap-up notes on calls: what one is, and where the embedded store keeps them.

A note is personal data about a caller, kept for the advisors who take that caller's
next requests (``help.history``); who may read and write it is in docs/security.md.
The Redis store keeps notes in Redis (``RedisStore.save_note``); the memory store in
``NoteFile``, an SQLite file under the data directory, so that they survive a restart
of the process like everything else the product stores for later.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mayday.routing.model import TimelineEntry
from mayday.stores.sqlite_file import SqliteFile

# Notes kept per caller, as the requests remembered per user: the oldest calls go first.
NOTES_KEPT = 20
NOTES_FILE = "notes.sqlite3"
NOTED = "noted"  # the timeline event of a note


@dataclass(frozen=True)
class Note:
    """The advisor's note on one request's call; ``call`` is the call as it stood when the
    note was written (``history_item`` without its note), shown once the request itself
    is forgotten (the memory store after a restart)."""

    request_id: str
    user_id: str
    session_id: str
    advisor_id: str
    advisor_name: str
    text: str
    written_at: float
    call: dict[str, Any] = field(default_factory=dict)

    @property
    def requested_at(self) -> float:
        return float(self.call.get("requested_at") or 0.0)

    def shown(self) -> dict[str, Any]:
        """The ``note`` of a ``help.history`` item."""
        return {"text": self.text, "advisor_name": self.advisor_name, "written_at": self.written_at}

    def view(self) -> dict[str, Any]:
        """The note as the request's history shows it to ops (``GET /api/requests/...``)."""
        advisor = {"id": self.advisor_id, "name": self.advisor_name}
        return {
            "session_id": self.session_id,
            "advisor": advisor,
            "text": self.text,
            "written_at": self.written_at,
        }

    def timeline_entry(self) -> TimelineEntry:
        """The note on the request's timeline: who wrote it and when (its text is personal
        data about the caller, read with the note itself)."""
        return TimelineEntry(self.written_at, NOTED, {"advisor": self.advisor_id})

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Note:
        return cls(**json.loads(raw))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    request_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    requested_at REAL NOT NULL,
    written_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_by_user ON notes (user_id, requested_at);
CREATE INDEX IF NOT EXISTS notes_by_age ON notes (written_at);
"""


class NoteFile(SqliteFile):
    """Notes in one SQLite file (``path``), or in this process only when ``path`` is None.

    The file is opened (and its folder made) at the first note read or written, so a
    server that never sees a note touches no disk. SQLite, not a home-made log: a note
    written again replaces the earlier one in place, two processes on one file cannot
    corrupt it, and a write is on disk when ``save`` returns. The calls run in a thread,
    one at a time (the lock), so a slow disk never stalls the event loop.
    """

    def __init__(self, path: Path | None, keep_s: float) -> None:
        super().__init__(path, _SCHEMA)
        self.keep_s = keep_s

    async def erase_user(self, user_id: str) -> int:
        """Delete every note of the user (their data is erased); how many there were."""
        return await self.run(self._delete_user, "notes", user_id)

    async def save(self, note: Note) -> None:
        """Keep ``note``, replacing an earlier one on the same request; forget the caller's
        notes past the newest ``NOTES_KEPT`` calls and every note older than ``keep_s``."""
        await self.run(self._save, note)

    async def of_user(self, user_id: str, limit: int) -> list[Note]:
        """The caller's notes, newest call first, at most ``limit``."""
        return await self.run(self._of_user, user_id, limit)

    async def get(self, request_id: str) -> Note | None:
        """The note on the call of this request, or None."""
        return await self.run(self._get, request_id)

    def _save(self, note: Note) -> None:
        db = self._open()
        with db:  # one transaction: the note and the pruning it causes
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT OR REPLACE INTO notes VALUES (?, ?, ?, ?, ?)",
                (note.request_id, note.user_id, note.requested_at, note.written_at, note.to_json()),
            )
            db.execute(
                "DELETE FROM notes WHERE user_id = ? AND request_id NOT IN (SELECT request_id"
                " FROM notes WHERE user_id = ? ORDER BY requested_at DESC LIMIT ?)",
                (note.user_id, note.user_id, NOTES_KEPT),
            )
            db.execute("DELETE FROM notes WHERE written_at < ?", (note.written_at - self.keep_s,))

    def _of_user(self, user_id: str, limit: int) -> list[Note]:
        if self._untouched():
            return []
        rows = self._open().execute(
            "SELECT body FROM notes WHERE user_id = ? ORDER BY requested_at DESC LIMIT ?",
            (user_id, limit),
        )
        return [Note.from_json(body) for (body,) in rows]

    def _get(self, request_id: str) -> Note | None:
        if self._untouched():
            return None
        row = (
            self._open()
            .execute("SELECT body FROM notes WHERE request_id = ?", (request_id,))
            .fetchone()
        )
        return None if row is None else Note.from_json(row[0])
