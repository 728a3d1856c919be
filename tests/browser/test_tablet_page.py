"""The tablet page for a non-technical user, in Chromium: plain words (no role names, ids or
server messages), a way back from a refused link, the advisor's video moved and shrunk and
never over the drawing (checked on the screenshot's pixels), the portrait layout, the paused
state said everywhere, and the estimated wait."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, expect

from mayday.client import HelpOffer, MaydayClient, SessionStarted
from tests.browser.helpers import (
    OUTPUT,
    PORTRAIT,
    STATE_TIMEOUT_MS,
    Pages,
    expect_state,
    expect_status,
    in_both_orientations,
    start_call,
)
from tests.browser.png import Image, decode
from tests.conftest import Harness, StartServer

pytestmark = pytest.mark.browser

BOX_BLUE = (10, 132, 255)  # #0a84ff


async def press_help(tablet: Page) -> None:
    await expect_state(tablet, "ready")
    await tablet.get_by_test_id("help-button").tap()


async def test_plain_words_and_no_server_messages(
    start_server: StartServer, browser: Browser
) -> None:
    """The header names neither the product's roles nor ids; a refused Help is a sentence,
    not the server's message; a refusal the page has no words for gets a generic one."""
    h = await start_server()
    pages = Pages(browser, h)
    other_tab = await h.client("user", "tab-1", name="Tablet One")
    await other_tab.request_help()  # the same user, already waiting (another tab)
    tablet = await pages.tablet()
    await expect_state(tablet, "ready")
    await expect(tablet.locator("header")).to_have_text(re.compile(r"^\s*Help\s+Tablet One\s*$"))
    await expect(tablet).to_have_title("Help")
    await tablet.get_by_test_id("help-button").tap()
    await expect_status(tablet, "You already asked for help and your request is still open.")
    status = tablet.get_by_test_id("status")
    for raw in ("req_", "user already has", "invalid_state", "(in_session)", "(queued)"):
        await expect(status).not_to_contain_text(raw)
    await in_both_orientations(tablet, "tablet-refused-help", ("status", "help-button"))

    async def refuse_oddly(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "help.request":
                answer = {"type": "error", "id": frame["id"], "code": "brand_new", "message": "x"}
                ws.send(json.dumps(answer))
            else:
                server.send(message)

        ws.on_message(from_page)

    async def prepare(page: Page) -> None:
        await page.route_web_socket(re.compile(r"/ws\?"), refuse_oddly)

    odd = await pages.tablet("tab-2", "Tablet Two", prepare=prepare)
    await press_help(odd)
    await expect_status(odd, "Something went wrong on our side. Please press Help again.")
    assert pages.problems == []


async def test_a_refused_link_has_a_way_back(start_server: StartServer, browser: Browser) -> None:
    """An expired link says so in a sentence; with the integrator's renew address the button
    goes there; one on another site is ignored; a page in a frame asks its parent, and the
    token the parent sends signs it in."""
    h = await start_server(frame_ancestors=("self",))  # the integrator's app frames it
    pages = Pages(browser, h)
    expired = h.token("user", "tab-1", name="Tablet One", ttl_s=-3600)
    tablet = await pages.open(f"/tablet?renew=/app/help-link&token={expired}", PORTRAIT)
    await expect_state(tablet, "refused")
    await expect_status(tablet, "This help link has expired or is no longer valid.")
    box = tablet.get_by_test_id("token-refused")
    await expect(box).to_be_visible()
    await expect(tablet.get_by_test_id("sign-in")).to_be_hidden()
    await in_both_orientations(tablet, "tablet-link-expired", ("token-refused", "token-renew"))
    await tablet.get_by_test_id("token-renew").tap()
    await tablet.wait_for_url(re.compile(r"/app/help-link$"))

    foreign = await pages.open(f"/tablet?renew=https://example.org/x&token={expired}", PORTRAIT)
    await expect_state(foreign, "refused")
    await expect(foreign.get_by_test_id("token-renew")).to_be_hidden()
    await expect(foreign.get_by_test_id("token-refused")).to_contain_text("open Help again")

    parent = await pages.open("/", PORTRAIT)  # any page of the site, as the integrator's app
    fresh = h.token("user", "tab-3", name="Tablet Three")
    await parent.evaluate(
        """([src, fresh]) => {
          window.asked = [];
          window.addEventListener("message", (event) => {
            window.asked.push(event.data);
            if (event.data?.type === "mayday.token-refused") {
              event.source.postMessage({ type: "mayday.token", token: fresh }, "*");
            }
          });
          const frame = document.createElement("iframe");
          frame.width = 760;
          frame.height = 900;
          frame.src = src;
          document.body.append(frame);
        }""",
        [f"/tablet?token={expired}", fresh],
    )
    framed = parent.frame_locator("iframe")
    await expect(framed.get_by_test_id("help-button")).to_be_enabled(timeout=STATE_TIMEOUT_MS)
    await expect(framed.locator("header")).to_contain_text("Tablet Three")
    asked: list[dict[str, Any]] = await parent.evaluate("window.asked")
    assert {"type": "mayday.token-refused", "reason": "refused"} in asked
    problems = [p for p in pages.problems if "401" not in p and "404" not in p]
    assert problems == []


async def in_a_session(h: Harness, tablet: Page) -> tuple[MaydayClient, str]:
    """A scripted advisor (no media) takes the tablet's request: the page shows the advisor's
    video box in the corner and receives drawings."""
    advisor = await h.client("advisor", "adv-1", name="Ada")
    await advisor.set_available()
    await press_help(tablet)
    offer = await advisor.next(HelpOffer)
    started = await advisor.accept(offer.request_id)
    await expect_state(tablet, "connecting")
    await expect(tablet.get_by_test_id("advisor-pip")).to_be_visible()
    return advisor, started.session_id


async def box_on_screen(advisor: MaydayClient, session_id: str, name: str, points: Any) -> None:
    await advisor.call(
        "annotation",
        session_id=session_id,
        kind="shape",
        stroke_id=name,
        shape="box",
        color="#0a84ff",
        width=0.006,
        points=points,
    )


async def screen_geometry(tablet: Page) -> tuple[float, float, float, float]:
    """The demo screen's picture in page pixels: left, top, width, height (inside its border)."""
    left, top, width, height = await tablet.get_by_test_id("demo-screen").evaluate(
        """c => { const r = c.getBoundingClientRect();
          return [r.left + c.clientLeft, r.top + c.clientTop, c.clientWidth, c.clientHeight]; }"""
    )
    return left, top, width, height


def blue_near(image: Image, x: float, y: float, reach: int = 4) -> bool:
    for dx in range(-reach, reach + 1):
        for dy in range(-reach, reach + 1):
            pixel = image.pixel(round(x) + dx, round(y) + dy)
            if all(abs(c - want) < 50 for c, want in zip(pixel, BOX_BLUE, strict=True)):
                return True
    return False


async def expect_box_visible(tablet: Page, name: str, box: list[list[float]]) -> None:
    """On a screenshot of the whole page, every edge of the box shows in its own blue."""
    await tablet.wait_for_timeout(200)  # the video box settles after a burst of strokes
    path = OUTPUT / f"{name}.png"
    OUTPUT.mkdir(exist_ok=True)
    await tablet.screenshot(path=path)
    image = decode(path.read_bytes())
    left, top, width, height = await screen_geometry(tablet)
    (x0, y0), (x1, y1) = box
    samples = [(x0 + (x1 - x0) * f, y) for f in (0.1, 0.5, 0.9) for y in (y0, y1)]
    samples += [(x, y0 + (y1 - y0) * f) for f in (0.1, 0.5, 0.9) for x in (x0, x1)]
    hidden = [
        (nx, ny) for nx, ny in samples if not blue_near(image, left + nx * width, top + ny * height)
    ]
    assert hidden == [], (name, hidden)


async def pip_corner(tablet: Page) -> str:
    corner: str = await tablet.get_by_test_id("advisor-pip").get_attribute("data-corner") or ""
    return corner


async def test_the_advisors_video_moves_shrinks_and_never_covers_the_drawing(
    start_server: StartServer, browser: Browser
) -> None:
    """Move and Smaller put the advisor's video in any corner and shrink it; a box drawn where
    it sits sends it to a clear corner, and boxes in every corner dock it under the screen;
    every edge of every box stays visible on the screenshot; clearing brings it back."""
    h = await start_server()
    pages = Pages(browser, h)
    tablet = await pages.tablet()
    advisor, session_id = await in_a_session(h, tablet)
    pip = tablet.get_by_test_id("advisor-pip")
    assert await pip_corner(tablet) == "bottom-right"
    corners = []
    for _ in range(4):
        await tablet.get_by_test_id("pip-move").tap()
        corners.append(await pip_corner(tablet))
    assert corners == ["bottom-left", "top-left", "top-right", "bottom-right"]
    large = await pip.bounding_box()
    await tablet.get_by_test_id("pip-size").tap()
    small = await pip.bounding_box()
    assert large is not None and small is not None and small["width"] < 0.7 * large["width"]
    await expect(tablet.get_by_test_id("pip-size")).to_have_text("Larger")
    await tablet.get_by_test_id("pip-size").tap()

    # Dragged (with the mouse) over to the top left quarter, it snaps to that corner.
    box = await pip.bounding_box()
    assert box is not None
    left, top, width, height = await screen_geometry(tablet)
    await tablet.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20)
    await tablet.mouse.down()
    await tablet.mouse.move(left + width * 0.2, top + height * 0.2, steps=10)
    await tablet.mouse.up()
    await expect(pip).to_have_attribute("data-corner", "top-left")
    await tablet.get_by_test_id("pip-move").tap()  # to top-right
    await tablet.get_by_test_id("pip-move").tap()  # and back to bottom-right
    assert await pip_corner(tablet) == "bottom-right"

    over_software_update = [[0.55, 0.62], [0.97, 0.95]]
    await box_on_screen(advisor, session_id, "b1", over_software_update)
    await expect(pip).not_to_have_attribute("data-corner", "bottom-right")
    await expect_box_visible(tablet, "tablet-pip-moved-off-drawing", over_software_update)

    boxes = {
        "b2": [[0.03, 0.62], [0.45, 0.95]],
        "b3": [[0.03, 0.05], [0.45, 0.4]],
        "b4": [[0.55, 0.05], [0.97, 0.4]],
    }
    for name, points in boxes.items():
        await box_on_screen(advisor, session_id, name, points)
    await expect(pip).to_have_attribute("data-corner", "docked")
    await expect(pip).to_be_visible()
    for name, points in boxes.items():
        await expect_box_visible(tablet, f"tablet-pip-docked-{name}", points)
    await in_both_orientations(tablet, "tablet-pip-docked", ("advisor-pip",))

    await advisor.call("annotation", session_id=session_id, kind="clear")
    await expect(pip).to_have_attribute("data-corner", "bottom-right")
    assert pages.problems == []


