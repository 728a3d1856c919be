"""Small field readers that turn a raw frame into checked Python values or refuse it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mayday.protocol.errors import invalid_field

MISSING: Any = object()


def req_str(frame: Mapping[str, Any], name: str, max_len: int = 128) -> str:
    value = frame.get(name, MISSING)
    if value is MISSING:
        raise invalid_field(name, "is required")
    return _check_str(name, value, max_len)


def opt_str(frame: Mapping[str, Any], name: str, max_len: int = 128) -> str | None:
    value = frame.get(name)
    return None if value is None else _check_str(name, value, max_len)


def _check_str(name: str, value: Any, max_len: int) -> str:
    if not isinstance(value, str):
        raise invalid_field(name, "must be a string")
    if not value:
        raise invalid_field(name, "must not be empty")
    if len(value) > max_len:
        raise invalid_field(name, f"must be at most {max_len} characters")
    return value


def choice(frame: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = frame.get(name, MISSING)
    if value not in allowed:
        raise invalid_field(name, "must be one of " + ", ".join(allowed))
    return str(value)


def str_list(
    frame: Mapping[str, Any], name: str, max_items: int = 16, max_len: int = 64
) -> tuple[str, ...]:
    value = frame.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > max_items:
        raise invalid_field(name, f"must be a list of at most {max_items} strings")
    return tuple(_check_str(name, item, max_len) for item in value)


def small_object(frame: Mapping[str, Any], name: str, max_bytes: int = 2048) -> dict[str, Any]:
    value = frame.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_field(name, "must be an object")
    if len(json.dumps(value)) > max_bytes:
        raise invalid_field(name, f"must be at most {max_bytes} bytes of JSON")
    return value
