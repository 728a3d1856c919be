"""The advisor console for a whole shift, in Chromium: an offer rings (sound, title, desktop
notification), is answered by keyboard, warns before it would set the advisor away; the
caller's context, the call timer, the wrap-up note; the queue line; notes that fade; a media
failure that turns the tools off."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from mayday.client import HelpOffer, MaydayClient, SessionEnded, SessionStarted
from tests.browser.helpers import (
    LANDSCAPE,
    STATE_TIMEOUT_MS,
    Pages,
    expect_state,
    expect_status,
    go_available,
    in_both_orientations,
)
from tests.conftest import Harness, StartServer

pytestmark = pytest.mark.browser

TITLE = "Mayday · Advisor"
DEVICE = {"model": "Tab S9", "os": {"name": "android", "version": "14"}}

# Counts what the page does with Web Audio and notifications, around the real APIs; and
# lets the test say whether the tab is hidden (a headless tab is always visible).
SPIES = """
window.tones = 0;
window.audioContexts = [];
const RealAudio = window.AudioContext;
window.AudioContext = class extends RealAudio {
  constructor(...args) { super(...args); window.audioContexts.push(this); }
  createOscillator() { window.tones += 1; return super.createOscillator(); }
};
window.notifications = [];
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options) {
    super(title, options);
    window.notifications.push({ title, body: options?.body ?? "" });
  }
};
window.tabHidden = false;
Object.defineProperty(Document.prototype, "hidden", { get: () => window.tabHidden });
Object.defineProperty(Document.prototype, "visibilityState", {
  get: () => (window.tabHidden ? "hidden" : "visible"),
});
window.peerConnections = [];
const RealPeer = window.RTCPeerConnection;
window.RTCPeerConnection = class extends RealPeer {
  constructor(...args) { super(...args); window.peerConnections.push(this); }
};
"""


async def console(pages: Pages, sub: str = "adv-1", name: str = "Ada") -> Page:
    """A console at 1024 x 768 that may show notifications, with the spies above."""
    page = await pages.advisor(sub, name, options=LANDSCAPE, init_script=SPIES)
    await page.context.grant_permissions(["notifications"])
    return page


async def offered(h: Harness, page: Page, **ask: object) -> tuple[MaydayClient, HelpOffer]:
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help(**ask)
    await expect_state(page, "offered")
    return user, HelpOffer  # the type, for callers that only need the user


async def test_an_offer_rings_and_is_accepted_by_keyboard(
    start_server: StartServer, browser: Browser
) -> None:
    """An offer to a hidden tab starts an audio context that plays tones, flashes the title,
    shows a desktop notification and the caller's context; A accepts it, the ringing stops
    and the call timer counts."""
    h = await start_server()
    pages = Pages(browser, h)
    page = await console(pages)
    await go_available(page)
    assert await page.evaluate("window.audioContexts.length") == 1
    await page.evaluate("window.tabHidden = true")
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help(topic="Printer", language="en-GB", device=DEVICE)
    await expect_state(page, "offered")

    await page.wait_for_function(
        "() => window.audioContexts[0].state === 'running' && window.tones >= 2",
        timeout=STATE_TIMEOUT_MS,
    )
    await expect(page).to_have_title(re.compile("Help request: Tablet One"))
    await expect(page).to_have_title(TITLE)  # it flashes
    await expect(page).to_have_title(re.compile("Help request: Tablet One"))
    notes = await page.evaluate("window.notifications")
    assert [n["title"] for n in notes] == ["Help request: Tablet One"], notes
    assert "answer within 15 s" in notes[0]["body"]

    context = page.get_by_test_id("caller-context")
    await expect(context).to_be_visible()
    for text in ("Tablet One", "Printer", "en-GB", "Tab S9", "os name", "android", "14"):
        await expect(context).to_contain_text(text)
    waited = context.locator('[data-fact="Waited"]')
    await expect(waited).to_have_text(re.compile(r"^\d+ s so far$"))
    await expect(page.get_by_test_id("caller-history")).to_contain_text("first request")
    await expect(page.get_by_test_id("caller-notes")).to_contain_text("No notes")
    await expect(page.get_by_test_id("accept-button")).to_contain_text("A")
    await expect(page.get_by_test_id("decline-button")).to_contain_text("D")
    await in_both_orientations(page, "console-offer", ("offer", "accept-button"))

    await page.evaluate("window.tabHidden = false")
    await page.keyboard.press("a")
    started = await user.next(SessionStarted)
    await expect_state(page, "connecting")
    await expect(page).to_have_title(TITLE)
    tones = await page.evaluate("window.tones")
    timer = page.get_by_test_id("call-timer")
    await expect(timer).to_have_text(re.compile(r"Call time 00:0[1-9]"), timeout=STATE_TIMEOUT_MS)
    assert await page.evaluate("window.tones") == tones  # no more ringing
    await expect(waited).to_have_text(re.compile(r"^\d+ s$"))  # answered: no longer counting
    await in_both_orientations(page, "console-in-call", ("end-button", "screen-video"))
    await user.end_session(started.session_id)
    assert pages.problems == []


async def test_decline_by_keyboard_and_the_note_fades(
    start_server: StartServer, browser: Browser
) -> None:
    """D declines; "Declined" shows in the status and fades out by itself, leaving what
    holds ("You are available"). A colleague is online, so the request goes to them (were
    the console the only one, it would come back as a request it can still take)."""
    h = await start_server()
    pages = Pages(browser, h)
    page = await console(pages)
    await go_available(page)
    colleague = await h.client("advisor", "adv-2", name="Bob")
    await colleague.set_available()
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help()
    await expect_state(page, "offered")
    await page.keyboard.press("d")
    await expect_state(page, "available")
    await expect_status(page, "Declined; the request goes to another advisor.")
    await expect(page.get_by_test_id("status")).not_to_contain_text("Declined", timeout=12_000)
    await expect_status(page, "You are available")
    await expect(page).to_have_title(TITLE)
    assert pages.problems == []


async def test_a_warning_comes_before_a_timeout_sets_the_advisor_away(
    start_server: StartServer, browser: Browser
) -> None:
    """Seconds before an unanswered offer runs out the card warns that the advisor will be set
    away; then they are."""
    h = await start_server(reservation_timeout_s=6.0)
    pages = Pages(browser, h)
    page = await console(pages)
    await go_available(page)
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help()
    await expect_state(page, "offered")
    warning = page.get_by_test_id("offer-warning")
    await expect(warning).to_be_hidden()
    await expect(warning).to_be_visible(timeout=STATE_TIMEOUT_MS)
    await expect(warning).to_contain_text(re.compile(r"[12] s left: answer now, or you will be"))
    await page.screenshot(path="test-output/console-offer-warning.png")
    await expect_state(page, "away")
    await expect_status(page, "You let an offer run out, so you were set away")
    await expect(warning).to_be_hidden()
    assert pages.problems == []


async def test_the_queue_line_counts_a_reserved_advisor_as_reserved(
    start_server: StartServer, browser: Browser
) -> None:
    """While another advisor holds an offer the console's queue line says 1 reserved, not
    busy, and counts this console itself as away before it chooses."""
    h = await start_server()
    pages = Pages(browser, h)
    page = await console(pages)
    await expect_state(page, "away")
    other = await h.client("advisor", "adv-2", name="Bo")
    await other.set_available()
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help()
    await other.next(HelpOffer)
    line = page.get_by_test_id("queue-summary")
    await expect(line).to_contain_text("1 user waiting")
    await expect(line).to_contain_text("0 free, 1 reserved, 0 busy, 1 away")
    assert pages.problems == []


async def test_earlier_requests_and_the_wrap_up_note_come_back_with_the_caller(
    start_server: StartServer, browser: Browser
) -> None:
    """The caller's earlier (cancelled) request shows with its outcome; after the call the
    wrap-up note is saved, and the caller's next offer shows it in the notes."""
    h = await start_server()
    pages = Pages(browser, h)
    user = await h.client("user", "tab-1", name="Tablet One")
    earlier = await user.request_help(topic="Wi-Fi")
    await user.cancel(earlier.request_id)
    page = await console(pages)
    await go_available(page)
    await user.request_help(topic="Printer")
    await expect_state(page, "offered")
    history = page.get_by_test_id("caller-history")
    await expect(history.locator(f'li[data-request-id="{earlier.request_id}"]')).to_contain_text(
        "Wi-Fi · cancelled by the user while waiting"
    )
    await page.get_by_test_id("accept-button").click()
    started = await user.next(SessionStarted)
    await expect_state(page, "connecting")
    await user.end_session(started.session_id, reason="user_ended")
    await expect_state(page, "ended")
    await expect_status(page, "Call ended. The user ended the call.")

    form = page.get_by_test_id("wrap-up")
    await expect(form).to_be_visible()
    await expect(page.get_by_test_id("caller-context")).to_contain_text("Tablet One")
    await in_both_orientations(page, "console-wrap-up", ("wrap-up",))
    await page.get_by_test_id("wrap-up-note").fill("Printer driver reinstalled; call back if jams.")
    await page.get_by_test_id("wrap-up-save").click()
    await expect(form).to_be_hidden()
    await expect_status(page, "Note saved.")
    await expect(page.get_by_test_id("caller-context")).to_be_hidden()

    await user.request_help(topic="Printer")
    await expect_state(page, "offered")
    await expect(page.get_by_test_id("caller-notes")).to_contain_text("Printer driver reinstalled")
    await expect(history.locator("li")).to_have_count(2)
    await expect(history.locator("li").first).to_contain_text("ended by the user")
    assert pages.problems == []


