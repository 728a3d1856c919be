"""Settings from the environment, token checks, and the log redaction filter."""

from __future__ import annotations

import logging
import time

import jwt
import pytest

from mayday.auth import AuthError, Role, issue_token, turn_credentials, verify_token
from mayday.logsafe import RedactTokens, redact
from mayday.settings import Settings, SettingsError
from tests.conftest import SECRET


def test_settings_read_mayday_variables_and_flags_win() -> None:
    """MAYDAY_* variables set fields; explicit overrides (CLI flags) take precedence."""
    env = {
        "MAYDAY_PORT": "9000",
        "MAYDAY_HOST": "127.0.0.2",
        "MAYDAY_RESERVATION_TIMEOUT_S": "7.5",
        "MAYDAY_ICE_SERVERS": '[{"urls": ["stun:127.0.0.1:3478"]}]',
        "MAYDAY_TURN_URLS": "turn:a:3478, turn:b:3478",
        "MAYDAY_TURN_SECRET": "t",
    }
    settings = Settings.from_env(env, port=9100)
    assert settings.port == 9100
    assert settings.host == "127.0.0.2"
    assert settings.reservation_timeout_s == 7.5
    assert settings.ice_servers == ({"urls": ["stun:127.0.0.1:3478"]},)
    assert settings.turn_urls == ("turn:a:3478", "turn:b:3478")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAYDAY_PORT": "eighty"}, "MAYDAY_PORT"),
        ({"MAYDAY_ICE_SERVERS": '"stun:x"'}, "JSON list"),
        ({"MAYDAY_OFFERER": "both"}, "offerer"),
        ({"MAYDAY_TURN_URLS": "turn:a"}, "turn_secret"),
        ({"MAYDAY_JWT_SECRET": "tiny"}, "32 bytes"),
        ({"MAYDAY_PRIORITY_STEP_S": "-1"}, "priority_step_s"),
        ({"MAYDAY_PRIORITY_STEP_S": "3601"}, "priority_step_s"),
    ],
)
def test_bad_settings_are_refused_by_name(env: dict[str, str], message: str) -> None:
    """A bad value stops the server with a message naming the setting."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_token_round_trip_keeps_skills() -> None:
    """An issued token verifies to the same identity, skills included."""
    token = issue_token(SECRET, role="advisor", sub="a1", name="Ada", skills=["wifi", "printer"])
    identity = verify_token(token, SECRET)
    assert identity.role is Role.ADVISOR
    assert identity.skills == frozenset({"wifi", "printer"})


def test_token_without_exp_is_refused() -> None:
    """exp is required: a token that never expires is not accepted."""
    import jwt

    token = jwt.encode({"sub": "u", "role": "user", "aud": "mayday"}, SECRET)
    with pytest.raises(AuthError, match="invalid token"):
        verify_token(token, SECRET)


def test_turn_credentials_follow_coturn_rest_rules() -> None:
    """username is expiry:sub and the password is base64(HMAC-SHA1(secret, username))."""
    username, password = turn_credentials("north", "u1", 100, now=1_000.0)
    assert username == "1100:u1"
    # Reference value from: printf '1100:u1' | openssl dgst -sha1 -hmac north -binary | base64
    assert password == "ovqq/34gZygxclQAjNQYKhrGBIo="


def test_redaction_catches_query_tokens_and_bare_jwts(caplog: pytest.LogCaptureFixture) -> None:
    """A log line holding a token parameter or a JWT is rewritten before any handler sees it."""
    token = issue_token(SECRET, role="user", sub="u1")
    assert token not in redact(f"GET /ws?token={token}&x=1")
    assert redact(f"GET /ws?token={token}&x=1") == "GET /ws?token=[redacted]&x=1"
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactTokens())
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("header %s", f"Bearer {token}")
    assert token not in caplog.text
    assert "[redacted-jwt]" in caplog.text


def test_skills_with_levels_verify_to_levels() -> None:
    """Skills as an object carry their levels; a list gives each the implied level 3."""
    token = issue_token(SECRET, role="advisor", sub="a1", skills={"wifi": 5, "printer": 1})
    identity = verify_token(token, SECRET)
    assert identity.skills == frozenset({"wifi", "printer"})
    assert identity.levels == (("printer", 1), ("wifi", 5))
    listed = verify_token(issue_token(SECRET, role="advisor", sub="a2", skills=["wifi"]), SECRET)
    assert listed.levels == (("wifi", 3),)


@pytest.mark.parametrize("level", [0, 6, 2.5, True, "3"])
def test_a_bad_skill_level_refuses_the_token(level: object) -> None:
    """A level that is not an integer from 1 to 5 refuses the whole token."""
    token = jwt.encode(
        {
            "sub": "a1",
            "role": "advisor",
            "aud": "mayday",
            "exp": time.time() + 60,
            "skills": {"wifi": level},
        },
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(AuthError, match="level must be an integer from 1 to 5"):
        verify_token(token, SECRET)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[]", "1 to 20 steps"),
        ('[{"after_s": 5, "skills": "all"}]', "first step must have after_s 0"),
        ('[{"after_s": 0, "skills": "some"}]', 'skills must be "all", "any" or "none"'),
        ('[{"after_s": 0, "skills": "all", "min_level": 9}]', "min_level must be from 1 to 5"),
        ('[{"after_s": 0}, {"after_s": 0, "skills": "any"}]', "more than the step before"),
        ('[{"after_s": 0, "skill": "any"}]', "must be an object of after_s"),
        ("not json", "must be JSON"),
    ],
)
def test_a_bad_escalation_stops_the_start_with_its_reason(raw: str, message: str) -> None:
    """MAYDAY_ESCALATION is checked when the settings load, with the step at fault."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"MAYDAY_ESCALATION": raw, "MAYDAY_JWT_SECRET": SECRET})


def test_escalation_and_cooldown_from_the_environment() -> None:
    """The steps and the decline cooldown are read from their variables."""
    settings = Settings.from_env(
        {
            "MAYDAY_ESCALATION": '[{"after_s": 0, "skills": "all", "min_level": 4},'
            ' {"after_s": 10, "skills": "any"}, {"after_s": 20, "skills": "none"}]',
            "MAYDAY_DECLINE_COOLDOWN_S": "30",
            "MAYDAY_JWT_SECRET": SECRET,
        }
    )
    assert [s.to_json() for s in settings.escalation] == [
        {"after_s": 0.0, "skills": "all", "min_level": 4},
        {"after_s": 10.0, "skills": "any", "min_level": 1},
        {"after_s": 20.0, "skills": "none", "min_level": 1},
    ]
    assert settings.decline_cooldown_s == 30.0
