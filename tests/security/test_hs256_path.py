"""The server checks HS256 tokens itself, in one pass (``TokenVerifier._hs256_claims``),
and PyJWT checks the others: the two are held to the same tokens here, and the server's
own reader is as strict as PyJWT's everywhere and stricter where RFC 7515 asks (no padding,
no characters outside base64url, claims that are UTF-8 JSON numbers a double holds)."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mayday.auth import AuthError, TokenVerifier
from tests.conftest import SECRET
from tests.security.test_tokens import NOW, claims, forge

HEADER = {"alg": "HS256", "typ": "JWT"}
OTHER = "another-secret-of-the-same-length-or-not"


def outcome(check: Any) -> tuple[str, Any]:
    try:
        return "accepted", check()
    except (AuthError, jwt.InvalidTokenError):
        return "refused", None


def both(token: str, *, issuer: str = "") -> tuple[tuple[str, Any], tuple[str, Any]]:
    """What the server's own check and PyJWT's made of ``token``."""
    v = TokenVerifier(secret=SECRET, issuer=issuer, clock=lambda: NOW)
    parts = token.split(".")
    if len(parts) != 3:  # refused before either is asked
        pyjwt = outcome(lambda: jwt.decode(token, SECRET, ["HS256"], audience="mayday"))
        return outcome(lambda: v.verify(token)), pyjwt
    ours = outcome(lambda: v._hs256_claims(parts, SECRET))
    theirs = outcome(lambda: v._pyjwt_claims(token, "HS256", SECRET))
    return ours, theirs


CLAIM_SETS = [
    claims(),
    claims(aud=["other", "mayday"]),
    claims(aud=["other"]),
    claims(aud="other"),
    claims(aud=["mayday", 7]),
    claims(aud=None),
    {k: v for k, v in claims().items() if k != "aud"},
    {k: v for k, v in claims().items() if k != "sub"},
    {k: v for k, v in claims().items() if k != "role"},
    {k: v for k, v in claims().items() if k != "exp"},
    claims(sub=7),
    claims(jti=7),
    claims(jti="a-jti"),
    claims(iss="https://idp.example"),
    claims(iss=["https://idp.example"]),
]


@pytest.mark.parametrize("payload", CLAIM_SETS, ids=lambda p: json.dumps(p)[:60])
@pytest.mark.parametrize("issuer", ["", "https://idp.example"])
@pytest.mark.parametrize("key", [SECRET, OTHER])
def test_the_same_claims_are_accepted_and_refused_by_both(
    payload: dict[str, Any], issuer: str, key: str
) -> None:
    ours, theirs = both(forge(HEADER, payload, key.encode()), issuer=issuer)
    assert ours == theirs


@pytest.mark.parametrize(
    "token",
    [
        "a.b",
        "a.b.c.d",
        forge({"alg": "HS256"}, "[1, 2]", SECRET.encode()),
        forge({"alg": "HS256"}, '"a string"', SECRET.encode()),
        forge({"alg": "HS256"}, "not json", SECRET.encode()),
        forge({"alg": "HS256"}, claims(), None),
        forge({"alg": "HS256"}, claims(), b""),
    ],
)
def test_malformed_tokens_are_refused_by_both(token: str) -> None:
    ours, theirs = both(token)
    assert ours[0] == theirs[0] == "refused"


def _padded(token: str) -> str:
    head, body, sig = token.split(".")
    pad = "=" * (-len(body) % 4) or "===="
    return f"{head}.{body}{pad}.{sig}"


@pytest.mark.parametrize(
    "token",
    [
        _padded(jwt.encode(claims(x="ab"), SECRET, algorithm="HS256")),
        jwt.encode(claims(), SECRET, algorithm="HS256") + " ",
        jwt.encode(claims(), SECRET, algorithm="HS256").replace(".", ".\n", 1),
    ],
    ids=["padding", "a space after the signature", "a line break in a segment"],
)
def test_characters_outside_base64url_are_refused_by_both(token: str) -> None:
    ours, theirs = both(token)
    assert ours[0] == theirs[0] == "refused"


@pytest.mark.parametrize(
    "exp",
    ["1e400", "NaN", "Infinity"],
)
def test_where_pyjwt_reads_more_json_the_server_refuses(exp: str) -> None:
    """Python's JSON reader takes NaN, Infinity and 1e400 (as infinity); the server's does
    not, so such a token is refused before its claims are looked at."""
    payload = '{"sub":"u1","role":"user","aud":"mayday","exp":' + exp + "}"
    ours, theirs = both(forge({"alg": "HS256"}, payload, SECRET.encode()))
    assert theirs[0] == "accepted"  # the leniency this test is about
    assert ours[0] == "refused"


@settings(max_examples=150, deadline=None)
@given(
    extra=st.dictionaries(
        st.sampled_from(["aud", "iss", "sub", "jti", "role", "exp", "nbf", "x"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**53), 2**53),
            st.text(max_size=12),
            st.lists(st.sampled_from(["mayday", "other", 3]), max_size=3),
        ),
        max_size=5,
    ),
    drop=st.sets(st.sampled_from(["aud", "sub", "role", "exp"])),
)
def test_any_claims_get_the_same_answer_from_both(extra: dict[str, Any], drop: set[str]) -> None:
    payload = {k: v for k, v in {**claims(), **extra}.items() if k not in drop}
    for issuer in ("", "mayday-idp"):
        ours, theirs = both(forge(HEADER, payload, SECRET.encode()), issuer=issuer)
        assert ours == theirs, (payload, issuer)


@pytest.mark.parametrize("odd", ["é", "\udcff", " ", "="])
def test_a_character_outside_base64url_in_the_claims_is_a_refusal(odd: str) -> None:
    """Not an error escaping the check: the claims segment is signed over as ASCII."""
    head, body, sig = forge(HEADER, claims(), SECRET.encode()).split(".")
    token = f"{head}.{body[:5]}{odd}{body[5:]}.{sig}"
    with pytest.raises(AuthError, match="DecodeError"):
        TokenVerifier(secret=SECRET, clock=lambda: NOW).verify(token)
