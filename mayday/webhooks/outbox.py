"""The webhook outbox: deliveries queued until their endpoint took them, and the log of
attempts, kept where they survive a restart of the process.

A delivery is one event for one endpoint, with the exact body it will carry (a retry
sends the same bytes under the same ``webhook-id``). ``claim`` leases the due ones to
the caller: each is due again ``lease_s`` later unless ``settle`` says how it went, so
a process that dies mid-post leaves its deliveries to the next one (at least once).
``SqliteOutbox`` is the embedded store's (a file under the data directory);
``RedisOutbox`` (mayday/webhooks/redis_outbox.py) is shared by every node.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from mayday.stores.sqlite_file import SqliteFile

WEBHOOKS_FILE = "webhooks.sqlite3"
# The attempts ops can list, newest first; settled deliveries are kept this long.
ATTEMPTS_KEPT = 500
SETTLED_KEPT_S = 7 * 86400.0
STATES = ("pending", "delivered", "failed", "disabled")


@dataclass(frozen=True)
class Delivery:
    id: str  # "<webhook-id>.<endpoint id>": one event for one endpoint
    webhook_id: str  # the Standard Webhooks message id, the same on every retry
    endpoint: str  # Endpoint.id
    type: str
    body: str
    created_at: float
    next_at: float
    attempts: int = 0
    state: str = "pending"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Delivery:
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class Attempt:
    """One POST of a delivery and what came of it: ``outcome`` is the delivery's state
    after it (``retry`` while attempts remain), ``status`` the HTTP status or None when
    no answer came (``error`` says why)."""

    delivery_id: str
    webhook_id: str
    endpoint: str
    url: str  # as Endpoint.shown(): no query, no credentials
    type: str
    attempt: int
    at: float
    duration_ms: float
    status: int | None
    error: str | None
    outcome: str
    next_at: float | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Attempt:
        return cls(**json.loads(raw))


def settled(delivery: Delivery, attempt: Attempt) -> Delivery:
    """The delivery as the attempt left it."""
    state = "pending" if attempt.outcome == "retry" else attempt.outcome
    return replace(
        delivery, attempts=attempt.attempt, state=state, next_at=attempt.next_at or attempt.at
    )


class Outbox(Protocol):
    async def add(self, deliveries: list[Delivery]) -> None: ...

    async def claim(self, now: float, lease_s: float, limit: int) -> list[Delivery]:
        """Up to ``limit`` due deliveries, oldest due first, leased for ``lease_s``."""
        ...

    async def settle(self, delivery: Delivery, attempt: Attempt) -> None:
        """Record the attempt and the delivery's new state (due again at its next_at)."""
        ...

    async def disable(self, endpoint: str, info: dict[str, Any]) -> None: ...

    async def enable(self, endpoint: str) -> bool: ...

    async def disabled(self) -> dict[str, dict[str, Any]]: ...

    async def attempts(self, limit: int) -> list[Attempt]: ...

    async def pending(self) -> int: ...

    async def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    next_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE TABLE IF NOT EXISTS attempts (n INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS disabled (endpoint TEXT PRIMARY KEY, body TEXT NOT NULL);
"""


class SqliteOutbox(SqliteFile):
    """The outbox in one SQLite file (``path``; None: this process only). A claim is one
    ``BEGIN IMMEDIATE`` transaction, so two processes on one file never lease the same
    delivery at once."""

    def __init__(self, path: Path | None) -> None:
        super().__init__(path, _SCHEMA)

    async def add(self, deliveries: list[Delivery]) -> None:
        if deliveries:
            await self.run(self._add, deliveries)

    async def claim(self, now: float, lease_s: float, limit: int) -> list[Delivery]:
        if self._untouched():
            return []
        return await self.run(self._claim, now, lease_s, limit)

    async def settle(self, delivery: Delivery, attempt: Attempt) -> None:
        await self.run(self._settle, settled(delivery, attempt), attempt)

    async def disable(self, endpoint: str, info: dict[str, Any]) -> None:
        sql = "INSERT OR REPLACE INTO disabled (endpoint, body) VALUES (?, ?)"
        await self.run(self._execute, sql, endpoint, json.dumps(info))

    async def enable(self, endpoint: str) -> bool:
        sql = "DELETE FROM disabled WHERE endpoint = ?"
        return bool(await self.run(self._execute, sql, endpoint))

    async def disabled(self) -> dict[str, dict[str, Any]]:
        if self._untouched():
            return {}
        rows = await self.run(self._rows, "SELECT endpoint, body FROM disabled", ())
        return {endpoint: json.loads(body) for endpoint, body in rows}

    async def attempts(self, limit: int) -> list[Attempt]:
        if self._untouched():
            return []
        sql = "SELECT body FROM attempts ORDER BY n DESC LIMIT ?"
        return [Attempt.from_json(body) for (body,) in await self.run(self._rows, sql, (limit,))]

    async def pending(self) -> int:
        if self._untouched():
            return 0
        sql = "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"
        return int((await self.run(self._rows, sql, ()))[0][0])

    # The calls below run in the worker thread, one at a time.
    def _add(self, deliveries: list[Delivery]) -> None:
        rows = [(d.id, d.state, d.next_at, d.to_json()) for d in deliveries]
        self._open().executemany(
            "INSERT OR IGNORE INTO deliveries (id, state, next_at, body) VALUES (?, ?, ?, ?)", rows
        )

    def _claim(self, now: float, lease_s: float, limit: int) -> list[Delivery]:
        db = self._open()
        with db:  # one transaction: no other process leases these meanwhile
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT body FROM deliveries WHERE state = 'pending' AND next_at <= ?"
                " ORDER BY next_at LIMIT ?",
                (now, limit),
            ).fetchall()
            due = [Delivery.from_json(body) for (body,) in rows]
            db.executemany(
                "UPDATE deliveries SET next_at = ? WHERE id = ?",
                [(now + lease_s, d.id) for d in due],
            )
        return due

    def _settle(self, delivery: Delivery, attempt: Attempt) -> None:
        db = self._open()
        with db:  # one transaction: the delivery, its attempt and the pruning
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "UPDATE deliveries SET state = ?, next_at = ?, body = ? WHERE id = ?",
                (delivery.state, delivery.next_at, delivery.to_json(), delivery.id),
            )
            db.execute("INSERT INTO attempts (body) VALUES (?)", (attempt.to_json(),))
            db.execute(
                "DELETE FROM attempts WHERE n <= (SELECT MAX(n) FROM attempts) - ?",
                (ATTEMPTS_KEPT,),
            )
            db.execute(
                "DELETE FROM deliveries WHERE state != 'pending' AND next_at < ?",
                (attempt.at - SETTLED_KEPT_S,),
            )

    def _execute(self, sql: str, *args: object) -> int:
        return self._open().execute(sql, args).rowcount

    def _rows(self, sql: str, args: tuple[object, ...]) -> list[Any]:
        return self._open().execute(sql, args).fetchall()
