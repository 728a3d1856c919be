"""Every page passes axe-core (from webclient/node_modules, run in Chromium) with no serious or
critical violation, in the states its user sees, at 1024 x 768 and at 768 x 1024."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from mayday.client import HelpOffer, SessionEnded, SessionStarted
from tests.browser.helpers import (
    LANDSCAPE,
    PORTRAIT,
    STATE_TIMEOUT_MS,
    VIEWPORTS,
    Pages,
    axe_problems,
    expect_state,
    go_available,
)
from tests.conftest import StartServer

pytestmark = pytest.mark.browser


async def axe_both(page: Page, label: str, found: list[str]) -> None:
    """Run axe at both screen shapes, noting each problem with where it was seen."""
    for orientation, size in VIEWPORTS.items():
        await page.set_viewport_size(size)
        found += [f"{label} ({orientation}): {p}" for p in await axe_problems(page)]
    await page.set_viewport_size(LANDSCAPE["viewport"])


async def test_the_tablet_page(start_server: StartServer, browser: Browser) -> None:
    """Ready, waiting in line, in a call with the consent prompt, paused, the rating prompt
    after the call, and a refused link."""
    h = await start_server(default_handle_time_s=40.0)
    pages = Pages(browser, h)
    found: list[str] = []
    tablet = await pages.tablet()
    await expect_state(tablet, "ready")
    await axe_both(tablet, "tablet ready", found)

    await tablet.get_by_test_id("help-button").tap()
    await expect_state(tablet, "no-advisor")
    await axe_both(tablet, "tablet waiting, nobody online", found)

    advisor = await h.client("advisor", "adv-1", name="Ada")
    await advisor.set_available()
    started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
    await expect_state(tablet, "connecting")
    await advisor.call("control.request", session_id=started.session_id)
    await expect(tablet.get_by_test_id("control-prompt")).to_be_visible()
    await axe_both(tablet, "tablet in a call, asked for control", found)
    await tablet.get_by_test_id("control-grant").tap()
    await tablet.get_by_test_id("share-pause").tap()
    await expect(tablet.get_by_test_id("share-paused-banner")).to_be_visible()
    await axe_both(tablet, "tablet paused, control granted", found)
    await advisor.end_session(started.session_id)
    await expect(tablet.get_by_test_id("rating-prompt")).to_be_visible()
    await tablet.get_by_test_id("rating-score-3").tap()
    await axe_both(tablet, "tablet after the call, the rating prompt", found)

    expired = h.token("user", "tab-2", ttl_s=-3600)
    refused = await pages.open(f"/tablet?renew=/again&token={expired}", PORTRAIT)
    await expect_state(refused, "refused")
    await axe_both(refused, "tablet link refused", found)
    assert found == []
    assert pages.problems == []


async def test_the_advisor_console(start_server: StartServer, browser: Browser) -> None:
    """Sign-in, away, an offer with the caller's context, in a call, the transfer dialog
    listing colleagues, after a failure of media, and the wrap-up."""
    h = await start_server()
    pages = Pages(browser, h)
    found: list[str] = []
    signing_in = await pages.open("/advisor", LANDSCAPE)
    await expect(signing_in.get_by_test_id("sign-in")).to_be_visible()
    await axe_both(signing_in, "console sign-in", found)

    console = await pages.advisor(options=LANDSCAPE)
    await expect_state(console, "away")
    await axe_both(console, "console away", found)
    await go_available(console)
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help(topic="Printer", device={"model": "Tab S9"})
    await expect_state(console, "offered")
    await expect(console.get_by_test_id("caller-history")).to_contain_text("first request")
    await axe_both(console, "console offered", found)

    await console.keyboard.press("a")
    started = await user.next(SessionStarted)
    await expect_state(console, "connecting")
    await axe_both(console, "console in a call", found)
    colleague = await h.client("advisor", "adv-2", name="Bo", skills=["printer"])
    await colleague.set_available()
    await h.client("advisor", "adv-3", name="Cy")  # away: listed, not selectable
    await console.get_by_test_id("transfer-button").click()
    await expect(console.get_by_test_id("transfer-form")).to_be_visible()
    await expect(console.get_by_test_id("transfer-colleague")).to_have_count(2)
    await axe_both(console, "console transfer dialog", found)
    await console.get_by_test_id("transfer-cancel").click()
    await user.end_session(started.session_id)
    await expect_state(console, "ended")
    await expect(console.get_by_test_id("wrap-up")).to_be_visible()
    await axe_both(console, "console wrap-up", found)
    assert found == []
    assert pages.problems == []


async def test_the_ops_dashboard(start_server: StartServer, browser: Browser) -> None:
    """Live with an alert, the advisor table and recent requests, and a request's timeline."""
    h = await start_server(ops_interval_s=0.2, sla_target_s=1.5)
    advisor = await h.client("advisor", "adv-1", name="Ada")
    await advisor.set_available()
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help(topic="Printer")
    started = await advisor.accept((await advisor.next(HelpOffer)).request_id)
    await advisor.end_session(started.session_id)
    await user.next(SessionEnded)
    waiting = await h.client("user", "tab-2", name="Tablet Two")
    await advisor.set_available(False)
    await waiting.request_help()

    pages = Pages(browser, h)
    found: list[str] = []
    ops = await pages.ops()
    await expect(ops.get_by_test_id("ops-alert-banner")).to_be_visible(timeout=STATE_TIMEOUT_MS)
    await expect(ops.get_by_test_id("advisor-table").locator("tbody tr")).to_have_count(1)
    await axe_both(ops, "ops live with an alert", found)
    await ops.get_by_test_id("request-open").first.click()
    await expect(ops.get_by_test_id("request-timeline")).to_be_visible()
    await axe_both(ops, "ops timeline", found)
    assert found == []
    assert pages.problems == []


async def test_the_index_page(start_server: StartServer, browser: Browser) -> None:
    """The page that links the others."""
    h = await start_server()
    pages = Pages(browser, h)
    found: list[str] = []
    index = await pages.open("/", LANDSCAPE)
    await expect(index.locator("h1")).to_have_text("Mayday")
    await axe_both(index, "index", found)
    assert found == []
    assert pages.problems == []
