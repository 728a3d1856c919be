"""Erlang C: what queueing theory predicts for a given load, to hold the measures against.

With arrivals at rate ``lam`` per second, mean handle time ``h`` seconds and
``n`` advisors, the offered load is ``a = lam * h`` erlangs. If ``a >= n``
the queue grows without bound: every prediction is then None.
"""

from __future__ import annotations

import math


def wait_probability(n: int, load: float) -> float | None:
    """P(a request has to wait), Erlang C, computed by the stable Erlang B recursion."""
    if n <= 0 or load >= n:
        return None
    if load <= 0:
        return 0.0
    b = 1.0
    for k in range(1, n + 1):
        b = load * b / (k + load * b)
    return n * b / (n - load * (1 - b))


def service_level(n: int, arrivals_per_s: float, handle_s: float, target_s: float) -> float | None:
    """Predicted share of requests answered within ``target_s``."""
    load = arrivals_per_s * handle_s
    p = wait_probability(n, load)
    if p is None or handle_s <= 0:
        return None
    return 1 - p * math.exp(-(n - load) * target_s / handle_s)


def mean_wait(n: int, arrivals_per_s: float, handle_s: float) -> float | None:
    """Predicted mean wait in seconds over all requests (those not waiting count as 0)."""
    load = arrivals_per_s * handle_s
    p = wait_probability(n, load)
    if p is None or handle_s <= 0:
        return None
    return p * handle_s / (n - load)
