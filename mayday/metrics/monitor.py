"""The SLA monitor of one process: observations in, Prometheus, shared tallies, ops views
and alerts out."""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from mayday.metrics import erlang
from mayday.metrics.alerts import AlertLedger, AlertRules, changes
from mayday.metrics.labels import TopicLabels
from mayday.metrics.prom import PromMetrics
from mayday.metrics.stats import ADVISORS, ByTopic, StatsStore
from mayday.metrics.tally import Measures, Rules, Tally, measures, total
from mayday.metrics.timeline import request_view
from mayday.protocol.messages import QueueSummary
from mayday.protocol.ops import OpsAlert, OpsUpdate
from mayday.routing.events import Observe
from mayday.stores.base import Store

log = logging.getLogger(__name__)

WINDOWS = {"5m": 300.0, "1h": 3600.0}
# Rows of the ops advisor table: a live table longer than this is not read, and every
# ops console gets it every second. The queue counts still count every advisor.
MAX_ADVISOR_ROWS = 100


class Monitor:
    def __init__(
        self,
        rules: Rules,
        alert_rules: AlertRules,
        stats: StatsStore,
        ledger: AlertLedger,
        topics: TopicLabels | None = None,
    ) -> None:
        self.rules, self.alert_rules = rules, alert_rules
        self.stats, self.ledger = stats, ledger
        self.topics = topics or TopicLabels()
        self.prom = PromMetrics(rules.target_s, alert_rules.service_level_goal)

    async def observe(self, observations: list[Observe], now: float) -> None:
        """Count each observation under its topic's bounded label (``TopicLabels``)."""
        labelled = [replace(ob, topic=await self.topics.label(ob.topic)) for ob in observations]
        for ob in labelled:
            self.prom.observe(ob)
        await self.stats.record(labelled, now)

    async def windows(self, now: float) -> dict[str, ByTopic]:
        spans = {name: now - seconds for name, seconds in WINDOWS.items()}
        spans["today"] = _midnight_utc(now)
        return {name: await self.stats.window(since, now) for name, since in spans.items()}

    async def snapshot(self, store: Store, queue: QueueSummary, now: float) -> OpsUpdate:
        """Everything the ops dashboard shows: queue, advisors, measures by window, alerts."""
        windows = await self.windows(now)
        recent = await store.recent_requests(now - 3600, 20)
        five = measures(total(windows["5m"].values()), self.rules)
        return OpsUpdate(
            time=now,
            target_s=self.rules.target_s,
            service_level_goal=self.alert_rules.service_level_goal,
            queue={k: v for k, v in queue.to_frame().items() if k != "type"},
            windows={
                name: {
                    "all": measures(total(by_topic.values()), self.rules).as_dict(),
                    "topics": {
                        t: measures(v, self.rules).as_dict()
                        for t, v in by_topic.items()
                        if t != ADVISORS
                    },
                }
                for name, by_topic in windows.items()
            },
            predicted=self.predicted(total(windows["1h"].values()), queue),
            alerts=await self.live_alerts(queue, five),
            recent=[_brief(request_view(r)) for r in recent],
            advisors=await self.advisor_rows(store, now),
        )

    async def live_alerts(self, queue: QueueSummary, recent: Measures) -> dict[str, Any]:
        """The raised alerts, each with the message and value of now while it still holds
        (``since`` stays the moment it was raised): the banner follows the live figure."""
        active = await self.ledger.active()
        holding = self.alert_rules.evaluate(
            queue.oldest_wait_s,
            queue.advisors_available,
            recent,
            unoffered=queue.waiting - queue.advisors_reserved,
            declined_by_all=queue.declined_by_all,
        )
        for alert in holding:
            if alert.name in active:
                active[alert.name] = {
                    **active[alert.name],
                    "message": alert.message,
                    "value": alert.value,
                }
        return active

    async def advisor_rows(self, store: Store, now: float) -> list[dict[str, Any]]:
        """The advisor table: who is online, in which state since when, and today's calls,
        declines and missed offers (UTC day)."""
        today = await self.stats.advisor_day(now)
        rows = []
        for adv in await store.advisors(MAX_ADVISOR_ROWS):
            counts = today.get(adv.id, {})
            rows.append(
                {
                    "id": adv.id,
                    "name": adv.name,
                    "state": adv.status.value,
                    "since": adv.status_since,
                    "calls_today": int(counts.get("calls", 0)),
                    "declines_today": int(counts.get("declines", 0)),
                    "missed_offers_today": int(counts.get("missed_offers", 0)),
                }
            )
        return rows

    def predicted(self, hour: Tally, queue: QueueSummary) -> dict[str, float | None]:
        """Erlang C for the last hour's load on the advisors online now."""
        answered = hour.get("accepted", 0.0)
        arrivals = (answered + hour.get("abandoned", 0.0) + hour.get("expired", 0.0)) / 3600
        handle = hour.get("busy_s", 0.0) / answered if answered else None
        n = queue.advisors_available + queue.advisors_reserved + queue.advisors_busy
        load = None if handle is None else arrivals * handle
        return {
            "arrivals_per_s": arrivals,
            "handle_s": handle,
            "advisors": n,
            "wait_probability": None if load is None else erlang.wait_probability(n, load),
            "service_level": None
            if handle is None
            else erlang.service_level(n, arrivals, handle, self.rules.target_s),
        }

    async def check_alerts(self, queue: QueueSummary, now: float) -> list[OpsAlert]:
        """Evaluate the alert rules; return the changes this process announced (the server
        tells the ops consoles and queues the ``alert.*`` webhooks)."""
        self.prom.set_queue(queue)
        recent = measures(total((await self.stats.window(now - 300, now)).values()), self.rules)
        holding = self.alert_rules.evaluate(
            queue.oldest_wait_s,
            queue.advisors_available,
            recent,
            unoffered=queue.waiting - queue.advisors_reserved,
            declined_by_all=queue.declined_by_all,
        )
        events = await changes(self.alert_rules, self.ledger, holding, now)
        for event in events:
            log.warning("alert %s %s: %s", event.name, event.state, event.message)
        return events

    async def close(self) -> None:
        """Nothing to stop: alerts are posted by the webhook sender."""


def _midnight_utc(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def _brief(view: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "request_id",
        "topic",
        "outcome",
        "advisor",
        "advisor_name",
        "user_name",
        "priority",
        "requested_at",
        "end_reason",
        "ended_by",
        "rating_score",
        "transfers",
    )
    brief = {k: view[k] for k in keep}
    for k in ("time_to_accept_s", "time_to_advisor_s", "duration_s"):
        v = view[k]
        brief[k] = None if v is None or math.isnan(v) else round(v, 3)
    return brief
