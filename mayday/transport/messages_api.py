"""``GET /api/messages``: the messages users left when nobody could answer, for the
advisors' inbox and ops. The token comes in ``Authorization: Bearer``."""

from __future__ import annotations

from aiohttp import web

from mayday.auth import Role
from mayday.stores.messages import MESSAGE_STATES
from mayday.transport.api import api_error, caller
from mayday.transport.server import SERVER

MAX_LISTED = 1000
FILTERS = frozenset({"state", "limit"})
READERS = frozenset({Role.ADVISOR, Role.OPS})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/messages", messages)


async def messages(request: web.Request) -> web.Response:
    """The messages ``open`` (the default) or ``answered``, oldest first."""
    caller(request, READERS)
    query = request.query
    unknown = sorted(set(query) - FILTERS)
    if unknown:
        raise api_error(400, "invalid_field", f'unknown parameter "{unknown[0][:40]}"')
    state = query.get("state", "open")
    if state not in MESSAGE_STATES:
        raise api_error(400, "invalid_field", 'state must be "open" or "answered"')
    try:
        limit = int(query.get("limit", 100))
    except ValueError:
        raise api_error(400, "invalid_field", "limit must be an integer") from None
    if not 0 <= limit <= MAX_LISTED:
        raise api_error(400, "invalid_field", f"limit must be from 0 to {MAX_LISTED}")
    found = await request.app[SERVER].store.messages(state, limit)
    return web.json_response({"messages": [m.view() for m in found], "count": len(found)})
