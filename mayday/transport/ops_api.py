"""HTTP for ops: ``/metrics`` for Prometheus, and a JSON / CSV API for the ``ops`` role."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from aiohttp import web

from mayday.auth import Identity, Role
from mayday.metrics.prom import CONTENT_TYPE
from mayday.metrics.timeline import CSV_COLUMNS, csv_row, request_view
from mayday.transport.api import api_error, caller
from mayday.transport.server import SERVER

MAX_ROWS = 10_000


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/ops/summary", summary)
    app.router.add_get("/api/ops/requests", requests)
    app.router.add_get("/api/ops/requests/{request_id}", one_request)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of this process (scrape every process; see docs/metrics.md)."""
    server = request.app[SERVER]
    server.monitor.prom.set_queue(await server.store.summary(server.clock()))
    # Written in a thread: the registry takes its own locks, and the event loop keeps
    # relaying while a large exposition is built.
    body = await asyncio.to_thread(server.monitor.prom.exposition)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


OPS = frozenset({Role.OPS})


def _ops(request: web.Request) -> Identity:
    return caller(request, request.app[SERVER].settings, OPS)


async def summary(request: web.Request) -> web.Response:
    """The live view the dashboard shows: queue, advisors, measures by window, alerts."""
    _ops(request)
    server = request.app[SERVER]
    now = server.clock()
    snapshot = await server.monitor.snapshot(server.store, await server.store.summary(now), now)
    return web.json_response(snapshot.to_frame())


async def requests(request: web.Request) -> web.StreamResponse:
    """Request timelines, newest first; filters ``since`` (epoch seconds), ``outcome``,
    ``advisor``, ``limit``; ``format=csv`` for a spreadsheet."""
    _ops(request)
    server = request.app[SERVER]
    query = request.query
    try:
        since = float(query.get("since", server.clock() - 86400))
        limit = min(int(query.get("limit", 1000)), MAX_ROWS)
    except ValueError:
        raise api_error(400, "invalid_field", "since and limit must be numbers") from None
    found = await server.store.recent_requests(since, limit)
    views = [v for v in map(request_view, found) if _matches(v, query)]
    if query.get("format") == "csv":
        return _csv(views)
    return web.json_response({"requests": views, "count": len(views)})


async def one_request(request: web.Request) -> web.Response:
    """One request's whole timeline, for the dashboard's drill-down."""
    _ops(request)
    request_id = request.match_info["request_id"]
    found = await request.app[SERVER].store.request(request_id)
    if found is None:
        raise api_error(404, "not_found", f'no request "{request_id[:64]}"')
    return web.json_response(request_view(found))


def _matches(view: dict[str, Any], query: Any) -> bool:
    outcome, advisor = query.get("outcome"), query.get("advisor")
    if outcome and view["outcome"] != outcome:
        return False
    return (
        not advisor
        or view["advisor"] == advisor
        or any(o["advisor"] == advisor for o in view["offers"])
    )


def _csv(views: list[dict[str, Any]]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for view in views:
        writer.writerow(csv_row(view))
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="mayday-requests.csv"'},
    )
