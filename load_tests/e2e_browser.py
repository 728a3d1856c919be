"""End to end: Help pressed on the tablet page to the advisor's first frame, in Chromium.

    python -m load_tests.e2e_browser --repetitions 20

One ``mayday serve`` child process (memory store) serves the pages on
loopback; one headless Chromium (``/usr/bin/chromium``, fake camera and
microphone) opens the tablet page and the advisor console, each in its own
browser context. The console goes available once and accepts every offer the
moment it shows: a script in the page clicks Accept when the page turns
``offered``, so no Playwright round trip sits in the measured path.

Each repetition presses Help on the tablet, waits for the advisor's video,
then ends the call from the tablet. Three clocks:

- **server**: ``time_to_advisor_s`` of the request from ``GET
  /api/ops/requests`` (ops token): ``help.request`` received to the tablet's
  ``media.state first_frame`` received, both server timestamps;
- **page**: ``performance.now()`` in the tablet page, from the Help click
  to the ``playing`` event of the advisor's video, and to the page's own
  first-frame report (its state turning ``connected``);
- **outside**: Playwright's wall clock from the tap to seeing both, which
  adds Playwright's own round trips and polling.

The first repetition opens the camera and microphone and warms the codecs;
it is reported separately and left out of the percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, async_playwright

from load_tests.common import (
    RunningServer,
    machine,
    mayday_server,
    percentile,
    percentiles,
    plot_percentiles,
)
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, DESKTOP, TABLET

TIMEOUT_MS = 20_000

# Timestamps in the tablet page: the Help click, the advisor video's `playing`,
# and the page's first-frame state. Reset before each repetition.
TABLET_CLOCK = """
window.__timing = {};
document.addEventListener("click", (e) => {
  if (e.target.closest?.('[data-testid="help-button"]')) window.__timing.click = performance.now();
}, true);
document.addEventListener("playing", (e) => {
  const t = window.__timing;
  if (e.target.id === "advisor-video" && t.click && !t.playing) t.playing = performance.now();
}, true);
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver(() => {
    const t = window.__timing;
    if (document.body.dataset.state === "connected" && t.click && !t.connected) {
      t.connected = performance.now();
    }
  }).observe(document.body, { attributes: true, attributeFilter: ["data-state"] });
});
"""

# The advisor who accepts at once: Accept is clicked as soon as an offer shows.
ACCEPT_AT_ONCE = """
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver(() => {
    if (document.body.dataset.state !== "offered") return;
    const accept = document.querySelector('[data-testid="accept-button"]');
    if (accept && !accept.disabled) accept.click();
  }).observe(document.body, { attributes: true, attributeFilter: ["data-state"] });
});
"""


@dataclass
class Repetition:
    request_id: str
    page_playing_s: float
    page_first_frame_s: float
    outside_s: float
    server_s: float | None = None


async def open_page(
    browser: Browser, server: RunningServer, path: str, options: dict[str, Any], script: str
) -> tuple[Page, list[str]]:
    context = await browser.new_context(**options)
    await context.add_init_script(script)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if msg.type == "error" else None,
    )
    await page.goto(server.base + path)
    return page, problems


async def wait_state(page: Page, state: str) -> None:
    await page.wait_for_function(
        "s => document.body.dataset.state === s", arg=state, timeout=TIMEOUT_MS
    )


async def one_call(tablet: Page) -> Repetition:
    """Help, the advisor's video on the tablet, end of the call."""
    await tablet.wait_for_function(
        "() => !document.querySelector('[data-testid=\"help-button\"]').disabled",
        timeout=TIMEOUT_MS,
    )
    await tablet.evaluate("window.__timing = {}")
    began = time.perf_counter()
    await tablet.get_by_test_id("help-button").tap()
    await tablet.wait_for_function(
        "() => window.__timing.playing && window.__timing.connected",
        timeout=TIMEOUT_MS,
        polling=10,
    )
    outside = time.perf_counter() - began
    t = await tablet.evaluate("window.__timing")
    request_id = await tablet.evaluate("document.body.dataset.requestId")
    await tablet.get_by_test_id("end-button").tap()
    await wait_state(tablet, "ended")
    return Repetition(
        request_id,
        (t["playing"] - t["click"]) / 1000,
        (t["connected"] - t["click"]) / 1000,
        outside,
    )


