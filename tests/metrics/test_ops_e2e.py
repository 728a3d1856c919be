"""The SLA outputs through the real app: /metrics, the ops API and alerts with a webhook."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from mayday.client import HelpOffer, MaydayClient, OpsAlert, SessionStarted
from tests.conftest import Harness, StartServer


class Clock:
    """A hand-set clock for the server."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def scripted_session(h: Harness) -> tuple[MaydayClient, MaydayClient, SessionStarted]:
    advisor = await h.client("advisor", "a1", name="Ada")
    await advisor.set_available()
    user = await h.client("user", "u1")
    await user.request_help(topic="wifi")
    started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
    await user.call("media.state", session_id=started.session_id, state="first_frame")
    await advisor.end_session(started.session_id)
    await user.call("ping")
    return user, advisor, started


async def get(h: Harness, path: str, token: str | None = None) -> aiohttp.ClientResponse:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http:
        response = await http.get(h.http_url + path, headers=headers)
        await response.read()
        return response


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


async def test_metrics_parse_back_with_the_scripted_counts(mayday: Harness) -> None:
    """/metrics parses with prometheus_client's own parser and counts the scripted session."""
    await scripted_session(mayday)
    response = await get(mayday, "/metrics")
    assert response.status == 200
    found = families((await response.read()).decode())
    ttadv = {
        (s.name, s.labels.get("topic"), s.labels.get("le")): s.value
        for s in found["mayday_time_to_advisor_seconds"].samples
    }
    assert ttadv[("mayday_time_to_advisor_seconds_count", "wifi", None)] == 1
    assert ttadv[("mayday_time_to_advisor_seconds_bucket", "wifi", "+Inf")] == 1
    assert ttadv[("mayday_time_to_advisor_seconds_bucket", "wifi", "9.0")] == 1
    tta = found["mayday_time_to_accept_seconds"].samples
    assert [s.value for s in tta if s.name.endswith("_count")] == [1]
    outcomes = {s.labels["outcome"]: s.value for s in found["mayday_requests"].samples}
    assert outcomes == {"answered": 1.0}
    assert found["mayday_queue_depth"].samples[0].value == 0
    advisors = {s.labels["state"]: s.value for s in found["mayday_advisors"].samples}
    assert advisors == {"available": 1.0, "reserved": 0.0, "busy": 0.0, "away": 0.0}


async def test_ops_api_needs_the_ops_role_and_gives_json_and_csv(mayday: Harness) -> None:
    """The ops API refuses other roles, summarises the window and exports timelines as CSV."""
    _, _, started = await scripted_session(mayday)
    assert (await get(mayday, "/api/ops/summary")).status == 401
    assert (await get(mayday, "/api/ops/summary", mayday.token("user", "u1"))).status == 403
    ops = mayday.token("ops", "o1")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ops}"}) as http:
        async with http.get(mayday.http_url + "/api/ops/summary") as r:
            summary = await r.json()
        async with http.get(
            mayday.http_url + "/api/ops/requests", params={"outcome": "ended"}
        ) as r:
            listed = await r.json()
        async with http.get(mayday.http_url + "/api/ops/requests?format=csv&advisor=a1") as r:
            rows = list(csv.reader(io.StringIO(await r.text())))
        async with http.get(mayday.http_url + "/api/ops/requests?outcome=expired") as r:
            none = await r.json()
    five = summary["windows"]["5m"]["all"]
    assert (five["answered"], five["first_frames"], five["service_level"]) == (1, 1, 1.0)
    assert summary["recent"][0]["request_id"] == started.request_id
    [view] = listed["requests"]
    assert (view["request_id"], view["advisor"], view["outcome"]) == (
        started.request_id,
        "a1",
        "ended",
    )
    assert view["time_to_advisor_s"] >= view["time_to_accept_s"] >= 0
    assert rows[0][:4] == ["request_id", "user_id", "topic", "outcome"]
    assert rows[1][:4] == [started.request_id, "u1", "wifi", "ended"]
    assert none["count"] == 0


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP receiver on loopback that keeps what it is sent."""
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/hook", received
    await runner.cleanup()


async def test_oldest_wait_alert_is_raised_ahead_of_the_target_and_cleared(
    start_server: StartServer, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    """No advisor free: at 2/3 of the target the alert is raised once, then cleared once."""
    url, received = webhook
    clock = Clock(1_000_000.0)
    h = await start_server(alert_webhook_url=url, ops_interval_s=3600.0, clock=clock)
    ops = await h.client("ops", "o1")
    user = await h.client("user", "u1")
    await user.request_help()
    clock.now += 5.9  # under 2/3 of 9 s
    await h.server.housekeeping()
    clock.now += 0.2  # past 6 s with no advisor free
    await h.server.housekeeping()
    await h.server.housekeeping()  # the same episode: no second raise
    advisor = await h.client("advisor", "a1")
    await advisor.set_available()
    await advisor.accept((await advisor.next(HelpOffer)).request_id)
    clock.now += 1.0
    await h.server.housekeeping()
    alerts = [await ops.next(OpsAlert) for _ in range(2)]
    states = [(e.name, e.state) for e in alerts]
    assert states == [("oldest_wait", "raised"), ("oldest_wait", "cleared")]
    await asyncio.sleep(0.3)
    assert not [e for e in ops.pending_events() if isinstance(e, OpsAlert)]
    async with asyncio.timeout(10):
        while len(received) < 2:  # noqa: ASYNC110 (the receiver runs in this loop)
            await asyncio.sleep(0.05)
    assert [(r["name"], r["state"]) for r in received] == states
    assert "no advisor free" in received[0]["message"]
