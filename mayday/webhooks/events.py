"""Which routing effects are webhook events, and what each event's ``data`` holds.

Read from the effects of the operation that caused them, on the node that ran it, so
that each event is queued once across nodes. The data names people by id and name
only: no token, no ICE credential, no device details (docs/webhooks.md lists it all).
"""

from __future__ import annotations

from typing import Any

from mayday.protocol.messages import SessionEnded, SessionStarted
from mayday.routing.events import Effect, HelpRequested, RequestClosed, Send
from mayday.stores.messages import Message

Event = tuple[str, dict[str, Any]]


def requested(ev: HelpRequested) -> Event:
    ask = ev.ask
    data = {
        "request_id": ev.request_id,
        "user": {"id": ev.user_id, "name": ev.user_name},
        "topic": ask.topic,
        "language": ask.language,
        "skills": list(ask.skills),
    }
    return "help.requested", data


def message_left(message: Message) -> dict[str, Any]:
    """The ``data`` of the message webhooks: what the integrator's text or push needs;
    ``origin`` ``expired`` for the one the server left for a user away."""
    return {
        "message_id": message.id,
        "user": {"id": message.user_id, "name": message.user_name},
        "text": message.text,
        "contact": message.contact,
        "request_id": message.request_id,
        "left_at": message.left_at,
        "origin": message.origin,
    }


def announced(effects: list[Effect]) -> list[Event]:
    """The events among one operation's effects, in order."""
    events: list[Event] = []
    for effect in effects:
        if isinstance(effect, RequestClosed):
            data = {"request_id": effect.request_id, "user": {"id": effect.user_id}}
            events.append(("help.closed", {**data, "outcome": effect.outcome}))
        elif isinstance(effect, Send) and effect.role == "user":
            event = _session_event(effect.sub, effect.message)
            if event is not None:
                events.append(event)
    return events


def _session_event(user_id: str, message: object) -> Event | None:
    if isinstance(message, SessionStarted):
        advisor = {"id": message.peer["id"], "name": message.peer.get("name")}
        data = {"session_id": message.session_id, "request_id": message.request_id}
        return "session.started", {**data, "user": {"id": user_id}, "advisor": advisor}
    if isinstance(message, SessionEnded):
        data = {"session_id": message.session_id, "request_id": message.request_id}
        ended = {"reason": message.reason, "by": message.by}
        return "session.ended", {**data, "user": {"id": user_id}, **ended}
    return None