async def test_a_saved_note_reaches_the_next_advisor_on_another_browser(
    start_server: StartServer, browser: Browser
) -> None:
    """The wrap-up note Ada saves goes to the server (session.note): Bo, on a console in a
    browser context of his own (no storage shared with Ada's), is offered the same caller's
    next call and sees Ada's note, with her name, beside that call in the history."""
    h = await start_server()
    pages = Pages(browser, h)
    ada = await console(pages, "adv-1", "Ada")
    await go_available(ada)
    user, _ = await offered(h, ada, topic="Printer")
    await ada.get_by_test_id("accept-button").click()
    started = await user.next(SessionStarted)
    await expect_state(ada, "connecting")
    await ada.get_by_test_id("end-button").click()
    await user.next(SessionEnded)
    await expect_state(ada, "ended")
    await ada.get_by_test_id("wrap-up-note").fill("Paper tray 2 is worn; offered a visit.")
    await ada.get_by_test_id("wrap-up-save").click()
    await expect_status(ada, "Note saved.")
    (kept,) = await h.server.store.user_notes("tab-1", 10)
    assert (kept.request_id, kept.session_id, kept.advisor_name) == (
        started.request_id,
        started.session_id,
        "Ada",
    )
    await ada.context.close()

    bo = await console(pages, "adv-2", "Bo")
    await go_available(bo)
    await user.request_help(topic="Printer")
    await expect_state(bo, "offered")
    notes = bo.get_by_test_id("caller-notes")
    await expect(notes.locator(f'p[data-request-id="{started.request_id}"]')).to_contain_text(
        "(Ada): Paper tray 2 is worn; offered a visit."
    )
    await bo.screenshot(path="test-output/console-stored-note.png")
    assert pages.problems == []


