"""Small helpers for driving the pure router in tests."""

from __future__ import annotations

from typing import Any

from mayday.protocol.messages import HelpRequest, Outbound
from mayday.routing.core import Router
from mayday.routing.events import (
    AdvisorStateSet,
    Effect,
    HelpRequested,
    OfferAccepted,
    Send,
)


def frames(effects: list[Effect], to: str | None = None, type_: str | None = None) -> list[Any]:
    """The frames in ``effects``, optionally only those sent to ``to`` or of ``type_``."""
    return [
        e.message.to_frame()
        for e in effects
        if isinstance(e, Send)
        and (to is None or e.sub == to)
        and (type_ is None or type_ == e.message.TYPE)
    ]


def messages(effects: list[Effect], kind: type[Outbound], to: str | None = None) -> list[Any]:
    return [
        e.message
        for e in effects
        if isinstance(e, Send) and isinstance(e.message, kind) and (to is None or e.sub == to)
    ]


def available(
    router: Router, advisor: str, now: float, skills: frozenset[str] = frozenset()
) -> list[Effect]:
    return router.handle(AdvisorStateSet(advisor, advisor.upper(), skills, True), now)


def away(router: Router, advisor: str, now: float) -> list[Effect]:
    return router.handle(AdvisorStateSet(advisor, advisor.upper(), frozenset(), False), now)


def ask(router: Router, user: str, request_id: str, now: float, **fields: Any) -> list[Effect]:
    return router.handle(HelpRequested(user, user.title(), request_id, HelpRequest(**fields)), now)


def accept(router: Router, advisor: str, request_id: str, now: float) -> list[Effect]:
    return router.handle(OfferAccepted(advisor, request_id, f"ses-{request_id}"), now)