async def test_portrait_is_one_column_with_a_full_width_screen(
    start_server: StartServer, browser: Browser
) -> None:
    """At 768 x 1024 the demo screen takes the page's width (not ~350 px beside the help
    panel), and the Help button is on screen under it, without scrolling."""
    h = await start_server()
    pages = Pages(browser, h)
    tablet = await pages.open(
        f"/tablet?token={h.token('user', 'tab-1', name='Tablet One')}", PORTRAIT
    )
    await expect_state(tablet, "ready")
    screen = await tablet.get_by_test_id("demo-screen").bounding_box()
    help_button = await tablet.get_by_test_id("help-button").bounding_box()
    assert screen is not None and help_button is not None
    assert screen["width"] >= 680, screen
    assert help_button["y"] > screen["y"] + screen["height"], (screen, help_button)
    assert help_button["y"] + help_button["height"] <= 1024, help_button
    await in_both_orientations(tablet, "tablet-ready", ("help-button", "demo-screen", "status"))
    assert pages.problems == []


async def test_paused_sharing_is_said_everywhere_and_undone_on_resume(
    start_server: StartServer, browser: Browser
) -> None:
    """While sharing is paused the status, the screen line, a banner and the control banner
    all say it (none says the advisor sees the screen or has control); resume puts them back."""
    h = await start_server()
    pages = Pages(browser, h)
    advisor = await pages.advisor()
    tablet = await pages.tablet()
    await start_call(tablet, advisor)
    await advisor.get_by_test_id("control-request").click()
    await tablet.get_by_test_id("control-grant").tap()
    banner = tablet.get_by_test_id("control-banner")
    await expect(banner).to_contain_text("Ada Advisor has control of your screen")
    await expect_status(tablet, "They can see your screen")

    await tablet.get_by_test_id("share-pause").tap()
    paused = tablet.get_by_test_id("share-paused-banner")
    await expect(paused).to_be_visible(timeout=STATE_TIMEOUT_MS)
    await expect(paused).to_contain_text("Sharing paused: Ada Advisor sees a dark screen")
    await expect_status(tablet, "Sharing paused.")
    status = tablet.get_by_test_id("status")
    await expect(status).not_to_contain_text("They can see your screen")
    await expect(banner).to_contain_text("cannot see or control your screen until you resume")
    await expect(banner).not_to_contain_text("has control")
    await expect(tablet.get_by_test_id("screen-source")).to_contain_text("Sharing is paused")
    await expect(tablet.get_by_test_id("share-pause")).to_have_text("Resume sharing")
    await in_both_orientations(tablet, "tablet-paused", ("share-paused-banner", "share-pause"))

    await tablet.get_by_test_id("share-pause").tap()
    await expect(paused).to_be_hidden(timeout=STATE_TIMEOUT_MS)
    await expect_status(tablet, "They can see your screen")
    await expect(banner).to_contain_text("Ada Advisor has control of your screen")
    await expect(tablet.get_by_test_id("screen-source")).to_contain_text("demo screen")
    await in_both_orientations(tablet, "tablet-in-call", ("advisor-pip", "end-button"))
    assert pages.problems == []


