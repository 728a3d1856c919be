"""The ``mayday`` command: tokens, serving, and no token ever in the logs."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import aiohttp
import jwt
import pytest

from mayday.auth import Role, verify_token
from mayday.client import HelpQueued, MaydayClient
from tests.conftest import SECRET


def mayday(*args: str, secret: str | None = SECRET) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAYDAY_")}
    if secret is not None:
        env["MAYDAY_JWT_SECRET"] = secret
    return subprocess.run(
        [sys.executable, "-m", "mayday", *args], env=env, capture_output=True, text=True, timeout=30
    )


def test_token_prints_a_verifiable_token() -> None:
    """``mayday token`` prints a token that the server's own check accepts."""
    done = mayday("token", "--role", "advisor", "--sub", "a7", "--name", "Ada", "--ttl", "60")
    assert done.returncode == 0, done.stderr
    identity = verify_token(done.stdout.strip(), SECRET)
    assert (identity.sub, identity.role, identity.name) == ("a7", Role.ADVISOR, "Ada")


def test_token_writes_the_priority_claim() -> None:
    """``mayday token --priority`` writes the claim the server reads; out of range, it
    exits 2 with the bounds and prints no token."""
    done = mayday("token", "--role", "user", "--sub", "vip", "--priority", "3")
    assert done.returncode == 0, done.stderr
    assert verify_token(done.stdout.strip(), SECRET).priority == 3
    plain = mayday("token", "--role", "user", "--sub", "u")
    assert jwt.decode(plain.stdout.strip(), options={"verify_signature": False}).keys() == {
        "sub",
        "role",
        "name",
        "aud",
        "iat",
        "exp",
    }
    refused = mayday("token", "--role", "user", "--sub", "vip", "--priority", "11")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert "priority must be from -10 to 10" in refused.stderr


def test_token_writes_skill_levels() -> None:
    """``--skills wifi:5,tv`` writes levels (tv at the implied 3); a bad level exits 2."""
    done = mayday("token", "--role", "advisor", "--sub", "a1", "--skills", "wifi:5,tv")
    assert done.returncode == 0, done.stderr
    assert verify_token(done.stdout.strip(), SECRET).levels == (("tv", 3), ("wifi", 5))
    listed = mayday("token", "--role", "advisor", "--sub", "a1", "--skills", "wifi,tv")
    assert jwt.decode(listed.stdout.strip(), options={"verify_signature": False})["skills"] == [
        "tv",
        "wifi",
    ]
    refused = mayday("token", "--role", "advisor", "--sub", "a1", "--skills", "wifi:9")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert "level of wifi must be from 1 to 5" in refused.stderr


def test_token_without_secret_fails_clearly() -> None:
    """Without MAYDAY_JWT_SECRET the command says so and exits non-zero."""
    done = mayday("token", "--role", "user", "--sub", "u", secret=None)
    assert done.returncode == 2
    assert "MAYDAY_JWT_SECRET" in done.stderr


def test_serve_refuses_a_short_secret() -> None:
    """A JWT secret under 32 bytes is refused at start."""
    done = mayday("serve", "--port", "0", secret="short")
    assert done.returncode == 2
    assert "32 bytes" in done.stderr


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``mayday serve --dev --port 0`` in a subprocess; yields it and its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAYDAY_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mayday", "serve", "--dev", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", line)
    assert match, f"unexpected first line: {line!r}"
    yield proc, match.group(1)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


async def test_dev_server_prints_working_links_and_never_logs_tokens(
    served: tuple[subprocess.Popen[str], str],
) -> None:
    """The dev links open real sessions; the server's logs hold no token even after use."""
    proc, base = served
    assert proc.stdout is not None
    links = []
    deadline = time.monotonic() + 10
    while len(links) < 5 and time.monotonic() < deadline:
        found = re.search(r"(http://\S+/(tablet|advisor|ops)\?token=(\S+))", proc.stdout.readline())
        if found:
            links.append(found)
    assert [m.group(2) for m in links] == ["tablet", "advisor", "advisor", "tablet", "ops"]
    tablet_token = links[0].group(3)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as response:
            health = await response.json()
        async with http.get(links[0].group(1)) as page:
            assert page.status == 200
            assert "help-button" in await page.text()
    assert health["status"] == "ok" and health["store"] == "MemoryStore"
    ws_url = base.replace("http", "ws") + "/ws"
    async with await MaydayClient.connect(ws_url, tablet_token) as tablet:
        queued = await tablet.request_help()
        assert isinstance(queued, HelpQueued)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "GET /ws" in stderr and "GET /tablet" in stderr  # the access log is on
    for link in links:
        assert link.group(3) not in stderr
    assert "token=" not in stderr and "eyJ" not in stderr


async def test_a_stop_that_hangs_says_what_it_waits_on(caplog: pytest.LogCaptureFixture) -> None:
    """Past the drain's bound, the stop logs each task still pending with its stack."""
    from mayday.cli import _report_stuck_stop

    async def held_by_a_stuck_close() -> None:
        await asyncio.sleep(30)

    stuck = asyncio.create_task(held_by_a_stuck_close())
    try:
        with caplog.at_level(logging.ERROR, logger="mayday.cli"):
            await _report_stuck_stop(0.01)
    finally:
        stuck.cancel()
    found = [r.getMessage() for r in caplog.records if "still stopping" in r.getMessage()]
    assert any("held_by_a_stuck_close" in m for m in found)
