"""A whole call between the tablet page and the advisor console, both in headless Chromium."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.helpers import (
    DESKTOP,
    MEDIA_TIMEOUT_MS,
    Pages,
    expect_seen_state,
    expect_state,
    expect_status,
    expect_video_shape,
    record_states,
    region_stats,
    screenshot_stats,
    start_call,
)
from tests.conftest import Harness, StartServer

pytestmark = pytest.mark.browser

# The demo screen is 640 x 400; the Bluetooth switch (off at first) sits in its second row.
DEMO_SIZE = (640, 400)
FAKE_DISPLAY = (1280, 720)  # what getDisplayMedia gives in headless Chromium
BLUETOOTH_ROW = (400, 164)  # a tap anywhere on the row flips the switch
BLUETOOTH_SWITCH_LEFT = (566, 164)  # the knob (white) when off, the green track when on

# One pixel of the advisor's video, in demo-screen pixels whatever size the encoder chose.
SCREEN_PIXEL = """([x, y]) => {
  const v = document.querySelector('[data-testid="screen-video"]');
  const c = new OffscreenCanvas(640, 400).getContext("2d");
  c.drawImage(v, 0, 0, 640, 400);
  return Array.from(c.getImageData(x, y, 1, 1).data.slice(0, 3));
}"""


async def reported_media(h: Harness, tablet: Page) -> set[tuple[str, str | None]]:
    """(event, side) of the request's timeline, for the request the tablet page made."""
    request_id = await tablet.evaluate("document.body.dataset.requestId")
    request = await h.server.store.request(request_id)
    assert request is not None
    return {(e.event, e.data.get("side")) for e in request.timeline}


async def tap_demo_screen(tablet: Page, x: float, y: float) -> None:
    """Tap the tablet's demo screen at (x, y) in its own pixels, whatever its size on screen."""
    canvas = tablet.get_by_test_id("demo-screen")
    width, height = await canvas.evaluate("c => [c.clientWidth, c.clientHeight]")
    await canvas.tap(position={"x": x * width / DEMO_SIZE[0], "y": y * height / DEMO_SIZE[1]})


async def expect_screen_pixel_green(advisor: Page, green: bool) -> None:
    """Wait until the advisor's video shows the Bluetooth switch on (green) or off."""
    check = f"""([x, y, want]) => {{
      const [r, g] = ({SCREEN_PIXEL})([x, y]);
      return (g > 150 && r < 120) === want;
    }}"""
    await advisor.wait_for_function(
        check, arg=[*BLUETOOTH_SWITCH_LEFT, green], timeout=MEDIA_TIMEOUT_MS
    )


async def expect_pages_not_blank(tablet: Page, advisor: Page, name: str) -> None:
    """Screenshots of both pages in session, and of both videos, hold real pictures."""
    for page, who in ((tablet, "tablet"), (advisor, "advisor")):
        stats = await screenshot_stats(page, f"{who}-in-session-{name}")
        assert stats.distinct >= 64, (who, stats)
        assert stats.commonest_share < 0.9, (who, stats)
    for page, video in ((tablet, "advisor-video"), (advisor, "screen-video")):
        stats = await region_stats(page, video)
        assert stats.distinct >= 16, (video, stats)
        assert stats.commonest_share < 0.9, (video, stats)


@pytest.mark.parametrize(
    ("offerer", "ender"),
    [("advisor", "tablet"), ("user", "advisor")],
    ids=["advisor-offers-tablet-ends", "tablet-offers-advisor-ends"],
)
async def test_call_between_pages(
    start_server: StartServer, browser: Browser, offerer: str, ender: str
) -> None:
    """Help, accept, video and sound both ways, taps reach the advisor, mute, either side ends."""
    h = await start_server(offerer=offerer)
    pages = Pages(browser, h)
    advisor = await pages.advisor()
    tablet = await pages.tablet()

    await go_through_offer_states(tablet, advisor)
    await expect_status(tablet, "Ada Advisor")
    await expect_status(advisor, "Tablet One")

    await expect_screen_pixel_green(advisor, False)
    await tap_demo_screen(tablet, *BLUETOOTH_ROW)
    await expect_screen_pixel_green(advisor, True)

    await expect_audio_both_ways(tablet, advisor)
    await expect_layout_in_session(tablet, advisor)
    await expect_pages_not_blank(tablet, advisor, f"{offerer}-offers")
    await expect_mute_works(tablet, advisor)

    ending = tablet if ender == "tablet" else advisor
    await ending.get_by_test_id("end-button").click()
    for page in (tablet, advisor):
        await expect_state(page, "ended")
        await expect_status(page, "Call ended")
        await expect(page.get_by_test_id("end-button")).to_be_hidden()
    await expect_status(ending, "You ended the call")
    await expect(tablet.get_by_test_id("advisor-video")).to_be_hidden()
    await expect(tablet.get_by_test_id("help-button")).to_be_enabled()
    await expect(advisor.get_by_test_id("availability-toggle")).to_have_text("Go away")

    reported = await reported_media(h, tablet)
    for side in ("user", "advisor"):
        assert ("media.connected", side) in reported
        assert ("media.first_frame", side) in reported
    assert ("session.ended", None) in reported
    assert pages.problems == []


