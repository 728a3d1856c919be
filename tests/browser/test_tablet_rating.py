"""The tablet page's rating prompt after a call: five stars as a radio group usable by touch
and keyboard, an optional comment, Send (stored on the server) or Not now, a plain error
when the server refuses, and never in the way of pressing Help again."""

from __future__ import annotations

import time

import pytest
from playwright.async_api import Browser, Page, expect

from mayday.client import HelpOffer, MaydayClient, MaydayPeer, PatternVideoTrack, SessionStarted
from mayday.transport.handlers import NOTE_WINDOW_S
from tests.browser.helpers import (
    MEDIA_TIMEOUT_MS,
    PORTRAIT,
    TABLET,
    Pages,
    expect_state,
    expect_video_playing,
    in_both_orientations,
)
from tests.conftest import Harness, StartServer
from tests.e2e.test_console_data import ops_get

pytestmark = pytest.mark.browser


class LateClock:
    """The server's clock: the real time, moved on by ``late`` seconds when a test says."""

    def __init__(self) -> None:
        self.late = 0.0

    def __call__(self) -> float:
        return time.time() + self.late


async def answered(h: Harness, tablet: Page) -> tuple[MaydayClient, SessionStarted]:
    """The tablet presses Help and Ada, a client-library advisor, takes the call."""
    ada = await h.client("advisor", "adv-1", name="Ada")
    await ada.set_available()
    await expect_state(tablet, "ready")
    await tablet.get_by_test_id("help-button").tap()
    started = await ada.accept((await ada.next(HelpOffer)).request_id)
    await expect_state(tablet, "connecting")
    return ada, started


async def call_ended(h: Harness, tablet: Page) -> SessionStarted:
    """A call with no media that Ada ends: the tablet is in ``ended``."""
    ada, started = await answered(h, tablet)
    await ada.end_session(started.session_id, reason="advisor_ended")
    await expect_state(tablet, "ended")
    return started


async def test_the_user_rates_the_call_and_the_server_keeps_it(
    start_server: StartServer, browser: Browser
) -> None:
    """After a call with video, the prompt names the advisor; 4 stars and a comment are
    sent, the thanks show, and ops read score 4 and the comment on the request."""
    h = await start_server()
    pages = Pages(browser, h)
    tablet = await pages.tablet()
    ada, started = await answered(h, tablet)
    prompt = tablet.get_by_test_id("rating-prompt")
    peer = MaydayPeer(ada, started, PatternVideoTrack(shade=200))
    try:
        await peer.start()
        await expect_state(tablet, "connected", MEDIA_TIMEOUT_MS)
        await expect_video_playing(tablet, "advisor-video")
        await expect(prompt).to_be_hidden()  # not during the call
    finally:
        await peer.close()
    await ada.end_session(started.session_id, reason="advisor_ended")
    await expect_state(tablet, "ended")

    await expect(prompt).to_be_visible()
    await expect(prompt).to_contain_text("How was your call with Ada?")
    await expect(tablet.get_by_test_id("help-button")).to_be_enabled()
    four = tablet.get_by_test_id("rating-score-4")
    await four.tap()
    await expect(four).to_have_attribute("aria-checked", "true")
    for other in (1, 2, 3, 5):
        await expect(tablet.get_by_test_id(f"rating-score-{other}")).to_have_attribute(
            "aria-checked", "false"
        )
    await tablet.get_by_test_id("rating-comment").fill("  Patient and clear.  ")
    await tablet.get_by_test_id("rating-send").tap()
    await expect(tablet.get_by_test_id("rating-thanks")).to_have_text("Thanks for your feedback.")
    await expect(prompt).to_be_hidden()

    status, body = await ops_get(h, f"/api/requests/{started.request_id}", h.token("ops", "o1"))
    assert status == 200
    assert body["rating"]["score"] == 4
    assert body["rating"]["comment"] == "Patient and clear."
    assert body["rating"]["session_id"] == started.session_id
    assert body["rating_score"] == 4
    assert pages.problems == []


