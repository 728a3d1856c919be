"""JWT identities: who is on the other end of a socket, and in which role."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

ALGORITHM = "HS256"


class Role(enum.StrEnum):
    USER = "user"
    ADVISOR = "advisor"
    OPS = "ops"


class AuthError(Exception):
    """A token was refused; the message is safe to show and never contains the token."""


@dataclass(frozen=True)
class Identity:
    """The verified claims of one token."""

    sub: str
    role: Role
    name: str
    skills: frozenset[str] = field(default_factory=frozenset)


def issue_token(
    secret: str,
    *,
    role: Role | str,
    sub: str,
    name: str | None = None,
    ttl_s: int = 3600,
    audience: str = "mayday",
    skills: list[str] | None = None,
    now: float | None = None,
) -> str:
    """Sign a token for ``sub`` in ``role`` that expires after ``ttl_s`` seconds."""
    if not secret:
        raise AuthError("no JWT secret configured (set MAYDAY_JWT_SECRET)")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": sub,
        "role": Role(role).value,
        "name": name or sub,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl_s,
    }
    if skills:
        claims["skills"] = sorted(skills)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str, audience: str = "mayday") -> Identity:
    """Check signature, expiry and audience, and return the identity the token names."""
    if not token:
        raise AuthError("missing token")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["exp", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {type(exc).__name__}") from exc
    return _identity(claims)


def _identity(claims: dict[str, Any]) -> Identity:
    sub, role, name = claims.get("sub"), claims.get("role"), claims.get("name")
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise AuthError("invalid token: sub must be a non-empty string")
    try:
        parsed_role = Role(str(role))
    except ValueError as exc:
        raise AuthError("invalid token: role must be user, advisor or ops") from exc
    skills = claims.get("skills", [])
    if not isinstance(skills, list) or not all(isinstance(s, str) for s in skills):
        raise AuthError("invalid token: skills must be a list of strings")
    display = name if isinstance(name, str) and name else sub
    return Identity(sub=sub, role=parsed_role, name=display[:128], skills=frozenset(skills))


def turn_credentials(secret: str, sub: str, ttl_s: int, now: float) -> tuple[str, str]:
    """Short-lived TURN credentials in coturn's REST style (``use-auth-secret``)."""
    username = f"{int(now) + ttl_s}:{sub}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()
