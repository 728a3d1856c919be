"""What the HTTP APIs share: who is calling, and the one error body."""

from __future__ import annotations

import json

from aiohttp import web

from mayday.auth import AuthError, Identity, Role, verify_token
from mayday.settings import Settings

_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
}


def api_error(status: int, code: str, message: str) -> web.HTTPException:
    """An HTTP error with the API's JSON body ``{code, message}``, to raise."""
    body = json.dumps({"code": code, "message": message})
    return _ERRORS[status](text=body, content_type="application/json")


def caller(request: web.Request, settings: Settings, roles: frozenset[Role]) -> Identity:
    """The identity of ``Authorization: Bearer JWT``, in one of ``roles``; else 401 or 403.
    Never a token in the address: it would land in proxy logs and the browser's history."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    if not token:
        raise api_error(401, "unauthorized", "a token is needed in Authorization: Bearer")
    try:
        identity = verify_token(token, settings.jwt_secret, settings.jwt_audience)
    except AuthError as exc:
        raise api_error(401, "unauthorized", str(exc)) from None
    if identity.role not in roles:
        wanted = " or ".join(sorted(r.value for r in roles))
        raise api_error(403, "forbidden", f"the {wanted} role is needed")
    return identity
