"""The README's "Install from a wheel" and "Run with systemd", run for real: a wheel built
from a fresh copy of the checkout (its npm packages installed by the build), installed
into a new virtual environment, served from there, and the tablet, advisor and ops
pages working in Chromium; then the systemd unit's commands as systemd runs them."""

from __future__ import annotations

import configparser
import json
import shlex
import signal
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from mayday.auth import issue_token
from mayday.client import MaydayClient
from tests.browser.helpers import DESKTOP, STATE_TIMEOUT_MS, Pages, start_call
from tests.readme import Shell, free_port, section, tracked_copy
from tests.serving import STOP_TIMEOUT_S, Served, clean_env

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UNIT = "docs/mayday.service"


@dataclass
class Installed:
    """The wheel's virtual environment and the shell session that made it."""

    shell: Shell
    prefix: Path
    wheel: Path
    checkout: Path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The README's wheel lines up to ``check-config``, in a fresh copy of the checkout
    (no node_modules, no build output): the build must fetch the npm packages itself."""
    work = tmp_path_factory.mktemp("wheel")
    checkout = tracked_copy(work / "checkout")
    assert not (checkout / "webclient/node_modules").exists()
    prefix = work / "opt-mayday"
    shell = Shell(work, cwd=checkout, substitutions={"/opt/mayday": str(prefix)})
    build, venv, install, export, _check, _serve = section("Install from a wheel").commands
    for command in (build, venv, install, export):
        shell.run(command, timeout=600)
    (wheel,) = (checkout / "dist").glob("mayday-*.whl")
    yield Installed(shell, prefix, wheel, checkout)
    shell.close()


def test_the_wheel_carries_the_pages_and_their_npm_files(installed: Installed) -> None:
    """The wheel holds the four pages, their modules, the npm files they import (with
    the packages' licences), and nothing of node_modules beyond them."""
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    web = {n.removeprefix("mayday/web/") for n in names if n.startswith("mayday/web/")}
    assert {"tablet.html", "advisor.html", "ops.html", "index.html", "js/annotations.js"} <= web
    npm = {n for n in web if n.startswith("node_modules/")}
    assert npm == {
        "node_modules/perfect-freehand/dist/esm/index.mjs",
        "node_modules/perfect-freehand/LICENSE",
        "node_modules/uplot/dist/uPlot.esm.js",
        "node_modules/uplot/dist/uPlot.min.css",
        "node_modules/uplot/LICENSE",
    }
    assert not any("package-lock" in n for n in names)


class Remote:
    """What ``Pages`` needs of a server: its address and tokens for it."""

    def __init__(self, base: str, secret: str) -> None:
        self.http_url, self.secret = base, secret

    def token(self, role: str, sub: str, **claims: Any) -> str:
        return issue_token(self.secret, role=role, sub=sub, **claims)


async def test_the_installed_wheel_serves_working_pages(
    installed: Installed, browser: Browser, tmp_path: Path
) -> None:
    """``check-config`` and ``serve`` from the wheel's environment, run from a folder
    with no checkout in it: a whole call between the tablet page and the advisor
    console, and the ops dashboard draws its uPlot charts; no page logs an error."""
    shell = installed.shell
    shell.cwd = tmp_path  # nothing of the checkout here: the pages must come from the wheel
    port = free_port()
    shell.substitutions["--port 8080"] = f"--port {port}"
    *_, check, serve_line = section("Install from a wheel").commands
    printed = dict(line.split("=", 1) for line in shell.run(check).splitlines())
    assert printed["MAYDAY_WEB_ROOT"].startswith(str(installed.prefix))
    server = shell.serve(serve_line)
    pages = Pages(browser, Remote(server.base, shell.env["MAYDAY_JWT_SECRET"]))  # type: ignore[arg-type]
    tablet = await pages.tablet()
    advisor = await pages.advisor()
    await start_call(tablet, advisor)
    ops = await pages.open(f"/ops?token={pages.harness.token('ops', 'ops-1')}", DESKTOP)
    await expect(ops.get_by_test_id("ops-status")).to_contain_text("Live", timeout=STATE_TIMEOUT_MS)
    chart = ops.locator('[data-testid="ops-chart-latency"] .uplot canvas')
    await expect(chart).to_be_visible(timeout=STATE_TIMEOUT_MS)
    assert await chart.evaluate("c => c.width > 0 && c.height > 0")
    assert pages.problems == []
    for context in browser.contexts:  # the pages leave before the server stops
        await context.close()
    assert server.stop() == 0


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(Path(__file__).resolve().parents[2] / UNIT)
    return parser


def test_the_unit_restarts_on_failure_and_stops_with_sigterm() -> None:
    """docs/mayday.service runs the wheel's ``mayday serve``, checks the settings first,
    restarts on failure, and stops with SIGTERM within 40 s."""
    service = unit()["Service"]
    assert service["ExecStart"] == "/opt/mayday/bin/mayday serve"
    assert service["ExecStartPre"] == "/opt/mayday/bin/mayday check-config"
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) == STOP_TIMEOUT_S == 40
    assert service["EnvironmentFile"] == "/etc/mayday/mayday.env"


