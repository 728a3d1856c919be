"""A socket ends with its token (issue 16, finding 4).

Each socket holds one timer on the event loop at a time: first the notice
(``auth.expiring``), then the deadline, ``grace_s`` after the token's ``exp``, when the
socket is closed with 4401. An ``auth.refresh`` with a new token for the same identity
arms it again from the new ``exp``. No periodic scan over the sockets: a socket costs
one timer handle, however many there are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from mayday.auth import Identity
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.protocol.messages import AuthExpiring, ErrorFrame
from mayday.transport.connection import Connection, encode

log = logging.getLogger(__name__)

# The close of a refused token at the upgrade, and of a socket whose token ran out.
CLOSE_UNAUTHORIZED = 4401
_EXPIRED = ErrorFrame(ErrorCode.UNAUTHORIZED.value, "token expired: connect again with a new token")


class TokenExpiry:
    """The expiry timer of one socket, read from its identity's ``expires_at``.

    The notice goes out ``notice_s`` before ``exp``; a token with less than twice that
    left gets it halfway through what it has left, so that a client whose tokens are
    short refreshes once per half-life rather than in a loop. ``now`` is the clock the
    tokens are checked against (wall time), not the event loop's.
    """

    __slots__ = ("_conn", "_grace_s", "_handle", "_notice_s", "_now")

    def __init__(
        self,
        conn: Connection,
        *,
        notice_s: float,
        grace_s: float,
        now: Callable[[], float],
    ) -> None:
        self._conn = conn
        self._notice_s, self._grace_s, self._now = notice_s, grace_s, now
        self._handle: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        """Start over from the socket's current token: the notice, then the deadline."""
        self.cancel()
        left = self._left()
        if left is None:
            return  # an identity without expiry (built in code, never from a token)
        lead = min(self._notice_s, max(left, 0.0) / 2)
        self._later(left - lead, self._notify)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def refresh(self, fresh: Identity) -> Identity:
        """Take up the expiry of ``fresh``, the identity of a new valid token, and arm
        again. Only the expiry changes: the socket keeps the name, skills and priority it
        opened with (routing already holds them). Another sub or role is refused and the old
        deadline holds."""
        current = self._conn.identity
        if (fresh.sub, fresh.role) != (current.sub, current.role):
            raise ProtocolError(
                ErrorCode.FORBIDDEN,
                "the new token is for another identity: its sub and role must be this socket's",
            )
        self._conn.identity = replace(current, expires_at=fresh.expires_at)
        self.arm()
        return self._conn.identity

    def _left(self) -> float | None:
        expires_at = self._conn.identity.expires_at
        return None if expires_at is None else expires_at - self._now()

    def _later(self, delay_s: float, callback: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(max(0.0, delay_s), callback)

    def _notify(self) -> None:
        left = self._left() or 0.0
        notice = AuthExpiring(round(max(left, 0.0), 3), self._grace_s)
        # Not kept for a resume: the socket that resumes brings its own token.
        self._conn.push(encode(notice.to_frame()), keep=False)
        self._later(left + self._grace_s, self._expire)

    def _expire(self) -> None:
        self._handle = None
        log.info("connection %s/%s: token expired, closing with 4401", *self._conn.key)
        self._conn.push(encode(_EXPIRED.to_frame()), keep=False)
        self._conn.close(CLOSE_UNAUTHORIZED, "token expired", flush=True)
