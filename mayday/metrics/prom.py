"""Prometheus metrics of one process, in its own registry.

Counters and histograms count what this process observed: sum them over
processes. Gauges (queue depth, oldest wait, advisors by state) describe the
shared queue, so every process reports the same value: take max, not sum.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from mayday.metrics.tally import bucket_edges
from mayday.protocol.messages import QueueSummary
from mayday.routing.events import Observe

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ADVISOR_STATES = ("available", "reserved", "busy", "away")


class PromMetrics:
    def __init__(self, target_s: float, service_level_goal: float = 0.8) -> None:
        self.registry = CollectorRegistry()
        buckets = (*bucket_edges(target_s), float("inf"))
        r = self.registry
        self.time_to_advisor = Histogram(
            "mayday_time_to_advisor_seconds",
            "Help pressed to the advisor's first video frame on the tablet.",
            ["topic"],
            buckets=buckets,
            registry=r,
        )
        self.transfer_to_advisor = Histogram(
            "mayday_transfer_to_advisor_seconds",
            "A transfer asked to the new advisor's first video frame on the tablet.",
            ["topic"],
            buckets=buckets,
            registry=r,
        )
        self.time_to_accept = Histogram(
            "mayday_time_to_accept_seconds",
            "Help pressed to an advisor accepting.",
            ["topic"],
            buckets=buckets,
            registry=r,
        )
        self.time_to_abandon = Histogram(
            "mayday_time_to_abandon_seconds",
            "Help pressed to the user giving up (cancel or disconnect while waiting).",
            ["topic"],
            buckets=buckets,
            registry=r,
        )
        self.requests = Counter(
            "mayday_requests", "Requests by outcome.", ["outcome", "topic"], registry=r
        )
        self.missed_offers = Counter(
            "mayday_missed_offers", "Offers that timed out unanswered.", registry=r
        )
        self.advisor_seconds = Counter(
            "mayday_advisor_seconds", "Advisor time spent by state.", ["state"], registry=r
        )
        self.drops = Counter(
            "mayday_drops",
            "Identities whose last socket closed without leaving.",
            ["role"],
            registry=r,
        )
        self.returns = Histogram(
            "mayday_return_seconds",
            "How long a dropped identity was away before it came back.",
            ["role"],
            buckets=(0.5, 1, 2, 3, 5, 10, 15, 20, 30, 60, float("inf")),
            registry=r,
        )
        self.grace_expiries = Counter(
            "mayday_grace_expiries",
            "Dropped identities that did not come back in time.",
            ["role"],
            registry=r,
        )
        self.resumes = Counter(
            "mayday_resumes",
            "Sockets that asked to resume, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.replayed_frames = Counter(
            "mayday_replayed_frames", "Frames sent again to resumed sockets.", registry=r
        )
        self.queue_depth = Gauge("mayday_queue_depth", "Requests waiting.", registry=r)
        self.oldest_wait = Gauge(
            "mayday_oldest_wait_seconds",
            "How long the oldest waiting request has waited.",
            registry=r,
        )
        self.advisors = Gauge("mayday_advisors", "Advisors online by state.", ["state"], registry=r)
        self.target = Gauge("mayday_target_seconds", "The time-to-advisor target.", registry=r)
        self.target.set(target_s)
        self.goal = Gauge(
            "mayday_service_level_goal", "The service level goal (share in target).", registry=r
        )
        self.goal.set(service_level_goal)

    def observe(self, ob: Observe) -> None:
        topic = ob.topic or "none"
        waits = {
            "time_to_advisor": self.time_to_advisor,
            "transfer_to_advisor": self.transfer_to_advisor,
            "time_to_accept": self.time_to_accept,
        }
        if ob.metric in waits:
            waits[ob.metric].labels(topic).observe(ob.value)
        elif ob.metric == "outcome":
            self.requests.labels(ob.label, topic).inc()
            if ob.label in ("cancelled", "abandoned"):
                self.time_to_abandon.labels(topic).observe(ob.value)
        elif ob.metric == "missed_offer":
            self.missed_offers.inc()
        elif ob.metric == "advisor_time":
            self.advisor_seconds.labels(ob.label).inc(max(0.0, ob.value))
        elif ob.metric == "drop":
            self.drops.labels(ob.label).inc()
        elif ob.metric == "returned":
            self.returns.labels(ob.label).observe(max(0.0, ob.value))
        elif ob.metric == "grace_expired":
            self.grace_expiries.labels(ob.label).inc()

    def resumed(self, asked: bool, resumed: bool) -> None:
        """A socket opened: count whether it asked to resume, and whether it could."""
        if asked:
            self.resumes.labels("resumed" if resumed else "resynced").inc()

    def set_queue(self, summary: QueueSummary) -> None:
        self.queue_depth.set(summary.waiting)
        self.oldest_wait.set(summary.oldest_wait_s or 0.0)
        for state in ADVISOR_STATES:
            self.advisors.labels(state).set(getattr(summary, f"advisors_{state}"))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
