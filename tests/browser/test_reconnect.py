"""The pages through a signaling drop (issue 10): the tablet's link to the server is cut
for real (a TCP proxy resets it and refuses new connections) for 5 seconds mid-call,
and separately the tablet page is reloaded mid-call. The call goes on, or comes back,
and the pages say what happens."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.helpers import (
    Pages,
    expect_state,
    expect_status,
    expect_video_playing,
    start_call,
)
from tests.conftest import StartServer
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.browser

# What Chromium itself logs for each socket the cut link refuses.
EXPECTED_PROBLEMS = ("WebSocket connection to", "ERR_CONNECTION_RESET", "ERR_CONNECTION_REFUSED")


async def frames(page: Page, testid: str) -> int:
    """Video frames the element has shown so far."""
    count: int = await page.eval_on_selector(
        f'[data-testid="{testid}"]', "v => v.getVideoPlaybackQuality().totalVideoFrames"
    )
    return count


async def test_the_call_goes_on_through_a_5_s_cut_of_the_tablets_signaling_link(
    start_server: StartServer, browser: Browser
) -> None:
    h = await start_server()
    proxy = await TcpProxy([("127.0.0.1", h.port)]).start()
    try:
        pages = Pages(browser, h)
        advisor = await pages.advisor()
        tablet = await pages.tablet(base=proxy.url("", "http"))
        sockets: list[str] = []
        tablet.on("websocket", lambda ws: sockets.append(ws.url))
        await start_call(tablet, advisor)
        before = await frames(tablet, "advisor-video")

        assert proxy.cut() >= 1
        proxy.refusing = True
        await expect_status(tablet, "Reconnecting…")
        await expect(tablet.locator("body")).to_have_attribute("data-link", "reconnecting")
        await expect_status(advisor, "The user's connection dropped; waiting for them to come back")
        await asyncio.sleep(5)
        during = await frames(tablet, "advisor-video")
        assert during > before + 20, "the advisor's video stopped with the signaling link"
        await expect_state(tablet, "connected")
        proxy.refusing = False

        # The page's next try can be up to 1.5 times its back-off step away (4 s or 8 s after
        # 5 s of refusals): longer than expect's 5 s.
        back = tablet.locator("body")
        await expect(back).not_to_have_attribute("data-link", "reconnecting", timeout=15_000)
        await expect_status(tablet, "You are talking with Ada Advisor")
        await expect_status(advisor, "The user is back.")
        await expect_state(advisor, "connected")
        await expect_video_playing(tablet, "advisor-video")
        await expect_video_playing(advisor, "screen-video")
        assert await frames(tablet, "advisor-video") > during
        assert re.search(r"resume=[^&]+&last_seq=[1-9]\d*$", sockets[-1]), "no resume asked"
        assert await advisor.get_by_test_id("status").text_content() == "The user is back."
        problems = [p for p in pages.problems if not any(e in p for e in EXPECTED_PROBLEMS)]
        assert problems == []
    finally:
        await proxy.close()


async def test_a_tablet_page_reloaded_mid_call_comes_back_into_the_call(
    start_server: StartServer, browser: Browser
) -> None:
    """The reloaded page resumes with the token it kept in the tab, is given the live
    session again, and the call is negotiated anew on both sides."""
    h = await start_server()
    pages = Pages(browser, h)
    advisor = await pages.advisor()
    tablet = await pages.tablet()
    await start_call(tablet, advisor)
    request_id = await tablet.evaluate("document.body.dataset.requestId")

    await tablet.reload()
    await expect_status(advisor, "The user is back")
    for page, video in ((tablet, "advisor-video"), (advisor, "screen-video")):
        await expect_state(page, "connected", 20_000)
        await expect_video_playing(page, video)
    await expect_status(tablet, "You are talking with Ada Advisor")
    assert await tablet.evaluate("document.body.dataset.requestId") == request_id
    assert pages.problems == []
