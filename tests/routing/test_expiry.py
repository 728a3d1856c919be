"""A request that reaches its time-to-live, in the pure core: a connected user is offered to
leave a message (``help.closed`` ``leave_message``); a user who is away gets one left for
them (the ``ExpiredAway`` effect); either way the outcome is ``expired``."""

from __future__ import annotations

import pytest

from mayday.protocol.messages import HelpClosed
from mayday.routing.config import RouterConfig
from mayday.routing.core import Router
from mayday.routing.events import (
    Disconnected,
    ExpiredAway,
    GraceExpired,
    Observe,
    Reconnected,
    RequestExpired,
)
from mayday.routing.model import RequestState
from tests.routing.helpers import ask, available, messages

TTL = 60.0
GRACE = 30.0


@pytest.fixture
def router() -> Router:
    return Router(RouterConfig(request_ttl_s=TTL, resume_grace_s=GRACE))


def away_effects(effects: list[object]) -> list[ExpiredAway]:
    return [e for e in effects if isinstance(e, ExpiredAway)]


def test_a_connected_user_is_offered_to_leave_a_message(router: Router) -> None:
    """Expired with its user connected: help.closed outcome expired with leave_message,
    and no message is made for them."""
    ask(router, "u1", "r1", 0.0, topic="Printer")
    effects = router.handle(RequestExpired("r1"), TTL)
    assert messages(effects, HelpClosed, to="u1") == [HelpClosed("r1", "expired", True)]
    assert away_effects(effects) == []
    assert router.requests["r1"].state is RequestState.EXPIRED
    assert Observe("outcome", TTL, "Printer", "expired") in effects


def test_a_user_away_gets_a_message_left_for_them(router: Router) -> None:
    """Expired while its user is away (dropped, within the grace): ExpiredAway with what
    the message needs, help.closed without leave_message, outcome still expired."""
    ask(router, "u1", "r1", 0.0, topic="Printer")
    router.handle(Disconnected("user", "u1"), TTL - 10.0)
    effects = router.handle(RequestExpired("r1"), TTL)
    assert away_effects(effects) == [ExpiredAway("r1", "u1", "U1", "Printer", 0.0)]
    assert messages(effects, HelpClosed, to="u1") == [HelpClosed("r1", "expired", False)]
    assert router.requests["r1"].state is RequestState.EXPIRED
    assert router.open_request_of("u1") is None
    # The grace that runs out later finds nothing to abandon.
    assert away_effects(router.handle(GraceExpired("user", "u1", 1), TTL + 20.0)) == []
    assert router.requests["r1"].state is RequestState.EXPIRED


def test_a_user_back_from_a_drop_is_connected_again(router: Router) -> None:
    """Dropped and back within the grace before the expiry: offered the form, no message."""
    ask(router, "u1", "r1", 0.0)
    router.handle(Disconnected("user", "u1"), 40.0)
    router.handle(Reconnected("user", "u1", resumed=True), 45.0)
    effects = router.handle(RequestExpired("r1"), TTL)
    assert messages(effects, HelpClosed) == [HelpClosed("r1", "expired", True)]
    assert away_effects(effects) == []


def test_a_user_lost_before_the_ttl_is_abandoned_not_a_message(router: Router) -> None:
    """Gone past the grace before the TTL: abandoned at the drop; the expiry that comes
    later does nothing, so no message is made (the user gave up: not an expiry)."""
    ask(router, "u1", "r1", 0.0)
    router.handle(Disconnected("user", "u1"), 10.0)
    router.handle(GraceExpired("user", "u1", 1), 10.0 + GRACE)
    assert router.requests["r1"].state is RequestState.ABANDONED
    assert router.handle(RequestExpired("r1"), TTL) == []


def test_an_expiry_before_the_ttl_or_twice_does_nothing(router: Router) -> None:
    """A RequestExpired early, or again after the request expired, changes nothing: the
    message of a user away can be made once only."""
    ask(router, "u1", "r1", 0.0)
    router.handle(Disconnected("user", "u1"), 50.0)
    assert router.handle(RequestExpired("r1"), TTL - 1.0) == []
    assert len(away_effects(router.handle(RequestExpired("r1"), TTL))) == 1
    assert router.handle(RequestExpired("r1"), TTL + 1.0) == []


def test_an_offered_request_of_a_user_away_expires_too(router: Router) -> None:
    """A user away holds no offer; an advisor who comes online while they are away is not
    offered the request, and its expiry leaves the message."""
    ask(router, "u1", "r1", 0.0, topic=None)
    router.handle(Disconnected("user", "u1"), 45.0)
    available(router, "a1", 50.0)
    assert router.requests["r1"].offered_to is None
    effects = router.handle(RequestExpired("r1"), TTL)
    assert away_effects(effects) == [ExpiredAway("r1", "u1", "U1", None, 0.0)]
