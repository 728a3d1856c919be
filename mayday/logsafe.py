"""Log records that are safe to write: no token or secret in them, one line each, with
who and what they concern.

Every record goes through one formatter (``PlainFormatter`` or ``JsonFormatter``), which
redacts and escapes the whole text it writes, the exception and stack text included:
aiohttp puts the raw request line of a malformed request (``?token=...`` and all) in
its exception, and a ``%0A`` in a path or a newline in a token's ``sub`` would
otherwise start a line of its own that looks like a record (issue 16, finding 3).

Who and what a record concerns comes from context variables: the identity of the
socket or API caller (set where a connection or request is authenticated, in its own
task), and the help request and session of the frame being handled (set around the
handler). Each record written while they are set carries them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from collections.abc import Iterable

_TOKEN_PARAM = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)(?!\[redacted)[^\s\"',;]+", re.IGNORECASE)
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
# C0 and C1 controls, DEL, and the two Unicode line breaks some viewers honour.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

_identity: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mayday_log_identity", default=None
)
# The message being handled: its request and session ids are read from it only when a
# record is written, not for every frame.
_frame: contextvars.ContextVar[object] = contextvars.ContextVar("mayday_log_frame", default=None)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without any JWT, ``token=`` value, bearer credential or given secret."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted-secret]")
    text = _JWT.sub("[redacted-jwt]", text)
    text = _TOKEN_PARAM.sub(r"\1[redacted]", text)
    return _BEARER.sub(r"\1[redacted]", text)


def escape(text: str) -> str:
    """``text`` on one line: every control character (newlines first) written as an
    escape, so that no part of a record can pass for a record of its own."""
    return _CONTROL.sub(lambda m: _ESCAPES.get(m[0], f"\\x{ord(m[0]):02x}"), text)


# ------------------------------------------------------------------ context
def bind_identity(role: str, sub: str) -> None:
    """Name the caller in every record of the current task (a socket or an API call)."""
    _identity.set(f"{role}/{sub}")


class frame_context:
    """Name the help request and session a frame concerns while it is handled: those of
    ``message``, if it has them. A class, not ``@contextmanager``, holding the message
    rather than its ids: it wraps every frame, and the generator and the two look-ups
    cost a relayed frame 1.7 µs more (docs/performance.md, section 9)."""

    __slots__ = ("_message", "_token")

    def __init__(self, message: object) -> None:
        self._message = message

    def __enter__(self) -> None:
        self._token = _frame.set(self._message)

    def __exit__(self, *exc: object) -> None:
        _frame.reset(self._token)


def _field(message: object, name: str) -> str | None:
    """A message's request or session id, for the log context (not every frame has one)."""
    value = getattr(message, name, None)
    return value if isinstance(value, str) else None


def context() -> dict[str, str]:
    """The identity, request id and session id the current record concerns, where set."""
    found = {
        "identity": _identity.get(),
        "request_id": _field(_frame.get(), "request_id"),
        "session_id": _field(_frame.get(), "session_id"),
    }
    return {k: v for k, v in found.items() if v}


# ------------------------------------------------------------------ formatters
class PlainFormatter(logging.Formatter):
    """``time LEVEL logger: message``, one line a record; a traceback follows on the same
    line after `` | ``, its line breaks escaped."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        extra = _exception_text(self, record)
        if extra:
            text = f"{text} | {extra}"
        return escape(redact(text, self._secrets))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, then ``identity``, ``request_id``, ``session_id`` where known and
    ``exception`` when there is one."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": _iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context(),
        }
        extra = _exception_text(self, record)
        if extra:
            entry["exception"] = extra
        cleaned = {k: redact(v, self._secrets) for k, v in entry.items()}
        # ensure_ascii writes every control character and line separator as an escape.
        return json.dumps(cleaned, ensure_ascii=True)


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    parts = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts)


def _iso_time(created: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{stamp}.{int(created % 1 * 1000):03d}Z"


class RedactTokens(logging.Filter):
    """Rewrites a record's message when it contains a token, for handlers other than the
    server's own (whose formatter redacts everything it writes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # the handler reports a record it cannot format
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class SafeStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler whose own failures are reported safely: the standard one prints
    the record's raw arguments (a token, a request line) when formatting fails."""

    def handleError(self, record: logging.LogRecord) -> None:
        try:
            note = f"logging error: a record of {record.name} at {record.pathname}:"
            self.stream.write(escape(f"{note}{record.lineno} could not be written") + "\n")
            self.flush()
        except Exception:  # nothing is left to report a broken stream to
            pass


def configure_logging(level: str = "INFO", fmt: str = "plain", secrets: Iterable[str] = ()) -> None:
    """Every record to stderr through one safe formatter; ``secrets`` (the configured
    JWT and TURN secrets) are redacted wherever they would appear."""
    handler = SafeStreamHandler()
    formatter = JsonFormatter(secrets) if fmt == "json" else PlainFormatter(secrets)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
