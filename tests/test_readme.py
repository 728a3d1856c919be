"""Every command of the README, run as pasted (tests/readme.py says what is substituted):
the quick start, running it for real, Redis, the client library example and the
commands quoted in the text. The wheel and systemd sections run in tests/browser/test_wheel.py."""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from mayday.auth import issue_token, verify_token
from mayday.client import HelpOffer, MaydayClient
from tests.conftest import SECRET
from tests.readme import README, ROOT, Shell, blocks, free_port, section, venv_bin
from tests.serving import clean_env, serve

# Each section with commands, and the test that runs them.
RUN_BY = {
    "Quick start": "test_make_run_serves_ready_links_and_stops_on_ctrl_c, test_make_test_is_ci",
    "Running it for real": "test_running_it_for_real, test_several_processes_share_redis",
    "Install from a wheel": "tests/browser/test_wheel.py",
    "Run with systemd": "tests/browser/test_wheel.py",
    "Using the client library": "test_the_client_library_example_runs_as_pasted",
}


def test_every_readme_command_is_run_by_a_test() -> None:
    """Every code block of the README is in a section whose commands a test runs: a new
    block needs a test before it lands."""
    found = {(b.section, b.language) for b in blocks() if b.language in ("sh", "python")}
    assert {s for s, _ in found} <= RUN_BY.keys(), found
    assert ("Using the client library", "python") in found
    assert section("Quick start").commands == ["make run", "make test"]


async def test_make_run_serves_ready_links_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """``make run`` prints ready links that open the pages, and Ctrl-C (SIGINT to the
    terminal's process group) stops the server: the README says so."""
    assert "Stop `make run` with **Ctrl-C**" in README.read_text()
    port = free_port()
    out = tmp_path / "make-run.txt"
    proc = start_in_own_group(section("Quick start").commands[0], port, out)
    try:
        links = wait_for_links(out, proc)
        async with aiohttp.ClientSession() as http, http.get(links["tablet"]) as page:
            assert page.status == 200 and "help-button" in await page.text()
        ws_url = f"ws://127.0.0.1:{port}/ws"
        token = links["advisor"].split("token=", 1)[1]
        async with await MaydayClient.connect(ws_url, token) as advisor:
            assert advisor.hello is not None and advisor.hello.role == "advisor"
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=40)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert_port_closed(port)


