"""What every HTTP answer carries for browsers: the origin check and the security headers.

``MAYDAY_ALLOWED_ORIGINS`` refuses, with 403 and before any token is read, a browser
request to ``/ws``, the APIs or ``/metrics`` whose ``Origin`` is not in the list (a
request without ``Origin``, from a non-browser client, passes). The pages get a
Content-Security-Policy that allows only the server's own scripts and styles and
forbids framing; every answer gets ``nosniff`` and ``no-referrer``
(docs/security.md says why each is there).
"""

from __future__ import annotations

import json
import logging

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

log = logging.getLogger(__name__)

# The routes that read a token: a page on another site must not reach them with one.
GUARDED_PREFIXES = ("/ws", "/api/", "/metrics")


def content_security_policy(frame_ancestors: tuple[str, ...] = ()) -> str:
    """The pages' policy; ``frame_ancestors`` are the origins (or ``self``) an integrator
    lets frame the pages (MAYDAY_FRAME_ANCESTORS), none by default."""
    ancestors = " ".join("'self'" if a == "self" else a for a in frame_ancestors) or "'none'"
    return CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


def page_headers(frame_ancestors: tuple[str, ...] = ()) -> dict[str, str]:
    """The headers of a page, for these framing origins."""
    headers = {**PAGE_HEADERS, "Content-Security-Policy": content_security_policy(frame_ancestors)}
    if frame_ancestors == ("self",):
        headers["X-Frame-Options"] = "SAMEORIGIN"
    elif frame_ancestors:
        del headers["X-Frame-Options"]  # it cannot name other origins; CSP does
    return headers


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "media-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# Sent with every page (and, for nosniff and the referrer, with every answer).
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    # A page may be opened with ?token=...: its own requests must not carry that URL to
    # anyone in a Referer header.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # For browsers that predate frame-ancestors.
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": (
        "camera=(self), microphone=(self), display-capture=(self), geolocation=(), "
        "payment=(), usb=()"
    ),
}
EVERY_ANSWER = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def origin_guard(allowed: tuple[str, ...]) -> Middleware:
    """The middleware of ``MAYDAY_ALLOWED_ORIGINS`` (``allowed`` already normalised)."""
    permitted = frozenset(allowed)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if permitted and request.path.startswith(GUARDED_PREFIXES):
            origins = request.headers.getall(hdrs.ORIGIN, [])
            if origins and (len(origins) > 1 or origins[0] not in permitted):
                return _refuse(request, origins)
        return await handler(request)

    return guard


def _refuse(request: web.Request, origins: list[str]) -> web.Response:
    # The origin is the caller's own text: logged as a quoted, bounded literal only.
    shown = json.dumps(", ".join(origins)[:120])
    log.info(
        "refused %s %s from origin %s (MAYDAY_ALLOWED_ORIGINS)", request.method, request.path, shown
    )
    body = {"code": "forbidden", "message": f"origin {shown} is not allowed here"}
    return web.json_response(body, status=403)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the headers every answer carries."""
    for name, value in EVERY_ANSWER.items():
        response.headers.setdefault(name, value)