async def test_the_estimated_wait_is_shown_whenever_the_server_gives_one(
    start_server: StartServer, browser: Browser
) -> None:
    """Behind a busy advisor, with 40 s handle times, the tablet shows "About 40 seconds to
    wait" and counts it down; with nobody online it shows no estimate at all."""
    h = await start_server(default_handle_time_s=40.0)
    pages = Pages(browser, h)
    advisor = await h.client("advisor", "adv-1", name="Ada")
    await advisor.set_available()
    other = await h.client("user", "tab-0", name="Other")
    await other.request_help()
    await advisor.accept((await advisor.next(HelpOffer)).request_id)
    await other.next(SessionStarted)
    tablet = await pages.tablet()
    await press_help(tablet)
    await expect_state(tablet, "queued")
    estimate = tablet.get_by_test_id("wait-estimate")
    await expect(estimate).to_have_text(re.compile(r"About (40|39) seconds to wait\."))
    await expect(estimate).to_have_text(re.compile(r"About 3[0-8] seconds to wait\."), timeout=5000)
    await in_both_orientations(tablet, "tablet-queued", ("queue-position", "cancel-button"))

    nobody = await start_server()
    alone = await Pages(browser, nobody).tablet()
    await press_help(alone)
    await expect_state(alone, "no-advisor")
    await expect(alone.get_by_test_id("wait-estimate")).to_be_hidden()
    assert pages.problems == []
