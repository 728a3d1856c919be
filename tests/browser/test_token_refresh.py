"""The pages renew their token before it expires (issue 16, finding 4): on `auth.expiring`
the tablet page asks the integrator's refresh address (a same-site `refresh=` link
parameter) or, in a frame, its parent page, and sends the new token with
`auth.refresh`; its socket then outlives the first token. Without either, the socket
closes with 4401 at the deadline and the page shows its refused-link message."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from playwright.async_api import Browser, Route, expect

from tests.browser.helpers import TABLET, Pages, expect_state
from tests.conftest import StartServer

pytestmark = pytest.mark.browser

# Short enough to test: tokens of 6 s, noticed halfway, closed 1 s after expiry.
EXPIRY = {"token_expiry_notice_s": 60.0, "token_expiry_grace_s": 1.0, "jwt_leeway_s": 0}


async def test_the_tablet_renews_its_token_through_its_refresh_address(
    start_server: StartServer, browser: Browser
) -> None:
    h = await start_server(**EXPIRY)
    pages = Pages(browser, h)
    asked: list[str] = []
    refreshes: list[str] = []

    async def integrator(route: Route) -> None:
        asked.append(route.request.url)
        fresh = h.token("user", "tab-1", name="Tablet One", ttl_s=3600)
        await route.fulfill(json={"token": fresh})

    short = h.token("user", "tab-1", name="Tablet One", ttl_s=6)

    async def prepare(page: object) -> None:
        path = re.compile(r"^http://[^/?]+/app/mayday-token$")
        await page.route(path, integrator)  # type: ignore[attr-defined]
        page.on(  # type: ignore[attr-defined]
            "websocket",
            lambda ws: ws.on(
                "framesent", lambda f: refreshes.append(f) if "auth.refresh" in f else None
            ),
        )

    tablet = await pages.open(
        f"/tablet?token={short}&refresh=/app/mayday-token", TABLET, prepare=prepare
    )
    await expect_state(tablet, "ready")
    await asyncio.sleep(8)  # past the first token's expiry and grace
    await expect_state(tablet, "ready")
    assert len(asked) == 1 and len(refreshes) == 1
    assert json.loads(refreshes[0])["type"] == "auth.refresh"
    await tablet.get_by_test_id("help-button").tap()
    await expect_state(tablet, "no-advisor")  # still served on the same socket
    assert pages.problems == []


async def test_without_a_way_to_renew_the_tablet_says_its_link_expired(
    start_server: StartServer, browser: Browser
) -> None:
    h = await start_server(**EXPIRY)
    pages = Pages(browser, h)
    short = h.token("user", "tab-1", name="Tablet One", ttl_s=4)
    tablet = await pages.open(f"/tablet?token={short}", TABLET)
    await expect_state(tablet, "ready")
    await expect_state(tablet, "refused", 10_000)
    assert "expired" in (await tablet.get_by_test_id("status").text_content() or "")


async def test_a_framed_tablet_renews_its_token_through_its_parent_page(
    start_server: StartServer, browser: Browser
) -> None:
    """The integrator's app shows the tablet page in a frame and answers the page's
    `mayday.token-expiring` message with a new token."""
    h = await start_server(**EXPIRY, frame_ancestors=("self",))
    pages = Pages(browser, h)
    short = h.token("user", "tab-1", name="Tablet One", ttl_s=6)
    fresh = h.token("user", "tab-1", name="Tablet One", ttl_s=3600)
    app = f"""<!doctype html><title>app</title>
      <iframe id="help" src="/tablet?token={short}" width="1000" height="700"></iframe>
      <script>
        window.asked = 0;
        addEventListener("message", (event) => {{
          if (event.data?.type !== "mayday.token-expiring") return;
          window.asked += 1;
          event.source.postMessage({{ type: "mayday.token", token: "{fresh}" }}, location.origin);
        }});
      </script>"""

    async def prepare(page: object) -> None:
        async def serve(route: Route) -> None:
            await route.fulfill(body=app, content_type="text/html")

        await page.route(re.compile(r"^http://[^/?]+/integrator-app$"), serve)  # type: ignore[attr-defined]

    outer = await pages.open("/integrator-app", TABLET, prepare=prepare)
    sockets: list[str] = []
    outer.on("websocket", lambda ws: sockets.append(ws.url))
    frame = outer.frame_locator("#help")
    body = frame.locator("body")
    await expect(body).to_have_attribute("data-state", "ready", timeout=10_000)
    await asyncio.sleep(8)
    await expect(body).to_have_attribute("data-state", "ready")
    assert await outer.evaluate("window.asked") == 1
    await frame.get_by_test_id("help-button").tap()
    await expect(body).to_have_attribute("data-state", "no-advisor")
    assert len(sockets) <= 1, "renewed by a new socket, not on the open one"
