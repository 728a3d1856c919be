"""Tokens by RFC 8725 (issue 16, finding 8): claim types and times, issuer, public keys
of an integrator's backend with kid rotation, no algorithm confusion, printable sub."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from mayday.auth import AuthError, Role, TokenVerifier, issue_token
from mayday.jwks import JwksFile, KeyConfigError, key_ring, parse_jwks
from mayday.settings import Settings, SettingsError
from tests.conftest import SECRET, StartServer

NOW = 1_900_000_000.0


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: str | dict[str, Any], key: bytes | None) -> str:
    """A token built by hand: any header, a payload given as raw JSON text if wanted, and
    an HMAC-SHA256 signature with ``key`` (none at all without one)."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(body.encode())}"
    if key is None:
        return signing_input + "."
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(digest)}"


def claims(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "u1", "role": "user", "aud": "mayday", "exp": NOW + 600}
    base.update(extra)
    return base


def hs256(**extra: Any) -> str:
    return jwt.encode(claims(**extra), SECRET, algorithm="HS256")


def verifier(**options: Any) -> TokenVerifier:
    return TokenVerifier(**{"secret": SECRET, "clock": lambda: NOW, **options})


def refusal(v: TokenVerifier, token: str) -> str:
    """The message of the refusal, checked never to hold the token or its signature."""
    with pytest.raises(AuthError) as refused:
        v.verify(token)
    message = str(refused.value)
    signature = token.rsplit(".", 1)[-1]
    assert token not in message
    assert not signature or signature not in message
    return message


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def jwk(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        found: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        found = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**found, "kid": kid, "use": "sig"}


def write_jwks(path: Path, *keys: dict[str, Any]) -> None:
    path.write_text(json.dumps({"keys": list(keys)}))
    # A second write within the same clock tick must still look changed.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


# ------------------------------------------------------------------ claims and times


@pytest.mark.parametrize(
    "exp",
    ['"1900000600"', "true", "null", "[1900000600]", '{"$date": 1}'],
)
def test_exp_must_be_a_json_number(exp: str) -> None:
    """exp as a string (PyJWT takes "1900000600"), a boolean, null, a list or an object is
    refused: a NumericDate is a JSON number."""
    payload = '{"sub": "u1", "role": "user", "aud": "mayday", "exp": ' + exp + "}"
    token = forge({"alg": "HS256", "typ": "JWT"}, payload, SECRET.encode())
    assert "exp" in refusal(verifier(), token)


def test_a_number_past_a_double_is_not_json_the_server_reads() -> None:
    """exp 1e400 (infinity as a double) is refused before any claim is looked at: the
    claims are read as JSON numbers that fit a double, or not at all."""
    payload = '{"sub": "u1", "role": "user", "aud": "mayday", "exp": 1e400}'
    token = forge({"alg": "HS256", "typ": "JWT"}, payload, SECRET.encode())
    assert "must be UTF-8 JSON" in refusal(verifier(), token)


async def test_string_exp_is_refused_at_the_socket(start_server: StartServer) -> None:
    """Over the real upgrade, a token whose exp is a string gets 4401 (it was served)."""
    h = await start_server()
    payload = claims(exp=str(int(time.time()) + 600))
    token = forge({"alg": "HS256", "typ": "JWT"}, payload, SECRET.encode())
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(h.ws_url, params={"token": token})
        frame = await ws.receive_json()
        assert (frame["code"], frame["message"]) == (
            "unauthorized",
            "invalid token: exp must be a number",
        )
        await ws.receive()
        assert ws.close_code == 4401


def test_exp_beyond_the_max_ttl_is_refused() -> None:
    """A token that expires more than MAYDAY_JWT_MAX_TTL_S (plus the leeway) from now is
    refused; one just inside is accepted."""
    v = verifier(max_ttl_s=3600, leeway_s=30)
    assert v.verify(hs256(exp=NOW + 3600 + 30)).sub == "u1"
    assert "MAYDAY_JWT_MAX_TTL_S" in refusal(v, hs256(exp=NOW + 3600 + 31))
    assert "MAYDAY_JWT_MAX_TTL_S" in refusal(verifier(), hs256(exp=NOW + 10 * 86400))


