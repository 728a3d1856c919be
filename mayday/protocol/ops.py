"""Frames for the ops dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from mayday.protocol.base import Outbound


@dataclass(frozen=True)
class OpsUpdate(Outbound):
    """Everything the ops dashboard shows, every ``MAYDAY_OPS_INTERVAL_S``; also the body
    of ``GET /api/ops/summary``. The nested objects are described in docs/protocol.md."""

    TYPE: ClassVar[str] = "ops.update"
    time: float
    target_s: float
    service_level_goal: float
    queue: dict[str, Any]
    windows: dict[str, Any]
    predicted: dict[str, float | None]
    alerts: dict[str, dict[str, Any]]
    recent: list[dict[str, Any]]
    # The advisors online, at most ``MAX_ADVISOR_ROWS`` (mayday/metrics/monitor.py).
    advisors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class OpsAlert(Outbound):
    """An alert raised or cleared: announced once per change, across all processes."""

    TYPE: ClassVar[str] = "ops.alert"
    name: str
    state: str
    message: str
    value: float
    at: float
