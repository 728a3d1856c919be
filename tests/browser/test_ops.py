"""The ops dashboard in Chromium: a finished session's numbers as the ops API has them,
charts drawn by uPlot, and an alert raised before the target and cleared with a recovery."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from mayday.client import HelpOffer, MaydayClient, SessionEnded, SessionStarted
from tests.browser.helpers import DESKTOP, STATE_TIMEOUT_MS, Pages, screenshot_stats
from tests.conftest import Harness, StartServer

pytestmark = pytest.mark.browser

OPS_INTERVAL_S = 0.2
# The dashboard shows durations under ten seconds with two decimals, of a figure the
# ops.update frame already rounded to milliseconds (mayday/metrics/monitor.py): a
# 4.5 ms wait travels as 0.005 and shows as "0.01 s", so the two roundings add up.
SHOWN_PRECISION_S = 0.005 + 0.0005 + 1e-9
# What a figure shows while there is none (an en dash).
NOTHING = "\u2013"
# uPlot's stroke colours (webclient/js/ops-charts.js): p90 and the target line.
P90_RGB = (0x0A, 0x84, 0xFF)
TARGET_RGB = (0xFF, 0x3B, 0x30)


async def finished_session(h: Harness, topic: str) -> tuple[str, MaydayClient]:
    """An advisor goes available, a user asks, the advisor accepts, the tablet reports its
    first frame, the advisor ends the session. Returns the request id and the advisor."""
    advisor = await h.client("advisor", "adv-1", name="Ada")
    user = await h.client("user", "tab-1", name="Tab")
    await advisor.set_available()
    await user.request_help(topic=topic)
    offer = await advisor.next(HelpOffer)
    started = await advisor.accept(offer.request_id)
    await user.next(SessionStarted)
    await user.call("media.state", session_id=started.session_id, state="first_frame")
    await advisor.end_session(started.session_id)
    await user.next(SessionEnded)
    return started.request_id, advisor


async def ops_get(h: Harness, path: str) -> Any:
    token = h.token("ops", "ops-api")
    async with (
        aiohttp.ClientSession() as http,
        http.get(h.http_url + path, headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json()


async def open_dashboard(pages: Pages) -> Page:
    token = pages.harness.token("ops", "ops-1", name="Olga Ops")
    page = await pages.open(f"/ops?token={token}", DESKTOP)
    await expect(page.get_by_test_id("ops-status")).to_contain_text(
        "Live", timeout=STATE_TIMEOUT_MS
    )
    return page


def shown_seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+\.\d+) s", text.strip())
    assert match, f"not a duration in seconds: {text!r}"
    return float(match.group(1))


async def download_csv(page: Page) -> str:
    """Click Download CSV and read the file the browser saved; the token travelled in a
    header, never in an address the page asked for."""
    addresses: list[str] = []
    page.on("request", lambda r: addresses.append(r.url))
    async with page.expect_download() as info:
        await page.get_by_test_id("ops-csv").click()
    download = await info.value
    assert download.suggested_filename.endswith(".csv")
    path = await download.path()
    assert [a for a in addresses if "/api/ops/requests" in a], addresses
    assert not [a for a in addresses if "token=" in a], addresses
    return path.read_text()


async def expect_chart_colours(
    page: Page, testid: str, colours: list[tuple[int, int, int]], at_least: int = 20
) -> None:
    """Wait until the chart's canvas has at least ``at_least`` pixels of each colour (near
    enough for anti-aliasing), read from a copy so the chart's own canvas is never read."""
    await page.wait_for_function(
        """([testid, colours, atLeast]) => {
          const chart = document.querySelector(`[data-testid="${testid}"] canvas`);
          if (!chart || !chart.width) return false;
          const copy = document.createElement("canvas");
          copy.width = chart.width;
          copy.height = chart.height;
          const ctx = copy.getContext("2d", { willReadFrequently: true });
          ctx.drawImage(chart, 0, 0);
          const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
          const counts = colours.map(() => 0);
          for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] < 200) continue;
            colours.forEach((rgb, k) => {
              if (rgb.every((c, j) => Math.abs(data[i + j] - c) < 24)) counts[k]++;
            });
          }
          return counts.every((n) => n >= atLeast);
        }""",
        arg=[testid, [list(c) for c in colours], at_least],
        polling=100,
        timeout=STATE_TIMEOUT_MS,
    )


