"""The ops dashboard for "why are we missing the target right now?", in Chromium: the live
advisor table (every connected advisor counted), recent requests with end reason, call length
and names, a request's whole timeline on a click, and alert text that follows the live value."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from mayday.client import AdvisorStateChanged, HelpOffer, SessionEnded, SessionStarted
from tests.browser.helpers import STATE_TIMEOUT_MS, Pages, in_both_orientations
from tests.conftest import StartServer

pytestmark = pytest.mark.browser

OPS_INTERVAL_S = 0.2


async def live(pages: Pages) -> Page:
    page = await pages.ops()
    await expect(page.get_by_test_id("ops-status")).to_contain_text(
        "Live", timeout=STATE_TIMEOUT_MS
    )
    return page


def seconds_in(text: str) -> float:
    match = re.search(r"(\d+(?:\.\d+)?) s", text)
    assert match, text
    return float(match.group(1))


async def test_the_advisor_table_counts_every_connected_advisor(
    start_server: StartServer, browser: Browser
) -> None:
    """Each advisor online has a row with name, state, time in state and today's calls,
    declines and missed offers; one who has not chosen is away, and counted in the tiles."""
    h = await start_server(ops_interval_s=OPS_INTERVAL_S, reservation_timeout_s=0.5)
    quinn = await h.client("advisor", "adv-9", name="Quinn")  # console open, nothing chosen
    await quinn.call("ping")
    ada = await h.client("advisor", "adv-1", name="Ada")
    await ada.set_available()
    bo = await h.client("advisor", "adv-2", name="Bo")
    await bo.set_available()
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help(topic="Printer")
    await ada.decline((await ada.next(HelpOffer)).request_id)
    await bo.accept((await bo.next(HelpOffer)).request_id)
    other = await h.client("user", "tab-2", name="Tablet Two")
    await other.request_help()
    await ada.next(HelpOffer)  # left to run out: Ada is set away
    await ada.next(AdvisorStateChanged, where=lambda s: s.reason == "offer_timeout")

    pages = Pages(browser, h)
    page = await live(pages)
    table = page.get_by_test_id("advisor-table")
    rows = table.locator("tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.locator("td:first-child")).to_have_text(["Ada", "Bo", "Quinn"])
    ada_row = table.locator('tr[data-advisor-id="adv-1"]')
    await expect(ada_row).to_have_attribute("data-state", "away")
    await expect(ada_row.locator("td.declines")).to_have_text("1")
    await expect(ada_row.locator("td.missed")).to_have_text("1")
    await expect(ada_row.locator("td.calls")).to_have_text("0")
    bo_row = table.locator('tr[data-advisor-id="adv-2"]')
    await expect(bo_row.locator("td.state")).to_have_text("in a call")
    await expect(bo_row.locator("td.calls")).to_have_text("1")
    quinn_row = table.locator('tr[data-advisor-id="adv-9"]')
    await expect(quinn_row.locator("td.state")).to_have_text("away")
    await expect(page.get_by_test_id("ops-advisors")).to_contain_text("2 away")
    await expect(page.get_by_test_id("ops-advisors")).to_contain_text("1 busy")

    since = quinn_row.locator("td.since")
    first = seconds_in(await since.inner_text())
    await expect(since).not_to_have_text(await since.inner_text(), timeout=3000)
    assert seconds_in(await since.inner_text()) > first  # counted on between updates
    await in_both_orientations(page, "ops-advisor-table", ("advisor-table",), scroll=True)
    assert pages.problems == []


async def test_recent_requests_say_how_they_ended_and_open_their_timeline(
    start_server: StartServer, browser: Browser
) -> None:
    """A clean call and one cut by a dropped connection look different (end reason, call
    length), advisors are named; a click opens the request's whole timeline in words."""
    h = await start_server(ops_interval_s=OPS_INTERVAL_S, resume_grace_s=0.5)
    ada = await h.client("advisor", "adv-1", name="Ada")
    await ada.set_available()
    clean_user = await h.client("user", "tab-1", name="Tablet One")
    await clean_user.request_help(topic="Printer")
    clean = await ada.accept((await ada.next(HelpOffer)).request_id)
    await clean_user.next(SessionStarted)
    await clean_user.call("media.state", session_id=clean.session_id, state="first_frame")
    await ada.end_session(clean.session_id, reason="advisor_ended")
    await clean_user.next(SessionEnded)
    cut_user = await h.client("user", "tab-2", name="Tablet Two")
    await cut_user.request_help(topic="Wi-Fi")
    cut = await ada.accept((await ada.next(HelpOffer)).request_id)
    await cut_user.next(SessionStarted)
    await cut_user.close()
    h.clients.remove(cut_user)
    await ada.next(SessionEnded, timeout=5)  # user_lost, once the grace is over

    pages = Pages(browser, h)
    page = await live(pages)
    recent = page.get_by_test_id("ops-recent")
    clean_row = recent.locator(f'tr[data-request-id="{clean.request_id}"]')
    cut_row = recent.locator(f'tr[data-request-id="{cut.request_id}"]')
    await expect(clean_row.locator("td.end")).to_have_text("advisor ended it")
    await expect(cut_row.locator("td.end")).to_have_text("user's connection dropped")
    await expect(cut_row.locator("td.end")).to_have_class(re.compile("bad"))
    for row in (clean_row, cut_row):
        await expect(row.locator("td.advisor")).to_have_text("Ada")
        await expect(row.locator("td.duration")).to_have_text(re.compile(r"^\d+\.\d\d s$"))
    await expect(recent).not_to_contain_text("adv-1")

    opener = clean_row.get_by_test_id("request-open")
    await expect(opener).to_have_attribute("title", clean.request_id)  # its text cut short
    last = (
        "td => td.getBoundingClientRect().right"
        " <= td.closest('section').getBoundingClientRect().right"
    )
    assert await clean_row.locator("td.transfers").evaluate(last)  # at 1024 px: no side scroll
    await opener.click()
    dialog = page.get_by_test_id("request-timeline")
    await expect(dialog).to_be_visible()
    events = dialog.get_by_test_id("request-timeline-events").locator("li")
    await expect(events).to_have_text(
        [
            re.compile(r"Requested \(topic Printer\)$"),
            re.compile(r"Offered to Ada \(offer 1\)$"),
            re.compile(r"Accepted by Ada$"),
            re.compile(r"Call started with Ada$"),
            re.compile(r"First video frame on the user's side$"),
            re.compile(r"Call ended: advisor ended it$"),
            re.compile(r"Closed: ended$"),
        ]
    )
    facts = dialog.get_by_test_id("request-timeline-facts")
    await expect(facts).to_contain_text("Tablet One (tab-1)")
    await expect(facts).to_contain_text("ended · advisor ended it")
    await in_both_orientations(page, "ops-timeline", ("request-timeline",))
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    await cut_row.get_by_test_id("request-open").click()
    await expect(events.last).to_have_text(re.compile("Closed: ended"))
    await expect(events.nth(-2)).to_have_text(re.compile("Call ended: user's connection dropped"))
    await dialog.get_by_test_id("request-timeline-close").click()
    await expect(dialog).to_be_hidden()
    assert pages.problems == []


async def test_the_alert_banner_follows_the_live_value(
    start_server: StartServer, browser: Browser
) -> None:
    """The oldest-wait banner's figure grows with the wait and matches the tile beside it,
    instead of keeping the figure of the moment it was raised."""
    h = await start_server(sla_target_s=3.0, ops_interval_s=OPS_INTERVAL_S)
    pages = Pages(browser, h)
    page = await live(pages)
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help()
    banner = page.get_by_test_id("ops-alert-banner")
    await expect(banner).to_contain_text("no advisor free", timeout=STATE_TIMEOUT_MS)
    first = seconds_in(await banner.inner_text())
    await page.wait_for_timeout(1500)
    text, tile = await page.evaluate(
        """() => [document.querySelector('[data-testid="ops-alert-banner"]').textContent,
                  document.querySelector('[data-testid="ops-oldest-wait"]').textContent]"""
    )
    later = seconds_in(text)
    assert later >= first + 1.2, (first, text)
    assert abs(later - seconds_in(tile)) <= 0.25, (text, tile)
    await expect(page.get_by_test_id("ops-active-alerts")).to_contain_text(re.compile(r"waited \d"))
    await in_both_orientations(page, "ops-alert", ("ops-alert-banner",), scroll=True)
    assert pages.problems == []
