"""Webhooks for ops: ``GET /api/webhooks/deliveries`` (the endpoints, how many deliveries
wait, and the latest attempts with their results) and ``POST
/api/webhooks/endpoints/{endpoint_id}/enable`` (take back an endpoint that answered 410)."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from mayday.auth import Role
from mayday.transport.api import api_error, caller
from mayday.transport.server import SERVER
from mayday.webhooks.outbox import ATTEMPTS_KEPT

OPS = frozenset({Role.OPS})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/webhooks/deliveries", deliveries)
    app.router.add_post("/api/webhooks/endpoints/{endpoint_id}/enable", enable)


async def deliveries(request: web.Request) -> web.Response:
    """The configured endpoints (no secrets), the deliveries pending, and the latest
    attempts, newest first (``limit``, at most 500)."""
    caller(request, OPS)
    try:
        limit = int(request.query.get("limit", 100))
    except ValueError:
        raise api_error(400, "invalid_field", "limit must be an integer") from None
    if not 0 <= limit <= ATTEMPTS_KEPT:
        raise api_error(400, "invalid_field", f"limit must be from 0 to {ATTEMPTS_KEPT}")
    webhooks = request.app[SERVER].webhooks
    outbox = webhooks.outbox
    disabled = await outbox.disabled()
    endpoints = [
        {
            "endpoint_id": e.id,
            "url": e.shown(),
            "events": sorted(e.events),
            "form": "alert" if e.legacy else "standard",
            "disabled": disabled.get(e.id),
        }
        for e in webhooks.endpoints.values()
    ]
    attempts = [asdict(a) for a in await outbox.attempts(limit)]
    body = {"endpoints": endpoints, "pending": await outbox.pending(), "attempts": attempts}
    return web.json_response(body)


async def enable(request: web.Request) -> web.Response:
    """The endpoint gets new events again (deliveries disabled meanwhile stay so)."""
    caller(request, OPS)
    endpoint_id = request.match_info["endpoint_id"]
    webhooks = request.app[SERVER].webhooks
    if endpoint_id not in webhooks.endpoints:
        raise api_error(404, "not_found", f'no endpoint "{endpoint_id[:40]}"')
    was_disabled = await webhooks.outbox.enable(endpoint_id)
    return web.json_response({"endpoint_id": endpoint_id, "was_disabled": was_disabled})