async def server_times(server: RunningServer) -> dict[str, float]:
    """time_to_advisor_s of every request the server remembers, by request id."""
    headers = {"Authorization": f"Bearer {server.token('ops', 'bench-ops')}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.get(f"{server.base}/api/ops/requests", params={"limit": "10000"}) as r,
    ):
        body = await r.json()
    return {
        v["request_id"]: v["time_to_advisor_s"]
        for v in body["requests"]
        if v.get("time_to_advisor_s") is not None
    }


async def run(server: RunningServer, repetitions: int) -> tuple[list[Repetition], list[str]]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            advisor, advisor_problems = await open_page(
                browser,
                server,
                f"/advisor?token={server.token('advisor', 'bench-adv')}",
                DESKTOP,
                ACCEPT_AT_ONCE,
            )
            tablet, tablet_problems = await open_page(
                browser,
                server,
                f"/tablet?token={server.token('user', 'bench-tablet')}",
                TABLET,
                TABLET_CLOCK,
            )
            await wait_state(advisor, "away")
            await advisor.get_by_test_id("availability-toggle").click()
            await wait_state(advisor, "available")
            await wait_state(tablet, "ready")
            reps = []
            for _ in range(repetitions):
                reps.append(await one_call(tablet))
                await asyncio.sleep(0.3)
        finally:
            await browser.close()
    measured = await server_times(server)
    for rep in reps:
        rep.server_s = measured.get(rep.request_id)
    return reps, advisor_problems + tablet_problems


def row(label: str, values: list[float]) -> str:
    if not values:
        return f"  {label:38s} -"
    ms = [v * 1000 for v in values]
    return (
        f"  {label:38s} p50 {percentile(ms, 50):6.0f} ms  p90 {percentile(ms, 90):6.0f} ms  "
        f"min {min(ms):5.0f}  max {max(ms):5.0f}  (n={len(ms)})"
    )


def measures(warm: list[Repetition]) -> dict[str, list[float]]:
    """Each measure's samples in ms, by its label."""
    samples = {
        "server: help.request -> first_frame": [r.server_s for r in warm if r.server_s],
        "page: click -> advisor video playing": [r.page_playing_s for r in warm],
        "page: click -> first-frame report": [r.page_first_frame_s for r in warm],
        "outside: tap -> both seen (Playwright)": [r.outside_s for r in warm],
    }
    return {label: [v * 1000 for v in values] for label, values in samples.items()}


def report(reps: list[Repetition], problems: list[str], plot: Path | None = None) -> None:
    print(f"end to end in Chromium, {machine()}")
    first, warm = reps[0], reps[1:]
    print(
        f"  first call (cold camera and codecs): server {first.server_s or float('nan'):.3f} s, "
        f"page playing {first.page_playing_s:.3f} s"
    )
    by_label = measures(warm)
    for label, ms in by_label.items():
        print(row(label, [v / 1000 for v in ms]))
    if plot is not None:
        short = ("server", "page playing", "page report", "tap to seen")
        rows = {n: percentiles(ms) for n, ms in zip(short, by_label.values(), strict=True) if ms}
        title = f"Help -> advisor's first frame in Chromium, {len(warm)} calls"
        plot_percentiles(rows, plot, title, "ms")
    missing = sum(1 for r in reps if r.server_s is None)
    if missing:
        print(f"  {missing} requests without a server time to advisor")
    if problems:
        print(f"  page errors: {len(problems)}; first: {problems[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG of the percentiles")
    args = parser.parse_args()
    if args.repetitions < 2:
        parser.error("at least 2 repetitions: the first one is a warm-up")
    with mayday_server() as server:
        reps, problems = asyncio.run(run(server, args.repetitions))
    report(reps, problems, args.plot)


if __name__ == "__main__":
    main()
