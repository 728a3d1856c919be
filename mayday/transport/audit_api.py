"""``GET /api/sessions/{session_id}/audit``: a session's co-pilot audit log, for ops.

The ops token comes in ``Authorization: Bearer``; it is never logged (the access
log writes the path only).
"""

from __future__ import annotations

from aiohttp import web

from mayday.auth import Role
from mayday.transport.api import api_error, caller
from mayday.transport.server import SERVER


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/sessions/{session_id}/audit", session_audit)


async def session_audit(request: web.Request) -> web.Response:
    """Every control request, grant, denial, revoke, input (and refused input), and every
    pause and resume of screen sharing, oldest first, with the server's timestamps."""
    server = request.app[SERVER]
    caller(request, frozenset({Role.OPS}))
    session_id = request.match_info["session_id"]
    entries = await server.boards.audit(session_id)
    session = await server.store.session(session_id)
    if session is None and not entries:
        raise api_error(404, "not_found", f'no session "{session_id}"')
    body = {
        "session_id": session_id,
        "user_id": session.user_id if session else None,
        "advisor_id": session.advisor_id if session else None,
        "entries": [entry.to_dict() for entry in entries],
    }
    return web.json_response(body)
