"""Never stranded by declines, on two advisor consoles (issue 11): a request both declined
stays on both as one they can still take, and one of them takes it."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from mayday.client import SessionStarted
from tests.browser.helpers import Pages, expect_state, go_available
from tests.conftest import StartServer

pytestmark = pytest.mark.browser


async def test_a_request_both_consoles_declined_can_still_be_taken(
    start_server: StartServer, browser: Browser
) -> None:
    """Both advisors decline: each console shows "2 free", the count declined by everyone,
    and the request again in its card, open to take; the second takes it and the call
    starts, and the first console is told it was claimed."""
    h = await start_server(summary_interval_s=0.1)
    pages = Pages(browser, h)
    ada = await pages.advisor("adv-1", "Ada")
    bob = await pages.advisor("adv-2", "Bob")
    await go_available(ada)
    await go_available(bob)
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help(topic="Printer")
    for console in (ada, bob):
        await expect(console.get_by_test_id("offer")).to_contain_text("Tablet One")
        await expect(console.get_by_test_id("offer-countdown")).not_to_have_text(
            "open to every free advisor"
        )
        await console.get_by_test_id("decline-button").click()
    for console in (ada, bob):
        line = console.get_by_test_id("queue-summary")
        await expect(line).to_contain_text("2 free")
        await expect(line).to_contain_text("1 declined by everyone online: still yours to take")
        await expect(console.get_by_test_id("offer")).to_contain_text("Tablet One")
        await expect(console.get_by_test_id("offer-countdown")).to_have_text(
            "open to every free advisor"
        )
    await bob.get_by_test_id("accept-button").click()
    started = await user.next(SessionStarted)
    assert started.peer["name"] == "Bob"
    await expect_state(bob, "connecting")
    await expect(ada.get_by_test_id("status")).to_contain_text("Another advisor claimed it first.")
    assert pages.problems == []
