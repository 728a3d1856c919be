"""The advisor console's inbox of messages users left when nobody could answer, in Chromium:
each open message with its reply box, the reply that reaches the user's next connection,
two consoles replying to one message, the list fetched again when the panel opens and
every 30 s, and the panel at 1024 x 768 and 768 x 1024 with no accessibility violation."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from mayday.protocol.messages import MessageReplied
from tests.browser.helpers import (
    VIEWPORTS,
    Pages,
    axe_problems,
    expect_state,
    in_both_orientations,
)
from tests.conftest import Harness, StartServer

pytestmark = pytest.mark.browser


async def leave_message(h: Harness, sub: str, name: str, text: str, contact: str = "") -> str:
    """A user leaves a message over the WebSocket and goes; its message id."""
    user = await h.client("user", sub, name=name, reconnect=False)
    fields = {"text": text, **({"contact": contact} if contact else {})}
    ack = await user.call("message.leave", **fields)
    await user.close()
    message_id: str = ack.fields["message_id"]
    return message_id


async def open_inbox(console: Page) -> Locator:
    inbox = console.get_by_test_id("inbox")
    await expect(inbox).to_be_visible()
    await inbox.locator("summary").click()
    await expect(inbox).to_have_attribute("open", "")
    return inbox


def item(console: Page, message_id: str) -> Locator:
    return console.locator(f'[data-testid="inbox-item"][data-message-id="{message_id}"]')


async def next_reply(h: Harness, sub: str, name: str) -> MessageReplied:
    """What the user's next connection gets right after hello."""
    again = await h.client("user", sub, name=name, reconnect=False)
    replied = await again.next(MessageReplied)
    await again.close()
    return replied


async def test_a_message_left_is_answered_from_the_inbox(
    start_server: StartServer, browser: Browser
) -> None:
    """A message left over the socket shows in the console's inbox (count 1, the user's
    name, the text with its line break, the contact, its age); the advisor types a reply
    by keyboard and sends it with Ctrl+Enter: the item shows sent, the count 0, and the
    user's next connection gets message.replied with that text and the advisor."""
    h = await start_server()
    message_id = await leave_message(
        h, "tab-1", "Tablet One", "My printer jams\non page 2.", "+33 6 12 34 56 78"
    )
    pages = Pages(browser, h)
    console = await pages.advisor("adv-1", "Ada Advisor")
    await expect_state(console, "away")
    await expect(console.get_by_test_id("inbox-count")).to_have_text("1")
    inbox = await open_inbox(console)
    await expect(inbox.get_by_test_id("inbox-item")).to_have_count(1)
    shown = item(console, message_id)
    await expect(shown).to_contain_text("Tablet One")
    await expect(shown.locator(".inbox-text")).to_have_text("My printer jams\non page 2.")
    await expect(shown).to_contain_text("Contact: +33 6 12 34 56 78")
    await expect(shown.locator("time")).to_have_text(re.compile(r"^\d+ s ago$"))
    await expect(shown.get_by_test_id("inbox-item-state")).to_have_text("open")

    box = shown.get_by_label("Reply to Tablet One", exact=True)
    await expect(box).to_have_attribute("data-testid", "inbox-reply-text")
    await box.focus()
    await console.keyboard.type("Open tray 2 and pull the sheet.")
    await console.keyboard.press("Control+Enter")
    await expect(shown.get_by_test_id("inbox-item-state")).to_have_text("sent")
    await expect(console.get_by_test_id("inbox-count")).to_have_text("0")
    await expect(shown).to_contain_text("Your reply: Open tray 2 and pull the sheet.")
    await expect(shown.get_by_test_id("inbox-reply-send")).to_be_hidden()

    replied = await next_reply(h, "tab-1", "Tablet One")
    assert (replied.message_id, replied.text, replied.advisor) == (
        message_id,
        "Open tray 2 and pull the sheet.",
        {"id": "adv-1", "name": "Ada Advisor"},
    )
    assert pages.problems == []


async def test_two_consoles_reply_to_one_message(
    start_server: StartServer, browser: Browser
) -> None:
    """Two consoles show the same open message; the first to send wins; the second sees
    "answered elsewhere" and "Already answered by a colleague", its count drops to 0, and
    the user only ever gets the first reply."""
    h = await start_server()
    message_id = await leave_message(h, "tab-1", "Tablet One", "Wi-Fi is gone.")
    pages = Pages(browser, h)
    ada = await pages.advisor("adv-1", "Ada")
    bo = await pages.advisor("adv-2", "Bo")
    for console in (ada, bo):
        await expect(console.get_by_test_id("inbox-count")).to_have_text("1")
        await open_inbox(console)

    await item(ada, message_id).get_by_test_id("inbox-reply-text").fill("Restart the router.")
    await item(ada, message_id).get_by_test_id("inbox-reply-send").click()
    await expect(item(ada, message_id).get_by_test_id("inbox-item-state")).to_have_text("sent")

    late = item(bo, message_id)
    await expect(late.get_by_test_id("inbox-item-state")).to_have_text("open")
    await late.get_by_test_id("inbox-reply-text").fill("Try airplane mode.")
    await late.get_by_test_id("inbox-reply-send").click()
    await expect(late.get_by_test_id("inbox-item-state")).to_have_text("answered elsewhere")
    await expect(late).to_contain_text("Already answered by a colleague.")
    await expect(bo.get_by_test_id("inbox-count")).to_have_text("0")
    await expect(late.get_by_test_id("inbox-reply-text")).to_be_hidden()

    stored = await h.server.store.message(message_id)
    assert stored is not None and stored.reply is not None
    assert (stored.reply.text, stored.reply.advisor_id) == ("Restart the router.", "adv-1")
    assert (await next_reply(h, "tab-1", "Tablet One")).text == "Restart the router."
    assert pages.problems == []


