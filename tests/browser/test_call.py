"""The tablet page and the advisor console, driven in headless Chromium against a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

from mayday.client import HelpOffer, MaydayPeer, PatternVideoTrack, SessionEnded
from tests.conftest import Harness, StartServer

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
MEDIA_TIMEOUT_MS = 10_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        try:
            launched = await p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        except PlaywrightError as exc:
            pytest.fail(f"Chromium did not launch from {CHROMIUM} (make system-deps): {exc}")
        try:
            yield launched
        finally:
            await launched.close()


async def open_page(browser: Browser, url: str, problems: list[str]) -> Page:
    """A page in its own context (its own devices) that notes script errors and warnings."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    where = url.split("?")[0]

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            problems.append(f"{where} console {msg.type}: {msg.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"{where}: {exc}"))
    await page.goto(url)
    return page


def page_url(h: Harness, page: str, role: str, sub: str, name: str) -> str:
    return f"{h.http_url}/{page}?token={h.token(role, sub, name=name)}"


async def expect_state(page: Page, state: str, timeout: float = 5_000) -> None:
    await expect(page.locator("body")).to_have_attribute("data-state", state, timeout=timeout)


async def expect_video_playing(page: Page, testid: str) -> None:
    """The video element shows real frames: it has a size and its clock moves."""
    selector = f'[data-testid="{testid}"]'
    await expect(page.locator(selector)).to_be_visible()
    await page.wait_for_function(
        "s => { const v = document.querySelector(s); return v.videoWidth > 0 && v.readyState > 1 }",
        arg=selector,
        timeout=MEDIA_TIMEOUT_MS,
    )
    before = await page.eval_on_selector(selector, "v => v.currentTime")
    await page.wait_for_function(
        "([s, t]) => document.querySelector(s).currentTime > t + 0.2",
        arg=[selector, before],
        timeout=MEDIA_TIMEOUT_MS,
    )


async def reported_media(h: Harness, tablet: Page) -> set[tuple[str, str | None]]:
    """(event, side) of the request's timeline, for the request the tablet page made."""
    request_id = await tablet.evaluate("document.body.dataset.requestId")
    request = await h.server.store.request(request_id)
    assert request is not None
    return {(e.event, e.data.get("side")) for e in request.timeline}


@pytest.mark.parametrize("offerer", ["advisor", "user"])
async def test_help_call_between_pages(
    start_server: StartServer, browser: Browser, offerer: str
) -> None:
    """Help pressed, offer accepted: each page plays the other's video, then the tablet ends."""
    h = await start_server(offerer=offerer)
    problems: list[str] = []
    advisor = await open_page(
        browser, page_url(h, "advisor", "advisor", "adv-1", "Ada Advisor"), problems
    )
    tablet = await open_page(
        browser, page_url(h, "tablet", "user", "tab-1", "Tablet One"), problems
    )

    await expect_state(advisor, "away")
    await advisor.get_by_test_id("availability-toggle").click()
    await expect_state(advisor, "available")
    await expect(advisor.get_by_test_id("availability-toggle")).to_have_attribute(
        "aria-pressed", "true"
    )

    await expect_state(tablet, "ready")
    await tablet.get_by_test_id("help-button").click()
    await expect_state(tablet, "offered")
    await expect(tablet.get_by_test_id("queue-position")).to_contain_text("next in line")

    offer = advisor.get_by_test_id("offer")
    await expect(offer).to_be_visible()
    await expect(offer).to_contain_text("Tablet One")
    await expect(offer).to_contain_text("answer within")
    await advisor.get_by_test_id("accept-button").click()

    for page, video in ((tablet, "advisor-video"), (advisor, "screen-video")):
        await expect_state(page, "connected", MEDIA_TIMEOUT_MS)
        await expect_video_playing(page, video)
    await expect(tablet.get_by_test_id("status")).to_contain_text("Ada Advisor")
    await expect(advisor.get_by_test_id("status")).to_contain_text("Tablet One")

    OUTPUT.mkdir(exist_ok=True)
    await tablet.screenshot(path=OUTPUT / f"tablet-in-session-{offerer}-offers.png")
    await advisor.screenshot(path=OUTPUT / f"advisor-in-session-{offerer}-offers.png")

    await tablet.get_by_test_id("end-button").click()
    for page in (tablet, advisor):
        await expect_state(page, "ended")
        await expect(page.get_by_test_id("status")).to_contain_text("Call ended")
        await expect(page.get_by_test_id("end-button")).to_be_hidden()
    await expect(tablet.get_by_test_id("help-button")).to_be_enabled()
    await expect(advisor.get_by_test_id("availability-toggle")).to_have_text("Go away")

    reported = await reported_media(h, tablet)
    for side in ("user", "advisor"):
        assert ("media.connected", side) in reported
        assert ("media.first_frame", side) in reported
    assert ("session.ended", None) in reported
    assert problems == []


@pytest.mark.parametrize("offerer", ["advisor", "user"])
async def test_tablet_page_with_full_sdp_advisor(
    start_server: StartServer, browser: Browser, offerer: str
) -> None:
    """The tablet page and an aiortc advisor (full SDP, no trickle) see each other's video."""
    h = await start_server(offerer=offerer)
    problems: list[str] = []
    advisor = await h.client("advisor", "bot-1", name="Bot Advisor")
    await advisor.set_available()
    tablet = await open_page(
        browser, page_url(h, "tablet", "user", "tab-1", "Tablet One"), problems
    )
    await expect_state(tablet, "ready")
    await tablet.get_by_test_id("help-button").click()

    offer = await advisor.next(HelpOffer)
    started = await advisor.accept(offer.request_id)
    peer = MaydayPeer(advisor, started, PatternVideoTrack(shade=200))
    try:
        await peer.start()
        await expect_state(tablet, "connected", MEDIA_TIMEOUT_MS)
        await expect_video_playing(tablet, "advisor-video")
        await peer.wait_frames(10)
    finally:
        await peer.close()

    await tablet.get_by_test_id("end-button").click()
    ended = await advisor.next(SessionEnded)
    assert (ended.session_id, ended.by) == (started.session_id, "user")
    await expect_state(tablet, "ended")
    reported = await reported_media(h, tablet)
    assert {("media.connected", "user"), ("media.first_frame", "user")} <= reported
    assert problems == []
