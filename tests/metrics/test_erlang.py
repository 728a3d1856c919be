"""Erlang C against values worked by hand and against the textbook sum formula."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mayday.metrics.erlang import mean_wait, service_level, wait_probability


def textbook(n: int, a: float) -> float:
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def test_hand_worked_values() -> None:
    """A = 2 erlangs on 3 advisors: P(wait) = 4 / 9; the mean wait and SL follow."""
    assert wait_probability(3, 2.0) == pytest.approx(4 / 9)
    # 2 erlangs = 1 request every 60 s with 120 s handle time.
    assert mean_wait(3, 1 / 60, 120.0) == pytest.approx(4 / 9 * 120 / 1)
    assert service_level(3, 1 / 60, 120.0, 9.0) == pytest.approx(1 - 4 / 9 * math.exp(-9 / 120))


def test_overload_and_idle() -> None:
    """Load at or past capacity has no steady state; no load never waits."""
    assert wait_probability(3, 3.0) is None
    assert service_level(2, 1.0, 5.0, 9.0) is None
    assert wait_probability(3, 0.0) == 0.0
    assert wait_probability(0, 0.5) is None


@given(st.integers(1, 60), st.floats(0.01, 0.99))
def test_recursion_matches_the_textbook_sum(n: int, utilisation: float) -> None:
    """The stable recursion equals the factorial formula wherever both are computable."""
    load = n * utilisation
    assert wait_probability(n, load) == pytest.approx(textbook(n, load), rel=1e-9)
