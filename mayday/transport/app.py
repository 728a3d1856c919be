"""The aiohttp application: ``/ws``, ``/healthz``, the HTTP APIs and the web pages.

``create_app`` is where the server is assembled: the backend the settings ask for,
the SLA monitor on it, and the registry of handlers built from the modules chosen
here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.abc import AbstractAccessLogger

from mayday.auth import AuthError, TokenVerifier
from mayday.logsafe import bind_identity
from mayday.metrics.alerts import AlertRules
from mayday.metrics.labels import TopicLabels
from mayday.metrics.monitor import Monitor
from mayday.metrics.tally import Rules
from mayday.protocol.errors import ErrorCode
from mayday.protocol.messages import ErrorFrame, ServerDraining
from mayday.settings import Settings
from mayday.transport import (
    advisors_api,
    annotation_handlers,
    audit_api,
    handlers,
    messages_api,
    openapi,
    ops_api,
    users_api,
    webhooks_api,
)
from mayday.transport.api import VERIFIER
from mayday.transport.backend import Backend, make_backend
from mayday.transport.connection import Connection
from mayday.transport.expiry import CLOSE_UNAUTHORIZED
from mayday.transport.http_guard import GuardedSite
from mayday.transport.lingering import LingeringWebSocket
from mayday.transport.registry import Registry
from mayday.transport.server import CLOSE_RESTARTING, SERVER, Clock, Server
from mayday.transport.streams import Resume
from mayday.transport.web_security import add_security_headers, origin_guard, page_headers
from mayday.transport.wire import Wire

log = logging.getLogger(__name__)

# The modules whose tagged handlers this server runs.
HANDLER_MODULES = (handlers, annotation_handlers)
SETTINGS = web.AppKey("settings", Settings)

HARD_FRAME_CAP = 1 << 20
# A socket whose read holds many frames gives the loop to the others after this long.
SLICE_S = 0.0005
CLOSE_TOO_MANY = 4429
# What a refused socket's close code is in plain HTTP (a request without an upgrade).
HTTP_STATUS = {CLOSE_UNAUTHORIZED: 401, CLOSE_TOO_MANY: 429, CLOSE_RESTARTING: 503}
PAGES = {
    "/": "index.html",
    "/tablet": "tablet.html",
    "/advisor": "advisor.html",
    "/ops": "ops.html",
}


def make_monitor(settings: Settings, backend: Backend) -> Monitor:
    """The SLA monitor on the backend's tallies, alert ledger and topic labels."""
    rules = Rules(settings.sla_target_s, settings.short_abandon_s)
    alert_rules = AlertRules(
        target_s=settings.sla_target_s,
        service_level_goal=settings.service_level_goal,
        abandonment_max=settings.abandonment_max,
    )
    topics = TopicLabels(settings.max_topic_labels, settings.topics, backend.admission)
    return Monitor(rules, alert_rules, backend.stats, backend.ledger, topics)


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """Build the application; the backend follows the settings (memory unless a Redis
    URL is set)."""
    app = web.Application(middlewares=[origin_guard(settings.allowed_origins)])
    app[SETTINGS] = settings
    app[VERIFIER] = TokenVerifier.from_settings(settings)
    app.on_response_prepare.append(add_security_headers)
    app.cleanup_ctx.append(_server_ctx(clock or time.time))
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/ws", websocket)
    ops_api.add_routes(app, settings)
    if settings.metrics_port is not None:
        app.cleanup_ctx.append(ops_api.metrics_listener(settings, SafeAccessLogger))
    advisors_api.add_routes(app)
    audit_api.add_routes(app)
    messages_api.add_routes(app)
    users_api.add_routes(app)
    webhooks_api.add_routes(app)
    openapi.add_routes(app, pages=not settings.api_only)
    if settings.api_only:
        return app
    for path, name in PAGES.items():
        app.router.add_get(path, _page(settings, name))
    if settings.web_root.is_dir():
        app.router.add_static("/static", settings.web_root, follow_symlinks=False)
    return app


def _server_ctx(clock: Clock) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        backend = make_backend(settings)
        registry = Registry.from_modules(*HANDLER_MODULES)
        monitor = make_monitor(settings, backend)
        server = Server(settings, backend, monitor, registry, clock, verifier=app[VERIFIER])
        await server.start()
        app[SERVER] = server
        yield
        await server.close()

    return ctx


async def _close_sockets(app: web.Application) -> None:
    """Close every socket still open with 1001 (going away). aiohttp then waits for the
    request handlers, a socket's among them, up to its shutdown timeout (60 s): this
    runs before that wait, so a client that never closes cannot hold the stop."""
    server = app[SERVER]
    server.stopping = True
    for conn in server.hub.all():
        conn.close(1001, "server shutting down")
    await asyncio.sleep(0)


def _page(settings: Settings, name: str) -> Any:
    async def page(request: web.Request) -> web.StreamResponse:
        path = settings.web_root / name
        if not path.is_file():
            raise web.HTTPNotFound(text=f"{name} is missing from {settings.web_root}")
        return web.FileResponse(path, headers=page_headers(settings.frame_ancestors))

    return page


