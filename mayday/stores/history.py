"""Finished requests and their timelines: where the embedded store keeps them for later.

The Redis store keeps a finished request (its hash, its timeline, its session) in Redis
for ``history_ttl_s``. The memory store keeps it in the router while it runs, and writes
it here, to an SQLite file under the data directory, once it is finished (and again when
a later entry, a rating or a late media report, joins its timeline), so that ops and the
advisors still read last night's requests after a restart. Written off the routing path:
the store hands the rows to ``HistoryWriter``, which writes them in the background, a
batch at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mayday.routing.model import Request, RequestState, Session, SessionState, TimelineEntry
from mayday.stores.sqlite_file import SqliteFile

log = logging.getLogger(__name__)

HISTORY_FILE = "history.sqlite3"


@dataclass(frozen=True)
class Finished:
    """One finished request as written: its fields, timeline and session, as JSON."""

    request_id: str
    user_id: str
    session_id: str | None
    enqueued_at: float
    finished_at: float
    body: str

    @classmethod
    def of(cls, req: Request, session: Session | None, finished_at: float) -> Finished:
        """The row of ``req`` as it stands now (serialised at once: the router goes on
        changing its objects while the row waits to be written)."""
        return cls(
            req.id, req.user_id, req.session_id, req.enqueued_at, finished_at, _dump(req, session)
        )

    def request(self) -> Request:
        return _request(json.loads(self.body))

    def session(self) -> Session | None:
        raw = json.loads(self.body).get("session")
        return _session(raw) if raw else None


def _dump(req: Request, session: Session | None) -> str:
    body: dict[str, Any] = {
        "id": req.id,
        "user_id": req.user_id,
        "user_name": req.user_name,
        "enqueued_at": req.enqueued_at,
        "topic": req.topic,
        "language": req.language,
        "skills": sorted(req.skills),
        "device": req.device,
        "priority": req.priority,
        "state": req.state.value,
        "offered_to": req.offered_to,
        "offer_no": req.offer_no,
        "declined_by": sorted(req.declined_by),
        "session_id": req.session_id,
        "first_frame_at": req.first_frame_at,
        "timeline": [[e.t, e.event, e.data] for e in req.timeline],
        "session": None,
    }
    if session is not None:
        body["session"] = {
            "id": session.id,
            "request_id": session.request_id,
            "user_id": session.user_id,
            "advisor_id": session.advisor_id,
            "offerer": session.offerer,
            "started_at": session.started_at,
            "state": session.state.value,
            "ended_at": session.ended_at,
        }
    return json.dumps(body, separators=(",", ":"))


def _request(raw: dict[str, Any]) -> Request:
    return Request(
        id=raw["id"],
        user_id=raw["user_id"],
        user_name=raw["user_name"],
        enqueued_at=float(raw["enqueued_at"]),
        topic=raw["topic"],
        language=raw["language"],
        skills=frozenset(raw["skills"]),
        device=raw["device"] or {},
        priority=int(raw["priority"]),
        state=RequestState(raw["state"]),
        offered_to=raw["offered_to"],
        offer_no=int(raw["offer_no"]),
        declined_by=set(raw["declined_by"]),
        session_id=raw["session_id"],
        first_frame_at=raw["first_frame_at"],
        timeline=[TimelineEntry(float(t), event, data or {}) for t, event, data in raw["timeline"]],
    )


def _session(raw: dict[str, Any]) -> Session:
    return Session(**{**raw, "state": SessionState(raw["state"])})


_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    session_id TEXT,
    enqueued_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_user ON requests (user_id, enqueued_at);
CREATE INDEX IF NOT EXISTS requests_by_time ON requests (enqueued_at);
CREATE INDEX IF NOT EXISTS requests_by_session ON requests (session_id);
CREATE INDEX IF NOT EXISTS requests_by_age ON requests (finished_at);
"""