async def test_after_a_media_failure_the_tools_are_off_and_the_console_says_what_to_do(
    start_server: StartServer, browser: Browser
) -> None:
    """When the call's connection fails the drawing tools and Ask for control are disabled,
    the frozen picture is covered by what the advisor can do, and End call still works."""
    h = await start_server()
    pages = Pages(browser, h)
    page = await console(pages)
    await go_available(page)
    user = await h.client("user", "tab-1", name="Tablet One")
    await user.request_help()
    await expect_state(page, "offered")
    await page.get_by_test_id("accept-button").click()
    await user.next(SessionStarted)
    await expect_state(page, "connecting")
    await expect(page.get_by_test_id("tool-pen")).to_be_enabled()

    await page.evaluate(
        """() => {
          const pc = window.peerConnections[window.peerConnections.length - 1];
          Object.defineProperty(pc, "connectionState", { get: () => "failed" });
          pc.dispatchEvent(new Event("connectionstatechange"));
        }"""
    )
    await expect_state(page, "failed")
    await expect_status(page, "The video connection to Tablet One failed. End the call")
    failed = page.get_by_test_id("media-failed")
    await expect(failed).to_be_visible()
    await expect(failed).to_contain_text("End the call")
    for tool in ("tool-pen", "tool-box", "tool-laser", "tool-tap", "tool-clear", "control-request"):
        await expect(page.get_by_test_id(tool)).to_be_disabled()
    await expect(page.get_by_test_id("annotation-layer")).to_have_attribute("data-tool", "none")
    await expect(page.get_by_test_id("screen-video")).to_have_class(re.compile("stale"))
    await in_both_orientations(page, "console-media-failed", ("media-failed", "end-button"))

    await page.get_by_test_id("end-button").click()
    await user.next(SessionEnded)
    await expect_state(page, "ended")
    await expect(failed).to_be_hidden()
    assert pages.problems == []
