"""Queue each event for the endpoints that want it, and post the due deliveries.

``emit`` writes the deliveries to the outbox before it returns (a restart loses none);
the loop claims the due ones, posts each, and settles it: 2xx delivered; 410 disables
the endpoint (it asked to be left alone); anything else (another status, a timeout, no
connection) is tried again after the next delay of the schedule, with jitter, or later
when the answer said ``Retry-After``; once the schedule is spent, failed. The delays
are counted from each attempt, as Svix and the Standard Webhooks specification do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from mayday.webhooks.endpoints import Endpoint, headers
from mayday.webhooks.outbox import Attempt, Delivery, Outbox
from mayday.webhooks.schedule import RETRY_SCHEDULE_S, retry_after_s, retry_delay

log = logging.getLogger(__name__)

TIMEOUT_S = 15.0
IN_FLIGHT = 16
POLL_S = 1.0

Event = tuple[str, dict[str, Any]]


def body_of(endpoint: Endpoint, event_type: str, data: dict[str, Any], now: float) -> str:
    """The JSON an endpoint gets: ``{type, timestamp, data}``, or the alert frame alone
    for the old alert form."""
    if endpoint.legacy:
        return json.dumps(data, separators=(",", ":"))
    stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
    payload = {"type": event_type, "timestamp": stamp.replace("+00:00", "Z"), "data": data}
    return json.dumps(payload, separators=(",", ":"))


class Webhooks:
    def __init__(
        self,
        endpoints: Iterable[Endpoint],
        outbox: Outbox,
        clock: Callable[[], float] = time.time,
        *,
        schedule: tuple[float, ...] = RETRY_SCHEDULE_S,
        rng: random.Random | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.endpoints = {e.id: e for e in endpoints}
        self.outbox = outbox
        self.clock = clock
        self.schedule = schedule
        self.rng = rng or random.Random()
        self.timeout_s = timeout_s
        # No slower than the shortest retry: a due delivery waits at most one poll.
        self.poll_s = min(POLL_S, *schedule) if schedule else POLL_S
        self._disabled: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._flying: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------ queueing
    async def emit(self, event_type: str, data: dict[str, Any]) -> None:
        await self.emit_many([(event_type, data)])

    async def emit_many(self, events: list[Event]) -> None:
        """Queue the events for their endpoints (durably, before returning). A failure to
        queue is logged, not raised: the operation that caused the event has happened."""
        if not self.endpoints or not events:
            return
        now = self.clock()
        deliveries = [d for event in events for d in self._deliveries(event, now)]
        try:
            await self.outbox.add(deliveries)
        except Exception:
            log.exception("webhooks: %d deliveries could not be queued", len(deliveries))
            return
        self._wake.set()

    def _deliveries(self, event: Event, now: float) -> list[Delivery]:
        event_type, data = event
        webhook_id = "msg_" + secrets.token_urlsafe(18)
        return [
            Delivery(
                id=f"{webhook_id}.{e.id}",
                webhook_id=webhook_id,
                endpoint=e.id,
                type=event_type,
                body=body_of(e, event_type, data, now),
                created_at=now,
                next_at=now,
            )
            for e in self.endpoints.values()
            if e.wants(event_type) and e.id not in self._disabled
        ]

    # ------------------------------------------------------------ sending
    async def start(self) -> None:
        if self.endpoints:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
            self._loop = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stop posting; a delivery cut short is claimed again once its lease ends."""
        tasks = [t for t in (self._loop, *self._flying) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.pump()
            except Exception:
                log.exception("webhooks: the outbox could not be read; trying again")
            # asyncio.timeout, not wait_for, which in Python 3.11 can drop the cancel
            # that stops this loop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            self._wake.clear()

    async def pump(self) -> int:
        """Start posting the deliveries due now (as many as there is room for)."""
        room = IN_FLIGHT - len(self._flying)
        if room <= 0:
            return 0
        self._disabled = await self.outbox.disabled()
        # A claimed delivery is due again after twice the timeout, should this node die.
        due = await self.outbox.claim(self.clock(), 2 * self.timeout_s, room)
        for delivery in due:
            task = asyncio.create_task(self._attempt(delivery))
            self._flying.add(task)
            task.add_done_callback(self._flying.discard)
        return len(due)

    async def _attempt(self, delivery: Delivery) -> None:
        endpoint = self.endpoints.get(delivery.endpoint)
        started, at = time.perf_counter(), self.clock()
        status, error, retry_after = None, None, None
        if endpoint is None:
            error = "endpoint no longer configured"
        elif delivery.endpoint in self._disabled:
            error = "endpoint disabled (it answered 410)"
        else:
            status, error, retry_after = await self._post(endpoint, delivery)
        outcome, next_at = self._judge(delivery, endpoint, status, retry_after, at)
        shown = endpoint.shown() if endpoint else "(removed)"
        attempt = Attempt(
            delivery.id, delivery.webhook_id, delivery.endpoint, shown, delivery.type,
            delivery.attempts + 1, at, round((time.perf_counter() - started) * 1000, 1),
            status, error, outcome, next_at,
        )  # fmt: skip
        self._log(attempt)
        if status == 410:
            await self.outbox.disable(delivery.endpoint, {"at": at, "status": 410, "url": shown})
        await self.outbox.settle(delivery, attempt)

    def _judge(
        self,
        delivery: Delivery,
        endpoint: Endpoint | None,
        status: int | None,
        retry_after: str | None,
        at: float,
    ) -> tuple[str, float | None]:
        """The delivery's outcome after this attempt, and when it is next due."""
        if status is not None and 200 <= status < 300:
            return "delivered", None
        if status == 410 or (endpoint is not None and delivery.endpoint in self._disabled):
            return "disabled", None
        if endpoint is None:
            return "failed", None
        wait = retry_after_s(retry_after, at)
        delay = retry_delay(delivery.attempts + 1, self.schedule, wait, self.rng)
        return ("failed", None) if delay is None else ("retry", at + delay)

    async def _post(
        self, endpoint: Endpoint, delivery: Delivery
    ) -> tuple[int | None, str | None, str | None]:
        """POST once: the status, or why there was none, and the ``Retry-After``."""
        assert self._http is not None, "start() opens the client"
        body = delivery.body.encode()
        sent = headers(endpoint, delivery.webhook_id, int(self.clock()), body)
        try:
            async with self._http.post(
                endpoint.url, data=body, headers=sent, allow_redirects=False
            ) as r:
                await r.content.read(4096)  # what the receiver said is not kept
                return r.status, None, r.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, type(exc).__name__, None

    @staticmethod
    def _log(a: Attempt) -> None:
        answer = a.status if a.status is not None else a.error
        if a.outcome == "delivered":
            log.info("webhook %s to %s: %s (attempt %d)", a.type, a.url, answer, a.attempt)
        else:
            log.warning(
                "webhook %s to %s: %s (attempt %d) -> %s",
                a.type,
                a.url,
                answer,
                a.attempt,
                a.outcome,
            )
