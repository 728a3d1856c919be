"""Settings as an operator reads them: the ``--help`` table and ``mayday check-config``.

Both are generated from the fields of ``Settings`` and ``SETTING_HELP``, so a new field
shows in both without being written twice. Secrets are never shown: a value of a
setting named like one (``is_secret``) is masked, and so are the password and the path
of a URL (a webhook URL is often a credential by itself).
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mayday.routing.config import Step
from mayday.settings import SETTING_HELP, Settings, is_secret
from mayday.stores.topology import SENTINEL_SCHEME

MASK = "***"


def env_name(name: str) -> str:
    return f"MAYDAY_{name.upper()}"


def env_value(value: Any) -> str:
    """A value written as its ``MAYDAY_*`` variable takes it back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        if value and isinstance(value[0], dict):
            return json.dumps(list(value), separators=(",", ":"))
        if value and isinstance(value[0], Step):
            return json.dumps([s.to_json() for s in value], separators=(",", ":"))
        return ",".join(str(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def help_epilog() -> str:
    """Every setting with its variable, its default and what it does, for ``--help``."""
    defaults = Settings()
    lines = ["settings (flags above win over variables; variables over defaults):"]
    for f in fields(Settings):
        default = env_value(getattr(defaults, f.name)) or '""'
        lines.append(f"  {env_name(f.name)} (default {default})")
        lines.append(f"      {SETTING_HELP.get(f.name, '')}")
    return "\n".join(lines)


def shown(name: str, value: Any) -> str:
    """The value of setting ``name`` as check-config prints it: secrets masked."""
    text = env_value(value)
    if not text:
        return text
    if is_secret(name):
        return f"{MASK} (set, {len(text.encode())} bytes)"
    if name.endswith("_url"):
        return _masked_url(text)
    return text


def effective_lines(settings: Settings) -> list[str]:
    """``MAYDAY_NAME=value`` for every setting in force, secrets masked."""
    return [
        f"{env_name(f.name)}={shown(f.name, getattr(settings, f.name))}" for f in fields(settings)
    ]


def secret_values(settings: Settings) -> list[str]:
    """The configured values that must never reach a log: secrets and URL credentials."""
    found = []
    for f in fields(settings):
        text = env_value(getattr(settings, f.name))
        if not text:
            continue
        if f.name == "webhooks":
            found.extend(_webhook_secrets(text))
        if is_secret(f.name):
            found.append(text)
        elif f.name.endswith("_url"):
            parts = urlsplit(text)
            found.extend(p for p in (parts.password, parts.query) if p)
    return found


def _webhook_secrets(raw: str) -> list[str]:
    """Each endpoint's secret and the credentials in its URL (the settings checked them)."""
    found = []
    for item in json.loads(raw):
        found.append(item["secret"])
        parts = urlsplit(item["url"])
        found.extend(p for p in (parts.password, parts.query) if p)
    return found


def _masked_url(text: str) -> str:
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        return MASK
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    # The last "@" ends the credentials; what follows is one host or, for Sentinel and
    # Cluster, a comma list of them (which urlsplit cannot parse).
    userinfo, at, hosts = netloc.rpartition("@")
    if not hosts:
        return MASK
    if at:  # "user:***@", a user alone (often a token) "***@", a password alone ":***@"
        user, colon, _ = userinfo.partition(":")
        hosts = (
            f"{user}:{MASK}@" if user and colon else f":{MASK}@" if colon else f"{MASK}@"
        ) + hosts
    return f"{scheme}://{hosts}{_masked_path(scheme, slash + path)}{f'?{MASK}' if query else ''}"


def _masked_path(scheme: str, path: str) -> str:
    # A Redis database number or a Sentinel service name is harmless and useful; any
    # other path may be a credential.
    if path.strip("/").isdigit() or path in ("", "/"):
        return path
    if scheme == SENTINEL_SCHEME and "/" not in path.strip("/"):
        return path
    return "/" + MASK