def start_in_own_group(command: str, port: int, out: Path) -> subprocess.Popen[bytes]:
    """``command`` in its own process group, as a terminal runs a foreground job (Ctrl-C
    reaches all of it), on ``port`` (MAYDAY_PORT, which ``make run`` passes through)."""
    with out.open("w") as sink:
        return subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=ROOT,
            env=clean_env(MAYDAY_PORT=str(port)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_links(out: Path, proc: subprocess.Popen[bytes]) -> dict[str, str]:
    # Make may install the venv first (a fresh checkout): allow for it.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        text = out.read_text()
        links = dict(re.findall(r"^  (tablet|advisor|ops dashboard):\s+(\S+)$", text, re.M))
        if len(links) == 3:
            return links
        assert proc.poll() is None, f"make run exited:\n{text}"
        time.sleep(0.2)
    raise AssertionError(f"make run printed no links:\n{out.read_text()}")


def assert_port_closed(port: int) -> None:
    import socket

    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the server still listens"


def test_make_test_is_ci() -> None:
    """``make test`` is the suite this test is part of, and what CI runs (.ci/run):
    running it from inside itself would recurse, so this checks it is that target."""
    assert "make test" in (ROOT / ".ci/run").read_text().splitlines()
    dry = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0 and "pytest" in dry.stdout, dry.stderr


async def test_running_it_for_real(tmp_path: Path) -> None:
    """The "Running it for real" block: a fresh secret, check-config, the server, and a
    token for it that the server's check accepts."""
    port = free_port()
    shell = Shell(
        tmp_path, substitutions={".venv/bin/": venv_bin(), "--port 8080": f"--port {port}"}
    )
    export, check, serve_line, token = section("Running it for real").commands
    try:
        shell.run(export)
        secret = shell.env["MAYDAY_JWT_SECRET"]
        assert len(secret) >= 48
        printed = shell.run(check)
        assert "MAYDAY_JWT_SECRET=*** (set" in printed and secret not in printed
        server = shell.serve(serve_line)
        assert server.base == f"http://127.0.0.1:{port}"
        identity = verify_token(shell.run(token).strip(), secret)
        assert (identity.sub, identity.name, identity.role.value) == ("ada", "Ada", "advisor")
        async with await MaydayClient.connect(server.ws_url, shell.run(token).strip()) as ada:
            assert ada.hello is not None and ada.hello.sub == "ada"
    finally:
        shell.close()


async def test_several_processes_share_redis(tmp_path: Path, redis_url: str) -> None:
    """The Redis block: two processes on one Redis; a user on one is offered to an
    advisor on the other."""
    ports = free_port(), free_port()
    commands = section("Running it for real", index=1).commands
    assert len(commands) == 2
    shell = Shell(
        tmp_path,
        substitutions={
            ".venv/bin/": venv_bin(),
            "--port 8081": f"--port {ports[0]}",
            "--port 8082": f"--port {ports[1]}",
            "redis://127.0.0.1:6379/0": redis_url,
        },
        env=clean_env(MAYDAY_JWT_SECRET=SECRET),
    )
    try:
        one, two = (shell.serve(c) for c in commands)
        async with (
            await MaydayClient.connect(
                two.ws_url, issue_token(SECRET, role="advisor", sub="a")
            ) as a,
            await MaydayClient.connect(one.ws_url, issue_token(SECRET, role="user", sub="u")) as u,
        ):
            await a.set_available()
            queued = await u.request_help()
            offer = await a.next(HelpOffer)
            assert offer.request_id == queued.request_id
        async with aiohttp.ClientSession() as http, http.get(f"{one.base}/healthz") as r:
            assert (await r.json())["store"] == "RedisStore"
    finally:
        shell.close()


def test_the_client_library_example_runs_as_pasted(tmp_path: Path) -> None:
    """The README's Python example is a whole program: it parses (no top-level await),
    runs against a live server as it is, and a user sees the advisor's video."""
    code = section("Using the client library", "python").text
    ast.parse(code)  # a top-level await is a syntax error in a module
    script = tmp_path / "example.py"
    script.write_text(code)
    with serve(tmp_path / "server") as server:
        env = clean_env(MAYDAY_JWT_SECRET=SECRET, MAYDAY_URL=server.ws_url)
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )
        assert server.stop() == 0
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"session ses_\w+: the user sees the advisor\n", done.stdout)


def test_the_commands_quoted_in_the_text_run(tmp_path: Path) -> None:
    """Every ``mayday ...`` command quoted in the README's text runs (``serve``, and a
    command named alone, with --help) and every ``make`` target it names exists."""
    text = re.sub(r"^```.*?^```", "", README.read_text(), flags=re.M | re.S)
    quoted = re.findall(r"`((?:mayday|make) [^`]+)`", text)
    mayday = [" ".join(q.split()) for q in quoted if q.startswith("mayday ")]
    assert "mayday token --role ops --sub ops-1" in mayday and "mayday check-config" in mayday
    env = clean_env(MAYDAY_JWT_SECRET=SECRET)
    for command in mayday:
        args = command.split()[1:]
        if args[0] == "serve" or len(args) == 1:  # a command named, not a command line
            args.append("--help")
        done = subprocess.run(
            [venv_bin() + "mayday", *args], env=env, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, f"{command}: {done.stderr}"
    for command in (q for q in quoted if q.startswith("make ")):
        dry = subprocess.run(["make", "-n", *command.split()[1:]], cwd=ROOT, capture_output=True)
        assert dry.returncode == 0, command
