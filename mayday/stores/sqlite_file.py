"""One SQLite file of the embedded store (notes, messages, ratings, requests): what
survives a restart.

The file is opened (and its folder made) at the first use, so a server that never
stores anything touches no disk; with ``path`` None it lives in this process only
(tests). Calls run in a thread, one at a time (the lock), so a slow disk never stalls
the event loop and each call is one consistent step.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class SqliteFile:
    def __init__(self, path: Path | None, schema: str) -> None:
        self.path = path
        self._schema = schema
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    async def run(self, call: Callable[..., T], *args: object) -> T:
        """``call(*args)`` in the worker thread, after the calls before it."""
        async with self._lock:
            return await asyncio.to_thread(call, *args)

    async def close(self) -> None:
        async with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _delete_user(self, table: str, user_id: str) -> int:
        """Delete the user's rows of ``table`` (their data is erased); how many there were."""
        if self._untouched():
            return 0
        query = f"DELETE FROM {table} WHERE user_id = ?"  # table: a name of our schema
        return self._open().execute(query, (user_id,)).rowcount

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            target = ":memory:"
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                target = str(self.path)
            db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(self._schema)
            self._db = db
        return self._db

    def _untouched(self) -> bool:
        """Nothing was ever stored here: a read need not make the file to say so."""
        return self._db is None and self.path is not None and not self.path.exists()
