"""The embedded default: the routing core's own state, in this process."""

from __future__ import annotations

from mayday.protocol.messages import QueueSummary
from mayday.routing.config import RouterConfig
from mayday.routing.core import Router
from mayday.routing.events import Effect, Event
from mayday.routing.model import Request, Session


class MemoryStore:
    """Every operation is one synchronous call into the router, so it is atomic by itself."""

    def __init__(self, config: RouterConfig | None = None) -> None:
        self.router = Router(config)

    async def apply(self, event: Event, now: float) -> list[Effect]:
        return self.router.handle(event, now)

    async def position_updates(self, request_ids: list[str], now: float) -> list[Effect]:
        return self.router.position_updates(request_ids, now)

    async def due_requests(self, now: float) -> list[str]:
        return self.router.due_requests(now)

    async def recent_requests(self, since: float, limit: int) -> list[Request]:
        found: list[Request] = []
        for req in reversed(self.router.requests.values()):
            if req.enqueued_at < since or len(found) >= limit:
                break
            found.append(req)
        return found

    async def session(self, session_id: str) -> Session | None:
        return self.router.session(session_id)

    async def request(self, request_id: str) -> Request | None:
        return self.router.requests.get(request_id)

    async def summary(self, now: float) -> QueueSummary:
        return self.router.summary(now)

    async def close(self) -> None:
        return None
