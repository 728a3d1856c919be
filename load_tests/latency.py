"""Latency histograms: HdrHistogram when the ``bench`` extra is installed, exact otherwise.

HdrHistogram keeps three significant digits over nine orders of magnitude
in a fixed few kilobytes, whatever the number of samples, which is what a
long simulator run needs. The exact fallback (a sorted list, nearest rank)
keeps the simulator and its smoke test running on an install without the
extra; ``Latencies.kind`` says which one measured.
"""

from __future__ import annotations

import math
from typing import Any

from load_tests.common import percentile

try:
    from hdrh.histogram import HdrHistogram
except ImportError:  # the bench extra is not installed
    HdrHistogram = None

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
DIGITS = 3


class Latencies:
    """Durations in seconds, recorded with microsecond resolution."""

    def __init__(self, *, exact: bool = False) -> None:
        self.kind = "exact" if exact or HdrHistogram is None else "hdr"
        self._hdr: Any = None
        self._values: list[float] = []
        if self.kind == "hdr":
            self._hdr = HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)
        self._count = 0
        self._sum = 0.0
        self._max = 0.0

    def record(self, seconds: float) -> None:
        value = min(max(seconds, 0.0), HIGHEST_US / 1e6)
        self._count += 1
        self._sum += value
        self._max = max(self._max, value)
        if self._hdr is not None:
            self._hdr.record_value(max(LOWEST_US, round(value * 1e6)))
        else:
            self._values.append(value)

    @property
    def count(self) -> int:
        return self._count

    @property
    def mean(self) -> float:
        return self._sum / self._count if self._count else math.nan

    @property
    def max(self) -> float:
        return self._max if self._count else math.nan

    def p(self, q: float) -> float:
        """The ``q``-th percentile (0..100) in seconds; NaN when nothing was recorded."""
        if not self._count:
            return math.nan
        if self._hdr is not None:
            return float(self._hdr.get_value_at_percentile(q)) / 1e6
        return percentile(self._values, q)

    def spectrum(self, points: int = 60) -> list[tuple[float, float]]:
        """(percentile, seconds) pairs from p0 towards p99.99, denser towards the tail, and
        no further than the samples can tell (p99.9 needs a thousand)."""
        if not self._count:
            return []
        qs = [100 * (1 - 10 ** (-4 * i / (points - 1))) for i in range(points)]
        return [(q, self.p(q)) for q in qs if 1 / (1 - q / 100) <= self._count]

    def summary(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            "mean": self.mean,
            "p50": self.p(50),
            "p90": self.p(90),
            "p99": self.p(99),
            "max": self.max,
        }
