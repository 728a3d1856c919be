"""Users' ratings of their calls: what one is, and where the embedded store keeps them.

A user rates a call (``session.rate``) while it runs or up to an hour after; ops read the
rating with the request's history (``GET /api/requests/{request_id}``). One rating per
request: rating again replaces it. The Redis store keeps ratings in Redis
(``RedisStore.save_rating``); the memory store in ``RatingFile``, an SQLite file under the
data directory like the notes (mayday/stores/notes.py), so that they outlive the process
and the request itself, which the memory store forgets at a restart.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mayday.routing.model import TimelineEntry
from mayday.stores.sqlite_file import SqliteFile

RATINGS_FILE = "ratings.sqlite3"
RATED = "rated"  # the timeline event of a rating


@dataclass(frozen=True)
class Rating:
    """The user's rating of the call of one request's session; ``rated_at`` is the server
    clock, epoch seconds."""

    request_id: str
    session_id: str
    user_id: str
    advisor_id: str
    score: int
    comment: str | None
    rated_at: float

    def view(self) -> dict[str, Any]:
        """The rating as the ``session.rate`` ack and the request's history show it."""
        return {
            "session_id": self.session_id,
            "advisor_id": self.advisor_id,
            "score": self.score,
            "comment": self.comment,
            "rated_at": self.rated_at,
        }

    def timeline_entry(self) -> TimelineEntry:
        """The rating on the request's timeline: the score only (the comment is free text,
        read with the rating itself)."""
        return TimelineEntry(self.rated_at, RATED, {"score": self.score})

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Rating:
        return cls(**json.loads(raw))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS ratings (
    request_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    rated_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ratings_by_age ON ratings (rated_at);
"""


class RatingFile(SqliteFile):
    """Ratings in one SQLite file (``path``), or in this process only when ``path`` is
    None; each kept ``keep_s`` (as long as Redis keeps a finished request)."""

    def __init__(self, path: Path | None, keep_s: float) -> None:
        super().__init__(path, _SCHEMA)
        self.keep_s = keep_s

    async def erase_user(self, user_id: str) -> int:
        """Delete every rating of the user (their data is erased); how many there were."""
        return await self.run(self._delete_user, "ratings", user_id)

    async def save(self, rating: Rating) -> None:
        """Keep ``rating``, replacing an earlier one of the same request; forget every
        rating older than ``keep_s``."""
        await self.run(self._save, rating)

    async def get(self, request_id: str) -> Rating | None:
        return await self.run(self._get, request_id)

    def _save(self, rating: Rating) -> None:
        db = self._open()
        with db:  # one transaction: the rating and the pruning it causes
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?)",
                (rating.request_id, rating.user_id, rating.rated_at, rating.to_json()),
            )
            db.execute("DELETE FROM ratings WHERE rated_at < ?", (rating.rated_at - self.keep_s,))

    def _get(self, request_id: str) -> Rating | None:
        if self._untouched():
            return None
        row = (
            self._open()
            .execute("SELECT body FROM ratings WHERE request_id = ?", (request_id,))
            .fetchone()
        )
        return None if row is None else Rating.from_json(row[0])
