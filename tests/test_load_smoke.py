"""A short run of the pairing benchmark, so load_tests/ cannot rot unnoticed."""

from __future__ import annotations

from load_tests.common import SECRET, mayday_server, percentile
from load_tests.pairing import run


async def test_pairing_benchmark_sees_every_offer() -> None:
    """Every help request in a one-second run reaches an advisor as an offer."""
    with mayday_server(env={"MAYDAY_JWT_SECRET": SECRET}) as server:
        latencies = await run(server.ws_url, server.token, rate=40, seconds=1, advisors=5)
    assert len(latencies) == 40
    assert 0 < percentile(latencies, 50) <= percentile(latencies, 99) < 5.0


def test_percentile_is_nearest_rank() -> None:
    """Nearest-rank percentiles on a known list."""
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50.0,
        99.0,
        100.0,
    )
