"""Live sessions this node has checked for its sockets' frames, until they are over."""

from __future__ import annotations

from collections import OrderedDict

from mayday.routing.model import Session

SESSION_CACHE = 10_000


class SessionCache:
    """A session's peers never change while it is live, and reading them from the store
    for every relayed candidate was, on Redis, a round trip per frame. So the server keeps
    each live session it checked, and forgets it on an explicit ``SessionOver`` effect
    (from an operation on this node or relayed from another), or when the last socket
    here of one of its peers closes (no effect may reach a node without sockets of either
    peer). Bounded: the least recently used goes first.
    """

    def __init__(self, limit: int = SESSION_CACHE) -> None:
        self.limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._of: dict[tuple[str, str], set[str]] = {}
        # Moves on with every forget: a store read that began before one must not put
        # back what was forgotten meanwhile (the race of a session ending mid-read).
        self.epoch = 0

    def get(self, session_id: str) -> Session | None:
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions.move_to_end(session_id)
        return session

    def keep(self, session: Session, epoch: int) -> None:
        """Keep ``session`` read at ``epoch``, unless something was forgotten since."""
        if epoch != self.epoch:
            return
        self._sessions[session.id] = session
        for peer in (("user", session.user_id), ("advisor", session.advisor_id)):
            self._of.setdefault(peer, set()).add(session.id)
        while len(self._sessions) > self.limit:
            self.forget(next(iter(self._sessions)))

    def forget(self, session_id: str) -> None:
        self.epoch += 1
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        for peer in (("user", session.user_id), ("advisor", session.advisor_id)):
            ids = self._of.get(peer)
            if ids is not None:
                ids.discard(session_id)
                if not ids:
                    del self._of[peer]

    def forget_peer(self, role: str, sub: str) -> None:
        """The last socket of (role, sub) here closed: forget the sessions it is a peer of."""
        for session_id in list(self._of.get((role, sub), ())):
            self.forget(session_id)

    def __len__(self) -> int:
        return len(self._sessions)
