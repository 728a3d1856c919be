"""Transfers between two advisor consoles while the tablet page keeps its call (issue 11)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.helpers import (
    MEDIA_TIMEOUT_MS,
    STATE_TIMEOUT_MS,
    Pages,
    expect_state,
    expect_status,
    expect_video_playing,
    go_available,
    start_call,
)
from tests.conftest import StartServer

pytestmark = pytest.mark.browser


async def ask_transfer(console: Page, advisor_id: str, note: str, mode: str = "warm") -> None:
    """Open the Transfer dialog, name the colleague, write the note, choose the mode, send."""
    await console.get_by_test_id("transfer-button").click()
    form = console.get_by_test_id("transfer-form")
    await expect(form).to_be_visible()
    await console.get_by_label("Colleague's advisor id").fill(advisor_id)
    await console.get_by_label("Note for whoever takes it").fill(note)
    await console.get_by_test_id("transfer-mode").select_option(mode)
    await console.get_by_test_id("transfer-send").click()
    await expect(form).to_be_hidden()


async def test_a_warm_transfer_between_two_consoles(
    start_server: StartServer, browser: Browser
) -> None:
    """Ada transfers her call to Bo with a note: Bo's console shows who from and the note,
    Ada stays in the call until Bo accepts, then the tablet's video comes from Bo and
    Ada's call ends as transferred."""
    h = await start_server()
    pages = Pages(browser, h)
    ada = await pages.advisor("adv-1", "Ada")
    tablet = await pages.tablet()
    await start_call(tablet, ada)
    bo = await pages.advisor("adv-2", "Bo")
    await go_available(bo)

    await ask_transfer(ada, "adv-2", "Printer jam; Bo knows this model")
    await expect(ada.get_by_test_id("transfer-status")).to_contain_text(
        "Waiting for adv-2 to accept"
    )
    offer = bo.get_by_test_id("offer")
    await expect(offer).to_be_visible(timeout=STATE_TIMEOUT_MS)
    await expect(bo.get_by_test_id("offer-transfer")).to_have_text(
        "Transferred by Ada: “Printer jam; Bo knows this model”"
    )
    await expect_state(ada, "connected")  # the call goes on until Bo accepts
    await expect_state(tablet, "connected")

    await bo.get_by_test_id("accept-button").click()
    await expect_state(ada, "ended")
    await expect_status(ada, "You transferred the call to Bo.")
    for page, video in ((tablet, "advisor-video"), (bo, "screen-video")):
        await expect_state(page, "connected", MEDIA_TIMEOUT_MS)
        await expect_video_playing(page, video)
    await expect_status(tablet, "Bo")
    request_id = await tablet.evaluate("document.body.dataset.requestId")
    request = await h.server.store.request(request_id)
    assert request is not None
    events = [e.event for e in request.timeline]
    assert events.count("session.started") == 2 and "transfer.accepted" in events
    assert pages.problems == []


async def test_a_declined_transfer_keeps_the_call_and_a_cold_one_ends_it(
    start_server: StartServer, browser: Browser
) -> None:
    """Bo declines: Ada's console says so and keeps the call; Ada then transfers cold and
    the tablet says it is being transferred while the request waits again."""
    h = await start_server()
    pages = Pages(browser, h)
    ada = await pages.advisor("adv-1", "Ada")
    tablet = await pages.tablet()
    await start_call(tablet, ada)
    bo = await pages.advisor("adv-2", "Bo")
    await go_available(bo)

    await ask_transfer(ada, "adv-2", "Can you take it?")
    await expect(bo.get_by_test_id("offer")).to_be_visible(timeout=STATE_TIMEOUT_MS)
    await bo.get_by_test_id("decline-button").click()
    await expect(ada.get_by_test_id("transfer-status")).to_have_text(
        "The transfer failed: adv-2 declined it. You keep the call."
    )
    await expect_state(ada, "connected")
    await expect(ada.get_by_test_id("transfer-button")).to_be_enabled()

    await ask_transfer(ada, "adv-2", "Back to the queue for you", mode="cold")
    await expect_state(ada, "ended")
    await expect_status(ada, "You transferred the call to adv-2")
    # Bo declined this request once, but a cold transfer to Bo offers it to Bo first.
    await expect(bo.get_by_test_id("offer-transfer")).to_have_text(
        "Transferred by Ada: “Back to the queue for you”", timeout=STATE_TIMEOUT_MS
    )
    await expect_status(tablet, "You are being transferred from Ada")
    assert pages.problems == []
