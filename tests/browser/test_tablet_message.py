"""The tablet page's "Leave a message" when nobody can answer, and the advisor's reply shown
at the next open with the advisor's name (then marked read)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.helpers import Pages, expect_state, expect_status
from tests.conftest import StartServer

pytestmark = pytest.mark.browser


async def test_leave_a_message_and_see_the_reply_at_the_next_open(
    start_server: StartServer, browser: Browser
) -> None:
    """Nobody online: the no-advisor state offers a message box; the message sent closes
    the request; an advisor replies; the tablet opened again shows the reply with the
    advisor's name and marks it read, so a third opening shows nothing."""
    h = await start_server()
    pages = Pages(browser, h)
    tablet = await pages.tablet()
    await expect_state(tablet, "ready")
    await expect(tablet.get_by_test_id("leave-message")).to_be_hidden()
    await tablet.get_by_test_id("help-button").tap()
    await expect_state(tablet, "no-advisor")
    form = tablet.get_by_test_id("leave-message")
    await expect(form).to_be_visible()
    await tablet.get_by_test_id("message-text").fill("My printer jams on page 2.")
    await tablet.get_by_test_id("message-contact").fill("+33 6 12 34 56 78")
    await tablet.get_by_test_id("leave-message-button").click()
    await expect_state(tablet, "ready")
    await expect_status(tablet, "Your message was sent")
    await expect(form).to_be_hidden()
    await tablet.close()

    [left] = await h.server.store.messages("open", 10)
    assert (left.user_id, left.text, left.contact) == (
        "tab-1",
        "My printer jams on page 2.",
        "+33 6 12 34 56 78",
    )
    ada = await h.client("advisor", "adv-1", name="Ada Advisor")
    await ada.call("message.reply", message_id=left.id, text="Open tray 2 and pull the sheet.")

    again = await pages.tablet()
    reply = again.get_by_test_id("message-reply")
    await expect(reply).to_be_visible()
    await expect(reply).to_contain_text("Ada Advisor replied to your message")
    await expect(reply).to_contain_text("Open tray 2 and pull the sheet.")
    for _ in range(50):  # message.read is sent when the reply is shown
        stored = await h.server.store.message(left.id)
        if stored is not None and stored.read_at is not None:
            break
        await again.wait_for_timeout(100)
    assert stored is not None and stored.read_at is not None
    await again.close()

    third = await pages.tablet()
    await expect_state(third, "ready")
    await third.wait_for_timeout(300)
    await expect(third.get_by_test_id("message-reply")).to_be_hidden()
    assert pages.problems == []
