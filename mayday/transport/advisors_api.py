"""``GET /api/advisors``: who is online, for the console's transfer dialog (and ops).

Free advisors come first, longest idle first (the one a transfer is likeliest to reach),
then the others; at most ``limit`` (default and most ``MAX_ADVISORS``), so the answer and
its cost stay bounded at ten thousand advisors (``Store.colleagues``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mayday.auth import Role
from mayday.routing.model import Advisor, AdvisorStatus
from mayday.transport.api import api_error, caller
from mayday.transport.server import SERVER

MAX_ADVISORS = 200
PATH = "/api/advisors"
# The dialog's word for an advisor who may be offered a transfer now.
_STATE = {AdvisorStatus.AVAILABLE: "free"}


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, advisors)


async def advisors(request: web.Request) -> web.Response:
    """The online advisors ``{id, name, state, skills, since}``, free ones first."""
    caller(request, frozenset({Role.ADVISOR, Role.OPS}))
    unknown = sorted(set(request.query) - {"limit"})
    if unknown:
        raise api_error(400, "invalid_field", f"unknown parameter {unknown[0]!r}")
    limit = _limit(request.query.get("limit"))
    server = request.app[SERVER]
    found = await server.store.colleagues(limit)
    return web.json_response({"advisors": [_row(a) for a in found]})


def _limit(raw: str | None) -> int:
    if raw is None:
        return MAX_ADVISORS
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ADVISORS:
        raise api_error(400, "invalid_field", f"limit must be 1 to {MAX_ADVISORS}")
    return int(raw)


def _row(adv: Advisor) -> dict[str, Any]:
    return {
        "id": adv.id,
        "name": adv.name,
        "state": _STATE.get(adv.status, adv.status.value),
        "skills": sorted(adv.skills),
        "since": adv.status_since,
    }
