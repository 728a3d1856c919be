"""What a handler may use: the services of the server, narrower than the server itself.

Handlers depend on this interface only; ``mayday.transport.server.Server`` provides
it. A handler never sees the hub, the timers, the relay or the registry.
"""

from __future__ import annotations

from typing import Any, Protocol

from mayday.auth import Identity
from mayday.routing.events import Event
from mayday.routing.model import Session
from mayday.sessions.store import SessionsStore
from mayday.settings import Settings
from mayday.stores.base import Store
from mayday.transport.connection import Connection


class Services(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store:
        """The routing store, for queries; changes go through ``apply``."""
        ...

    @property
    def boards(self) -> SessionsStore:
        """Each session's drawing, consent, pause and audit log."""
        ...

    def clock(self) -> float: ...

    async def apply(self, event: Event) -> None:
        """Run one routing operation and carry out its effects."""
        ...

    async def announce(self, event_type: str, data: dict[str, Any]) -> None:
        """Queue a webhook event (mayday/webhooks/endpoints.py ``EVENTS``) for the
        integrator's endpoints that want it; durably queued when this returns."""
        ...

    async def deliver(self, role: str, sub: str, frame: dict[str, Any]) -> int:
        """Send ``frame`` to every socket of (role, sub), on this node and the others;
        how many sockets here plus other nodes took it."""
        ...

    async def relay_peer(
        self, conn: Connection, session_id: str, role: str, sub: str, frame: dict[str, Any]
    ) -> bool:
        """Send a frame of ``conn``'s to its peer (role, sub) here at once and to the other
        nodes without waiting for them; False when it is known at once that no socket
        took it. A later finding that none did is told to ``conn`` (``delivery.failed``)."""
        ...

    async def live_session(
        self, conn: Connection, session_id: str, side: str | None = None, *, fresh: bool = False
    ) -> tuple[Session, str]:
        """The active session ``session_id`` and the side the sender plays in it, or the
        refusal (``not_found``, ``forbidden``, ``invalid_state``). With ``side``, the sender
        must play that side. A copy kept on this node may answer, unless ``fresh``."""
        ...

    def reauthorize(self, conn: Connection, token: str) -> Identity:
        """Take up the expiry of a new token for the socket's own sub and role, or refuse
        it (``invalid_field``, ``forbidden``); returns the socket's identity."""
        ...

    def allow_annotation(self, advisor_id: str) -> bool:
        """Take one token from the advisor's annotation bucket (all their sockets here)."""
        ...
