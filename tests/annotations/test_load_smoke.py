"""A short run of load_tests/annotations.py, so that the benchmark cannot rot unnoticed."""

from __future__ import annotations

from load_tests.annotations import run_load
from load_tests.common import SECRET, mayday_server, percentile


async def test_annotation_benchmark_sees_every_batch() -> None:
    """One second of three sessions drawing at 60 points a second: every stroke.points
    frame arrives, none is refused, and latencies are measured."""
    with mayday_server(env={"MAYDAY_JWT_SECRET": SECRET}) as server:
        run = await run_load(
            server.ws_url,
            server.ws_url,
            server.token,
            sessions=3,
            points_per_s=60,
            seconds=1.0,
            warmup=0.2,
            cpu=server.cpu_seconds,
        )
    assert run.sent == run.received >= 3 * 29
    assert run.errors == 0 and run.sent_at == {}
    assert 0 < percentile(run.latencies, 50) <= percentile(run.latencies, 99) < 1.0
    assert run.server_cpu_s > 0
