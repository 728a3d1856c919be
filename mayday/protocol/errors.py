"""The one error envelope and its stable codes."""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """Stable words that clients may switch on; never rename one, only add."""

    INVALID_JSON = "invalid_json"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    INVALID_STATE = "invalid_state"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "too_large"
    INTERNAL_ERROR = "internal_error"
    UNAUTHORIZED = "unauthorized"  # only before the hello, with close code 4401
    TOO_MANY_SOCKETS = "too_many_sockets"  # only before the hello, with close code 4429
    DRAINING = "draining"  # plain HTTP to /ws of a stopping node (503)


class ProtocolError(Exception):
    """A frame was refused; becomes ``{"type": "error", "code": ..., "message": ...}``."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ProtocolError({self.code.value!r}, {self.message!r})"


def invalid_field(name: str, why: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_FIELD, f'field "{name}" {why}')
