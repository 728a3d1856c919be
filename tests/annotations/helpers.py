"""Pairing a user and an advisor, and reading annotation and control frames as whole dicts."""

from __future__ import annotations

from typing import Any

from mayday.client import HelpOffer, MaydayClient, SessionStarted, Unknown
from tests.conftest import Harness

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


async def frame(client: MaydayClient, type_: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next frame of ``type_`` as the server sent it, without its connection ``seq``."""
    event: Unknown = await client.next(Unknown, where=lambda e: e.type == type_, timeout=timeout)
    return {k: v for k, v in event.frame.items() if k != "seq"}


def unread(client: MaydayClient, type_: str) -> list[dict[str, Any]]:
    return [e.frame for e in client.pending_events() if isinstance(e, Unknown) and e.type == type_]


async def draw(client: MaydayClient, session_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    """Send one annotation with an id; the ack's fields."""
    ack = await client.call("annotation", session_id=session_id, kind=kind, **fields)
    return ack.fields