async def test_dashboard_shows_a_finished_session(
    start_server: StartServer, browser: Browser
) -> None:
    """After one answered session the dashboard shows 1 answered, the request's row with
    its outcome and advisor, the p90 time to advisor of GET /api/ops/summary, and charts."""
    h = await start_server(ops_interval_s=OPS_INTERVAL_S)
    request_id, _advisor = await finished_session(h, topic="billing")
    summary = await ops_get(h, "/api/ops/summary")
    timelines = await ops_get(h, "/api/ops/requests")
    five = summary["windows"]["5m"]["all"]
    assert five["answered"] == 1 and five["first_frames"] == 1
    view = next(v for v in timelines["requests"] if v["request_id"] == request_id)

    pages = Pages(browser, h)
    page = await open_dashboard(pages)
    await expect(page.get_by_test_id("ops-answered")).to_have_text("1")
    await expect(page.get_by_test_id("ops-queue-depth")).to_have_text("0")
    await expect(page.get_by_test_id("ops-oldest-wait")).to_have_text(NOTHING)
    await expect(page.get_by_test_id("ops-advisors")).to_contain_text("1 available")
    await expect(page.get_by_test_id("ops-service-level")).to_contain_text("100%")
    await expect(page.get_by_test_id("ops-service-level")).to_contain_text("answered only 100%")
    await expect(page.get_by_test_id("ops-service-level")).to_contain_text("goal 80%")

    p90 = shown_seconds(await page.get_by_test_id("ops-p90").inner_text())
    assert abs(p90 - five["time_to_advisor_p90_s"]) <= SHOWN_PRECISION_S, (p90, five)

    row = page.locator(f'[data-testid="ops-recent"] tr[data-request-id="{request_id}"]')
    await expect(row).to_contain_text("ended")
    await expect(row.locator("td.advisor")).to_have_text("Ada")  # the name, not the id
    await expect(row).to_contain_text("billing")
    to_advisor = shown_seconds(await row.locator("td").nth(6).inner_text())
    assert abs(to_advisor - view["time_to_advisor_s"]) <= SHOWN_PRECISION_S, (to_advisor, view)

    topic = page.locator('[data-testid="ops-topics"] tr[data-topic="billing"]')
    await expect(topic.locator("td").nth(1)).to_have_text("1")

    # The same figures in every window: the session is minutes old at most.
    for window in ("1h", "today", "5m"):
        await page.get_by_test_id("ops-window").select_option(window)
        await expect(page.get_by_test_id("ops-answered")).to_have_text("1")

    # uPlot loaded from webclient/node_modules and drew its p90 line and the target line.
    await expect(page.get_by_test_id("ops-chart-latency").locator("canvas")).to_have_count(1)
    await expect_chart_colours(page, "ops-chart-latency", [P90_RGB, TARGET_RGB])

    csv_text = await download_csv(page)
    assert csv_text.splitlines()[0].startswith("request_id,")
    assert request_id in csv_text

    stats = await screenshot_stats(page, "ops")
    assert stats.distinct >= 64, stats
    assert stats.commonest_share < 0.9, stats
    assert pages.problems == []


async def test_oldest_wait_alert_raised_then_cleared(
    start_server: StartServer, browser: Browser
) -> None:
    """A user waiting with no advisor past two thirds of the target raises the oldest-wait
    alert on the dashboard, once; an advisor accepting clears it with a recovery message."""
    h = await start_server(sla_target_s=0.6, ops_interval_s=OPS_INTERVAL_S)
    pages = Pages(browser, h)
    page = await open_dashboard(pages)
    await expect(page.get_by_test_id("ops-queue-depth")).to_have_text("0")
    await expect(page.get_by_test_id("ops-alerts")).to_contain_text("No active alerts")

    user = await h.client("user", "tab-1", name="Tab")
    queued = await user.request_help()
    active = page.locator('[data-testid="ops-active-alerts"] li[data-alert="oldest_wait"]')
    await expect(active).to_contain_text("Oldest wait", timeout=STATE_TIMEOUT_MS)
    await expect(page.get_by_test_id("ops-queue-depth")).to_have_text("1")
    banner = page.get_by_test_id("ops-alert-banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_have_attribute("data-state", "raised")
    await expect(banner).to_contain_text("no advisor free")
    # Counted on in the page between frames (the alert came at 0.4 s; a little slack).
    assert shown_seconds(await page.get_by_test_id("ops-oldest-wait").inner_text()) >= 0.3

    advisor = await h.client("advisor", "adv-1", name="Ada")
    await advisor.set_available()
    offer = await advisor.next(HelpOffer)
    assert offer.request_id == queued.request_id
    await advisor.accept(offer.request_id)

    log = page.get_by_test_id("ops-alert-log")
    cleared = log.locator('li[data-alert="oldest_wait"][data-state="cleared"]')
    await expect(cleared).to_contain_text("recovered", timeout=STATE_TIMEOUT_MS)
    await expect(active).to_have_count(0)
    await expect(banner).to_have_attribute("data-state", "cleared")
    await expect(banner).to_contain_text("Oldest wait recovered")
    await expect(page.get_by_test_id("ops-queue-depth")).to_have_text("0")
    await expect(page.get_by_test_id("ops-oldest-wait")).to_have_text(NOTHING)
    # Once per episode: one raise, one recovery.
    await expect(log.locator('li[data-state="raised"]')).to_have_count(1)
    await expect(log.locator('li[data-state="cleared"]')).to_have_count(1)
    assert (await ops_get(h, "/api/ops/summary"))["alerts"] == {}
    assert pages.problems == []


async def test_sign_in_takes_only_an_ops_token(start_server: StartServer, browser: Browser) -> None:
    """Without a token /ops shows the sign-in form; an advisor token is refused by the page;
    an ops token pasted in goes live and arms the CSV link."""
    h = await start_server(ops_interval_s=OPS_INTERVAL_S)
    pages = Pages(browser, h)
    page = await pages.open("/ops", DESKTOP)
    form = page.get_by_test_id("sign-in")
    await expect(form).to_be_visible()
    await expect(page.get_by_test_id("ops-csv")).to_be_hidden()

    await page.get_by_test_id("token-input").fill(h.token("advisor", "adv-1"))
    await page.get_by_test_id("sign-in-button").click()
    await expect(page.get_by_test_id("ops-status")).to_contain_text("advisor role")
    await expect(form).to_be_visible()

    await page.get_by_test_id("token-input").fill(h.token("ops", "ops-1"))
    await page.get_by_test_id("sign-in-button").click()
    await expect(page.get_by_test_id("ops-status")).to_contain_text("Live")
    await expect(page.get_by_test_id("ops-queue-depth")).to_have_text("0")
    await expect(page.get_by_test_id("ops-csv")).to_be_visible()
    assert (await download_csv(page)).startswith("request_id,")
    assert pages.problems == []
