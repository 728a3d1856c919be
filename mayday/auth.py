"""JWT identities: who is on the other end of a socket, and in which role."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import jwt
import orjson

from mayday.jwks import ASYMMETRIC, KeyRing, key_ring

HS256 = "HS256"
ALGORITHM = HS256
# Far above any real token (an RS256 one with a few claims is under 1 KB); checked before
# anything is decoded.
MAX_TOKEN_CHARS = 8192
MAX_SKILLS = 32
NO_SKILLS: frozenset[str] = frozenset()
# Proficiency per skill in a token's ``skills`` object; a skill given as a bare name is at
# the implied level (the routing's escalation steps ask for a minimum of these).
MIN_LEVEL, MAX_LEVEL, IMPLIED_LEVEL = 1, 5, 3
# A user's ``priority`` claim: an integer level, higher served sooner (0 by default).
# Bounded so that no token can put its holder hours ahead of everyone.
PRIORITY_MIN, PRIORITY_MAX = -10, 10
# A display name may hold any printable text and bidi marks, but nothing that breaks a
# line or drives a terminal: C0/C1 controls, DEL, and the Unicode line and paragraph
# separators.
_BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A segment of a compact JWS: base64url without padding (RFC 7515 section 2).
_SEGMENT = re.compile("[A-Za-z0-9_-]*")


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
    # Each skill's proficiency, 1 to 5, sorted by name (a skill listed by name alone has
    # the implied level): the ``skills`` claim as an object ``{name: level}``.
    levels: tuple[tuple[str, int], ...] = ()
    # The ``priority`` claim (users): it orders their requests in the queue.
    priority: int = 0
    # The token's exp (seconds since the epoch): when a socket opened with it must end
    # or be refreshed. Not part of who the identity is.
    expires_at: float | None = field(default=None, compare=False)


def issue_token(
    secret: str,
    *,
    role: Role | str,
    sub: str,
    name: str | None = None,
    ttl_s: int = 3600,
    audience: str = "mayday",
    skills: list[str] | dict[str, int] | None = None,
    now: float | None = None,
    issuer: str = "",
    priority: int = 0,
) -> str:
    """Sign a token for ``sub`` in ``role`` that expires after ``ttl_s`` seconds (with
    ``iss`` when ``issuer`` is given, and ``priority`` when it is not 0)."""
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
    if issuer:
        claims["iss"] = issuer
    if isinstance(skills, dict):
        claims["skills"] = dict(sorted(skills.items()))
    elif skills:
        claims["skills"] = sorted(skills)
    if priority:
        claims["priority"] = _priority({"priority": priority})
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str, audience: str = "mayday") -> Identity:
    """Check an HS256 token with the default rules (``TokenVerifier`` holds them all)."""
    return TokenVerifier(secret=secret, audience=audience).verify(token)


class JwtSettings(Protocol):
    """The settings a verifier reads (``mayday.settings.Settings`` has them all)."""

    @property
    def jwt_secret(self) -> str: ...
    @property
    def jwt_audience(self) -> str: ...
    @property
    def jwt_issuer(self) -> str: ...
    @property
    def jwt_leeway_s(self) -> int: ...
    @property
    def jwt_max_ttl_s(self) -> int: ...
    @property
    def jwt_public_key(self) -> str: ...
    @property
    def jwks_file(self) -> str: ...


class TokenVerifier:
    """Checks tokens by RFC 8725: the algorithm comes from the key, not from the token.

    Built once from the settings; ``verify`` is a plain synchronous call that returns the
    ``Identity`` or raises ``AuthError`` with a message safe to show (never the token).
    HS256 tokens are checked with the shared secret only; RS256 and EdDSA tokens with the
    configured public keys only, each bound to its own algorithm; any other ``alg``
    (``none`` included) is refused.
    """

    def __init__(
        self,
        *,
        secret: str = "",
        keys: KeyRing | None = None,
        audience: str = "mayday",
        issuer: str = "",
        leeway_s: float = 30,
        max_ttl_s: float = 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._keys = keys or KeyRing()
        self._audience = audience
        self._issuer = issuer or None
        self._leeway_s = leeway_s
        self._max_ttl_s = max_ttl_s
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: JwtSettings, *, clock: Callable[[], float] = time.time
    ) -> TokenVerifier:
        """The verifier the settings describe; a key that cannot be used raises
        ``KeyConfigError`` naming its setting."""
        return cls(
            secret=settings.jwt_secret,
            keys=key_ring(settings.jwt_public_key, settings.jwks_file),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway_s=settings.jwt_leeway_s,
            max_ttl_s=settings.jwt_max_ttl_s,
            clock=clock,
        )

    def now(self) -> float:
        """The time tokens are checked against (seconds since the epoch), which is also
        the time an open socket's token runs out by."""
        return self._clock()

    def verify(self, token: str) -> Identity:
        """The identity of a valid token; ``AuthError`` otherwise."""
        if not token:
            raise AuthError("missing token")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError(f"invalid token: longer than {MAX_TOKEN_CHARS} characters")
        parts = token.split(".")
        if len(parts) != 3:
            raise AuthError("invalid token: DecodeError")
        algorithm, key = self._key_for(_json_segment(parts[0]))
        if algorithm == HS256:
            claims = self._hs256_claims(parts, key)
        else:
            _json_segment(parts[1])  # UTF-8 JSON, as for HS256; PyJWT takes UTF-16 too
            claims = self._pyjwt_claims(token, algorithm, key)
        identity = _identity(claims)
        expires_at = self._check_times(claims)
        return replace(identity, expires_at=expires_at)

    def _hs256_claims(self, parts: list[str], secret: str) -> dict[str, Any]:
        """The claims of an HS256 token whose signature holds. Checked here in one pass
        over the token, not by PyJWT, which parsed its header twice more and took a fifth
        of the server's CPU per connect (docs/performance.md, section 9); the claims are
        checked as PyJWT does (``_check_claims``), and the tests hold both to the same
        tokens (``tests/security/test_hs256_path.py``)."""
        try:  # both strictly base64url, so the claims can be signed over as ASCII
            body, signature = _b64url(parts[1]), _b64url(parts[2])
        except ValueError as exc:
            raise AuthError("invalid token: DecodeError") from exc
        signed = f"{parts[0]}.{parts[1]}".encode("ascii")
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            raise AuthError("invalid token: InvalidSignatureError")
        claims = _json_object(body)
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> None:
        """What ``jwt.decode`` checks with ``_pyjwt_claims``'s options: the required claims,
        the audience, the issuer, and ``sub`` and ``jti`` as strings."""
        for name in ("exp", "sub", "role", "aud"):
            if claims.get(name) is None:  # null counts as absent, as in PyJWT
                raise AuthError(f"invalid token: {name} is required")
        audience = claims["aud"]
        listed = audience if isinstance(audience, list) else [audience]
        if not all(isinstance(a, str) for a in listed) or self._audience not in listed:
            raise AuthError("invalid token: InvalidAudienceError")
        if self._issuer is not None:
            if "iss" not in claims:
                raise AuthError("invalid token: iss is required")
            if claims["iss"] != self._issuer:
                raise AuthError("invalid token: wrong issuer")
        for name in ("sub", "jti"):
            if name in claims and not isinstance(claims[name], str):
                raise AuthError(f"invalid token: {name} must be a string")

    def _pyjwt_claims(self, token: str, algorithm: str, key: Any) -> dict[str, Any]:
        """The claims of an RS256 or EdDSA token, checked by PyJWT."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                # Times are checked below, with their types: PyJWT takes "exp": "9999999999".
                options={
                    "require": ["exp", "sub", "role"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"invalid token: {exc.claim} is required") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("invalid token: wrong issuer") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {type(exc).__name__}") from exc
        except TypeError as exc:  # PyJWT on an aud list holding a number, an iss list, ...
            raise AuthError("invalid token: aud and iss must be strings") from exc
        return claims

    def _key_for(self, header: dict[str, Any]) -> tuple[str, Any]:
        algorithm, kid = header.get("alg"), header.get("kid")
        if "crit" in header:
            raise AuthError("invalid token: no critical header extension is understood")
        if kid is not None and (not isinstance(kid, str) or len(kid) > 256):
            raise AuthError("invalid token: kid must be a string")
        if algorithm == HS256:
            if not self._secret:
                raise AuthError("invalid token: HS256 tokens are not accepted here")
            return HS256, self._secret
        if algorithm in ASYMMETRIC:
            found = self._keys.find(kid, str(algorithm))
            if found is None:
                raise AuthError(f"invalid token: no {algorithm} key for this kid")
            return found.algorithm, found.key
        raise AuthError("invalid token: algorithm not accepted")

    def _check_times(self, claims: dict[str, Any]) -> float:
        """The token's exp, once exp, nbf and iat are found to hold now."""
        now, leeway = self._clock(), self._leeway_s
        exp = _number(claims, "exp")
        if exp is None:
            raise AuthError("invalid token: exp is required")
        if now > exp + leeway:
            raise AuthError("token expired")
        if exp > now + self._max_ttl_s + leeway:
            raise AuthError(
                f"invalid token: expires more than {self._max_ttl_s:g} s from now "
                "(MAYDAY_JWT_MAX_TTL_S)"
            )
        nbf = _number(claims, "nbf")
        if nbf is not None and now + leeway < nbf:
            raise AuthError("token not valid yet (nbf)")
        iat = _number(claims, "iat")
        if iat is not None and now + leeway < iat:
            raise AuthError("invalid token: issued in the future (iat)")
        return exp


