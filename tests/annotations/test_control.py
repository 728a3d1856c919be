"""Co-pilot consent as a pure state machine: every transition, every refusal, the log."""

from __future__ import annotations

import logging

import pytest

from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.sessions.control import ConsentState, Control, ControlAction, next_state

S, A = ConsentState, ControlAction


def test_request_grant_revoke_and_ask_again() -> None:
    """off -> requested -> granted -> revoked -> requested -> denied, each change logged."""
    c = Control("ses_1")
    seen = [c.state]
    for action in (A.REQUEST, A.GRANT, A.REVOKE, A.REQUEST, A.DENY):
        assert c.apply(action)
        seen.append(c.state)
    assert seen == [S.OFF, S.REQUESTED, S.GRANTED, S.REVOKED, S.REQUESTED, S.DENIED]


def test_every_change_is_logged_old_to_new(caplog: pytest.LogCaptureFixture) -> None:
    """The one setter logs each change of consent as old -> new."""
    caplog.set_level(logging.INFO, logger="mayday.sessions.control")
    c = Control("ses_9")
    c.apply(A.REQUEST)
    c.apply(A.GRANT)
    assert [r.getMessage() for r in caplog.records] == [
        "session ses_9: control off -> requested",
        "session ses_9: control requested -> granted",
    ]


# (state, action) -> the state it leads to, None for no change, or the refusal's message.
TABLE: dict[tuple[ConsentState, ControlAction], ConsentState | str | None] = {
    (S.OFF, A.REQUEST): S.REQUESTED,
    (S.REQUESTED, A.REQUEST): None,
    (S.GRANTED, A.REQUEST): "cannot request: control is already granted",
    (S.DENIED, A.REQUEST): S.REQUESTED,
    (S.REVOKED, A.REQUEST): S.REQUESTED,
    (S.OFF, A.GRANT): "cannot grant: there is no pending request for control",
    (S.REQUESTED, A.GRANT): S.GRANTED,
    (S.GRANTED, A.GRANT): None,
    (S.DENIED, A.GRANT): "cannot grant: there is no pending request for control",
    (S.REVOKED, A.GRANT): "cannot grant: there is no pending request for control",
    (S.OFF, A.DENY): "cannot deny: there is no pending request for control",
    (S.REQUESTED, A.DENY): S.DENIED,
    (S.GRANTED, A.DENY): "cannot deny: there is no pending request for control",
    (S.DENIED, A.DENY): None,
    (S.REVOKED, A.DENY): "cannot deny: there is no pending request for control",
    (S.OFF, A.REVOKE): None,
    (S.REQUESTED, A.REVOKE): S.REVOKED,
    (S.GRANTED, A.REVOKE): S.REVOKED,
    (S.DENIED, A.REVOKE): None,
    (S.REVOKED, A.REVOKE): None,
}


def test_the_whole_transition_table() -> None:
    """Every (state, action) pair leads where the table says, changes nothing, or is refused."""
    assert len(TABLE) == len(S) * len(A)
    for (state, action), expected in TABLE.items():
        if isinstance(expected, str) and expected not in list(S):
            with pytest.raises(ProtocolError) as refused:
                next_state(state, action, paused=False)
            assert (refused.value.code, refused.value.message) == (
                ErrorCode.INVALID_STATE,
                expected,
            )
        else:
            assert next_state(state, action, paused=False) == expected, (state, action)


def test_pause_blocks_requests_and_input_but_not_the_users_choices() -> None:
    """While paused the advisor can neither ask nor tap; the user can still grant or revoke."""
    c = Control("ses_1")
    assert c.set_paused(True) and not c.set_paused(True)
    with pytest.raises(ProtocolError, match="cannot request: the user paused screen sharing"):
        c.apply(A.REQUEST)
    c.set_paused(False)
    c.apply(A.REQUEST)
    c.set_paused(True)
    assert c.apply(A.GRANT)
    with pytest.raises(ProtocolError, match="input refused: the user paused screen sharing"):
        c.check_input()
    c.set_paused(False)
    c.check_input()
    assert c.apply(A.REVOKE)
    with pytest.raises(ProtocolError, match='input refused: control is "revoked", not granted'):
        c.check_input()


def test_actions_belong_to_one_side() -> None:
    """The advisor requests; grant, deny and revoke are the user's."""
    assert [a.side for a in A] == ["advisor", "user", "user", "user"]
