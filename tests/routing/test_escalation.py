"""Escalation steps, skill levels and decline cooldowns in the pure core (issue 11)."""

from __future__ import annotations

import pytest

from mayday.metrics.alerts import AlertRules
from mayday.metrics.tally import Rules, measures
from mayday.protocol.messages import HelpOffer, HelpQueued
from mayday.routing.config import RouterConfig, SettingsError, Step
from mayday.routing.core import Router
from mayday.routing.events import (
    AdvisorStateSet,
    CancelTimer,
    Disconnected,
    GraceExpired,
    OfferDeclined,
    RouteDue,
    StartTimer,
)
from mayday.routing.model import Advisor, Request
from tests.routing.helpers import accept, ask, available, messages

STEPS = (Step(0, "all", 4), Step(10, "any"), Step(20, "none"))


def expert(router: Router, advisor: str, now: float, **levels: int) -> None:
    """An available advisor with these skills at these levels."""
    skills = frozenset(levels)
    router.handle(AdvisorStateSet(advisor, advisor, skills, True, tuple(levels.items())), now)


@pytest.mark.parametrize(
    ("step", "levels", "fits"),
    [
        (Step(0, "all"), {"wifi": 1, "tv": 1}, True),
        (Step(0, "all"), {"wifi": 5}, False),
        (Step(0, "all", 4), {"wifi": 4, "tv": 3}, False),
        (Step(0, "any"), {"wifi": 1}, True),
        (Step(0, "any", 2), {"wifi": 1, "tv": 1}, False),
        (Step(0, "any", 2), {"wifi": 1, "tv": 2}, True),
        (Step(0, "none", 5), {}, True),
    ],
)
def test_an_advisor_fits_a_step_by_skills_and_levels(
    step: Step, levels: dict[str, int], fits: bool
) -> None:
    """all: every skill at the level; any: one of them; none: anyone."""
    adv = Advisor("a1", "A", frozenset(levels), dict(levels))
    req = Request("r1", "u1", "U", 0.0, skills=frozenset({"wifi", "tv"}))
    assert adv.fits(req, step) is fits


def test_a_listed_skill_has_the_implied_level() -> None:
    """A skill without a level counts as level 3: enough for min_level 3, not for 4."""
    adv = Advisor("a1", "A", frozenset({"wifi"}))
    req = Request("r1", "u1", "U", 0.0, skills=frozenset({"wifi"}))
    assert adv.fits(req, Step(0, "all", 3)) and not adv.fits(req, Step(0, "all", 4))


def test_the_match_widens_step_by_step_on_its_timers() -> None:
    """Busy expert, free novice: the request waits at all (4), then any at 10 s (the
    novice has only one of its skills), with a timer for each next step and none after."""
    r = Router(RouterConfig(escalation=STEPS))
    expert(r, "a4", 0.0, wifi=5, tv=5)
    ask(r, "u0", "r0", 0.5)
    accept(r, "a4", "r0", 0.6)
    expert(r, "a1", 1.0, wifi=2)
    asked = ask(r, "u1", "r1", 2.0, skills=("wifi", "tv"))
    assert [m.match for m in messages(asked, HelpQueued)] == ["all"]
    assert StartTimer("route:r1", 10.0, RouteDue("r1")) in asked
    assert messages(r.handle(RouteDue("r1"), 5.0), HelpOffer) == []  # early: nothing
    widened = r.handle(RouteDue("r1"), 12.0)
    assert [m.request_id for m in messages(widened, HelpOffer, to="a1")] == ["r1"]
    assert [m.match for m in messages(widened, HelpQueued)] == ["any"]
    assert StartTimer("route:r1", 10.0, RouteDue("r1")) in widened
    assert CancelTimer("route:r1") in accept(r, "a1", "r1", 13.0)


