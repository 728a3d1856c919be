"""``GET /api/sessions/{session_id}/audit``: a session's co-pilot audit log, for ops.

The ops token comes in ``Authorization: Bearer``; it is never logged (the access
log writes the path only).
"""

from __future__ import annotations

from aiohttp import web

from mayday.auth import AuthError, Role, verify_token
from mayday.transport.appkeys import SERVER


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/sessions/{session_id}/audit", session_audit)


async def session_audit(request: web.Request) -> web.Response:
    """Every control request, grant, denial, revoke, input (and refused input), and every
    pause and resume of screen sharing, oldest first, with the server's timestamps."""
    server = request.app[SERVER]
    settings = server.settings
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return _error(401, "unauthorized", "an ops token is needed in Authorization: Bearer")
    try:
        identity = verify_token(header[7:].strip(), settings.jwt_secret, settings.jwt_audience)
    except AuthError as exc:
        return _error(401, "unauthorized", str(exc))
    if identity.role is not Role.OPS:
        return _error(403, "forbidden", "the ops role is needed")
    session_id = request.match_info["session_id"]
    entries = await server.annotations.store.audit(session_id)
    session = await server.store.session(session_id)
    if session is None and not entries:
        return _error(404, "not_found", f'no session "{session_id}"')
    body = {
        "session_id": session_id,
        "user_id": session.user_id if session else None,
        "advisor_id": session.advisor_id if session else None,
        "entries": [entry.to_dict() for entry in entries],
    }
    return web.json_response(body)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)
