"""How the pages get their token: from the address, from this tab's storage, or a sign-in form."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.helpers import DESKTOP, TABLET, Pages, expect_state, expect_status
from tests.conftest import StartServer

pytestmark = pytest.mark.browser

# The pages would reconnect after 0.5 s (up to 25 % more): a retry storm shows in this window.
RETRY_WINDOW_S = 1.5


async def stored_token(page: Page, name: str) -> str | None:
    token: str | None = await page.evaluate(f"sessionStorage.getItem('mayday.token.{name}')")
    return token


async def sign_in(page: Page, token: str) -> None:
    form = page.get_by_test_id("sign-in")
    await expect(form).to_be_visible()
    await page.get_by_test_id("token-input").fill(token)
    await page.get_by_test_id("sign-in-button").click()
    await expect(form).to_be_hidden()


async def test_sign_in_form_and_token_kept_for_the_tab(
    start_server: StartServer, browser: Browser
) -> None:
    """Without a token the tablet shows the sign-in form; the pasted token connects and
    stays for this tab, so a reload connects again without asking."""
    h = await start_server()
    pages = Pages(browser, h)
    tablet = await pages.open("/tablet", TABLET)
    await expect_status(tablet, "Sign in")
    await expect(tablet.get_by_test_id("help-button")).to_be_hidden()

    token = h.token("user", "tab-1", name="Tablet One")
    await sign_in(tablet, token)
    await expect_state(tablet, "ready")
    assert await stored_token(tablet, "tablet") == token

    await tablet.reload()
    await expect_state(tablet, "ready")
    await expect(tablet.get_by_test_id("sign-in")).to_be_hidden()
    assert pages.problems == []


async def test_token_leaves_the_address_bar(start_server: StartServer, browser: Browser) -> None:
    """A ?token= link signs the console in, and the token is taken out of the address
    (other parameters stay), kept in this tab's storage instead."""
    h = await start_server()
    pages = Pages(browser, h)
    token = h.token("advisor", "adv-1", name="Ada")
    advisor = await pages.open(f"/advisor?lang=en&token={token}", DESKTOP)
    await expect_state(advisor, "away")
    assert advisor.url == f"{h.http_url}/advisor?lang=en"
    assert await stored_token(advisor, "advisor") == token
    assert await stored_token(advisor, "tablet") is None
    assert pages.problems == []


async def test_refused_token_is_not_retried(start_server: StartServer, browser: Browser) -> None:
    """A bad token shows "Token refused" and the sign-in form, with no reconnect attempts;
    a good token pasted in then connects."""
    h = await start_server()
    pages = Pages(browser, h)
    advisor = await pages.open("/advisor?token=not-a-token", DESKTOP)
    await expect_state(advisor, "refused")
    await expect_status(advisor, "Token refused")
    await expect(advisor.get_by_test_id("sign-in")).to_contain_text("refused")
    assert "token" not in advisor.url
    assert await stored_token(advisor, "advisor") is None

    # An observation window, not a synchronisation: nothing should happen in it.
    await asyncio.sleep(RETRY_WINDOW_S)
    assert pages.sockets == ["/advisor"]
    await expect_state(advisor, "refused")

    await sign_in(advisor, h.token("advisor", "adv-1", name="Ada"))
    await expect_state(advisor, "away")
    assert pages.sockets == ["/advisor", "/advisor"]
    assert pages.problems == []


async def test_token_of_another_role_is_refused(
    start_server: StartServer, browser: Browser
) -> None:
    """An advisor's token on the tablet page is refused in plain words (no role names), with
    the way back; the access-code form stays out of the way until asked for."""
    h = await start_server()
    pages = Pages(browser, h)
    token = h.token("advisor", "adv-1", name="Ada")
    tablet = await pages.open(f"/tablet?token={token}", TABLET)
    await expect_state(tablet, "refused")
    await expect_status(tablet, "This link does not open the help page.")
    await expect(tablet.get_by_test_id("status")).not_to_contain_text("role")
    await expect(tablet.get_by_test_id("token-refused")).to_contain_text("open Help again")
    await expect(tablet.get_by_test_id("sign-in")).to_be_hidden()
    await tablet.get_by_text("I have an access code").tap()
    await expect(tablet.get_by_test_id("sign-in")).to_be_visible()
    assert await stored_token(tablet, "tablet") is None
    assert pages.problems == []