def _b64url(segment: str) -> bytes:
    """A base64url segment without padding, strictly: any other character refuses it."""
    if not _SEGMENT.fullmatch(segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_segment(segment: str) -> dict[str, Any]:
    """A header or claims segment, decoded (``_json_object``)."""
    try:
        text = _b64url(segment)
    except ValueError as exc:
        raise AuthError("invalid token: header and claims must be UTF-8 JSON") from exc
    return _json_object(text)


def _json_object(text: bytes) -> dict[str, Any]:
    """A JSON object in UTF-8 (RFC 8725 section 3.7: Python's own JSON reader would also
    take UTF-16 or UTF-32, which another parser of the same token would not). orjson
    reads UTF-8 only, and refuses a byte order mark, a raw NUL, NaN and numbers past a
    double."""
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise AuthError("invalid token: header and claims must be UTF-8 JSON") from exc
    if not isinstance(parsed, dict):
        raise AuthError("invalid token: DecodeError")
    return parsed


def _number(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate claim: a JSON number (RFC 7519 section 2), finite; None if absent."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AuthError(f"invalid token: {name} must be a number")
    return float(value)


def _identity(claims: dict[str, Any]) -> Identity:
    sub, role, name = claims.get("sub"), claims.get("role"), claims.get("name")
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise AuthError("invalid token: sub must be a non-empty string of at most 128")
    if not sub.isprintable():
        raise AuthError("invalid token: sub must be printable (no control characters)")
    try:
        parsed_role = Role(str(role))
    except ValueError as exc:
        raise AuthError("invalid token: role must be user, advisor or ops") from exc
    display = name if isinstance(name, str) and name else sub
    if _BREAKS.search(display):
        raise AuthError("invalid token: name must hold no control characters or line breaks")
    levels = _skills(claims.get("skills", []))
    return Identity(
        sub=sub,
        role=parsed_role,
        name=display[:128],
        # One shared empty set: ``frozenset()`` made per socket is a 216-byte object each.
        skills=frozenset(name for name, _ in levels) if levels else NO_SKILLS,
        levels=levels,
        priority=_priority(claims),
    )


def _skills(skills: Any) -> tuple[tuple[str, int], ...]:
    """The ``skills`` claim: a list of names (each at the implied level) or an object
    ``{name: level}`` with integer levels from 1 to 5; anything else refuses the token."""
    if isinstance(skills, dict):
        names, levels = list(skills), list(skills.values())
    elif isinstance(skills, list):
        names, levels = list(skills), [IMPLIED_LEVEL] * len(skills)
    else:
        names, levels = [], []
    if not isinstance(skills, list | dict) or len(names) > MAX_SKILLS:
        raise AuthError(
            f"invalid token: skills must be a list or an object of at most {MAX_SKILLS}"
        )
    if not all(isinstance(s, str) and 0 < len(s) <= 64 and s.isprintable() for s in names):
        raise AuthError("invalid token: each skill must be a printable string of 1 to 64")
    if not all(type(v) is int and MIN_LEVEL <= v <= MAX_LEVEL for v in levels):
        raise AuthError("invalid token: each skill's level must be an integer from 1 to 5")
    return tuple(sorted(dict(zip(names, levels, strict=True)).items()))


def _priority(claims: dict[str, Any]) -> int:
    """The ``priority`` claim: an integer from PRIORITY_MIN to PRIORITY_MAX, 0 if absent.
    Not a bool (JSON true is no level) nor a float, not even 1.0: a signer that writes
    one has a bug worth hearing about."""
    value = claims.get("priority", 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AuthError("invalid token: priority must be an integer")
    if not PRIORITY_MIN <= value <= PRIORITY_MAX:
        raise AuthError(f"invalid token: priority must be from {PRIORITY_MIN} to {PRIORITY_MAX}")
    return value


def turn_credentials(secret: str, sub: str, ttl_s: int, now: float) -> tuple[str, str]:
    """Short-lived TURN credentials in coturn's REST style (``use-auth-secret``)."""
    username = f"{int(now) + ttl_s}:{sub}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()