class HistoryFile(SqliteFile):
    """Finished requests in one SQLite file (``path``), or in this process only when
    ``path`` is None; each kept ``keep_s`` after it finished, as Redis keeps one."""

    def __init__(self, path: Path | None, keep_s: float) -> None:
        super().__init__(path, _SCHEMA)
        self.keep_s = keep_s

    async def save(self, rows: list[Finished]) -> None:
        """Write ``rows`` in one transaction, each replacing the earlier row of its request
        (whose finish time it keeps); forget every request finished over ``keep_s`` ago."""
        if rows:
            await self.run(self._save, rows)

    async def get(self, request_id: str) -> Finished | None:
        return await self.run(self._one, "request_id", request_id)

    async def of_session(self, session_id: str) -> Finished | None:
        return await self.run(self._one, "session_id", session_id)

    async def recent(self, since: float, limit: int) -> list[Finished]:
        """Requests made since ``since``, newest first, at most ``limit``."""
        query = "WHERE enqueued_at >= ? ORDER BY enqueued_at DESC LIMIT ?"
        return await self.run(self._many, query, (since, limit))

    async def of_user(self, user_id: str, limit: int) -> list[Finished]:
        """The user's requests, newest first, at most ``limit``."""
        query = "WHERE user_id = ? ORDER BY enqueued_at DESC LIMIT ?"
        return await self.run(self._many, query, (user_id, limit))

    async def erase_user(self, user_id: str) -> list[Finished]:
        """Delete every request of the user; the rows deleted."""
        return await self.run(self._erase_user, user_id)

    def _save(self, rows: list[Finished]) -> None:
        db = self._open()
        with db:  # one transaction: the batch and the pruning it causes
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (request_id)"
                " DO UPDATE SET session_id = excluded.session_id, body = excluded.body",
                [
                    (r.request_id, r.user_id, r.session_id, r.enqueued_at, r.finished_at, r.body)
                    for r in rows
                ],
            )
            newest = max(r.finished_at for r in rows)
            db.execute("DELETE FROM requests WHERE finished_at < ?", (newest - self.keep_s,))

    def _one(self, column: str, value: str) -> Finished | None:
        found = self._many(f"WHERE {column} = ? LIMIT 1", (value,))
        return found[0] if found else None

    def _many(self, where: str, args: tuple[Any, ...]) -> list[Finished]:
        if self._untouched():
            return []
        rows = self._open().execute(
            "SELECT request_id, user_id, session_id, enqueued_at, finished_at, body"
            f" FROM requests {where}",
            args,
        )
        return [Finished(*row) for row in rows]

    def _erase_user(self, user_id: str) -> list[Finished]:
        if self._untouched():
            return []
        db = self._open()
        with db:
            db.execute("BEGIN IMMEDIATE")
            found = self._many("WHERE user_id = ?", (user_id,))
            db.execute("DELETE FROM requests WHERE user_id = ?", (user_id,))
        return found


class HistoryWriter:
    """Writes finished requests to their file in the background, a batch at a time.

    ``keep`` is synchronous and cheap (the routing path calls it); one task at a time
    writes whatever is pending. Until its row is written, a request is read from
    ``pending`` (the router may have forgotten it already, past its history limit).
    """

    def __init__(self, file: HistoryFile) -> None:
        self.file = file
        self.pending: dict[str, Finished] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def durable(self) -> bool:
        """Whether rows are kept at all. Without a file nothing would outlive the process:
        the router's bounded history is all there is (tests, embedding), rather than a
        second copy in memory without a bound."""
        return self.file.path is not None

    def keep(self, row: Finished) -> None:
        """Write ``row`` soon, replacing the request's earlier one; its finish time stays
        the first row's (here and in the file): a later entry does not make it live
        longer."""
        if not self.durable:
            return
        prior = self.pending.get(row.request_id)
        if prior is not None:
            row = replace(row, finished_at=prior.finished_at)
        self.pending[row.request_id] = row
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._write())

    def drop_user(self, user_id: str) -> None:
        """Forget the user's rows not yet written (their data is being erased)."""
        for request_id in [k for k, r in self.pending.items() if r.user_id == user_id]:
            del self.pending[request_id]

    async def flush(self) -> None:
        """Wait until every row kept so far is written."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _write(self) -> None:
        while self.pending:
            batch = list(self.pending.values())
            try:
                await self.file.save(batch)
            except (OSError, sqlite3.Error):
                # The requests stay in the router for this run; only the file misses them.
                log.exception("%d finished requests were not written to history", len(batch))
            for row in batch:
                # A row replaced meanwhile (a rating came) is written in the next round.
                if self.pending.get(row.request_id) is row:
                    del self.pending[row.request_id]
