"""Transfers between two advisor consoles while the tablet page keeps its call (issue 11)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Locator, Page, expect

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


async def ask_transfer(
    console: Page, advisor_id: str, note: str, mode: str = "warm", *, pick: bool = False
) -> None:
    """Open the Transfer dialog, name the colleague (typed, or picked from the list of those
    online), write the note, choose the mode, send."""
    await console.get_by_test_id("transfer-button").click()
    form = console.get_by_test_id("transfer-form")
    await expect(form).to_be_visible()
    if pick:
        await colleague(console, advisor_id).get_by_role("radio").check()
        await expect(console.get_by_label("Colleague's advisor id")).to_have_value(advisor_id)
    else:
        await console.get_by_label("Colleague's advisor id").fill(advisor_id)
    await console.get_by_label("Note for whoever takes it").fill(note)
    await console.get_by_test_id("transfer-mode").select_option(mode)
    await console.get_by_test_id("transfer-send").click()
    await expect(form).to_be_hidden()


def colleague(console: Page, advisor_id: str) -> Locator:
    return console.locator(f'[data-testid="transfer-colleague"][data-advisor-id="{advisor_id}"]')


async def test_a_warm_transfer_between_two_consoles(
    start_server: StartServer, browser: Browser
) -> None:
    """Ada picks Bo from the colleagues online (Cy, away, cannot be picked; Ada is not
    listed) and transfers her call with a note: the tablet says it goes to Bo, Bo's console
    shows who from and the note, Ada stays in the call until Bo accepts, then the tablet's
    video comes from Bo and Ada's call ends as transferred; ops see the priority and the
    transfer in the recent requests, and the transfer in words in its timeline."""
    h = await start_server()
    pages = Pages(browser, h)
    ada = await pages.advisor("adv-1", "Ada")
    tablet = await pages.tablet(claims={"priority": 2})
    await start_call(tablet, ada)
    inside = (
        "b => b.getBoundingClientRect().right <= b.closest('section').getBoundingClientRect().right"
    )
    assert await ada.get_by_test_id("end-button").evaluate(inside)  # the call's buttons fit
    bo = await pages.advisor("adv-2", "Bo", claims={"skills": ["printer", "scanner"]})
    await go_available(bo)
    await pages.advisor("adv-3", "Cy", claims={"skills": ["tv"]})  # online, away

    await ada.get_by_test_id("transfer-button").click()
    await expect(colleague(ada, "adv-2")).to_contain_text("Bo · printer, scanner · free")
    await expect(colleague(ada, "adv-3")).to_contain_text("Cy · tv · away")
    await expect(colleague(ada, "adv-3").get_by_role("radio")).to_be_disabled()
    await expect(colleague(ada, "adv-1")).to_have_count(0)
    await expect(ada.get_by_test_id("transfer-colleagues-note")).to_have_text("1 of 2 online free.")
    await ada.get_by_test_id("transfer-to-skills").check()
    skills = ada.get_by_test_id("transfer-skill-pick").locator("option")
    await expect(skills).to_have_text(
        ["Choose a skill…", "printer (1 free)", "scanner (1 free)", "tv (0 free)"]
    )
    await ada.get_by_test_id("transfer-to-advisor").check()
    await ada.get_by_test_id("transfer-cancel").click()

    await ask_transfer(ada, "adv-2", "Printer jam; Bo knows this model", pick=True)
    await expect(ada.get_by_test_id("transfer-status")).to_contain_text("Waiting for Bo to accept")
    await expect(tablet.get_by_test_id("transfer-banner")).to_have_text(
        "You are being transferred to Bo…", timeout=STATE_TIMEOUT_MS
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
    await expect(tablet.get_by_test_id("transfer-banner")).to_be_hidden()
    request_id = await tablet.evaluate("document.body.dataset.requestId")
    request = await h.server.store.request(request_id)
    assert request is not None
    events = [e.event for e in request.timeline]
    assert events.count("session.started") == 2 and "transfer.accepted" in events

    ops = await pages.ops()
    row = ops.locator(f'[data-testid="ops-recent"] tr[data-request-id="{request_id}"]')
    await expect(row.locator("td.priority")).to_have_text("2", timeout=STATE_TIMEOUT_MS)
    await expect(row.locator("td.transfers")).to_have_text("1")
    await row.get_by_test_id("request-open").click()
    events_shown = ops.get_by_test_id("request-timeline").locator("li")
    await expect(events_shown.filter(has_text="Transfer (warm)")).to_have_text(
        re.compile("Transfer \\(warm\\) Ada → Bo: “Printer jam; Bo knows this model”")
    )
    await expect(events_shown.filter(has_text="Transfer accepted")).to_contain_text("by Bo")
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
    await expect(tablet.get_by_test_id("transfer-banner")).to_have_text(
        "You are being transferred to Bo…", timeout=STATE_TIMEOUT_MS
    )
    await bo.get_by_test_id("decline-button").click()
    await expect(ada.get_by_test_id("transfer-status")).to_have_text(
        "The transfer failed: adv-2 declined it. You keep the call."
    )
    await expect(tablet.get_by_test_id("transfer-banner")).to_be_hidden()
    await expect_state(ada, "connected")
    await expect(ada.get_by_test_id("transfer-button")).to_be_enabled()

    await ask_transfer(ada, "adv-2", "Back to the queue for you", mode="cold")
    await expect_state(ada, "ended")
    await expect_status(ada, "You transferred the call to adv-2")
    # Bo declined this request once, but a cold transfer to Bo offers it to Bo first.
    await expect(bo.get_by_test_id("offer-transfer")).to_have_text(
        "Transferred by Ada: “Back to the queue for you”", timeout=STATE_TIMEOUT_MS
    )
    await expect_status(tablet, "You are being transferred to Bo…")
    assert pages.problems == []
