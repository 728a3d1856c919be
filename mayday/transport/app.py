"""The aiohttp application: ``/ws``, ``/healthz`` and the web pages."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.abc import AbstractAccessLogger

from mayday.auth import AuthError, verify_token
from mayday.metrics.alerts import AlertLedger, AlertRules, MemoryLedger, RedisLedger
from mayday.metrics.labels import Admission, LocalAdmission, RedisAdmission, TopicLabels
from mayday.metrics.monitor import Monitor
from mayday.metrics.stats import MemoryStats, RedisStats, StatsStore
from mayday.metrics.tally import Rules
from mayday.protocol.errors import ErrorCode
from mayday.protocol.messages import ErrorFrame
from mayday.settings import Settings
from mayday.stores.base import Store
from mayday.stores.memory import MemoryStore
from mayday.stores.redis import RedisStore
from mayday.transport import audit_api, ops_api
from mayday.transport.appkeys import SERVER, SETTINGS
from mayday.transport.connection import Connection
from mayday.transport.relay import RedisRelay
from mayday.transport.server import Clock, Server
from mayday.transport.wire import Wire

log = logging.getLogger(__name__)

HARD_FRAME_CAP = 1 << 20
CLOSE_UNAUTHORIZED = 4401
PAGES = {
    "/": "index.html",
    "/tablet": "tablet.html",
    "/advisor": "advisor.html",
    "/ops": "ops.html",
}


def make_store(settings: Settings) -> Store:
    """The in-memory store, or the Redis store when a Redis URL is configured."""
    if settings.redis_url:
        return RedisStore.from_url(settings.redis_url, settings)
    return MemoryStore(settings)


def make_monitor(settings: Settings, store: Store) -> Monitor:
    """The SLA monitor; its tallies and alert ledger are shared through Redis when the
    store is."""
    rules = Rules(settings.sla_target_s, settings.short_abandon_s)
    alert_rules = AlertRules(
        target_s=settings.sla_target_s,
        service_level_goal=settings.service_level_goal,
        abandonment_max=settings.abandonment_max,
    )
    admission: Admission
    if isinstance(store, RedisStore):
        stats: StatsStore = RedisStats(store.redis, rules, store.keys)
        ledger: AlertLedger = RedisLedger(store.redis, store.keys)
        admission = RedisAdmission(store.redis, store.keys.topics)
    else:
        stats, ledger, admission = MemoryStats(rules), MemoryLedger(), LocalAdmission()
    topics = TopicLabels(settings.max_topic_labels, settings.topics, admission)
    return Monitor(rules, alert_rules, stats, ledger, settings.alert_webhook_url or None, topics)


def create_app(
    settings: Settings, *, store: Store | None = None, clock: Clock | None = None
) -> web.Application:
    """Build the application; the store defaults to the embedded in-memory one."""
    app = web.Application()
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_server_ctx(store, clock))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/ws", websocket)
    ops_api.add_routes(app)
    audit_api.add_routes(app)
    for path, name in PAGES.items():
        app.router.add_get(path, _page(settings, name))
    if settings.web_root.is_dir():
        app.router.add_static("/static", settings.web_root, follow_symlinks=False)
    return app


def _server_ctx(store: Store | None, clock: Clock | None) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        chosen = store or make_store(settings)
        relay = RedisRelay(chosen) if isinstance(chosen, RedisStore) else None
        server = Server(settings, chosen, clock or time.time, relay, make_monitor(settings, chosen))
        await server.start()
        app[SERVER] = server
        loops = [
            asyncio.create_task(server.run_summaries()),
            asyncio.create_task(server.run_positions()),
            asyncio.create_task(server.run_housekeeping()),
        ]
        yield
        for loop in loops:
            loop.cancel()
        server.stopping = True
        for conn in server.hub.all():
            conn.close(1001, "server shutting down")
        await asyncio.sleep(0)
        await server.close()

    return ctx


def _page(settings: Settings, name: str) -> Any:
    async def page(request: web.Request) -> web.StreamResponse:
        path = settings.web_root / name
        if not path.is_file():
            raise web.HTTPNotFound(text=f"{name} is missing from {settings.web_root}")
        # The page may be opened with ?token=...: its own requests must not carry that URL
        # to anyone in a Referer header.
        headers = {"Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"}
        return web.FileResponse(path, headers=headers)

    return page


async def healthz(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    store = type(server.store).__name__
    return web.json_response({"status": "ok", "store": store, "connections": len(server.hub)})


async def websocket(request: web.Request) -> web.StreamResponse:
    """One client: authenticate from ``?token=``, then frames until either side closes."""
    server = request.app[SERVER]
    settings = server.settings
    try:
        identity = verify_token(
            request.query.get("token", ""), settings.jwt_secret, settings.jwt_audience
        )
    except AuthError as exc:
        return await _refuse(request, str(exc))
    ws = web.WebSocketResponse(
        heartbeat=20.0, max_msg_size=HARD_FRAME_CAP, compress=settings.ws_compress
    )
    await ws.prepare(request)
    conn = Connection(Wire(ws, request), identity, settings.outbound_queue_limit)
    try:
        await server.attach(conn)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await server.receive(conn, msg.data)
            elif msg.type is WSMsgType.BINARY:
                conn.send(_BINARY_REFUSED.to_frame())
    finally:
        await server.detach(conn)
        conn.close(1000, "")
        await conn.wait_closed(timeout=5)
    return ws


_BINARY_REFUSED = ErrorFrame(
    ErrorCode.INVALID_JSON.value, "binary frames are not accepted; send JSON text"
)


async def _refuse(request: web.Request, reason: str) -> web.StreamResponse:
    """Refuse a bad token: 401 for plain HTTP; for a WebSocket upgrade, open it and close
    it at once with code 4401, because browsers hide an HTTP status from the page."""
    ws = web.WebSocketResponse()
    if not ws.can_prepare(request).ok:
        return web.json_response({"code": "unauthorized", "message": reason}, status=401)
    await ws.prepare(request)
    await ws.send_json({**ErrorFrame("unauthorized", reason).to_frame(), "seq": 1})
    await ws.close(code=CLOSE_UNAUTHORIZED, message=reason[:100].encode())
    return ws


class SafeAccessLogger(AbstractAccessLogger):
    """Logs method, path (never the query string, which carries tokens), status and time."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %d %.1fms",
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


async def start(settings: Settings, app: web.Application | None = None) -> web.AppRunner:
    """Start serving on ``settings.host:settings.port`` (port 0 picks a free one)."""
    runner = web.AppRunner(app or create_app(settings), access_log_class=SafeAccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("runner is not listening on TCP")
