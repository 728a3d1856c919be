"""Co-pilot consent and screen-sharing pause of one session: pure state, no I/O.

The advisor asks (``request``); the user's tablet shows a prompt and the user
grants or denies; the user may revoke at any moment, and revoking is always
accepted (a second tap, or one when nothing is granted, changes nothing). An
input from the advisor is accepted only while consent is granted and the
screen is shared. The transition table is data, so the Redis store can run the
same check and change atomically in one script (``lua/control.lua``).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from mayday.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)


class ConsentState(enum.StrEnum):
    OFF = "off"
    REQUESTED = "requested"
    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"


class ControlAction(enum.StrEnum):
    REQUEST = "request"
    GRANT = "grant"
    DENY = "deny"
    REVOKE = "revoke"

    @property
    def side(self) -> str:
        """Who may take this action: the advisor asks, the user decides."""
        return "advisor" if self is ControlAction.REQUEST else "user"


@dataclass(frozen=True)
class Transition:
    """``action`` moves a state in ``sources`` to ``target``; in ``repeats`` it changes
    nothing (idempotent); from any other state it is refused with ``refusal``."""

    sources: frozenset[ConsentState]
    target: ConsentState
    repeats: frozenset[ConsentState]
    refusal: str
    needs_sharing: bool = False


S = ConsentState
TRANSITIONS: dict[ControlAction, Transition] = {
    ControlAction.REQUEST: Transition(
        frozenset({S.OFF, S.DENIED, S.REVOKED}),
        S.REQUESTED,
        frozenset({S.REQUESTED}),
        "control is already granted",
        needs_sharing=True,
    ),
    ControlAction.GRANT: Transition(
        frozenset({S.REQUESTED}),
        S.GRANTED,
        frozenset({S.GRANTED}),
        "there is no pending request for control",
    ),
    ControlAction.DENY: Transition(
        frozenset({S.REQUESTED}),
        S.DENIED,
        frozenset({S.DENIED}),
        "there is no pending request for control",
    ),
    ControlAction.REVOKE: Transition(
        frozenset({S.REQUESTED, S.GRANTED}),
        S.REVOKED,
        frozenset({S.OFF, S.DENIED, S.REVOKED}),
        "",  # never refused
    ),
}
PAUSED = "the user paused screen sharing"


def next_state(current: ConsentState, action: ControlAction, paused: bool) -> ConsentState | None:
    """The state ``action`` leads to from ``current``; None when it changes nothing.

    Raises ``ProtocolError`` (``invalid_state``) when the action does not fit.
    """
    rule = TRANSITIONS[action]
    if current in rule.repeats:
        return None
    if current not in rule.sources:
        raise ProtocolError(ErrorCode.INVALID_STATE, f"cannot {action}: {rule.refusal}")
    if rule.needs_sharing and paused:
        raise ProtocolError(ErrorCode.INVALID_STATE, f"cannot {action}: {PAUSED}")
    return rule.target


def check_input(state: ConsentState, paused: bool) -> None:
    """Refuse an advisor's input unless control is granted and the screen is shared."""
    if paused:
        raise ProtocolError(ErrorCode.INVALID_STATE, f"input refused: {PAUSED}")
    if state is not ConsentState.GRANTED:
        raise ProtocolError(
            ErrorCode.INVALID_STATE, f'input refused: control is "{state}", not granted'
        )


def log_change(session_id: str, old: ConsentState, new: ConsentState) -> None:
    log.info("session %s: control %s -> %s", session_id, old, new)


class Control:
    """Consent and pause of one session; every change of consent goes through ``_set``."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.state = ConsentState.OFF
        self.paused = False

    def apply(self, action: ControlAction) -> bool:
        """Take ``action``; True if the state changed."""
        new = next_state(self.state, action, self.paused)
        if new is None:
            return False
        self._set(new)
        return True

    def set_paused(self, paused: bool) -> bool:
        """Pause or resume screen sharing; True if it changed."""
        if paused == self.paused:
            return False
        log.info("session %s: sharing %s", self.session_id, "paused" if paused else "resumed")
        self.paused = paused
        return True

    def check_input(self) -> None:
        check_input(self.state, self.paused)

    def _set(self, new: ConsentState) -> None:
        log_change(self.session_id, self.state, new)
        self.state = new
