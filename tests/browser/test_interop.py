"""Each page in Chromium against an aiortc peer from the client library (full SDP, no trickle)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from mayday.client import HelpOffer, MaydayPeer, PatternVideoTrack, SessionEnded, SessionStarted
from tests.browser.helpers import (
    MEDIA_TIMEOUT_MS,
    Pages,
    expect_state,
    expect_video_playing,
    expect_video_shape,
    go_available,
)
from tests.conftest import StartServer

pytestmark = pytest.mark.browser

PATTERN_SIZE = (320, 240)  # PatternVideoTrack's frames


@pytest.mark.parametrize("offerer", ["advisor", "user"])
async def test_tablet_page_with_aiortc_advisor(
    start_server: StartServer, browser: Browser, offerer: str
) -> None:
    """The tablet page and an aiortc advisor see each other's video; the tablet ends."""
    h = await start_server(offerer=offerer)
    pages = Pages(browser, h)
    advisor = await h.client("advisor", "bot-1", name="Bot Advisor")
    await advisor.set_available()
    tablet = await pages.tablet()
    await expect_state(tablet, "ready")
    await tablet.get_by_test_id("help-button").tap()

    offer = await advisor.next(HelpOffer)
    started = await advisor.accept(offer.request_id)
    peer = MaydayPeer(advisor, started, PatternVideoTrack(shade=200))
    try:
        await peer.start()
        await expect_state(tablet, "connected", MEDIA_TIMEOUT_MS)
        await expect_video_playing(tablet, "advisor-video")
        await expect_video_shape(tablet, "advisor-video", *PATTERN_SIZE)
        await peer.wait_frames(10)
    finally:
        await peer.close()

    await tablet.get_by_test_id("end-button").tap()
    ended = await advisor.next(SessionEnded)
    assert (ended.session_id, ended.by) == (started.session_id, "user")
    await expect_state(tablet, "ended")
    assert pages.problems == []


@pytest.mark.parametrize("offerer", ["advisor", "user"])
async def test_advisor_page_with_aiortc_tablet(
    start_server: StartServer, browser: Browser, offerer: str
) -> None:
    """The console plays an aiortc tablet's screen and sends it the camera; the advisor ends."""
    h = await start_server(offerer=offerer)
    pages = Pages(browser, h)
    advisor = await pages.advisor()
    await go_available(advisor)
    tablet = await h.client("user", "bot-tab", name="Bot Tablet")
    await tablet.request_help(topic="Wi-Fi")

    offer = advisor.get_by_test_id("offer")
    await expect(offer).to_be_visible()
    await expect(offer).to_contain_text("Bot Tablet")
    await expect(offer).to_contain_text("Wi-Fi")
    await advisor.get_by_test_id("accept-button").click()
    started = await tablet.next(SessionStarted)
    peer = MaydayPeer(tablet, started, PatternVideoTrack(shade=64))
    try:
        await peer.start()
        await expect_state(advisor, "connected", MEDIA_TIMEOUT_MS)
        await expect_video_playing(advisor, "screen-video")
        await expect_video_shape(advisor, "screen-video", *PATTERN_SIZE)
        await peer.wait_frames(10)
    finally:
        await peer.close()

    await advisor.get_by_test_id("end-button").click()
    ended = await tablet.next(SessionEnded)
    assert (ended.session_id, ended.by) == (started.session_id, "advisor")
    await expect_state(advisor, "ended")
    assert pages.problems == []
