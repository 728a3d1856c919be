"""Offers on the advisor console: declined or let lapse, the request moves to the next console."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.helpers import (
    Pages,
    expect_seen_state,
    expect_state,
    expect_status,
    go_available,
    record_states,
)
from tests.conftest import StartServer

pytestmark = pytest.mark.browser


async def two_consoles(pages: Pages) -> tuple[Page, Page]:
    """Two advisors available, the first one first: it is idle longest and gets the offer."""
    first = await pages.advisor("adv-1", "Ada")
    await go_available(first)
    second = await pages.advisor("adv-2", "Bob")
    await go_available(second)
    return first, second


async def test_declined_offer_moves_to_second_console(
    start_server: StartServer, browser: Browser
) -> None:
    """The first console declines; it stays available and the second console gets the offer."""
    h = await start_server()
    pages = Pages(browser, h)
    first, second = await two_consoles(pages)
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help(topic="Printer")

    await expect(first.get_by_test_id("offer")).to_contain_text("Tablet One")
    await expect(first.get_by_test_id("offer")).to_contain_text("Printer")
    await expect(second.get_by_test_id("offer")).to_be_hidden()
    await first.get_by_test_id("decline-button").click()

    await expect(second.get_by_test_id("offer")).to_be_visible()
    await expect(second.get_by_test_id("offer")).to_contain_text("Tablet One")
    await expect_state(second, "offered")
    await expect_state(first, "available")
    await expect_status(first, "Declined")
    await expect(first.get_by_test_id("offer")).to_be_hidden()
    assert pages.problems == []


async def test_lapsed_offer_sets_console_away_and_moves_on(
    start_server: StartServer, browser: Browser
) -> None:
    """The first console lets the offer run out: it counts down, is set away, says so, and the
    second console gets the offer."""
    h = await start_server(reservation_timeout_s=1.5)
    pages = Pages(browser, h)
    first, second = await two_consoles(pages)
    user = await h.client("user", "tab-1", name="Tablet One")
    for console in (first, second):
        await record_states(console)
    await user.request_help()

    # Each offer lasts 1.5 s: the second one may lapse too before a check looks, so the
    # states each console went through are what is checked.
    assert (await expect_seen_state(first, "away"))[:2] == ["offered", "away"]
    await expect(first.get_by_test_id("offer-countdown")).to_contain_text("answer within")
    await expect_seen_state(second, "offered")
    await expect(second.get_by_test_id("offer")).to_contain_text("Tablet One")
    await expect_state(first, "away")
    await expect_status(first, "You let an offer run out, so you were set away")
    await expect(first.get_by_test_id("offer")).to_be_hidden()
    toggle = first.get_by_test_id("availability-toggle")
    await expect(toggle).to_have_text("Go available")
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    assert pages.problems == []