def test_the_identity_carries_the_expiry() -> None:
    """The identity holds the token's exp (for sockets that must end with it), and two
    tokens of one identity with different expiries name the same identity."""
    first, later = verifier().verify(hs256()), verifier().verify(hs256(exp=NOW + 900))
    assert (first.expires_at, later.expires_at) == (NOW + 600, NOW + 900)
    assert first == later


def test_leeway_applies_to_exp_nbf_and_iat() -> None:
    """exp, nbf and iat are honoured with MAYDAY_JWT_LEEWAY_S of clock skew either way."""
    v = verifier(leeway_s=30)
    assert v.verify(hs256(exp=NOW - 29)).sub == "u1"
    assert refusal(v, hs256(exp=NOW - 31)) == "token expired"
    assert v.verify(hs256(nbf=NOW + 29)).sub == "u1"
    assert refusal(v, hs256(nbf=NOW + 31)) == "token not valid yet (nbf)"
    assert v.verify(hs256(iat=NOW + 29)).sub == "u1"
    assert "iat" in refusal(v, hs256(iat=NOW + 31))
    assert "nbf must be a number" in refusal(v, hs256(nbf="soon"))
    assert "iat must be a number" in refusal(v, hs256(iat=True))


def test_issuer_is_checked_when_configured() -> None:
    """With MAYDAY_JWT_ISSUER, a token without iss or with another one is refused;
    without it, iss is not looked at."""
    v = verifier(issuer="https://login.example.com")
    assert v.verify(hs256(iss="https://login.example.com")).sub == "u1"
    assert "iss" in refusal(v, hs256())
    assert refusal(v, hs256(iss="https://evil.example.com")) == "invalid token: wrong issuer"
    assert verifier().verify(hs256(iss="anyone")).sub == "u1"


@pytest.mark.parametrize(
    "sub",
    ["u1\nFAKE LOG LINE", "u1\r", "a\x00b", "esc\x1b[31m", "tab\there", "rlo\u202etxt", "\u2028"],
)
def test_sub_must_be_printable(sub: str) -> None:
    """A sub with a newline, a control character or an invisible format character (a bidi
    override) is refused: it would forge log lines and spoof names on screen."""
    assert "sub must be printable" in refusal(verifier(), hs256(sub=sub))


def test_printable_unicode_sub_and_name_are_kept() -> None:
    """Accents, scripts and emoji are printable and kept as they are."""
    identity = verifier().verify(hs256(sub="josé-例-🙂", name="Zoë 李"))
    assert (identity.sub, identity.name) == ("josé-例-🙂", "Zoë 李")


def test_name_and_skills_are_bounded() -> None:
    """A name with a line break and skills that are not short printable strings are
    refused."""
    assert "name" in refusal(verifier(), hs256(name="Ada\nINFO forged"))
    assert "skill" in refusal(verifier(), hs256(skills=["wifi\n"]))
    assert "skills" in refusal(verifier(), hs256(skills=[f"s{i}" for i in range(33)]))


@pytest.mark.parametrize("value", [-10, 0, 3, 10])
def test_a_priority_claim_in_range_is_kept(value: int) -> None:
    """An integer priority from -10 to 10 is the identity's; without the claim it is 0."""
    assert verifier().verify(hs256(priority=value)).priority == value
    assert verifier().verify(hs256()).priority == 0


@pytest.mark.parametrize("value", [11, -11, 10**30, True, False, 1.0, 2.5, "3", None, [1]])
def test_a_bad_priority_claim_refuses_the_token(value: Any) -> None:
    """A priority out of range, a bool, a float (even 1.0), a string, null or a list
    refuses the whole token, like any other bad claim."""
    assert "priority must be" in refusal(verifier(), hs256(priority=value))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16", "utf-32", "utf-8-sig"])
