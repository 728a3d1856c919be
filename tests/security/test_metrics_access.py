"""Who may read /metrics (issue 16, finding 10): open by default, ops only with an ops
token or a scrape token, or on its own listener."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from mayday.settings import Settings, SettingsError
from mayday.transport.app import bound_port, create_app, start
from mayday.transport.ops_api import METRICS_RUNNER
from tests.conftest import SECRET, Harness, StartServer

SCRAPE = "scrape-0123456789abcdef0123456789abcdef"


async def scrape(base: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(base + "/metrics", headers=headers) as r:
        body = await r.text()
        if r.status == 200:
            assert "mayday_queue_depth" in body
        return r.status


async def test_metrics_are_open_by_default(mayday: Harness) -> None:
    """Without settings, /metrics answers anyone on the main port (as Prometheus and the
    Grafana dashboard expect)."""
    assert await scrape(mayday.http_url) == 200


async def test_ops_only_metrics_need_an_ops_token(start_server: StartServer) -> None:
    """MAYDAY_METRICS_AUTH=ops: no token 401, a user's or advisor's token 403, an ops
    token 200."""
    h = await start_server(metrics_auth="ops")
    assert await scrape(h.http_url) == 401
    assert await scrape(h.http_url, h.token("user", "u1")) == 403
    assert await scrape(h.http_url, h.token("advisor", "a1")) == 403
    assert await scrape(h.http_url, h.token("ops", "o1")) == 200
    assert await scrape(h.http_url, SCRAPE) == 401


async def test_a_scrape_token_lets_prometheus_in(start_server: StartServer) -> None:
    """MAYDAY_METRICS_TOKEN: that bearer token (which does not expire, for Prometheus) or an
    ops token is let in; another string or none is refused."""
    h = await start_server(metrics_token=SCRAPE)
    assert await scrape(h.http_url, SCRAPE) == 200
    assert await scrape(h.http_url, h.token("ops", "o1")) == 200
    assert await scrape(h.http_url, SCRAPE[:-1] + "X") == 401
    assert await scrape(h.http_url) == 401


async def test_metrics_on_their_own_listener() -> None:
    """MAYDAY_METRICS_PORT serves /metrics on its own listener only (404 on the main port),
    with the same access rules, and stops with the server."""
    settings = Settings(port=0, jwt_secret=SECRET, metrics_port=0, metrics_token=SCRAPE)
    app = create_app(settings)
    runner = await start(settings, app)
    try:
        main = f"http://127.0.0.1:{bound_port(runner)}"
        metrics_port = bound_port(app[METRICS_RUNNER])
        assert metrics_port != bound_port(runner)
        side = f"http://127.0.0.1:{metrics_port}"
        assert await scrape(main, SCRAPE) == 404
        assert await scrape(side, SCRAPE) == 200
        assert await scrape(side) == 401
        async with aiohttp.ClientSession() as http, http.get(side + "/healthz") as r:
            assert r.status == 404
    finally:
        await asyncio.wait_for(runner.cleanup(), 60)
    with pytest.raises(aiohttp.ClientConnectionError):
        await scrape(side, SCRAPE)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAYDAY_METRICS_AUTH": "basic"}, "MAYDAY_METRICS_AUTH"),
        ({"MAYDAY_METRICS_TOKEN": "short"}, "MAYDAY_METRICS_TOKEN"),
        ({"MAYDAY_METRICS_TOKEN": "x" * 31 + " y"}, "MAYDAY_METRICS_TOKEN"),
        ({"MAYDAY_METRICS_PORT": "8080", "MAYDAY_PORT": "8080"}, "MAYDAY_METRICS_PORT"),
        ({"MAYDAY_METRICS_PORT": "70000"}, "MAYDAY_METRICS_PORT"),
    ],
)
def test_bad_metrics_settings_are_refused(env: dict[str, str], message: str) -> None:
    """A metrics setting the server cannot honour stops it, naming the variable."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