async def test_opening_the_panel_fetches_the_list_again(
    start_server: StartServer, browser: Browser
) -> None:
    """A message left after the console loaded appears when the panel is opened again,
    oldest first, as text (markup in it is not markup); a reply being typed keeps its text
    through that refresh; a message a colleague answered meanwhile turns to "answered
    elsewhere" at the next refresh and leaves the count."""
    h = await start_server()
    first = await leave_message(h, "tab-1", "Tablet One", "First")
    pages = Pages(browser, h)
    console = await pages.advisor()
    await expect(console.get_by_test_id("inbox-count")).to_have_text("1")
    inbox = await open_inbox(console)
    await item(console, first).get_by_test_id("inbox-reply-text").fill("Half-typed")

    second = await leave_message(h, "tab-2", "Tablet Two", '<img src=x data-x="1">Second')
    summary = inbox.locator("summary")
    await summary.click()
    await summary.click()
    await expect(console.get_by_test_id("inbox-count")).to_have_text("2")
    items = inbox.get_by_test_id("inbox-item")
    await expect(items).to_have_count(2)
    assert [await i.get_attribute("data-message-id") for i in await items.all()] == [
        first,
        second,
    ]
    await expect(item(console, second).locator(".inbox-text")).to_have_text(
        '<img src=x data-x="1">Second'
    )
    assert await inbox.locator("img").count() == 0
    await expect(item(console, first).get_by_test_id("inbox-reply-text")).to_have_value(
        "Half-typed"
    )

    colleague = await h.client("advisor", "adv-2", name="Bo")
    await colleague.call("message.reply", message_id=second, text="Done")
    await summary.click()
    await summary.click()
    await expect(item(console, second).get_by_test_id("inbox-item-state")).to_have_text(
        "answered elsewhere"
    )
    await expect(console.get_by_test_id("inbox-count")).to_have_text("1")
    assert pages.problems == []


async def test_the_inbox_fits_both_screens_and_passes_axe(
    start_server: StartServer, browser: Browser
) -> None:
    """With an open and a sent message the open panel lies within the screen at 1024 x 768
    and 768 x 1024, never scrolls sideways, and axe finds no serious violation."""
    h = await start_server()
    sent = await leave_message(h, "tab-1", "Tablet One", "The screen stays black " * 8)
    await leave_message(h, "tab-2", "Tablet Two", "How do I print?", "ben@example.org")
    pages = Pages(browser, h)
    console = await pages.advisor()
    await expect(console.get_by_test_id("inbox-count")).to_have_text("2")
    await open_inbox(console)
    await item(console, sent).get_by_test_id("inbox-reply-text").fill("Hold the power key.")
    await item(console, sent).get_by_test_id("inbox-reply-send").click()
    await expect(console.get_by_test_id("inbox-count")).to_have_text("1")

    await in_both_orientations(console, "inbox", ("inbox",))
    found: list[str] = []
    for orientation, size in VIEWPORTS.items():
        await console.set_viewport_size(size)
        found += [f"{orientation}: {p}" for p in await axe_problems(console)]
    assert found == []
    assert pages.problems == []


async def test_the_list_is_fetched_every_30_s_and_finished_items_go(
    start_server: StartServer, browser: Browser
) -> None:
    """With the page's clock under the test's control: a message left after the console
    loaded, with the panel folded, is counted once 30 s have passed; its age moves on with
    the clock; a sent item stays in the list for a minute and then goes."""
    h = await start_server()
    pages = Pages(browser, h)
    context = await browser.new_context(viewport=VIEWPORTS["landscape"])
    await context.clock.install()
    console = await context.new_page()
    console.on("pageerror", lambda exc: pages.problems.append(str(exc)))
    await console.goto(f"{h.http_url}/advisor?token={h.token('advisor', 'adv-1', name='Ada')}")
    await expect_state(console, "away")
    await expect(console.get_by_test_id("inbox-count")).to_have_text("0")
    message_id = await leave_message(h, "tab-1", "Tablet One", "Hello?")
    await console.clock.run_for(20_000)
    await expect(console.get_by_test_id("inbox-count")).to_have_text("0")
    await console.clock.run_for(11_000)
    await expect(console.get_by_test_id("inbox-count")).to_have_text("1")

    await open_inbox(console)
    shown = item(console, message_id)
    await console.clock.run_for(90_000)
    await expect(shown.locator("time")).to_have_text(re.compile(r"^2 min \d+ s ago$"))
    await shown.get_by_test_id("inbox-reply-text").fill("Hi")
    await shown.get_by_test_id("inbox-reply-send").click()
    await expect(shown.get_by_test_id("inbox-item-state")).to_have_text("sent")
    await console.clock.run_for(50_000)
    await expect(shown).to_be_visible()
    await console.clock.run_for(15_000)
    await expect(shown).to_have_count(0)
    await expect(console.get_by_text("No message is waiting for a reply.")).to_be_visible()
    assert await console.evaluate(
        "import('/static/js/inbox.js').then((m) => [7, 3725, 93600].map(m.formatAge))"
    ) == ["7 s ago", "1 h 2 min ago", "1 d 2 h ago"]
    assert pages.problems == []