def test_claims_must_be_utf8(encoding: str) -> None:
    """Claims in UTF-16 or UTF-32 (which Python's JSON reader takes) or behind a byte order
    mark are refused, correctly signed or not; the same claims in UTF-8 pass."""
    text = json.dumps(claims())
    header = b64(b'{"alg":"HS256"}')
    signing_input = f"{header}.{b64(text.encode(encoding))}"
    digest = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(digest)}"
    assert jwt.decode(token, SECRET, ["HS256"], audience="mayday")["sub"] == "u1"  # PyJWT's own
    assert "UTF-8" in refusal(verifier(), token)
    assert verifier().verify(forge({"alg": "HS256"}, text, SECRET.encode())).sub == "u1"


def test_an_oversized_token_is_refused_before_it_is_decoded() -> None:
    """A token over 8192 characters is refused by its length."""
    assert "longer than" in refusal(verifier(), hs256(pad="x" * 9000))


# ------------------------------------------------------------------ algorithms and keys


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "HS384", "PS256", "ES256", ""])
def test_other_algorithms_are_refused(alg: str, rsa_key: rsa.RSAPrivateKey) -> None:
    """alg none (in any case), and every algorithm no configured key is for, is refused,
    whatever the signature."""
    v = verifier(keys=key_ring(pem(rsa_key), ""))
    for key in (None, SECRET.encode()):
        token = forge({"alg": alg, "typ": "JWT"}, claims(), key)
        assert refusal(v, token) == "invalid token: algorithm not accepted"


def test_rs256_token_from_a_pem_key(rsa_key: rsa.RSAPrivateKey) -> None:
    """An RS256 token signed by the integrator's key verifies against MAYDAY_JWT_PUBLIC_KEY;
    one signed by another key does not."""
    v = verifier(secret="", keys=key_ring(pem(rsa_key), ""))
    token = jwt.encode(claims(sub="ada", role="advisor"), rsa_key, algorithm="RS256")
    assert v.verify(token).role is Role.ADVISOR
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims(), other, algorithm="RS256")
    assert refusal(v, forged) == "invalid token: InvalidSignatureError"


def test_pem_key_may_be_given_as_a_file(tmp_path: Path, ed_key: ed25519.Ed25519PrivateKey) -> None:
    """MAYDAY_JWT_PUBLIC_KEY holds the PEM text or the path of a PEM file."""
    path = tmp_path / "backend.pem"
    path.write_text(pem(ed_key))
    v = verifier(secret="", keys=key_ring(str(path), ""))
    assert v.verify(jwt.encode(claims(), ed_key, algorithm="EdDSA")).sub == "u1"


@pytest.mark.parametrize("with_secret", [True, False])
def test_hs256_signed_with_the_public_key_is_refused(
    with_secret: bool, rsa_key: rsa.RSAPrivateKey
) -> None:
    """Algorithm confusion: an HS256 token whose HMAC key is the server's public key (which
    anyone may have) is refused, with or without a shared secret configured."""
    v = verifier(secret=SECRET if with_secret else "", keys=key_ring(pem(rsa_key), ""))
    for key in (pem(rsa_key).encode(), pem(rsa_key).strip().encode()):
        token = forge({"alg": "HS256", "typ": "JWT"}, claims(role="ops"), key)
        expected = (
            "invalid token: InvalidSignatureError"
            if with_secret
            else "invalid token: HS256 tokens are not accepted here"
        )
        assert refusal(v, token) == expected


