"""The pages under their Content-Security-Policy in Chromium (issue 16, findings 9 and
10): they work with no violation, the policy does block inline script and framing, and
a page on another origin cannot open the socket when MAYDAY_ALLOWED_ORIGINS is set."""

from __future__ import annotations

import html
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
from aiohttp import web
from playwright.async_api import Browser, Frame, Page, expect

from tests.browser.helpers import DESKTOP, STATE_TIMEOUT_MS, Pages, expect_state, start_call
from tests.conftest import StartServer

pytestmark = pytest.mark.browser

# Every violation the page sees, from its first script on.
WATCH_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(`${e.effectiveDirective} ${e.blockedURI}`);
});
"""


async def violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.cspViolations")
    return found


async def test_pages_work_under_the_policy(start_server: StartServer, browser: Browser) -> None:
    """A whole call between the tablet and the console (camera, screen, WebRTC, the
    socket) and the ops dashboard with its charts run with no policy violation."""
    h = await start_server(ops_interval_s=0.2)
    pages = Pages(browser, h)
    tablet = await pages.tablet(init_script=WATCH_VIOLATIONS)
    advisor = await pages.open(
        f"/advisor?token={h.token('advisor', 'adv-1', name='Ada Advisor')}",
        DESKTOP,
        init_script=WATCH_VIOLATIONS,
    )
    ops = await pages.open(
        f"/ops?token={h.token('ops', 'ops-1')}", DESKTOP, init_script=WATCH_VIOLATIONS
    )
    await start_call(tablet, advisor)
    await expect(ops.get_by_test_id("ops-status")).to_contain_text("Live", timeout=STATE_TIMEOUT_MS)
    await ops.wait_for_function(
        "document.querySelectorAll('canvas').length > 0", timeout=STATE_TIMEOUT_MS
    )
    for page in (tablet, advisor, ops):
        assert await violations(page) == []
    assert pages.problems == []


async def test_the_policy_blocks_inline_script(start_server: StartServer, browser: Browser) -> None:
    """The policy is in force: a script injected inline into the tablet page does not run
    and is reported as a script-src violation."""
    h = await start_server()
    pages = Pages(browser, h)
    tablet = await pages.tablet(init_script=WATCH_VIOLATIONS)
    await expect_state(tablet, "ready")
    ran = await tablet.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.injected = true";
          document.head.appendChild(s);
          return window.injected === true;
        }"""
    )
    assert ran is False
    await tablet.wait_for_function("window.cspViolations.length > 0")
    assert (await violations(tablet))[0].startswith("script-src-elem inline")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def elsewhere() -> AsyncIterator[str]:
    """Another site on this machine, ``http://localhost:PORT`` (a real loopback server, so
    that Chromium's local-network checks do not stand in for ours): ``/frame?src=URL``
    frames URL, ``/blank`` is an empty page with no policy of its own."""

    async def frame(request: web.Request) -> web.Response:
        src = html.escape(request.query["src"])
        return web.Response(text=f'<iframe src="{src}"></iframe>', content_type="text/html")

    async def blank(request: web.Request) -> web.Response:
        return web.Response(text="<p>elsewhere</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/frame", frame)
    app.router.add_get("/blank", blank)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://localhost:{site.port}"
    await runner.cleanup()


async def framed(browser: Browser, elsewhere: str, src: str) -> Frame:
    """The frame of ``src`` inside a page of the other site, once it has loaded."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{elsewhere}/frame?{urlencode({'src': src})}")
    await expect(page.locator("iframe")).to_have_count(1)
    for _ in range(100):
        if len(page.frames) == 2 and page.frames[1].url != "about:blank":
            break
        await page.wait_for_timeout(50)
    await page.frames[1].wait_for_load_state()
    return page.frames[1]


async def test_pages_cannot_be_framed(
    start_server: StartServer, browser: Browser, elsewhere: str
) -> None:
    """Another site that frames the tablet page gets Chromium's error page in the frame
    (frame-ancestors 'none'), while the same site can frame /healthz, which has no
    policy: it is the page's own header that refuses."""
    h = await start_server()
    control = await framed(browser, elsewhere, f"{h.http_url}/healthz")
    assert control.url == f"{h.http_url}/healthz"
    assert '"status": "ok"' in await control.inner_text("body")
    tablet = await framed(browser, elsewhere, f"{h.http_url}/tablet?token={h.token('user', 't')}")
    assert tablet.url.startswith("chrome-error:")
    assert await tablet.query_selector('[data-testid="help-button"]') is None


async def socket_from(browser: Browser, page_url: str, ws_url: str) -> str:
    """What a script on ``page_url`` gets when it opens ``ws_url``: the first frame's
    type, or how the socket closed."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(page_url)
    result: str = await page.evaluate(
        """url => new Promise((done) => {
          const ws = new WebSocket(url);
          ws.onmessage = (e) => done(JSON.parse(e.data).type);
          ws.onclose = (e) => done(`closed ${e.code}`);
        })""",
        ws_url,
    )
    await context.close()
    return result


async def test_a_page_on_another_origin_cannot_open_the_socket(
    start_server: StartServer, browser: Browser, elsewhere: str
) -> None:
    """With MAYDAY_ALLOWED_ORIGINS set to the server's own origin, the tablet page served
    from it connects, while a script on another site that holds a valid token (a
    cross-site WebSocket hijack) is refused; without the list it is let in."""
    port = free_port()
    h = await start_server(port=port, allowed_origins=(f"http://127.0.0.1:{port}",))
    pages = Pages(browser, h)
    tablet = await pages.tablet()
    await expect_state(tablet, "ready")
    token = h.token("user", "tab-2")
    assert await socket_from(browser, f"{elsewhere}/blank", f"{h.ws_url}?token={token}") == (
        "closed 1006"
    )
    unlisted = await start_server()
    assert await socket_from(browser, f"{elsewhere}/blank", f"{unlisted.ws_url}?token={token}") == (
        "hello"
    )
    assert pages.problems == []
