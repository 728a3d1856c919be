"""What the HTTP APIs share: who is calling, and the one error body."""

from __future__ import annotations

import json

from aiohttp import web

from mayday.auth import AuthError, Identity, Role, TokenVerifier
from mayday.logsafe import bind_identity

# Built once by ``create_app`` from the settings: every token the server reads (the
# WebSocket upgrade, the APIs) goes through it.
VERIFIER = web.AppKey("verifier", TokenVerifier)

_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
}


def api_error(status: int, code: str, message: str) -> web.HTTPException:
    """An HTTP error with the API's JSON body ``{code, message}``, to raise."""
    body = json.dumps({"code": code, "message": message})
    return _ERRORS[status](text=body, content_type="application/json")


def caller(request: web.Request, roles: frozenset[Role]) -> Identity:
    """The identity of ``Authorization: Bearer JWT``, in one of ``roles``; else 401 or 403.
    Never a token in the address: it would land in proxy logs and the browser's history."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    if not token:
        raise api_error(401, "unauthorized", "a token is needed in Authorization: Bearer")
    try:
        identity = request.app[VERIFIER].verify(token)
    except AuthError as exc:
        raise api_error(401, "unauthorized", str(exc)) from None
    bind_identity(identity.role.value, identity.sub)
    if identity.role not in roles:
        wanted = " or ".join(sorted(r.value for r in roles))
        raise api_error(403, "forbidden", f"the {wanted} role is needed")
    return identity
