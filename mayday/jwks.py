"""Public keys for tokens signed in an integrator's own backend (RS256, EdDSA).

One PEM public key (``MAYDAY_JWT_PUBLIC_KEY``) or a JWKS file
(``MAYDAY_JWKS_FILE``). Every key is bound to the one algorithm its type allows
(an RSA key to RS256, an Ed25519 or Ed448 key to EdDSA), so a token's ``alg``
header can only pick among keys, never make a public key serve as an HMAC secret.

A JWKS file is read again when it changes (checked at most once a second), so
keys rotate without a restart: add the new key (its own ``kid``), sign with it,
then remove the old one. A file that cannot be read or parsed leaves the keys
it last had in force, and says so in the log.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

log = logging.getLogger(__name__)

RS256, EDDSA = "RS256", "EdDSA"
ASYMMETRIC = (RS256, EDDSA)
MIN_RSA_BITS = 2048
MAX_KEYS = 64


class KeyConfigError(ValueError):
    """A configured public key or key set cannot be used; the message names the setting."""


@dataclass(frozen=True)
class PublicKey:
    """One verification key and the only algorithm it may verify."""

    kid: str | None
    algorithm: str
    key: Any


class KeyRing:
    """The public keys in force; ``find`` picks the one for a token's ``kid`` and ``alg``."""

    def __init__(self, keys: tuple[PublicKey, ...] = ()) -> None:
        self._keys = keys

    def find(self, kid: str | None, algorithm: str) -> PublicKey | None:
        """The key for this token, or None. Without a ``kid`` only a ring of one key answers."""
        keys = self.current()
        candidates: tuple[PublicKey, ...]
        if kid is None:
            candidates = keys if len(keys) == 1 else ()
        else:
            candidates = tuple(k for k in keys if k.kid == kid)
        for key in candidates:
            if key.algorithm == algorithm:
                return key
        return None

    def current(self) -> tuple[PublicKey, ...]:
        return self._keys


class JwksFile(KeyRing):
    """The keys of a JWKS file, read again when the file changes."""

    def __init__(
        self,
        path: Path,
        *,
        check_every_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._check_every_s = check_every_s
        self._monotonic = monotonic
        self._stamp = _stamp(path)
        super().__init__(parse_jwks(_read(path), source=str(path)))
        self._checked = monotonic()

    def current(self) -> tuple[PublicKey, ...]:
        now = self._monotonic()
        if now - self._checked >= self._check_every_s:
            self._checked = now
            self._reload_if_changed()
        return self._keys

    def _reload_if_changed(self) -> None:
        try:
            stamp = _stamp(self._path)
        except KeyConfigError as exc:
            log.warning("%s; keeping the %d keys read before", exc, len(self._keys))
            return
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            keys = parse_jwks(_read(self._path), source=str(self._path))
        except KeyConfigError as exc:
            log.warning("%s; keeping the %d keys read before", exc, len(self._keys))
            return
        log.info("JWKS file %s read again: %d keys", self._path, len(keys))
        self._keys = keys


def _stamp(path: Path) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise KeyConfigError(f"MAYDAY_JWKS_FILE: cannot read {path}: {exc.strerror}") from None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyConfigError(f"MAYDAY_JWKS_FILE: cannot read {path}: {exc}") from None


def key_ring(public_key: str, jwks_file: str) -> KeyRing:
    """The ring the settings describe: empty, one PEM key, or a JWKS file."""
    if public_key and jwks_file:
        raise KeyConfigError("set MAYDAY_JWT_PUBLIC_KEY or MAYDAY_JWKS_FILE, not both")
    if jwks_file:
        return JwksFile(Path(jwks_file))
    if public_key:
        return KeyRing((pem_key(public_key),))
    return KeyRing()


def pem_key(value: str) -> PublicKey:
    """A PEM public key (``-----BEGIN PUBLIC KEY-----``), given as text or as a file path."""
    text = value if value.lstrip().startswith("-----BEGIN") else _pem_file(value)
    try:
        key = load_pem_public_key(text.encode())
    except ValueError as exc:
        raise KeyConfigError(f"MAYDAY_JWT_PUBLIC_KEY: not a PEM public key ({exc})") from None
    return PublicKey(None, _algorithm_of(key, "MAYDAY_JWT_PUBLIC_KEY"), key)


def _pem_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyConfigError(
            f"MAYDAY_JWT_PUBLIC_KEY: neither PEM text nor a readable PEM file ({exc})"
        ) from None


def _algorithm_of(key: Any, where: str) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyConfigError(f"{where}: an RSA key needs at least {MIN_RSA_BITS} bits")
        return RS256
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return EDDSA
    raise KeyConfigError(f"{where}: only RSA (RS256) and Ed25519/Ed448 (EdDSA) keys are accepted")


def parse_jwks(text: str, *, source: str = "JWKS") -> tuple[PublicKey, ...]:
    """The signing keys of a JWKS document; every key must be usable and its kid unique."""
    where = f"MAYDAY_JWKS_FILE ({source})"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyConfigError(f"{where}: not JSON ({exc})") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise KeyConfigError(f'{where}: needs a non-empty "keys" list')
    if len(entries) > MAX_KEYS:
        raise KeyConfigError(f"{where}: at most {MAX_KEYS} keys")
    keys = tuple(k for k in (_jwk(e, where) for e in entries) if k is not None)
    kids = [k.kid for k in keys]
    if len(set(kids)) != len(kids):
        raise KeyConfigError(f"{where}: two keys share a kid (or lack one)")
    if not keys:
        raise KeyConfigError(f"{where}: no signing key")
    return keys


def _jwk(entry: Any, where: str) -> PublicKey | None:
    """One JWK as a key; None for a key meant for encryption only (``use: enc``)."""
    if not isinstance(entry, dict):
        raise KeyConfigError(f"{where}: every key must be a JSON object")
    kid = entry.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        raise KeyConfigError(f"{where}: kid must be a non-empty string")
    if entry.get("use", "sig") != "sig":
        return None
    if entry.get("kty") not in ("RSA", "OKP") or "d" in entry:
        # A symmetric ("oct") key here would let anyone who can read the file sign; a
        # private part ("d") has no business on a verifying server.
        raise KeyConfigError(f"{where}: key {kid!r} must be a public RSA or OKP key")
    try:
        parsed = jwt.PyJWK(entry)
    except jwt.PyJWKError as exc:
        raise KeyConfigError(f"{where}: key {kid!r} is not usable ({exc})") from None
    algorithm = _algorithm_of(parsed.key, f"{where} key {kid!r}")
    stated = entry.get("alg")
    if stated is not None and stated != algorithm:
        raise KeyConfigError(f"{where}: key {kid!r} says alg {stated!r}; only {algorithm} fits")
    return PublicKey(kid, algorithm, parsed.key)
