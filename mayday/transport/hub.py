"""Which connections belong to which identity, and delivery to them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from mayday.transport.connection import VOLATILE_MARK, Connection, encode
from mayday.transport.streams import Streams


class Hub:
    """All live connections of this process, by (role, sub).

    One identity may hold several connections (two tabs, a reconnect that
    overlaps the old socket); frames go to each of them. Identities are also
    indexed by role, so that a broadcast to advisors and ops, every second, costs
    what they are and not what the (many more) users are.
    """

    def __init__(self, streams: Streams | None = None) -> None:
        self.streams = streams
        # A tuple per identity, not a set: nearly every identity has one socket, and a
        # one-element set costs 216 bytes against a tuple's 48.
        self._by_key: dict[tuple[str, str], tuple[Connection, ...]] = {}
        self._by_role: defaultdict[str, set[tuple[str, str]]] = defaultdict(set)

    def add(self, conn: Connection) -> bool:
        """Track ``conn``; True if it is the identity's first connection here."""
        conns = self._by_key.get(conn.key, ())
        if conn not in conns:
            conns += (conn,)
            self._by_key[conn.key] = conns
        self._by_role[conn.key[0]].add(conn.key)
        return len(conns) == 1

    def count(self, key: tuple[str, str]) -> int:
        """How many sockets of this identity are here."""
        return len(self._by_key.get(key, ()))

    def remove(self, conn: Connection) -> bool:
        """Forget ``conn``; True if it was the identity's last connection."""
        conns = self._by_key.get(conn.key)
        if conns is None:
            return False
        conns = tuple(c for c in conns if c is not conn)
        if conns:
            self._by_key[conn.key] = conns
            return False
        del self._by_key[conn.key]
        self._by_role[conn.key[0]].discard(conn.key)
        return True

    def send(self, role: str, sub: str, frame: dict[str, Any], *, relayed: bool = False) -> int:
        """Send ``frame`` to each connection of (role, sub), and keep it in each parked
        stream of theirs (a socket that dropped and may resume); return how many took it.
        A socket whose stream is being claimed in Redis takes only ``relayed`` frames (from
        the inbox): a frame made here goes round through Redis for it (``holding``).
        Encoded once, before any socket numbers it (``TypeError`` if it cannot be)."""
        return self.send_here(role, sub, frame, relayed=relayed)[0]

    def send_here(
        self, role: str, sub: str, frame: dict[str, Any], *, relayed: bool = False
    ) -> tuple[int, bool]:
        """``send``, and whether a socket of (role, sub) here was holding (so did not take
        a frame made here): found in the same pass, because a relayed ``signal`` asks both
        and a second lookup was about 6 % of the relay's CPU (docs/performance.md, 9)."""
        key = (role, sub)
        conns = self._by_key.get(key)
        parked = self.streams.parked(key) if self.streams is not None else ()
        if not conns and not parked:
            return 0, False
        volatile = bool(frame.get(VOLATILE_MARK, False))
        clean = {k: v for k, v in frame.items() if k != VOLATILE_MARK} if volatile else frame
        body = encode(clean)
        delivered, held = 0, False
        for conn in conns or ():
            if relayed or not conn.holding:
                delivered += conn.push(body, volatile)
            else:
                held = True
        if not volatile:  # a laser move is stale by the time anyone resumes
            for stream in parked:
                stream.number(body)
                delivered += 1
        return delivered, held

    def broadcast(self, roles: tuple[str, ...], frame: dict[str, Any]) -> int:
        """Send ``frame`` to every connection of the given roles (encoded once)."""
        body = encode(frame)
        delivered = 0
        for role in roles:
            for key in self._by_role.get(role, ()):
                for conn in self._by_key[key]:
                    # State sent again every interval: not kept for a resume.
                    delivered += conn.push(body, keep=False)
        return delivered

    def has_role(self, role: str) -> bool:
        return bool(self._by_role.get(role))

    def connected(self, role: str, sub: str) -> bool:
        return (role, sub) in self._by_key

    def __len__(self) -> int:
        return sum(len(c) for c in self._by_key.values())

    def all(self) -> list[Connection]:
        return [c for conns in self._by_key.values() for c in conns]
