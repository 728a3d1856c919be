"""What the tablet page tells its user in each outcome: waiting, nobody online, advisor gone,
server unreachable."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, expect

from mayday.client import HelpOffer, MaydayClient
from tests.browser.helpers import Pages, expect_state, expect_status, start_call
from tests.conftest import Harness, StartServer
from tests.hours import closed_until_the_day_after_tomorrow

pytestmark = pytest.mark.browser


async def press_help(tablet: Page) -> None:
    await expect_state(tablet, "ready")
    await tablet.get_by_test_id("help-button").tap()


async def cancel(tablet: Page) -> None:
    await tablet.get_by_test_id("cancel-button").tap()
    await expect_state(tablet, "ready")
    await expect_status(tablet, "Request cancelled")
    await expect(tablet.get_by_test_id("help-button")).to_be_enabled()
    await expect(tablet.get_by_test_id("queue-position")).to_be_hidden()


async def busy_advisor(h: Harness) -> tuple[MaydayClient, str]:
    """An advisor in a session with another user (no media needed): online, not free."""
    advisor = await h.client("advisor", "adv-1", name="Ada")
    await advisor.set_available()
    other = await h.client("user", "tab-0", name="Other")
    await other.request_help()
    offer = await advisor.next(HelpOffer)
    started = await advisor.accept(offer.request_id)
    return advisor, started.session_id


async def test_no_advisor_online_then_cancel(start_server: StartServer, browser: Browser) -> None:
    """With nobody online the tablet says so (no made-up wait); cancel goes back to idle."""
    h = await start_server()
    pages = Pages(browser, h)
    tablet = await pages.tablet()
    await press_help(tablet)

    await expect_state(tablet, "no-advisor")
    await expect_status(tablet, "No advisor is online right now")
    position = tablet.get_by_test_id("queue-position")
    await expect(position).to_contain_text("You are next in line")
    await expect(position).not_to_contain_text("to wait")
    await cancel(tablet)
    assert pages.problems == []


async def test_outside_business_hours_the_tablet_says_when_advisors_are_back(
    start_server: StartServer, browser: Browser
) -> None:
    """Closed today and tomorrow (UTC): pressing Help says the advisors are away and the
    day they are back, and the user keeps their place."""
    hours, opens = closed_until_the_day_after_tomorrow()
    h = await start_server(hours=hours)
    pages = Pages(browser, h)
    tablet = await pages.tablet()
    await press_help(tablet)
    await expect_state(tablet, "no-advisor")
    zone = await tablet.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert zone in ("UTC", "Etc/UTC"), zone  # the opening is midnight UTC, so local midnight
    # The day after tomorrow at 00:00 is the end of tomorrow: not "Thursday 12:00 AM".
    await expect_status(
        tablet, "Our advisors are away right now. They are back tomorrow night at midnight."
    )
    assert opens.endswith("T00:00:00Z")
    await cancel(tablet)
    assert pages.problems == []


@pytest.mark.parametrize(
    ("now", "at", "said"),
    [
        ("2026-12-03T10:00", "2026-12-03T14:30", "today at 2:30 PM"),
        ("2026-12-03T10:00", "2026-12-04T09:00", "tomorrow at 9:00 AM"),
        ("2026-12-03T10:00", "2026-12-04T00:00", "tonight at midnight"),
        ("2026-12-03T10:00", "2026-12-05T00:00", "tomorrow night at midnight"),
        ("2026-12-03T10:00", "2026-12-07T09:00", "on Monday at 9:00 AM"),
        ("2026-12-03T10:00", "2026-12-08T00:00", "on Monday night at midnight"),
        ("2026-12-03T10:00", "2026-12-14T09:00", "on Monday, December 14 at 9:00 AM"),
    ],
)
async def test_the_opening_is_said_as_a_person_would(
    start_server: StartServer, browser: Browser, now: str, at: str, said: str
) -> None:
    """backText in the page (en-US): today, tomorrow, a weekday, a date; a midnight opening
    is the night before, never "12:00 AM"."""
    h = await start_server()
    tablet = await Pages(browser, h).tablet()
    text = await tablet.evaluate(
        """async ([now, at]) => (await import("/static/js/wait-view.js"))
            .backText(new Date(at), new Date(now))""",
        [now, at],
    )
    assert text == said


async def test_queue_states_follow_the_queue(start_server: StartServer, browser: Browser) -> None:
    """Queued behind a busy advisor: position and a live wait; then offered; after a decline
    still in line with a wait (the decline's cooldown) and shown to the advisor as one to
    take; cancel goes back to idle."""
    h = await start_server()
    pages = Pages(browser, h)
    advisor, busy_session = await busy_advisor(h)
    tablet = await pages.tablet()
    await press_help(tablet)

    await expect_state(tablet, "queued")
    await expect_status(tablet, "You are in line")
    position = tablet.get_by_test_id("queue-position")
    await expect(position).to_contain_text("You are next in line. About 5 minutes to wait.")
    await expect(position).to_contain_text(re.compile(r"You have waited [1-9]\d* s"))

    await advisor.end_session(busy_session)
    offer = await advisor.next(HelpOffer)
    await expect_state(tablet, "offered")
    await expect_status(tablet, "An advisor is being asked")

    await advisor.decline(offer.request_id)
    # Never stranded by a decline: the only advisor online still sees it as one they can
    # take, and the tablet keeps a wait (the decline's cooldown), not "nobody can".
    shown = await advisor.next(HelpOffer, where=lambda o: o.mode == "claim")
    assert shown.request_id == offer.request_id
    await expect_state(tablet, "queued")
    await expect(position).to_contain_text("You are next in line.")
    await expect(position).to_contain_text(re.compile(r"About (\d+ seconds|1 minute) to wait"))
    await cancel(tablet)
    assert pages.problems == []


async def test_advisor_lost_when_console_closes_for_good(
    start_server: StartServer, browser: Browser
) -> None:
    """The advisor's console closes mid-call and does not come back within the grace: the
    tablet says the connection dropped, then that the advisor was disconnected and the user
    is first in line; the video stops and the request waits for the next advisor."""
    h = await start_server(resume_grace_s=1.5)
    pages = Pages(browser, h)
    advisor = await pages.advisor()
    tablet = await pages.tablet()
    await start_call(tablet, advisor)

    await advisor.context.close()
    await expect_status(tablet, "connection dropped; waiting for them to come back")
    await expect_state(tablet, "queued")
    await expect_status(tablet, "Your advisor was disconnected; you are first in line")
    await expect(tablet.get_by_test_id("advisor-video")).to_be_hidden()
    await expect(tablet.get_by_test_id("end-button")).to_be_hidden()
    await expect(tablet.get_by_test_id("cancel-button")).to_be_visible()
    assert pages.problems == []


async def test_unreachable_server_then_back(start_server: StartServer, browser: Browser) -> None:
    """While the socket cannot be opened the tablet says the service is unreachable and
    retries; when it can, the page is ready again by itself."""
    h = await start_server()
    pages = Pages(browser, h)
    reachable = False
    refused: list[str] = []

    async def route(ws: WebSocketRoute) -> None:
        if reachable:
            ws.connect_to_server()
        else:
            refused.append(ws.url)
            await ws.close(code=1011, reason="test: server unreachable")

    async def prepare(page: Page) -> None:
        await page.route_web_socket(re.compile(r"/ws\?"), route)

    tablet = await pages.tablet(prepare=prepare)
    await expect_state(tablet, "unreachable")
    await expect_status(tablet, "Help service unreachable. Retrying in")
    await expect(tablet.get_by_test_id("help-button")).to_be_disabled()

    reachable = True
    await expect_state(tablet, "ready")
    await expect_status(tablet, "Press Help")
    assert refused
    assert pages.problems == []


async def test_share_button_only_where_screen_capture_exists(
    start_server: StartServer, browser: Browser
) -> None:
    """A browser without getDisplayMedia gets no share button; the demo screen is shared."""
    h = await start_server()
    pages = Pages(browser, h)
    tablet = await pages.tablet(init_script="delete MediaDevices.prototype.getDisplayMedia;")
    await expect_state(tablet, "ready")
    await expect(tablet.get_by_test_id("share-screen-button")).to_be_hidden()
    await expect(tablet.get_by_test_id("screen-source")).to_contain_text("demo screen")

    able = await pages.tablet("tab-2", "Tablet Two")
    await expect_state(able, "ready")
    await expect(able.get_by_test_id("share-screen-button")).to_be_visible()
    assert pages.problems == []


async def test_tablet_fits_1024_by_768(start_server: StartServer, browser: Browser) -> None:
    """At 1024 x 768 the Help button, the demo screen and the status all fit on screen."""
    h = await start_server()
    pages = Pages(browser, h)
    tablet = await pages.tablet()
    await expect_state(tablet, "ready")
    for testid in ("help-button", "demo-screen", "status", "share-screen-button"):
        box = await tablet.get_by_test_id(testid).bounding_box()
        assert box is not None, testid
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1024, (testid, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= 768, (testid, box)
    help_box = await tablet.get_by_test_id("help-button").bounding_box()
    assert help_box is not None and help_box["height"] >= 64
    assert pages.problems == []


async def test_queued_frame_updates_are_live(start_server: StartServer, browser: Browser) -> None:
    """The position follows the queue: the tablet behind another user moves from 2 to 1."""
    h = await start_server()
    pages = Pages(browser, h)
    await busy_advisor(h)
    first = await h.client("user", "tab-9", name="First")
    queued = await first.request_help()
    tablet = await pages.tablet()
    await press_help(tablet)
    position = tablet.get_by_test_id("queue-position")
    await expect(position).to_contain_text("You are number 2 in line")

    await first.cancel(queued.request_id)
    await expect(position).to_contain_text("You are next in line")
    assert pages.problems == []