async def healthz(request: web.Request) -> web.Response:
    """``ok``, or ``draining`` with 503 once a clean stop began (a balancer takes the node
    out)."""
    server = request.app[SERVER]
    store = type(server.store).__name__
    status = "draining" if server.draining else "ok"
    body = {"status": status, "store": store, "connections": len(server.hub)}
    return web.json_response(body, status=503 if server.draining else 200)


async def websocket(request: web.Request) -> web.StreamResponse:
    """One client: authenticate from ``?token=``, then frames until either side closes."""
    server = request.app[SERVER]
    settings = server.settings
    if server.draining:
        later = ServerDraining(settings.drain_spread_s).to_frame()
        why = "this node is stopping; reconnect to another"
        return await _refuse(request, why, ErrorCode.DRAINING, CLOSE_RESTARTING, later)
    try:
        identity = request.app[VERIFIER].verify(request.query.get("token", ""))
    except AuthError as exc:
        return await _refuse(request, str(exc))
    bind_identity(identity.role.value, identity.sub)
    resume = Resume.from_query(request.query)
    if not server.room_for((identity.role.value, identity.sub), resume):
        limit = settings.max_sockets_per_identity
        why = f"at most {limit} open connections per identity; close one first"
        return await _refuse(request, why, ErrorCode.TOO_MANY_SOCKETS, CLOSE_TOO_MANY)
    # No aiohttp heartbeat and no autoping: the server's liveness sweep pings silent
    # sockets (``Connection.beat``), and this loop answers pings and counts pongs.
    ws = LingeringWebSocket(
        heartbeat=None,
        autoping=False,
        max_msg_size=HARD_FRAME_CAP,
        compress=settings.ws_compress,
    )
    await ws.prepare(request)
    conn = Connection(Wire(ws, request), identity, settings.outbound_queue_limit)
    turns = Turns(ws)
    try:
        await server.attach(conn, resume)
        async for msg in ws:
            conn.heard += 1
            if msg.type is WSMsgType.TEXT:
                await server.receive(conn, msg.data)
                if turns.handled():
                    await asyncio.sleep(0)
            elif msg.type is WSMsgType.BINARY:
                conn.send(_BINARY_REFUSED.to_frame())
            elif msg.type is WSMsgType.PING:
                with contextlib.suppress(ConnectionResetError):  # closing meanwhile
                    await ws.pong(msg.data)
    finally:
        await server.detach(conn)
        conn.close(1000, "")
        await conn.wait_closed(timeout=5)
        await ws.linger()  # after a frame past the cap: the client reads its 1009
    return ws


class Turns:
    """When one socket's handler gives the event loop back. aiohttp hands over the frames
    of a read without yielding: a socket that wrote a thousand at once must not hold the
    loop for all of them, so past ``SLICE_S`` of handling one read the handler yields."""

    __slots__ = ("_loop", "_until", "_ws")

    def __init__(self, ws: LingeringWebSocket) -> None:
        self._ws = ws
        self._loop = asyncio.get_running_loop()
        self._until: float | None = None

    def handled(self) -> bool:
        """A frame was handled; whether to yield now (a plain call, not a coroutine:
        this runs for every frame)."""
        if not self._ws.buffered():  # the read is done: the next frame starts a slice
            self._until = None
            return False
        now = self._loop.time()
        if self._until is None:
            self._until = now + SLICE_S
            return False
        if now < self._until:
            return False
        self._until = None
        return True


_BINARY_REFUSED = ErrorFrame(
    ErrorCode.INVALID_JSON.value, "binary frames are not accepted; send JSON text"
)


async def _refuse(
    request: web.Request,
    reason: str,
    code: ErrorCode = ErrorCode.UNAUTHORIZED,
    close: int = CLOSE_UNAUTHORIZED,
    frame: dict[str, Any] | None = None,
) -> web.StreamResponse:
    """Refuse a socket: a bad token (4401), one too many (4429), a stopping node (1012).
    Plain HTTP gets 401, 429 or 503; a WebSocket upgrade is opened and closed at once with
    the code, after ``frame`` (an error by default), because browsers hide an HTTP status
    from the page."""
    ws = web.WebSocketResponse()
    if not ws.can_prepare(request).ok:
        body = {"code": code.value, "message": reason}
        return web.json_response(body, status=HTTP_STATUS[close])
    await ws.prepare(request)
    first = ErrorFrame(code.value, reason).to_frame() if frame is None else frame
    await ws.send_json({**first, "seq": 1})
    await ws.close(code=close, message=reason[:100].encode())
    return ws


class SafeAccessLogger(AbstractAccessLogger):
    """Logs method, path (never the query string, which carries tokens; nor the id of a
    user whose data is erased), status and time."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %d %.1fms",
            request.remote,
            request.method,
            users_api.logged_path(request.path),
            response.status,
            time * 1000,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


async def start(settings: Settings, app: web.Application | None = None) -> web.AppRunner:
    """Start serving on ``settings.host:settings.port`` (port 0 picks a free one)."""
    runner = web.AppRunner(
        app or create_app(settings),
        access_log_class=SafeAccessLogger,
        keepalive_timeout=settings.http_idle_timeout_s,
    )
    await runner.setup()
    site = GuardedSite(
        runner, settings.host, settings.port, header_timeout_s=settings.http_header_timeout_s
    )
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("runner is not listening on TCP")
