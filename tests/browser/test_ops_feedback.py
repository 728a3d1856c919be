"""The ops dashboard's "Messages and ratings", in Chromium: the open messages and the age of
the oldest (from GET /api/messages, fetched again every 30 s), the average and count of the
ratings among the recent requests, and a rated request's timeline saying "Rated 4/5"; and
the recent-requests table, redrawn every update, no longer scrolls the page back to it."""

from __future__ import annotations

import re
import time

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.helpers import (
    OUTPUT,
    STATE_TIMEOUT_MS,
    VIEWPORTS,
    Pages,
    in_both_orientations,
)
from tests.browser.test_inbox import leave_message
from tests.conftest import Harness, StartServer
from tests.e2e.test_console_data import ended_call

pytestmark = pytest.mark.browser

OPS_INTERVAL_S = 0.2
NOTHING = "\u2013"  # the dash a figure shows when there is none


class ShiftedClock:
    """The server's clock: the real time moved by ``shift`` seconds (to leave a message
    "ten minutes ago")."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


async def rated_calls(h: Harness, scores: list[int | None]) -> list[str]:
    """One ended call of Ada's per score, each rated by its user (None: not rated)."""
    ada = await h.client("advisor", "adv-1", name="Ada")
    await ada.set_available()
    ids = []
    for i, score in enumerate(scores):
        user = await h.client("user", f"tab-{i}", name=f"Tablet {i}")
        request_id = await ended_call(h, ada, user)
        if score is not None:
            req = await h.server.store.request(request_id)
            assert req is not None
            await user.call("session.rate", session_id=req.session_id, score=score)
        ids.append(request_id)
    return ids


async def live(page: Page) -> None:
    await expect(page.get_by_test_id("ops-status")).to_contain_text(
        "Live", timeout=STATE_TIMEOUT_MS
    )


async def test_messages_and_ratings_on_the_dashboard(
    start_server: StartServer, browser: Browser
) -> None:
    """Two open messages, the oldest left ten minutes ago, its age counting on; three calls
    of which two are rated 4 and 5: average 4.5 of 2 ratings; the rated request's timeline
    says "Rated 4/5"; all of it fits the screen both ways up."""
    clock = ShiftedClock()
    h = await start_server(ops_interval_s=OPS_INTERVAL_S, clock=clock)
    clock.shift = -600
    await leave_message(h, "tab-8", "Tablet Eight", "Printer jams.")
    clock.shift = 0
    await leave_message(h, "tab-9", "Tablet Nine", "No sound.")
    four, _, unrated = await rated_calls(h, [4, 5, None])

    pages = Pages(browser, h)
    page = await pages.ops()
    await live(page)
    await expect(page.get_by_test_id("ops-messages-open")).to_have_text("2")
    oldest = page.get_by_test_id("ops-messages-oldest")
    await expect(oldest).to_have_text(re.compile(r"^10 min \d+ s$"))
    before = await oldest.inner_text()
    await expect(oldest).not_to_have_text(before, timeout=3000)  # counted on between fetches
    await expect(page.get_by_test_id("ops-ratings-average")).to_have_text("4.5 / 5")
    await expect(page.get_by_test_id("ops-ratings-count")).to_have_text("2")
    await expect(page.locator("#ratings-count-note")).to_have_text(
        "of 3 calls in the recent requests"
    )

    recent = page.get_by_test_id("ops-recent")
    await recent.locator(f'tr[data-request-id="{four}"]').get_by_test_id("request-open").click()
    dialog = page.get_by_test_id("request-timeline")
    await expect(dialog).to_be_visible()
    events = page.get_by_test_id("request-timeline-events")
    await expect(events.locator('li[data-event="rated"]')).to_have_text(re.compile(r"Rated 4/5$"))
    await expect(page.get_by_test_id("request-timeline-facts")).to_contain_text("Rating4/5")
    await page.get_by_test_id("request-timeline-close").click()
    await recent.locator(f'tr[data-request-id="{unrated}"]').get_by_test_id("request-open").click()
    await expect(events.locator('li[data-event="rated"]')).to_have_count(0)
    await expect(page.get_by_test_id("request-timeline-facts")).to_contain_text(f"Rating{NOTHING}")
    await page.get_by_test_id("request-timeline-close").click()

    await in_both_orientations(
        page,
        "ops-feedback",
        ("ops-messages-open", "ops-messages-oldest", "ops-ratings-average", "ops-ratings-count"),
        scroll=True,
    )
    assert pages.problems == []


