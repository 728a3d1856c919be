"""Pairing a user and an advisor, and reading annotation and control frames as typed events."""

from __future__ import annotations

from typing import Any, TypeVar

from mayday.client import HelpOffer, MaydayClient, SessionStarted
from tests.conftest import Harness

T = TypeVar("T")

PEN = {"color": "#ff3b30", "width": 0.005}


async def paired(
    user_on: Harness, advisor_on: Harness | None = None, user: str = "u1", advisor: str = "a1"
) -> tuple[MaydayClient, MaydayClient, str]:
    """A user and an advisor in a live session (each on its own server if given two);
    returns (user, advisor, session id)."""
    adv = await (advisor_on or user_on).client("advisor", advisor, name="Ada")
    usr = await user_on.client("user", user, name="Tab")
    await adv.set_available()
    await usr.request_help(topic="wifi")
    offer = await adv.next(HelpOffer)
    started = await adv.accept(offer.request_id)
    await usr.next(SessionStarted)
    return usr, adv, started.session_id


async def frame(client: MaydayClient, kind: type[T], timeout: float = 5.0) -> T:
    """The next frame of ``kind`` the server sent."""
    event: T = await client.next(kind, timeout=timeout)
    return event


def unread(client: MaydayClient, kind: type[T]) -> list[T]:
    return [e for e in client.pending_events() if isinstance(e, kind)]


async def draw(client: MaydayClient, session_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    """Send one annotation with an id; the ack's fields."""
    ack = await client.call("annotation", session_id=session_id, kind=kind, **fields)
    return ack.fields
