"""Claim mode on the advisor console: every claimable request is shown, oldest first, and
the console moves on when another advisor claims the one it shows."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from mayday.client import HelpOffer, SessionStarted
from tests.browser.helpers import Pages, expect_state, expect_status, go_available
from tests.conftest import StartServer

pytestmark = pytest.mark.browser


async def test_console_lists_claimable_requests_and_moves_on_when_one_is_claimed(
    start_server: StartServer, browser: Browser
) -> None:
    """Two users wait; the console shows the older in its card and the newer in the claim
    list. Another advisor claims the older: the card shows the newer, the list empties.
    The console claims it and the user's session starts with this advisor."""
    h = await start_server(routing_mode="claim")
    pages = Pages(browser, h)
    console = await pages.advisor("adv-1", "Ada")
    await go_available(console)
    first = await h.client("user", "tab-1", name="Tablet One")
    await first.request_help(topic="Printer")
    await expect(console.get_by_test_id("offer")).to_contain_text("Tablet One")
    second = await h.client("user", "tab-2", name="Tablet Two")
    await second.request_help(topic="Wi-Fi")

    card, claims = console.get_by_test_id("offer"), console.get_by_test_id("claim-list")
    await expect(claims).to_be_visible()
    await expect(claims).to_contain_text("Tablet Two")
    await expect(claims).to_contain_text("Wi-Fi")
    await expect(card).to_contain_text("Tablet One")
    await expect(console.get_by_test_id("offer-countdown")).to_have_text(
        "open to every free advisor"
    )

    rival = await h.client("advisor", "adv-2", name="Bob")
    await rival.set_available()
    oldest = await rival.next(HelpOffer, where=lambda o: o.user["name"] == "Tablet One")
    await rival.accept(oldest.request_id)

    await expect(card).to_contain_text("Tablet Two")
    await expect(claims).to_be_hidden()
    await expect_state(console, "offered")
    await expect_status(console, "Another advisor claimed it first.")

    await console.get_by_test_id("accept-button").click()
    started = await second.next(SessionStarted)
    assert started.peer["name"] == "Ada"
    await expect_state(console, "connecting")
    assert pages.problems == []


async def test_a_request_in_the_claim_list_can_be_claimed_directly(
    start_server: StartServer, browser: Browser
) -> None:
    """Three users wait: the list holds the two newer ones, oldest first; claiming the last
    one from the list starts its session, and the others are no longer shown."""
    h = await start_server(routing_mode="claim")
    pages = Pages(browser, h)
    console = await pages.advisor("adv-1", "Ada")
    await go_available(console)
    users = []
    for n in ("One", "Two", "Three"):
        user = await h.client("user", f"tab-{n.lower()}", name=f"Tablet {n}")
        await user.request_help()
        users.append(user)
        await expect(console.get_by_test_id("offer")).to_be_visible()

    items = console.get_by_test_id("claim-list").locator("li")
    await expect(items).to_have_count(2)
    await expect(items.nth(0)).to_contain_text("Tablet Two")
    await expect(items.nth(1)).to_contain_text("Tablet Three")
    await expect(console.get_by_test_id("offer")).to_contain_text("Tablet One")

    await items.nth(1).get_by_test_id("claim-button").click()
    started = await users[2].next(SessionStarted)
    assert started.peer["name"] == "Ada"
    await expect_state(console, "connecting")
    await expect(console.get_by_test_id("claim-list")).to_be_hidden()
    await expect(console.get_by_test_id("offer")).to_be_hidden()
    assert pages.problems == []
