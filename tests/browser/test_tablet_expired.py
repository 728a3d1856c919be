"""The tablet page when its request reaches its time-to-live: ``help.closed`` with
``leave_message`` shows the "Leave a message" form (hidden while the request waited with an
advisor online), and the message left from it reaches the advisors' inbox."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.helpers import Pages, expect_state, expect_status
from tests.conftest import StartServer

pytestmark = pytest.mark.browser


async def test_an_expired_request_offers_to_leave_a_message(
    start_server: StartServer, browser: Browser
) -> None:
    """An advisor online holds the offer and never answers; the request expires after its
    short TTL: the tablet goes to the expired state with the form and Help enabled; the
    message sent from it is stored (origin user) and the page says it was sent."""
    h = await start_server(request_ttl_s=3.0, ops_interval_s=0.2, reservation_timeout_s=60.0)
    ada = await h.client("advisor", "adv-1", name="Ada")
    await ada.call("advisor.state", state="available")
    pages = Pages(browser, h)
    tablet = await pages.tablet()
    await expect_state(tablet, "ready")
    await tablet.get_by_test_id("help-button").tap()
    await expect_state(tablet, "offered")
    form = tablet.get_by_test_id("leave-message")
    await expect(form).to_be_hidden()

    await expect_state(tablet, "expired", timeout=10_000)
    await expect_status(tablet, "Nobody could take your request in time")
    await expect(form).to_be_visible()
    await expect(tablet.get_by_test_id("help-button")).to_be_enabled()
    await tablet.get_by_test_id("message-text").fill("The settings page froze.")
    await tablet.get_by_test_id("leave-message-button").click()
    await expect_state(tablet, "ready")
    await expect_status(tablet, "Your message was sent")
    await expect(form).to_be_hidden()

    [left] = await h.server.store.messages("open", 10)
    assert (left.user_id, left.text, left.origin, left.request_id) == (
        "tab-1",
        "The settings page froze.",
        "user",
        None,
    )
    assert pages.problems == []
