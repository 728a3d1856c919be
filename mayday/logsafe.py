"""A logging filter that keeps tokens out of every log line, whatever logged them."""

from __future__ import annotations

import logging
import re

_TOKEN_PARAM = re.compile(r"(token=)[^&\s\"']+")
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")


def redact(text: str) -> str:
    return _JWT.sub("[redacted-jwt]", _TOKEN_PARAM.sub(r"\1[redacted]", text))


class RedactTokens(logging.Filter):
    """Rewrites a record's message when it contains a ``token=`` parameter or a JWT.

    The server never logs a token on purpose; this catches a third-party
    library that logs a URL or a header.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
