"""The server's I/O half: frames in, routing events to the store, effects out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from mayday import __version__
from mayday.metrics.alerts import AlertRules, MemoryLedger
from mayday.metrics.monitor import Monitor
from mayday.metrics.stats import MemoryStats
from mayday.metrics.tally import Rules
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.protocol.fields import check_frame_depth
from mayday.protocol.messages import Ack, ErrorFrame, Hello, HelpOffer
from mayday.routing.events import (
    CancelTimer,
    Disconnected,
    Effect,
    Event,
    Observe,
    OfferDeclined,
    OfferExpired,
    RequestExpired,
    Send,
    StartTimer,
)
from mayday.settings import Settings
from mayday.stores.base import Store
from mayday.transport import annotation_handlers  # (registers the annotation handlers)
from mayday.transport import handlers as _handlers  # noqa: F401  (registers the handlers)
from mayday.transport.connection import Connection, TokenBucket
from mayday.transport.hub import Hub
from mayday.transport.registry import REGISTRY, HandlerSpec
from mayday.transport.relay import RedisRelay
from mayday.transport.timers import Timers

log = logging.getLogger(__name__)

Clock = Callable[[], float]
# Roles that see the whole queue: every advisor console and the ops dashboard.
WATCHERS = ("advisor", "ops")


class Server:
    """Holds the store, the live connections and the timers of one process."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock = time.time,
        relay: RedisRelay | None = None,
        monitor: Monitor | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.relay = relay
        self.monitor = monitor or Monitor(
            Rules(settings.sla_target_s, settings.short_abandon_s),
            AlertRules(settings.sla_target_s),
            MemoryStats(Rules(settings.sla_target_s, settings.short_abandon_s)),
            MemoryLedger(),
        )
        self.annotations = annotation_handlers.Annotations.for_store(store)
        self.hub = Hub()
        self.timers = Timers()
        self._buckets: dict[Connection, TokenBucket] = {}
        self._last_summary: tuple[int, ...] | None = None
        # Set at shutdown: sockets closing then are not users leaving.
        self.stopping = False
        # Open requests of the users connected here, for the periodic position updates.
        self._waiting: dict[str, str] = {}

    # ------------------------------------------------------------ connections
    async def start(self) -> None:
        if self.relay is not None:
            await self.relay.start(self.clock, self._deliver_local, self.execute, self.apply)

    async def attach(self, conn: Connection) -> None:
        if self.hub.add(conn) and self.relay is not None:
            await self.relay.joined(*conn.key)
        self._buckets[conn] = TokenBucket(
            self.settings.rate_limit_per_s, self.settings.rate_limit_burst
        )
        me = conn.identity
        hello = Hello(me.sub, me.role.value, me.name, __version__, self.settings.max_frame_bytes)
        conn.send(hello.to_frame())
        if me.role.value in WATCHERS:
            conn.send((await self.store.summary(self.clock())).to_frame())
        await annotation_handlers.peer_attached(self, conn)

    async def detach(self, conn: Connection) -> None:
        """Forget ``conn``; when it was the identity's last socket, the router hears of it."""
        self._buckets.pop(conn, None)
        if self.hub.remove(conn):
            if conn.identity.role.value == "user":
                self._waiting.pop(conn.identity.sub, None)
            if self.stopping and self.relay is not None:
                # Leave the identity registered here: the reaper decides once this node's
                # heartbeat is stale, after its clients had time to reconnect elsewhere.
                return
            node = "" if self.relay is None else self.relay.node_id
            await self.apply(Disconnected(*conn.key, node=node))

    # ------------------------------------------------------------ inbound
    async def receive(self, conn: Connection, text: str) -> None:
        """Handle one text frame; any refusal becomes an error frame, never an exception."""
        frame_id: int | None = None
        try:
            frame = _decode(text)
            frame_id = _frame_id(frame)
            check_frame_depth(text, frame)
            if len(text) > self.settings.max_frame_bytes:
                raise ProtocolError(
                    ErrorCode.TOO_LARGE, f"frame is over {self.settings.max_frame_bytes} bytes"
                )
            if not self._buckets[conn].take():
                raise ProtocolError(ErrorCode.RATE_LIMITED, "too many frames, slow down")
            spec = _lookup(frame, conn)
            result = await spec.func(self, conn, spec.parse(frame))
            if frame_id is not None:
                conn.send(Ack(frame_id, result or {}).to_frame())
        except ProtocolError as exc:
            conn.send(ErrorFrame(exc.code.value, exc.message, frame_id).to_frame())
        except Exception:
            log.exception("frame from %s/%s failed", *conn.key)
            internal = ErrorFrame(ErrorCode.INTERNAL_ERROR.value, "internal error", frame_id)
            conn.send(internal.to_frame())

    # ------------------------------------------------------------ routing
    async def apply(self, event: Event) -> None:
        """Run one routing operation in the store and carry out its effects."""
        await self.execute(await self.store.apply(event, self.clock()))

    async def execute(self, effects: list[Effect]) -> None:
        """Carry out every effect of one routing operation, in order. One that fails (a
        frame that cannot be encoded) is logged and skipped; it must not drop the effects
        after it, which tell clients what the store already holds (issue 16, finding 1).
        An offer that could not be sent is handed back at once, as if its advisor had
        declined it: otherwise they would stay reserved for an offer they never saw, and
        be set away when its timer ran out."""
        observations: list[Observe] = []
        remote: list[tuple[str, str, dict[str, Any]]] = []
        unsent: list[OfferDeclined] = []
        for effect in effects:
            try:
                self._carry_out(effect, observations, remote)
            except Exception:
                log.exception("routing effect %s failed; the others go on", type(effect).__name__)
                if isinstance(effect, Send) and isinstance(effect.message, HelpOffer):
                    unsent.append(OfferDeclined(effect.sub, effect.message.request_id))
        if self.relay is not None:
            # Every frame of one operation to the other nodes in one round trip.
            await self.relay.send_many(remote)
        if observations:
            await self.monitor.observe(observations, self.clock())
        for declined in unsent:
            with contextlib.suppress(ProtocolError):  # the offer moved on meanwhile
                await self.apply(declined)

    def _carry_out(
        self,
        effect: Effect,
        observations: list[Observe],
        remote: list[tuple[str, str, dict[str, Any]]],
    ) -> None:
        if isinstance(effect, Observe):
            observations.append(effect)
        elif isinstance(effect, Send):
            frame = effect.message.to_frame()
            self._deliver_local(effect.role, effect.sub, frame)
            remote.append((effect.role, effect.sub, frame))
        elif isinstance(effect, StartTimer):
            self.timers.start(effect.key, effect.delay_s, self._expiry(effect))
        elif isinstance(effect, CancelTimer):
            self.timers.cancel(effect.key)

    async def deliver(self, role: str, sub: str, frame: dict[str, Any]) -> int:
        """Send ``frame`` to every socket of (role, sub), here and on other nodes; return
        how many sockets here plus how many other nodes took it."""
        delivered = self._deliver_local(role, sub, frame)
        if self.relay is not None:
            delivered += await self.relay.send(role, sub, frame)
        return delivered

    def _deliver_local(self, role: str, sub: str, frame: dict[str, Any]) -> int:
        delivered = self.hub.send(role, sub, frame)
        if delivered and role == "user":
            if frame["type"] == "help.queued":
                self._waiting[sub] = frame["request_id"]
            elif frame["type"] in ("help.closed", "session.started"):
                self._waiting.pop(sub, None)
        return delivered

    def _expiry(self, timer: StartTimer) -> Callable[[], Any]:
        async def fire() -> None:
            await self.apply(OfferExpired(timer.request_id, timer.offer_no))

        return fire

    # ------------------------------------------------------------ queue summary
    async def run_summaries(self) -> None:
        """Tell advisors and ops about the queue when it changes, at most once an interval."""
        while True:
            await asyncio.sleep(self.settings.summary_interval_s)
            try:
                await self.publish_summary()
            except Exception:
                log.exception("queue summary failed")

    async def run_positions(self) -> None:
        """Tell the users connected here when their position or estimate moved."""
        while True:
            await asyncio.sleep(self.settings.position_interval_s)
            try:
                await self.update_positions()
            except Exception:
                log.exception("position updates failed")

    async def update_positions(self, chunk: int = 500) -> None:
        """One pass over the waiting users connected here, a chunk at a time so that a long
        queue never holds the event loop for the whole pass."""
        waiting = list(self._waiting.values())
        for start in range(0, len(waiting), chunk):
            part = waiting[start : start + chunk]
            await self.execute(await self.store.position_updates(part, self.clock()))
            await asyncio.sleep(0)

    async def run_housekeeping(self) -> None:
        """Every interval: expire requests past their time-to-live, evaluate the alerts,
        and give the ops consoles connected here a fresh view."""
        while True:
            await asyncio.sleep(self.settings.ops_interval_s)
            try:
                await self.housekeeping()
            except Exception:
                log.exception("housekeeping failed")

    async def housekeeping(self) -> None:
        now = self.clock()
        for request_id in await self.store.due_requests(now):
            await self.apply(RequestExpired(request_id))
        queue = await self.store.summary(now)
        for event in await self.monitor.check_alerts(queue, now):
            self.hub.broadcast(("ops",), event.to_frame())
        if self.hub.has_role("ops"):
            snapshot = await self.monitor.snapshot(self.store, queue, now)
            self.hub.broadcast(("ops",), snapshot.to_frame())

    async def publish_summary(self) -> None:
        summary = await self.store.summary(self.clock())
        if summary.shape() != self._last_summary:
            self._last_summary = summary.shape()
            self.hub.broadcast(WATCHERS, summary.to_frame())

    async def close(self) -> None:
        if self.relay is not None:
            await self.relay.close()
        await self.monitor.close()
        await self.timers.close()
        await self.store.close()


def _decode(text: str) -> dict[str, Any]:
    try:
        frame = orjson.loads(text)
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"not JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise ProtocolError(ErrorCode.INVALID_JSON, "a frame must be a JSON object")
    return frame


def _frame_id(frame: dict[str, Any]) -> int | None:
    frame_id = frame.get("id")
    if frame_id is None:
        return None
    if isinstance(frame_id, bool) or not isinstance(frame_id, int):
        raise ProtocolError(ErrorCode.INVALID_FIELD, 'field "id" must be an integer')
    return frame_id


def _lookup(frame: dict[str, Any], conn: Connection) -> HandlerSpec:
    type_ = frame.get("type")
    if not isinstance(type_, str):
        raise ProtocolError(ErrorCode.INVALID_FIELD, 'field "type" must be a string')
    spec = REGISTRY.get(type_)
    if spec is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f'unknown type "{type_[:64]}"')
    if conn.identity.role not in spec.roles:
        raise ProtocolError(
            ErrorCode.FORBIDDEN, f'role "{conn.identity.role}" may not send "{type_}"'
        )
    return spec