async def test_no_message_and_no_rating_say_so(start_server: StartServer, browser: Browser) -> None:
    """With nothing left and nothing rated the tiles read 0 and a dash, not a made-up
    figure."""
    h = await start_server(ops_interval_s=OPS_INTERVAL_S)
    await rated_calls(h, [None])
    pages = Pages(browser, h)
    page = await pages.ops()
    await live(page)
    await expect(page.get_by_test_id("ops-messages-open")).to_have_text("0")
    await expect(page.get_by_test_id("ops-messages-oldest")).to_have_text(NOTHING)
    await expect(page.get_by_test_id("ops-ratings-average")).to_have_text(NOTHING)
    await expect(page.get_by_test_id("ops-ratings-count")).to_have_text("0")
    await expect(page.locator("#ratings-count-note")).to_have_text(
        "of 1 call in the recent requests"
    )
    assert pages.problems == []


async def test_the_messages_are_fetched_again_every_30_s(
    start_server: StartServer, browser: Browser
) -> None:
    """With the page's clock under the test's control: a message left after the dashboard
    loaded is counted once 30 s have passed, and one answered leaves the count at the next
    fetch."""
    h = await start_server(ops_interval_s=OPS_INTERVAL_S)
    first = await leave_message(h, "tab-1", "Tablet One", "Hello?")
    pages = Pages(browser, h)
    context = await browser.new_context(viewport=VIEWPORTS["landscape"])
    await context.clock.install()
    page = await context.new_page()
    page.on("pageerror", lambda exc: pages.problems.append(str(exc)))
    await page.goto(f"{h.http_url}/ops?token={h.token('ops', 'ops-1', name='Olga')}")
    count = page.get_by_test_id("ops-messages-open")
    await expect(count).to_have_text("1")
    await leave_message(h, "tab-2", "Tablet Two", "Anyone?")
    await page.clock.run_for(20_000)
    await expect(count).to_have_text("1")
    await page.clock.run_for(11_000)
    await expect(count).to_have_text("2")

    ada = await h.client("advisor", "adv-1", name="Ada")
    await ada.call("message.reply", message_id=first, text="Yes, how can I help?")
    await page.clock.run_for(31_000)
    await expect(count).to_have_text("1")
    await page.screenshot(path=OUTPUT / "ops-feedback-clock.png")
    assert pages.problems == []


async def test_the_redrawn_table_keeps_its_focus_without_scrolling_back(
    start_server: StartServer, browser: Browser
) -> None:
    """After a request's timeline is closed its row keeps the focus through the table's
    redraws, but the page stays where the user scrolled it (upright, the messages and
    ratings panel is far above the recent requests)."""
    h = await start_server(ops_interval_s=OPS_INTERVAL_S)
    [request_id] = await rated_calls(h, [3])
    pages = Pages(browser, h)
    page = await pages.ops()
    await live(page)
    await page.set_viewport_size(VIEWPORTS["portrait"])
    row = page.get_by_test_id("ops-recent").locator(f'tr[data-request-id="{request_id}"]')
    await row.get_by_test_id("request-open").click()
    await page.get_by_test_id("request-timeline-close").click()
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.wait_for_timeout(OPS_INTERVAL_S * 5 * 1000)  # a few redraws
    assert await page.evaluate("() => window.scrollY") == 0
    await expect(row.get_by_test_id("request-open")).to_be_focused()
    await expect(page.get_by_test_id("ops-ratings-average")).to_be_in_viewport()
    assert pages.problems == []
