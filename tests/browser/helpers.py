"""Opening the tablet page and the advisor console in Chromium, and waiting on what they show.

Every wait here is on an event or a condition in the page, with a generous
timeout: the machine running the suite may be busy with other work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, ConsoleMessage, Page, expect

from tests.browser.png import ColourStats, colour_stats, decode
from tests.conftest import Harness

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
STATE_TIMEOUT_MS = 10_000
MEDIA_TIMEOUT_MS = 15_000

# The tablet page is made for a 1024 x 768 touch screen; the console for a desktop.
TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


class Pages:
    """Pages on one server, each in its own browser context (its own devices and
    storage), noting every script error and console warning in ``problems``."""

    def __init__(self, browser: Browser, harness: Harness) -> None:
        self.browser, self.harness = browser, harness
        self.problems: list[str] = []
        self.sockets: list[str] = []  # the page path of each WebSocket a page opened

    async def tablet(
        self,
        sub: str = "tab-1",
        name: str = "Tablet One",
        *,
        init_script: str | None = None,
        prepare: Callable[[Page], Awaitable[None]] | None = None,
        base: str | None = None,
        claims: dict[str, Any] | None = None,
    ) -> Page:
        token = self.harness.token("user", sub, name=name, **(claims or {}))
        return await self.open(
            f"/tablet?token={token}", TABLET, init_script=init_script, prepare=prepare, base=base
        )

    async def advisor(
        self,
        sub: str = "adv-1",
        name: str = "Ada Advisor",
        *,
        options: dict[str, Any] | None = None,
        init_script: str | None = None,
        claims: dict[str, Any] | None = None,
    ) -> Page:
        token = self.harness.token("advisor", sub, name=name, **(claims or {}))
        return await self.open(
            f"/advisor?token={token}", options or DESKTOP, init_script=init_script
        )

    async def ops(self, sub: str = "ops-1", name: str = "Olga Ops", **options: Any) -> Page:
        token = self.harness.token("ops", sub, name=name)
        return await self.open(f"/ops?token={token}", options or LANDSCAPE)

    async def open(
        self,
        path: str,
        options: dict[str, Any],
        *,
        init_script: str | None = None,
        prepare: Callable[[Page], Awaitable[None]] | None = None,
        base: str | None = None,
    ) -> Page:
        """Open ``path`` (on the server, or at ``base``: a proxy in front of it);
        ``prepare`` runs on the page before it loads (to route its socket)."""
        context = await self.browser.new_context(**options)
        if init_script:
            await context.add_init_script(init_script)
        page = await context.new_page()
        where = path.split("?")[0]

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type in ("error", "warning"):
                self.problems.append(f"{where} console {msg.type}: {msg.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"{where}: {exc}"))
        page.on("websocket", lambda ws: self.sockets.append(where))
        if prepare:
            await prepare(page)
        await page.goto((base or self.harness.http_url) + path)
        return page


async def expect_state(page: Page, state: str, timeout: float = STATE_TIMEOUT_MS) -> None:
    await expect(page.locator("body")).to_have_attribute("data-state", state, timeout=timeout)


async def record_states(page: Page) -> None:
    """Note every state the page goes through from now on, for ``expect_seen_state``: a
    state may be left again before a check could see it."""
    await page.evaluate(
        """() => {
          const seen = (window.seenStates = []);
          new MutationObserver(() => {
            const state = document.body.dataset.state;
            if (seen[seen.length - 1] !== state) seen.push(state);
          }).observe(document.body, { attributes: true, attributeFilter: ["data-state"] });
        }"""
    )


async def expect_seen_state(page: Page, state: str) -> list[str]:
    """Wait until the page has been in ``state`` since ``record_states``; all states seen."""
    await page.wait_for_function(
        "s => window.seenStates.includes(s)", arg=state, timeout=STATE_TIMEOUT_MS
    )
    seen: list[str] = await page.evaluate("window.seenStates")
    return seen


async def expect_status(page: Page, text: str) -> None:
    await expect(page.get_by_test_id("status")).to_contain_text(text, timeout=STATE_TIMEOUT_MS)


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


async def expect_video_shape(page: Page, testid: str, width: int, height: int) -> None:
    """The video element's frames have the aspect of ``width`` x ``height`` (a change of
    source shows here; the encoder may scale a large source down, but keeps its shape)."""
    await page.wait_for_function(
        """([s, ratio]) => {
          const v = document.querySelector(s);
          return v.videoHeight > 0 && Math.abs(v.videoWidth / v.videoHeight - ratio) < 0.02;
        }""",
        arg=[f'[data-testid="{testid}"]', width / height],
        timeout=MEDIA_TIMEOUT_MS,
    )


async def go_available(advisor: Page) -> None:
    await expect_state(advisor, "away")
    await advisor.get_by_test_id("availability-toggle").click()
    await expect_state(advisor, "available")


async def start_call(tablet: Page, advisor: Page, user_name: str = "Tablet One") -> None:
    """The advisor goes available, the tablet presses Help, the advisor accepts, and each
    page plays the other's video."""
    await go_available(advisor)
    await expect_state(tablet, "ready")
    await tablet.get_by_test_id("help-button").tap()
    offer = advisor.get_by_test_id("offer")
    await expect(offer).to_be_visible(timeout=STATE_TIMEOUT_MS)
    await expect(offer).to_contain_text(user_name)
    await advisor.get_by_test_id("accept-button").click()
    for page, video in ((tablet, "advisor-video"), (advisor, "screen-video")):
        await expect_state(page, "connected", MEDIA_TIMEOUT_MS)
        await expect_video_playing(page, video)