async def expect_audio_both_ways(tablet: Page, advisor: Page) -> None:
    """Each page receives the other's microphone: a remote track unmutes when its packets
    arrive."""
    for page, audio in ((tablet, "advisor-audio"), (advisor, "user-audio")):
        await page.wait_for_function(
            """s => {
              const tracks = document.querySelector(s).srcObject?.getAudioTracks() ?? [];
              return tracks.length === 1 && tracks[0].readyState === "live" && !tracks[0].muted;
            }""",
            arg=f'[data-testid="{audio}"]',
            timeout=MEDIA_TIMEOUT_MS,
        )


async def expect_layout_in_session(tablet: Page, advisor: Page) -> None:
    """The advisor's video is a small window in the corner of the tablet's screen; the
    user's screen fills most of the console."""
    screen = await tablet.get_by_test_id("demo-screen").bounding_box()
    pip = await tablet.get_by_test_id("advisor-video").bounding_box()
    assert screen is not None and pip is not None
    assert pip["width"] < screen["width"] / 2
    assert screen["x"] + screen["width"] / 2 < pip["x"] < screen["x"] + screen["width"]
    assert screen["y"] + screen["height"] / 2 < pip["y"] < screen["y"] + screen["height"]

    user_screen = await advisor.get_by_test_id("screen-video").bounding_box()
    assert user_screen is not None
    assert user_screen["width"] > 0.6 * DESKTOP["viewport"]["width"]


async def expect_mute_works(tablet: Page, advisor: Page) -> None:
    """The console's mute button silences the advisor's microphone track and gives it back;
    the tablet has one too."""
    mute = advisor.get_by_test_id("mute-button")
    enabled = "v => v.srcObject.getAudioTracks().map(t => t.enabled)"
    assert await advisor.get_by_test_id("self-video").evaluate(enabled) == [True]
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await expect(mute).to_have_text("Unmute")
    assert await advisor.get_by_test_id("self-video").evaluate(enabled) == [False]
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "false")
    assert await advisor.get_by_test_id("self-video").evaluate(enabled) == [True]
    tablet_mute = tablet.get_by_test_id("mute-button")
    await tablet_mute.tap()
    await expect(tablet_mute).to_have_attribute("aria-pressed", "true")


async def go_through_offer_states(tablet: Page, advisor: Page) -> None:
    """The tablet shows the offer (an advisor is being asked), then connecting, then the call."""
    await record_states(tablet)
    await start_call(tablet, advisor)
    seen = await expect_seen_state(tablet, "connected")
    assert seen.index("offered") < seen.index("connecting") < seen.index("connected")


REFUSE_DISPLAY = """() => {
  const devices = navigator.mediaDevices;
  devices.realGetDisplayMedia = devices.getDisplayMedia;
  devices.getDisplayMedia = async () => {
    throw new DOMException("Permission denied", "NotAllowedError");
  };
}"""
ALLOW_DISPLAY = """() => {
  const devices = navigator.mediaDevices;
  devices.getDisplayMedia = devices.realGetDisplayMedia;
}"""


async def test_tablet_shares_real_screen_or_falls_back(
    start_server: StartServer, browser: Browser
) -> None:
    """Mid-call: refused capture keeps the demo screen; allowed, the advisor sees the real
    screen (16:9), and stopping it brings the demo screen (16:10) back."""
    h = await start_server()
    pages = Pages(browser, h)
    advisor = await pages.advisor()
    tablet = await pages.tablet()
    await start_call(tablet, advisor)
    await expect_video_shape(advisor, "screen-video", *DEMO_SIZE)
    share = tablet.get_by_test_id("share-screen-button")
    note = tablet.get_by_test_id("screen-source")

    await tablet.evaluate(REFUSE_DISPLAY)
    await share.tap()
    await expect(note).to_contain_text("not shared (screen sharing was not allowed)")
    await expect(share).to_have_attribute("aria-pressed", "false")

    await tablet.evaluate(ALLOW_DISPLAY)
    await share.tap()
    await expect(share).to_have_attribute("aria-pressed", "true")
    await expect(note).to_contain_text("real screen")
    await expect_video_shape(advisor, "screen-video", *FAKE_DISPLAY)

    await share.tap()
    await expect(share).to_have_attribute("aria-pressed", "false")
    await expect_video_shape(advisor, "screen-video", *DEMO_SIZE)
    await expect_state(advisor, "connected")
    assert pages.problems == []
