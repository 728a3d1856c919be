"""Settings from the environment, token checks, and the log redaction filter."""

from __future__ import annotations

import logging

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
