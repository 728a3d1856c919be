"""Drawing on the tablet's screen from the console, and co-pilot control, in two Chromium pages.

Positions are compared in coordinates normalised to the shared frame. The console's
layer maps the mouse into the video's picture as shown (object-fit: contain), the
tablet paints on an overlay of the demo screen's own 640 x 400 pixels. Tolerance:
a stroke drawn through a normalised point must leave pen-coloured pixels within 1%
of the frame's width (6 px on the 640-pixel overlay) of that point, and none 10% away.
"""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.helpers import STATE_TIMEOUT_MS, Pages, screenshot_stats, start_call
from tests.conftest import Harness, StartServer

pytestmark = pytest.mark.browser

OVERLAY = (640, 400)
TOLERANCE_PX = 6  # 1% of the overlay's width
PEN = (255, 59, 48)  # #ff3b30
LASER = (255, 45, 85)
BLUETOOTH_ROW = (400 / 640, 164 / 400)  # normalised; a tap on the row flips its switch
BLUETOOTH_SWITCH_LEFT = (566, 164)  # demo-screen pixels: white knob when off, green when on

# A fresh copy of a canvas to read pixels from: repeated readbacks of the page's own
# canvas would make Chromium warn (willReadFrequently) and count as a page problem.
COPY = """const copy = (selector) => {
  const c = document.querySelector(selector);
  const ctx = new OffscreenCanvas(c.width, c.height).getContext("2d", { willReadFrequently: true });
  ctx.drawImage(c, 0, 0);
  return ctx;
};"""

# Where the video's picture lies in the console, in page pixels: [left, top, width, height].
PICTURE = """() => {
  const v = document.querySelector('[data-testid="screen-video"]');
  const b = v.getBoundingClientRect();
  const s = Math.min(b.width / v.videoWidth, b.height / v.videoHeight);
  const w = v.videoWidth * s, h = v.videoHeight * s;
  return [b.left + (b.width - w) / 2, b.top + (b.height - h) / 2, w, h];
}"""

# How many pixels of a colour (each channel within 40) lie within r pixels of (x, y).
COLOURED_NEAR = (
    """([x, y, r, rgb]) => {
  """
    + COPY
    + """
  const overlay = copy('[data-testid="annotation-overlay"]');
  const d = overlay.getImageData(x - r, y - r, 2 * r + 1, 2 * r + 1).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const near = [0, 1, 2].every((k) => Math.abs(d[i + k] - rgb[k]) <= 40);
    if (d[i + 3] > 160 && near) n += 1;
  }
  return n;
}"""
)

PAINTED = (
    """() => {
  """
    + COPY
    + """
  const d = copy('[data-testid="annotation-overlay"]').getImageData(0, 0, 640, 400).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1;
  return n;
}"""
)

DEMO_GREEN = (
    """([x, y]) => {
  """
    + COPY
    + """
  const [r, g] = copy('[data-testid="demo-screen"]').getImageData(x, y, 1, 1).data;
  return g > 150 && r < 120;
}"""
)


async def at(advisor: Page, nx: float, ny: float) -> tuple[float, float]:
    """Page coordinates of a normalised point of the user's screen on the console."""
    left, top, width, height = await advisor.evaluate(PICTURE)
    return left + nx * width, top + ny * height