def test_a_key_serves_only_its_own_algorithm(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    """A token that names an RSA key's kid with alg EdDSA (or the other way) is refused."""
    path = tmp_path / "jwks.json"
    write_jwks(path, jwk(rsa_key, "r1"), jwk(ed_key, "e1"))
    v = verifier(secret="", keys=JwksFile(path))
    assert v.verify(jwt.encode(claims(), rsa_key, "RS256", headers={"kid": "r1"})).sub == "u1"
    assert v.verify(jwt.encode(claims(), ed_key, "EdDSA", headers={"kid": "e1"})).sub == "u1"
    crossed = jwt.encode(claims(), ed_key, "EdDSA", headers={"kid": "r1"})
    assert refusal(v, crossed) == "invalid token: no EdDSA key for this kid"
    assert "no RS256 key" in refusal(v, jwt.encode(claims(), rsa_key, "RS256"))


def test_jwks_kid_rotation_without_restart(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    """Keys rotate by editing the JWKS file: a new kid is accepted once it is added, an
    old one refused once it is removed; a broken file keeps the keys in force."""
    path = tmp_path / "jwks.json"
    write_jwks(path, jwk(rsa_key, "2026-01"))
    ticks = [0.0]
    v = verifier(secret="", keys=JwksFile(path, monotonic=lambda: ticks[0]))
    old = jwt.encode(claims(), rsa_key, "RS256", headers={"kid": "2026-01"})
    new = jwt.encode(claims(), ed_key, "EdDSA", headers={"kid": "2026-02"})
    assert v.verify(old).sub == "u1"
    assert "no EdDSA key" in refusal(v, new)

    write_jwks(path, jwk(rsa_key, "2026-01"), jwk(ed_key, "2026-02"))
    assert "no EdDSA key" in refusal(v, new)  # checked at most once a second
    ticks[0] += 1.0
    assert v.verify(new).sub == "u1"

    write_jwks(path, jwk(ed_key, "2026-02"))
    ticks[0] += 1.0
    assert "no RS256 key" in refusal(v, old)

    path.write_text('{"keys": [')  # an editor caught half-way
    ticks[0] += 1.0
    assert v.verify(new).sub == "u1"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"keys": []}', "non-empty"),
        ("[1]", "non-empty"),
        ('{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}', "public RSA or OKP"),
        ('{"keys": [{"kty": "EC", "crv": "P-256", "kid": "e"}]}', "public RSA or OKP"),
    ],
)
def test_unusable_key_sets_are_refused(document: str, message: str) -> None:
    """An empty set, a symmetric key, an EC key (not supported) are refused by name."""
    with pytest.raises(KeyConfigError, match=message):
        parse_jwks(document)


def test_private_and_weak_keys_are_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    """A JWKS entry with its private part, an RSA key under 2048 bits, or two keys with one
    kid are refused at start."""
    private = RSAAlgorithm.to_jwk(rsa_key, as_dict=True)
    with pytest.raises(KeyConfigError, match="public RSA or OKP"):
        parse_jwks(json.dumps({"keys": [{**private, "kid": "p"}]}))
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(KeyConfigError, match="2048 bits"):
        key_ring(pem(weak), "")
    with pytest.raises(KeyConfigError, match="share a kid"):
        parse_jwks(json.dumps({"keys": [jwk(rsa_key, "a"), jwk(rsa_key, "a")]}))
    with pytest.raises(SettingsError, match="not both"):
        Settings(jwt_public_key=pem(rsa_key), jwks_file="/etc/keys.json")


def test_token_settings_from_the_environment(tmp_path: Path) -> None:
    """MAYDAY_JWT_ISSUER, _LEEWAY_S, _MAX_TTL_S and MAYDAY_JWKS_FILE set the verifier's
    rules; a leeway or TTL out of range is refused by name."""
    env = {
        "MAYDAY_JWT_ISSUER": "https://login.example.com",
        "MAYDAY_JWT_LEEWAY_S": "5",
        "MAYDAY_JWT_MAX_TTL_S": "7200",
    }
    s = Settings.from_env(env, jwt_secret=SECRET)
    assert (s.jwt_issuer, s.jwt_leeway_s, s.jwt_max_ttl_s) == ("https://login.example.com", 5, 7200)
    v = TokenVerifier.from_settings(s, clock=lambda: NOW)
    assert "iss" in refusal(v, hs256())
    issued = "https://login.example.com"
    assert v.verify(hs256(iss=issued, exp=NOW + 7200 + 5)).sub == "u1"
    assert "MAYDAY_JWT_MAX_TTL_S" in refusal(v, hs256(iss=issued, exp=NOW + 7200 + 6))
    with pytest.raises(SettingsError, match="MAYDAY_JWT_LEEWAY_S"):
        Settings.from_env({"MAYDAY_JWT_LEEWAY_S": "3600"})
    with pytest.raises(SettingsError, match="MAYDAY_JWT_MAX_TTL_S"):
        Settings.from_env({"MAYDAY_JWT_MAX_TTL_S": "10"})
    with pytest.raises(KeyConfigError, match="MAYDAY_JWKS_FILE"):
        TokenVerifier.from_settings(Settings(jwks_file=str(tmp_path / "missing.json")))


