"""Small field readers that turn a raw frame into checked Python values or refuse it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from mayday.protocol.errors import ErrorCode, ProtocolError, invalid_field

MISSING: Any = object()
# The deepest a whole frame may nest (the frame itself is level 1). Annotation points
# need 3, a device description a few more; orjson would read 1,024 and then fail to
# write them back (issue 16, finding 1).
MAX_FRAME_DEPTH = 8


def depth_within(value: Any, limit: int) -> bool:
    """True if ``value`` nests no deeper than ``limit`` containers (a scalar is depth 0,
    ``{}`` and ``[1]`` depth 1). Walks level by level, so no recursion limit applies."""
    level, depth = [value], 0
    while True:
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            return True
        depth += 1
        if depth > limit:
            return False
        level = [
            child
            for item in containers
            for child in (item.values() if isinstance(item, dict) else item)
        ]


def check_frame_depth(text: str, frame: Any) -> None:
    """Refuse a frame nested deeper than ``MAX_FRAME_DEPTH``. A frame with fewer opening
    brackets than that cannot be deeper, whatever its shape: most frames stop there."""
    if text.count("{") + text.count("[") <= MAX_FRAME_DEPTH:
        return
    if not depth_within(frame, MAX_FRAME_DEPTH):
        raise ProtocolError(
            ErrorCode.INVALID_JSON, f"a frame may nest at most {MAX_FRAME_DEPTH} levels deep"
        )


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


def small_object(
    frame: Mapping[str, Any], name: str, max_bytes: int = 2048, max_depth: int = 4
) -> dict[str, Any]:
    """A free-form object the server keeps and sends on (a device description): bounded
    in bytes and depth, and written with the encoder the server sends with, so that what
    is accepted here can always be sent later."""
    value = frame.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_field(name, "must be an object")
    if not depth_within(value, max_depth):
        raise invalid_field(name, f"may nest at most {max_depth} levels deep")
    try:
        encoded = orjson.dumps(value)
    except TypeError:
        raise invalid_field(name, "holds a value that cannot be written back as JSON") from None
    if len(encoded) > max_bytes:
        raise invalid_field(name, f"must be at most {max_bytes} bytes of JSON")
    return value