async def test_the_stars_are_a_radio_group_for_the_keyboard(
    start_server: StartServer, browser: Browser
) -> None:
    """The five stars are one radio group named by the question, one tab stop; arrows,
    Home and End move the choice; Send without a choice says what to do; the prompt fits
    the screen both ways up, Help with it."""
    h = await start_server()
    pages = Pages(browser, h)
    token = h.token("user", "tab-1", name="Tablet One")
    tablet = await pages.open(f"/tablet?token={token}", PORTRAIT)  # the panel under the screen
    await call_ended(h, tablet)
    group = tablet.get_by_role("radiogroup", name="How was your call with Ada?")
    await expect(group).to_be_visible()
    await expect(group.get_by_role("radio")).to_have_count(5)
    await expect(group.get_by_role("radio", name="4 of 5, good")).to_be_visible()

    await tablet.get_by_test_id("rating-send").click()
    await expect(tablet.get_by_test_id("rating-error")).to_have_text(
        "Choose from 1 to 5 stars first."
    )
    await expect(tablet.get_by_test_id("rating-score-1")).to_be_focused()
    for key, score in (("ArrowRight", 2), ("ArrowRight", 3), ("End", 5), ("ArrowLeft", 4)):
        await tablet.keyboard.press(key)
        chosen = tablet.get_by_test_id(f"rating-score-{score}")
        await expect(chosen).to_be_focused()
        await expect(chosen).to_have_attribute("aria-checked", "true")
    await expect(tablet.get_by_test_id("rating-error")).to_be_hidden()
    tab_stops = await tablet.locator('[role="radio"][tabindex="0"]').count()
    assert tab_stops == 1
    await tablet.keyboard.press("Tab")
    await expect(tablet.get_by_test_id("rating-comment")).to_be_focused()
    await tablet.keyboard.press("Shift+Tab")
    await expect(tablet.get_by_test_id("rating-score-4")).to_be_focused()
    await tablet.keyboard.press("Home")
    await expect(tablet.get_by_test_id("rating-score-1")).to_have_attribute("aria-checked", "true")

    for testid in ("rating-score-1", "rating-score-5", "rating-send", "rating-skip"):
        box = await tablet.get_by_test_id(testid).bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 44, (testid, box)
    # Both in view without the user scrolling, upright (the page brought the prompt up)
    # and on its side.
    await in_both_orientations(tablet, "tablet-rating", ("rating-prompt", "help-button"))
    assert pages.problems == []


async def test_not_now_and_help_put_the_prompt_away(
    start_server: StartServer, browser: Browser
) -> None:
    """Not now hides the prompt and sends nothing; after the next call, pressing Help while
    the prompt shows asks for help at once and puts the prompt away."""
    h = await start_server()
    pages = Pages(browser, h)
    tablet = await pages.tablet()
    first = await call_ended(h, tablet)
    await tablet.get_by_test_id("rating-score-2").tap()
    await tablet.get_by_test_id("rating-skip").tap()
    await expect(tablet.get_by_test_id("rating-prompt")).to_be_hidden()
    await expect(tablet.get_by_test_id("rating-thanks")).to_be_hidden()
    assert await h.server.store.rating(first.request_id) is None

    ada = h.clients[-1]
    await ada.set_available()
    await tablet.get_by_test_id("help-button").tap()
    second = await ada.accept((await ada.next(HelpOffer)).request_id)
    await expect_state(tablet, "connecting")
    await ada.end_session(second.session_id, reason="advisor_ended")
    await expect_state(tablet, "ended")
    await expect(tablet.get_by_test_id("rating-prompt")).to_be_visible()
    await expect(tablet.get_by_test_id("rating-score-2")).to_have_attribute(
        "aria-checked", "false"
    )  # a fresh prompt
    await ada.set_available()
    await tablet.get_by_test_id("help-button").tap()
    await ada.next(HelpOffer)
    await expect_state(tablet, "offered")
    await expect(tablet.get_by_test_id("rating-prompt")).to_be_hidden()
    assert await h.server.store.rating(second.request_id) is None
    assert pages.problems == []


async def test_a_refused_rating_says_why_and_keeps_the_prompt(
    start_server: StartServer, browser: Browser
) -> None:
    """Sent over an hour after the call, the rating is refused: the prompt stays with a
    plain sentence, no thanks are shown, and nothing is stored."""
    clock = LateClock()
    h = await start_server(clock=clock)
    pages = Pages(browser, h)
    # A token that outlives the hour the server's clock is moved on.
    token = h.token("user", "tab-1", name="Tablet One", ttl_s=4 * 3600)
    tablet = await pages.open(f"/tablet?token={token}", TABLET)
    started = await call_ended(h, tablet)
    clock.late = NOTE_WINDOW_S + 60
    await tablet.get_by_test_id("rating-score-5").tap()
    await tablet.get_by_test_id("rating-send").tap()
    error = tablet.get_by_test_id("rating-error")
    await expect(error).to_have_text(
        "It is too late to rate this call: ratings are taken up to an hour after it ends."
    )
    await expect(error).to_have_attribute("role", "alert")
    await expect(tablet.get_by_test_id("rating-prompt")).to_be_visible()
    await expect(tablet.get_by_test_id("rating-thanks")).to_be_hidden()
    await expect(tablet.get_by_test_id("rating-send")).to_be_enabled()
    assert await h.server.store.rating(started.request_id) is None
    assert pages.problems == []