async def drag(advisor: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press at ``start``, move to ``end`` in small steps as a hand would, release."""
    await advisor.mouse.move(*await at(advisor, *start))
    await advisor.mouse.down()
    await advisor.mouse.move(*await at(advisor, *end), steps=25)
    await advisor.mouse.up()


async def expect_colour(
    tablet: Page, nx: float, ny: float, rgb: tuple[int, ...], present: bool
) -> None:
    """Wait until the overlay has (or has no) pixels of ``rgb`` near the normalised point."""
    point = [round(nx * OVERLAY[0]), round(ny * OVERLAY[1]), TOLERANCE_PX, list(rgb)]
    check = f"a => (({COLOURED_NEAR})(a) > 0) === {str(present).lower()}"
    await tablet.wait_for_function(check, arg=point, timeout=STATE_TIMEOUT_MS)


async def overlay_painted(tablet: Page) -> int:
    painted: int = await tablet.evaluate(PAINTED)
    return painted


async def test_strokes_reach_the_tablet_at_the_same_place_and_undo_and_clear_remove_them(
    start_server: StartServer, browser: Browser
) -> None:
    """A pen stroke drawn across the console's video shows on the tablet's overlay at the
    same normalised place (within 1% of the width); undo removes the last stroke, clear
    the rest; the laser shows as a dot that fades."""
    h = await start_server()
    pages = Pages(browser, h)
    advisor = await pages.advisor()
    tablet = await pages.tablet()
    await start_call(tablet, advisor)
    assert await overlay_painted(tablet) == 0

    await expect(advisor.get_by_test_id("tool-pen")).to_have_attribute("aria-pressed", "true")
    await drag(advisor, (0.3, 0.5), (0.7, 0.5))
    await expect_colour(tablet, 0.5, 0.5, PEN, True)
    await expect_colour(tablet, 0.31, 0.5, PEN, True)
    await expect_colour(tablet, 0.69, 0.5, PEN, True)
    assert await tablet.evaluate(COLOURED_NEAR, [320, 160, TOLERANCE_PX, list(PEN)]) == 0
    assert await tablet.evaluate(COLOURED_NEAR, [128, 200, TOLERANCE_PX, list(PEN)]) == 0

    await drag(advisor, (0.2, 0.8), (0.6, 0.8))
    await expect_colour(tablet, 0.4, 0.8, PEN, True)
    await advisor.get_by_test_id("tool-undo").click()
    await expect_colour(tablet, 0.4, 0.8, PEN, False)
    await expect_colour(tablet, 0.5, 0.5, PEN, True)

    await advisor.get_by_test_id("tool-clear").click()
    await expect_colour(tablet, 0.5, 0.5, PEN, False)
    await tablet.wait_for_function(f"() => ({PAINTED})() === 0", timeout=STATE_TIMEOUT_MS)

    await advisor.get_by_test_id("tool-laser").click()
    await advisor.mouse.move(*await at(advisor, 0.5, 0.25), steps=5)
    await advisor.mouse.move(*await at(advisor, 0.52, 0.25), steps=5)
    await expect_colour(tablet, 0.52, 0.25, LASER, True)
    await tablet.wait_for_function(f"() => ({PAINTED})() === 0", timeout=STATE_TIMEOUT_MS)

    await advisor.get_by_test_id("tool-box").click()
    await drag(advisor, (0.1, 0.1), (0.4, 0.3))
    await expect_colour(tablet, 0.25, 0.1, (10, 132, 255), True)  # the box's top edge
    await expect_colour(tablet, 0.25, 0.2, (10, 132, 255), False)  # and not inside it
    await drag(advisor, (0.5, 0.6), (0.9, 0.9))
    for page, who in ((tablet, "tablet"), (advisor, "advisor")):
        stats = await screenshot_stats(page, f"{who}-annotations")
        assert stats.distinct >= 64, (who, stats)
    assert pages.problems == []


async def audit_events(h: Harness, session_id: str) -> list[str]:
    headers = {"Authorization": f"Bearer {h.token('ops', 'ops-1')}"}
    url = f"{h.http_url}/api/sessions/{session_id}/audit"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        body = await response.json()
    return [e["event"] for e in body["entries"]]


async def test_control_granted_tap_flips_the_toggle_and_revoke_stops_it(
    start_server: StartServer, browser: Browser
) -> None:
    """The advisor asks, the user allows, the advisor's tap flips the demo's Bluetooth switch
    on the tablet; the user stops control and the next tap is refused by the server."""
    h = await start_server()
    pages = Pages(browser, h)
    advisor = await pages.advisor()
    tablet = await pages.tablet()
    await start_call(tablet, advisor)
    assert not await tablet.evaluate(DEMO_GREEN, list(BLUETOOTH_SWITCH_LEFT))

    await advisor.get_by_test_id("control-request").click()
    prompt = tablet.get_by_test_id("control-prompt")
    await expect(prompt).to_be_visible(timeout=STATE_TIMEOUT_MS)
    await expect(prompt).to_contain_text("Ada Advisor asks to control your screen")
    await expect(advisor.get_by_test_id("control-status")).to_contain_text("Waiting for the user")
    await tablet.get_by_test_id("control-grant").tap()
    banner = tablet.get_by_test_id("control-banner")
    await expect(banner).to_be_visible(timeout=STATE_TIMEOUT_MS)
    await expect(banner).to_contain_text("Ada Advisor has control of your screen")
    await expect(prompt).to_be_hidden()
    await expect(advisor.get_by_test_id("tool-tap")).to_have_attribute("aria-pressed", "true")

    await advisor.mouse.click(*await at(advisor, *BLUETOOTH_ROW))
    await tablet.wait_for_function(
        DEMO_GREEN, arg=list(BLUETOOTH_SWITCH_LEFT), timeout=STATE_TIMEOUT_MS
    )
    await expect(advisor.get_by_test_id("control-status")).to_contain_text("Tapped")
    await screenshot_stats(tablet, "tablet-control-granted")

    await tablet.get_by_test_id("control-revoke").tap()
    await expect(banner).to_be_hidden(timeout=STATE_TIMEOUT_MS)
    await expect(advisor.get_by_test_id("control-status")).to_contain_text("took control back")
    await advisor.mouse.click(*await at(advisor, *BLUETOOTH_ROW))
    await expect(advisor.get_by_test_id("control-status")).to_contain_text(
        'Tap refused: input refused: control is "revoked", not granted', timeout=STATE_TIMEOUT_MS
    )
    assert await tablet.evaluate(DEMO_GREEN, list(BLUETOOTH_SWITCH_LEFT))

    request_id = await tablet.evaluate("document.body.dataset.requestId")
    request = await h.server.store.request(request_id)
    assert request is not None and request.session_id is not None
    session_id = request.session_id
    assert await audit_events(h, session_id) == [
        "control.request",
        "control.grant",
        "control.input",
        "control.revoke",
        "control.input.refused",
    ]
    assert pages.problems == []


# The demo screen's rows are 56 px tall; the icon of row i is centred at (41, 108 + 56 i).
ROW_ICON = (
    """([x, y]) => {
  """
    + COPY
    + """
  return Array.from(copy('[data-testid="demo-screen"]').getImageData(x, y, 1, 1).data.slice(0, 3));
}"""
)
SOFTWARE_UPDATE_ICON = (41, 332)  # row 4, green; after scrolling one row, row 5 (blue) is there


async def test_scroll_with_consent_and_pause_on_the_tablet(
    start_server: StartServer, browser: Browser
) -> None:
    """A granted scroll moves the tablet's list by the same fraction of the screen (one row);
    pausing sharing turns the console's tools off and says why, resuming turns them on."""
    h = await start_server()
    pages = Pages(browser, h)
    advisor = await pages.advisor()
    tablet = await pages.tablet()
    await start_call(tablet, advisor)
    r, g, b = await tablet.evaluate(ROW_ICON, list(SOFTWARE_UPDATE_ICON))
    assert g > 150 and r < 120, (r, g, b)  # green: Software update

    await advisor.get_by_test_id("control-request").click()
    await tablet.get_by_test_id("control-grant").tap()
    await expect(tablet.get_by_test_id("control-banner")).to_be_visible(timeout=STATE_TIMEOUT_MS)
    await expect(advisor.get_by_test_id("tool-tap")).to_have_attribute("aria-pressed", "true")
    _, _, _, height = await advisor.evaluate(PICTURE)
    await advisor.mouse.move(*await at(advisor, 0.5, 0.6))
    await advisor.mouse.wheel(0, 56 / 400 * height)  # one row of the 400-pixel screen
    blue = f"a => {{ const [r, g, b] = ({ROW_ICON})(a); return b > 200 && r < 60; }}"
    await tablet.wait_for_function(blue, arg=list(SOFTWARE_UPDATE_ICON), timeout=STATE_TIMEOUT_MS)

    pause = tablet.get_by_test_id("share-pause")
    await pause.tap()
    await expect(pause).to_have_attribute("aria-pressed", "true", timeout=STATE_TIMEOUT_MS)
    await expect(advisor.get_by_test_id("share-paused")).to_be_visible(timeout=STATE_TIMEOUT_MS)
    await expect(advisor.get_by_test_id("control-status")).to_contain_text("paused screen sharing")
    for tool in ("tool-pen", "tool-laser", "tool-tap", "tool-clear"):
        await expect(advisor.get_by_test_id(tool)).to_be_disabled()
    await expect(advisor.get_by_test_id("annotation-layer")).to_have_attribute("data-tool", "none")
    await pause.tap()
    await expect(advisor.get_by_test_id("share-paused")).to_be_hidden(timeout=STATE_TIMEOUT_MS)
    await expect(advisor.get_by_test_id("tool-pen")).to_be_enabled()
    await expect(pause).to_have_text("Pause sharing")
    assert pages.problems == []