async def screenshot_stats(page: Page, name: str) -> ColourStats:
    """Write a screenshot of the whole page to test-output/ and measure its colours."""
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / f"{name}.png"
    await page.screenshot(path=path)
    return colour_stats(decode(path.read_bytes()))


async def region_stats(page: Page, testid: str) -> ColourStats:
    """Measure the colours of one element as it is drawn on screen."""
    png = await page.get_by_test_id(testid).screenshot()
    return colour_stats(decode(png), step=2)


# axe-core from webclient/node_modules (a dev dependency: the pages never load it).
AXE = Path(__file__).resolve().parents[2] / "webclient" / "node_modules" / "axe-core" / "axe.min.js"
PORTRAIT = {"viewport": {"width": 768, "height": 1024}, "has_touch": True}
LANDSCAPE = {"viewport": {"width": 1024, "height": 768}}


async def axe_problems(page: Page) -> list[str]:
    """Serious and critical accessibility violations axe-core finds on the page as it is
    now (WCAG 2.x A and AA rules and axe's best practices), one line each."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: npm ci --prefix webclient")
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated over the DevTools protocol, not as a <script>: the pages' own
        # Content-Security-Policy refuses inline scripts, as it should.
        await page.evaluate(AXE.read_text() + "\n;undefined")
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => {
          const result = await axe.run(document, { resultTypes: ["violations"] });
          return result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary),
          }));
        }"""
    )
    return [
        f"{v['impact']} {v['id']} ({v['help']}): {node}"
        for v in found
        if v["impact"] in ("serious", "critical")
        for node in v["nodes"]
    ]


VIEWPORTS = {"landscape": LANDSCAPE["viewport"], "portrait": PORTRAIT["viewport"]}


async def in_both_orientations(
    page: Page, name: str, testids: tuple[str, ...] = (), *, scroll: bool = False
) -> None:
    """Show the page at 1024 x 768 and at 768 x 1024 as its user would hold the screen: it
    never scrolls sideways, each of ``testids`` lies within the screen (after scrolling it
    into view, with ``scroll``: a long dashboard), and a screenshot of each is written to
    test-output/NAME-landscape.png and NAME-portrait.png. The page is left in landscape."""
    OUTPUT.mkdir(exist_ok=True)
    for orientation in ("portrait", "landscape"):
        size = VIEWPORTS[orientation]
        await page.set_viewport_size(size)
        await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r(null)))")
        wide = await page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= size["width"], (name, orientation, wide)
        for testid in testids:
            if scroll:
                await page.get_by_test_id(testid).scroll_into_view_if_needed()
            box = await page.get_by_test_id(testid).bounding_box()
            assert box is not None, (name, orientation, testid)
            assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5, (
                name,
                orientation,
                testid,
                box,
            )
            assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 0.5, (
                name,
                orientation,
                testid,
                box,
            )
        await page.screenshot(path=OUTPUT / f"{name}-{orientation}.png")