def test_no_timer_without_a_next_step_or_a_cooldown() -> None:
    """The default escalation starts no routing timer: today's effects are unchanged."""
    r = Router()
    effects = ask(r, "u1", "r1", 1.0, skills=("wifi",))
    assert not [e for e in effects if isinstance(e, StartTimer | CancelTimer)]


def test_a_step_nobody_online_fits_is_skipped_but_not_with_nobody_online() -> None:
    """With only a level-2 advisor online the level-4 step is skipped on arrival; with no
    one online a request stays at its first step (a step is looked at when entered, not
    at each sign-in: that would cost every waiting request at every sign-in) and widens
    by age alone."""
    r = Router(RouterConfig(escalation=STEPS))
    ask(r, "u0", "r0", 0.0, skills=("wifi",))
    r.handle(RouteDue("r0"), 1.0)
    assert r.requests["r0"].step == 0
    expert(r, "a1", 2.0, wifi=2)
    assert r.requests["r0"].offered_to is None
    effects = ask(r, "u1", "r1", 3.0, skills=("wifi",))
    assert r.requests["r1"].step == 1 and r.requests["r1"].offered_to == "a1"
    assert [m.match for m in messages(effects, HelpQueued)] == ["any"]
    [entry] = [e for e in r.requests["r1"].timeline if e.event == "escalated"]
    assert entry.data == {"step": 1, "match": "any", "min_level": 1, "reason": "skipped"}
    r.handle(RouteDue("r0"), 10.0)
    assert r.requests["r0"].step == 1


def test_a_decline_cools_down_and_the_request_comes_back() -> None:
    """The decliner is not offered it during the cooldown, and is at its end."""
    r = Router(RouterConfig(decline_cooldown_s=30.0))
    available(r, "a1", 0.0)
    ask(r, "u1", "r1", 1.0)
    declined = r.handle(OfferDeclined("a1", "r1"), 2.0)
    assert StartTimer("route:r1", 30.0, RouteDue("r1")) in declined
    assert r.requests["r1"].offered_to is None
    assert [m.estimated_wait_s for m in messages(declined, HelpQueued)] == [300.0]
    assert r.summary(3.0).declined_by_all == 1
    back = r.handle(RouteDue("r1"), 32.0)
    assert [m.request_id for m in messages(back, HelpOffer, to="a1")] == ["r1"]
    assert r.requests["r1"].cooldowns == {}
    assert r.summary(33.0).declined_by_all == 0


def test_an_advisor_who_lost_the_session_stays_excluded_past_any_cooldown() -> None:
    """The lost-session exclusion is for good: the request waits for someone else."""
    r = Router(RouterConfig(decline_cooldown_s=5.0))
    available(r, "a1", 0.0)
    ask(r, "u1", "r1", 1.0)
    accept(r, "a1", "r1", 2.0)
    r.handle(Disconnected("advisor", "a1"), 3.0)
    r.handle(GraceExpired("advisor", "a1", 1), 40.0)
    available(r, "a1", 41.0)
    r.handle(RouteDue("r1"), 100.0)
    assert r.requests["r1"].offered_to is None and "a1" in r.requests["r1"].declined_by


def test_waiting_while_free_and_declined_by_all_alerts() -> None:
    """Both new alerts hold only with advisors free (or everyone declined)."""
    rules, quiet = AlertRules(target_s=9.0), measures({}, Rules())
    names = [a.name for a in rules.evaluate(6.0, 2, quiet, unoffered=1, declined_by_all=1)]
    assert names == ["declined_by_all", "waiting_while_free"]
    assert rules.evaluate(5.0, 2, quiet, unoffered=1) == []
    assert rules.evaluate(6.0, 2, quiet, unoffered=0) == []
    assert [a.name for a in rules.evaluate(6.0, 0, quiet, unoffered=1)] == ["oldest_wait"]


def test_a_bad_cooldown_is_refused() -> None:
    """The decline cooldown must be more than 0 and at most an hour."""
    with pytest.raises(SettingsError, match="decline_cooldown_s"):
        RouterConfig(decline_cooldown_s=0)
