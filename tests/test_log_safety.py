"""No token reaches the log and no input forges a log line, in both log formats (issue 16,
finding 3): a real server, real malformed HTTP over a raw socket, tokens with newlines."""

from __future__ import annotations

import json
import logging
import re
import socket
from pathlib import Path

import pytest

from mayday.auth import issue_token
from mayday.client import HelpQueued, MaydayClient, MaydayError
from mayday.logsafe import JsonFormatter, PlainFormatter, escape, redact
from tests.conftest import SECRET
from tests.serving import Served, clean_env, serve

FORMATS = ("plain", "json")
PLAIN_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")
FORGED = "2026-12-02 05:00:00,000 INFO forged: an attacker wrote this"


def raw_request(base: str, data: bytes) -> bytes:
    """Send ``data`` on a fresh TCP connection to the server and read what comes back."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def check_lines(log: str, fmt: str) -> list[str]:
    """Every line of ``log`` is one whole record of ``fmt``; the records' messages."""
    lines = log.splitlines()
    assert lines, "the server wrote no log"
    messages = []
    for line in lines:
        if fmt == "json":
            record = json.loads(line)  # one JSON object a line, or this fails
            assert {"time", "level", "logger", "message"} <= record.keys(), line
            messages.append(record["message"] + record.get("exception", ""))
        else:
            assert PLAIN_LINE.match(line), f"a line that is not a record: {line!r}"
            messages.append(line)
    return messages


@pytest.fixture(params=FORMATS)
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def start(tmp_path: Path, fmt: str) -> Served:
    env = clean_env(MAYDAY_JWT_SECRET=SECRET, MAYDAY_LOG_FORMAT=fmt, MAYDAY_LOG_LEVEL="DEBUG")
    return serve(tmp_path / "server", env=env)


def test_a_malformed_request_line_never_logs_its_token(tmp_path: Path, fmt: str) -> None:
    """An unencoded space in the query (aiohttp logs the raw request line in its exception
    text) leaves no part of the token in the log."""
    token = issue_token(SECRET, role="user", sub="tab-1")
    with start(tmp_path, fmt) as server:
        answer = raw_request(
            server.base, f"GET /ws?token={token} x HTTP/1.1\r\nHost: a\r\n\r\n".encode()
        )
        assert answer.startswith(b"HTTP/1.0 400")
        assert server.stop() == 0
        log = server.stderr
    messages = check_lines(log, fmt)
    assert any("Bad status line" in m for m in messages), log  # the error was logged
    for part in token.split("."):
        assert part not in log


def test_a_control_character_in_a_header_never_logs_the_token(tmp_path: Path, fmt: str) -> None:
    """A control character in an Authorization header (aiohttp quotes the header line in
    its exception) leaves no part of the token in the log."""
    token = issue_token(SECRET, role="ops", sub="ops-1")
    request = (
        f"GET /api/ops/summary HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {token}\x01\r\n\r\n"
    )
    with start(tmp_path, fmt) as server:
        assert raw_request(server.base, request.encode()).startswith(b"HTTP/1.0 400")
        assert server.stop() == 0
        log = server.stderr
    messages = check_lines(log, fmt)
    assert any("Invalid header value char" in m for m in messages), log
    for part in token.split("."):
        assert part not in log


def test_an_encoded_newline_in_the_path_forges_no_line(tmp_path: Path, fmt: str) -> None:
    """``%0A`` in a path (no token needed) stays inside the access log's own line."""
    path = "/tablet%0A" + FORGED.replace(" ", "%20") + "%0D%0A%1B[31m"
    with start(tmp_path, fmt) as server:
        answer = raw_request(server.base, f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 404")
        assert server.stop() == 0
        log = server.stderr
    messages = check_lines(log, fmt)
    access = [m for m in messages if "an attacker wrote this" in m]
    assert len(access) == 1 and "GET /tablet" in access[0], log
    assert "\x1b" not in log
    assert not any(line.startswith(FORGED[:30]) for line in log.splitlines())


async def test_a_sub_with_newlines_forges_no_line(tmp_path: Path, fmt: str) -> None:
    """A token whose ``sub`` holds a newline and a fake record is refused before anything
    is logged of it (subs must be printable), and the log has no forged line; the escaping
    of every record is checked below for what does reach the log."""
    token = issue_token(SECRET, role="user", sub=f"tab\n{FORGED}")
    with start(tmp_path, fmt) as server:
        with pytest.raises(MaydayError) as refused:
            await MaydayClient.connect(server.ws_url, token)
        assert refused.value.code == "unauthorized"
        ok = issue_token(SECRET, role="user", sub="tab")
        async with await MaydayClient.connect(server.ws_url, ok) as tablet:
            assert isinstance(await tablet.request_help(), HelpQueued)
        assert server.stop() == 0
        log = server.stderr
    check_lines(log, fmt)
    assert not any(line.startswith(FORGED[:30]) for line in log.splitlines())
    assert "an attacker wrote this" not in log


def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("bad line\nwith a break: token=abc.def")
        except ValueError as error:
            info = (ValueError, error, error.__traceback__)
    return logging.LogRecord("t", logging.ERROR, __file__, 1, msg, args, info)


@pytest.mark.parametrize(
    "formatter", [PlainFormatter(["s3cr3t-value"]), JsonFormatter(["s3cr3t-value"])]
)
def test_every_part_of_a_record_is_redacted_and_on_one_line(formatter: logging.Formatter) -> None:
    """Message, arguments and exception text: no token, no configured secret, no line
    break, whichever formatter writes the record."""
    token = issue_token(SECRET, role="advisor", sub="a", name="Ada\nforged")
    text = formatter.format(
        record(
            "name %s holds %s; %s",
            "Ada\r\nforged\u2028",
            f"Bearer {token}",
            "s3cr3t-value",
            exc=True,
        )
    )
    assert "\n" not in text and "\r" not in text and "\u2028" not in text
    for secret in (*token.split("."), "s3cr3t-value", "abc.def"):
        assert secret not in text
    assert "ValueError" in text  # the exception is still there, escaped


def test_escape_and_redact_keep_plain_text() -> None:
    """Text with no control character and no credential is written as it is."""
    text = "request r-1: new from user tab-1 (topic printer)"
    assert escape(text) == text and redact(text) == text
    assert escape("a\nb\tc\x1b") == "a\\nb\\tc\\x1b"
