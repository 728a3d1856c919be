"""HTTP for ops: ``/metrics`` for Prometheus, and a JSON / CSV API for the ``ops`` role.

``/metrics`` is open on the main port by default. ``MAYDAY_METRICS_AUTH=ops`` asks for
an ops token, and ``MAYDAY_METRICS_TOKEN`` for a scrape token (or an ops token); with
``MAYDAY_METRICS_PORT`` it is served on its own listener only (docs/security.md).
"""

from __future__ import annotations

import asyncio
import csv
import hmac
import io
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from mayday.auth import Identity, Role
from mayday.metrics.prom import CONTENT_TYPE
from mayday.metrics.timeline import CSV_COLUMNS, csv_row, forgotten_view, request_view
from mayday.settings import Settings
from mayday.stores.messages import Message
from mayday.stores.ratings import Rating
from mayday.transport.api import VERIFIER, api_error, caller
from mayday.transport.http_guard import GuardedSite
from mayday.transport.server import SERVER
from mayday.transport.web_security import add_security_headers, origin_guard

MAX_ROWS = 10_000
REQUEST_FILTERS = frozenset({"since", "limit", "outcome", "advisor", "format"})
# The listener of MAYDAY_METRICS_PORT, kept on the main app while it runs.
METRICS_RUNNER = web.AppKey("metrics_runner", web.AppRunner)


def add_routes(app: web.Application, settings: Settings) -> None:
    if settings.metrics_port is None:
        app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/ops/summary", summary)
    app.router.add_get("/api/ops/requests", requests)
    app.router.add_get("/api/ops/requests/{request_id}", one_request)
    app.router.add_get("/api/requests/{request_id}", request_history)


def metrics_listener(
    settings: Settings, access_log_class: type[AbstractAccessLogger]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` that serves ``/metrics`` alone on ``MAYDAY_METRICS_HOST`` (the
    main host unless set) and ``MAYDAY_METRICS_PORT``, as long as the main app runs."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        scrape = web.Application(middlewares=[origin_guard(settings.allowed_origins)])
        scrape[SERVER], scrape[VERIFIER] = app[SERVER], app[VERIFIER]
        scrape.on_response_prepare.append(add_security_headers)
        scrape.router.add_get("/metrics", metrics)
        runner = web.AppRunner(
            scrape,
            access_log_class=access_log_class,
            keepalive_timeout=settings.http_idle_timeout_s,
        )
        await runner.setup()
        host, port = settings.metrics_host or settings.host, settings.metrics_port or 0
        timeout = settings.http_header_timeout_s
        await GuardedSite(runner, host, port, header_timeout_s=timeout).start()
        app[METRICS_RUNNER] = runner
        yield
        await runner.cleanup()

    return ctx


def _scraper(request: web.Request) -> None:
    """Let the scrape through, or raise 401/403, as the settings ask."""
    settings = request.app[SERVER].settings
    if settings.metrics_auth == "none" and not settings.metrics_token:
        return
    header = request.headers.get("Authorization", "")
    offered = header[7:].strip() if header.startswith("Bearer ") else ""
    wanted = settings.metrics_token
    if wanted and offered and hmac.compare_digest(offered.encode(), wanted.encode()):
        return
    caller(request, OPS)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of this process (scrape every process; see docs/metrics.md)."""
    _scraper(request)
    server = request.app[SERVER]
    server.monitor.prom.set_queue(await server.store.summary(server.clock()))
    # Written in a thread: the registry takes its own locks, and the event loop keeps
    # relaying while a large exposition is built.
    body = await asyncio.to_thread(server.monitor.prom.exposition)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


OPS = frozenset({Role.OPS})


def _ops(request: web.Request) -> Identity:
    return caller(request, OPS)


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
    since, limit, fmt = _filters(query, server.clock())
    found = await server.store.recent_requests(since, limit)
    views = [v for v in map(request_view, found) if _matches(v, query)]
    if fmt == "csv":
        return _csv(views)
    return web.json_response({"requests": views, "count": len(views)})


def _filters(query: Any, now: float) -> tuple[float, int, str]:
    """``since``, ``limit`` and ``format`` of a requests query; 400 for any out of range,
    or for a parameter the endpoint does not know (as /api/openapi.json says: a misspelt
    filter must not silently return everything)."""
    unknown = sorted(set(query) - REQUEST_FILTERS)
    if unknown:
        raise api_error(400, "invalid_field", f'unknown parameter "{unknown[0][:40]}"')
    try:
        since = float(query.get("since", now - 86400))
        limit = int(query.get("limit", 1000))
    except ValueError:
        raise api_error(400, "invalid_field", "since and limit must be numbers") from None
    if not math.isfinite(since):
        raise api_error(400, "invalid_field", "since must be a finite number")
    if not 0 <= limit <= MAX_ROWS:
        raise api_error(400, "invalid_field", f"limit must be from 0 to {MAX_ROWS}")
    fmt = query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise api_error(400, "invalid_field", 'format must be "json" or "csv"')
    return since, limit, fmt


async def one_request(request: web.Request) -> web.Response:
    """One request's whole timeline, for the dashboard's drill-down."""
    _ops(request)
    request_id = request.match_info["request_id"]
    found = await request.app[SERVER].store.request(request_id)
    if found is None:
        raise api_error(404, "not_found", f'no request "{request_id[:64]}"')
    return web.json_response(request_view(found))


async def request_history(request: web.Request) -> web.Response:
    """One request's whole history: its view and timeline, the messages its user left for
    it, the user's rating and the advisor's note. A request the store no longer keeps (the
    memory store restarted) is still shown by what was kept about it, its own fields null;
    404 only when nothing is."""
    _ops(request)
    request_id = request.match_info["request_id"]
    store = request.app[SERVER].store
    found = await store.request(request_id)
    rating = await store.rating(request_id)
    messages = await store.request_messages(request_id)
    user_id = _user_of(found.user_id if found else None, rating, messages)
    # Only the request's own user's messages: a message names a request its user gave.
    messages = [m for m in messages if m.user_id == user_id]
    note = await store.note(request_id, user_id)
    if user_id is None and note is not None:
        user_id = note.user_id
    if found is None and rating is None and note is None and not messages:
        raise api_error(404, "not_found", f'no request "{request_id[:64]}"')
    view = request_view(found) if found else forgotten_view(request_id, user_id)
    return web.json_response(
        {
            **view,
            "messages": [m.view() for m in messages],
            "rating": rating.view() if rating else None,
            "notes": [note.view()] if note else [],
        }
    )


def _user_of(known: str | None, rating: Rating | None, messages: list[Message]) -> str | None:
    """The request's user: from the request, else from what was kept about it."""
    if known is not None:
        return known
    if rating is not None:
        return rating.user_id
    return messages[0].user_id if messages else None


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