def test_issued_tokens_carry_the_issuer() -> None:
    """issue_token writes iss when given one, and the verifier then accepts the token."""
    token = issue_token(SECRET, role="ops", sub="o1", issuer="mayday-ops", now=NOW)
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "mayday-ops"
    assert verifier(issuer="mayday-ops").verify(token).role is Role.OPS


# ------------------------------------------------------------------ through the server


async def test_backend_signed_tokens_open_sockets_and_apis(
    start_server: StartServer, tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    """A server with only a JWKS file (no shared secret) serves an RS256 user token on /ws
    and an RS256 ops token on the API, and refuses an HS256 token on both."""
    path = tmp_path / "jwks.json"
    write_jwks(path, jwk(rsa_key, "k1"))
    h = await start_server(jwt_secret="", jwks_file=str(path), jwt_issuer="backend")
    live = {"aud": "mayday", "iss": "backend", "exp": int(time.time()) + 600}
    user = jwt.encode(
        {**live, "sub": "tab-9", "role": "user"}, rsa_key, "RS256", headers={"kid": "k1"}
    )
    ops = jwt.encode({**live, "sub": "o1", "role": "ops"}, rsa_key, "RS256", headers={"kid": "k1"})
    hs = jwt.encode({**live, "sub": "o1", "role": "ops"}, SECRET, "HS256")
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(h.ws_url, params={"token": user})
        hello = await ws.receive_json()
        assert (hello["type"], hello["sub"]) == ("hello", "tab-9")
        await ws.close()
        url = h.http_url + "/api/ops/summary"
        async with http.get(url, headers={"Authorization": f"Bearer {ops}"}) as r:
            assert r.status == 200
        async with http.get(url, headers={"Authorization": f"Bearer {hs}"}) as r:
            assert r.status == 401
            assert (await r.json())["message"] == (
                "invalid token: HS256 tokens are not accepted here"
            )


# ------------------------------------------------------------------ the command line


def run_mayday(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAYDAY_")}
    return subprocess.run(
        [sys.executable, "-m", "mayday", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_mayday_token_writes_the_issuer_and_keeps_to_the_max_ttl() -> None:
    """With MAYDAY_JWT_ISSUER, ``mayday token`` writes iss; a --ttl over
    MAYDAY_JWT_MAX_TTL_S is refused, since the server would refuse the token."""
    env = {"MAYDAY_JWT_SECRET": SECRET, "MAYDAY_JWT_ISSUER": "acme", "MAYDAY_JWT_MAX_TTL_S": "600"}
    done = run_mayday("token", "--role", "user", "--sub", "u1", "--ttl", "600", **env)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert TokenVerifier(secret=SECRET, issuer="acme").verify(token).sub == "u1"
    too_long = run_mayday("token", "--role", "user", "--sub", "u1", "--ttl", "601", **env)
    assert too_long.returncode == 2
    assert "MAYDAY_JWT_MAX_TTL_S" in too_long.stderr


def test_serve_runs_on_a_key_set_without_a_secret(tmp_path: Path) -> None:
    """``mayday serve`` starts with MAYDAY_JWKS_FILE and no MAYDAY_JWT_SECRET, and stops
    at start with a message naming the setting when the file is unusable."""
    broken = tmp_path / "broken.json"
    broken.write_text('{"keys": "none"}')
    done = run_mayday("serve", "--port", "0", MAYDAY_JWKS_FILE=str(broken))
    assert done.returncode == 2
    assert "MAYDAY_JWKS_FILE" in done.stderr
    assert "Traceback" not in done.stderr
    good = tmp_path / "jwks.json"
    key = ed25519.Ed25519PrivateKey.generate()
    write_jwks(good, jwk(key, "k1"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAYDAY_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mayday", "serve", "--port", "0"],
        env={**clean, "MAYDAY_JWKS_FILE": str(good)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "serving on http://127.0.0.1:" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