def systemd_env(service: configparser.SectionProxy, env_file: Path) -> dict[str, str]:
    """The environment systemd gives the service: Environment=, then EnvironmentFile=."""
    env = clean_env()
    env.update(item.split("=", 1) for item in shlex.split(service["Environment"]))
    for line in env_file.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip().strip("\"'")
    return env


def run_to_end(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


async def test_the_systemd_section_as_systemd_runs_it(installed: Installed, tmp_path: Path) -> None:
    """The README's systemd lines: the config folder, the secret and the unit written
    (to test folders, without sudo); then what ``systemctl enable --now`` and ``stop``
    make systemd do, run here by hand as the unit says (this machine has no systemd as
    PID 1, and adding the ``mayday`` user would change the host): ExecStartPre and
    ExecStart with the unit's environment, SIGTERM with a client connected, exit 0
    within TimeoutStopSec, and JSON logs for the journal."""
    commands = section("Run with systemd").commands
    assert len(commands) == 8 and commands[0].startswith("sudo useradd --system")
    assert commands[4:] == [
        "sudo systemctl daemon-reload",
        "sudo systemctl enable --now mayday",
        "sudo systemctl stop mayday",
        "journalctl -u mayday",
    ]
    etc = tmp_path / "etc"
    shell = Shell(
        tmp_path,
        cwd=installed.checkout,
        substitutions={"sudo ": "", "/etc/": f"{etc}/"},
    )
    (etc / "systemd/system").mkdir(parents=True)
    for command in commands[1:4]:
        shell.run(command)
    env_file = etc / "mayday/mayday.env"
    assert oct(env_file.parent.stat().st_mode & 0o777) == "0o700"
    copied = configparser.ConfigParser(strict=False, interpolation=None)
    copied.optionxform = str  # type: ignore[assignment,method-assign]
    copied.read(etc / "systemd/system/mayday.service")
    service = copied["Service"]
    env = systemd_env(service, env_file)
    env["MAYDAY_PORT"] = str(free_port())  # the unit's 8080 may be taken on this machine
    opt = str(installed.prefix)
    run_to_end(shlex.split(service["ExecStartPre"].replace("/opt/mayday", opt)), env)
    command = shlex.split(service["ExecStart"].replace("/opt/mayday", opt))
    with Served(command, env, tmp_path / "service") as server:
        token = issue_token(env["MAYDAY_JWT_SECRET"], role="user", sub="tab-1")
        # A client stays connected: stopping must still end within TimeoutStopSec.
        client = await MaydayClient.connect(server.ws_url, token)
        assert server.stop(getattr(signal, service["KillSignal"])) == 0
        await client.close()
        journal = server.stderr
    records = [json.loads(line) for line in journal.splitlines()]
    assert any(r["logger"] == "aiohttp.access" and "/ws" in r["message"] for r in records)
    assert env["MAYDAY_JWT_SECRET"] not in journal and token.split(".")[2] not in journal
