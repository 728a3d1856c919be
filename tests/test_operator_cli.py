"""The command line as an operator meets it: ``--help`` from Settings, ``check-config``,
a refusal to serve incomplete pages, ``--api-only``, a port already in use."""

from __future__ import annotations

import shutil
import socket
from dataclasses import fields
from pathlib import Path

import aiohttp
import pytest

from mayday import webassets
from mayday.settings import SETTING_HELP, Settings
from mayday.settings_report import env_name, env_value
from tests.conftest import SECRET
from tests.serving import clean_env, mayday_cli, serve


def test_every_setting_has_a_help_text() -> None:
    """Each field of Settings (RouterConfig's included) has a line in SETTING_HELP, and
    SETTING_HELP names no field that is gone: a new setting must say what it does."""
    names = {f.name for f in fields(Settings)}
    assert names - SETTING_HELP.keys() == set(), "add these to SETTING_HELP in settings.py"
    assert SETTING_HELP.keys() - names == set()
    assert all(text.strip() for text in SETTING_HELP.values())


def test_serve_help_lists_every_setting_with_its_variable_and_default() -> None:
    """``mayday serve --help`` shows each MAYDAY_* variable, its default and its help."""
    done = mayday_cli("serve", "--help")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    defaults = Settings()
    for f in fields(Settings):
        default = env_value(getattr(defaults, f.name)) or '""'
        at = lines.index(f"  {env_name(f.name)} (default {default})")
        assert lines[at + 1].strip() == SETTING_HELP[f.name]
    assert "--api-only" in done.stdout


def test_check_config_prints_the_settings_with_secrets_masked() -> None:
    """Every setting in force as MAYDAY_NAME=value; secrets and URL passwords masked, and
    what it prints reads back as the same settings (the masked ones aside)."""
    env = clean_env(
        MAYDAY_JWT_SECRET=SECRET,
        MAYDAY_TURN_SECRET="turn-secret-never-shown",
        MAYDAY_TURN_URLS="turn:turn.example.org:3478",
        MAYDAY_REDIS_URL="redis://:redis-password@127.0.0.1:6390/2",
        MAYDAY_ALERT_WEBHOOK_URL="https://hooks.example.org/services/T0/B0/webhook-key?x=1",
        MAYDAY_ROUTING_MODE="claim",
    )
    done = mayday_cli("check-config", "--port", "9001", env=env)
    assert done.returncode == 0, done.stderr
    for secret in (SECRET, "turn-secret-never-shown", "redis-password", "webhook-key"):
        assert secret not in done.stdout + done.stderr
    printed = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert printed["MAYDAY_JWT_SECRET"] == f"*** (set, {len(SECRET)} bytes)"
    assert printed["MAYDAY_REDIS_URL"] == "redis://:***@127.0.0.1:6390/2"
    assert printed["MAYDAY_ALERT_WEBHOOK_URL"] == "https://hooks.example.org/***?***"
    assert printed.keys() == {env_name(f.name) for f in fields(Settings)}
    unmasked = {k: v for k, v in printed.items() if "***" not in v}
    masked = {"MAYDAY_TURN_SECRET": "turn-secret-never-shown", "MAYDAY_JWT_SECRET": SECRET}
    again = Settings.from_env({**unmasked, **masked})
    meant = Settings.from_env(env, port=9001)
    for f in fields(Settings):
        if env_name(f.name) in unmasked:
            assert getattr(again, f.name) == getattr(meant, f.name), f.name
    assert again.port == 9001 and again.routing_mode == "claim"


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("MAYDAY_PORT", "eighty", "MAYDAY_PORT"),
        ("MAYDAY_ROUTING_MODE", "random", "routing_mode"),
        ("MAYDAY_LOG_FORMAT", "xml", "log_format"),
        ("MAYDAY_JWT_SECRET", "short", "32 bytes"),
        ("MAYDAY_JWT_SECRET", "", "set MAYDAY_JWT_SECRET"),
    ],
)
def test_check_config_exits_non_zero_on_a_bad_setting(variable: str, value: str, said: str) -> None:
    """A bad value (or no secret) is one line naming the setting, and exit code 2."""
    env = clean_env(**{"MAYDAY_JWT_SECRET": SECRET, variable: value})
    done = mayday_cli("check-config", env=env)
    assert done.returncode == 2
    assert said in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def incomplete_pages(tmp_path: Path) -> Path:
    """A copy of the checkout's pages without the npm files they import."""
    root = tmp_path / "webclient"
    shutil.copytree(webassets.CHECKOUT, root, ignore=shutil.ignore_patterns("node_modules"))
    return root


@pytest.mark.parametrize("command", ["serve", "check-config"])
def test_incomplete_pages_are_refused_with_what_to_run(tmp_path: Path, command: str) -> None:
    """Pages whose npm imports are missing: no server starts; the message names a missing
    file, the page module that loads it, and the command that brings it."""
    env = clean_env(MAYDAY_JWT_SECRET=SECRET, MAYDAY_WEB_ROOT=str(incomplete_pages(tmp_path)))
    done = mayday_cli(command, "--port", "0", env=env, timeout=15)
    assert done.returncode == 2
    assert "node_modules/perfect-freehand/dist/esm/index.mjs (loaded by js/annotations.js)" in (
        done.stderr
    )
    assert "npm ci --prefix webclient" in done.stderr and "--api-only" in done.stderr
    assert "Traceback" not in done.stderr


async def test_api_only_serves_the_api_without_pages(tmp_path: Path) -> None:
    """``--api-only`` starts even without pages; /healthz and the OpenAPI document answer,
    the pages are 404, and the document lists no page."""
    env = clean_env(MAYDAY_JWT_SECRET=SECRET, MAYDAY_WEB_ROOT=str(tmp_path / "nothing"))
    with serve(tmp_path / "server", "--api-only", env=env) as server:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.base}/healthz") as r:
                assert r.status == 200
            async with http.get(f"{server.base}/tablet") as r:
                assert r.status == 404
            async with http.get(f"{server.base}/api/openapi.json") as r:
                paths = (await r.json())["paths"]
        assert server.stop() == 0
    assert "/healthz" in paths and "/tablet" not in paths and "/static/{path}" not in paths


def test_a_port_in_use_is_one_clear_line() -> None:
    """Starting on a port another socket holds: exit 1, one line that says so, no
    traceback."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = mayday_cli("serve", "--port", str(port), timeout=15)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"mayday: cannot listen on 127.0.0.1:{port}: the port is already in use "
        "(another server there? choose one with --port or MAYDAY_PORT)"
    ]


def test_the_wheel_build_refuses_incomplete_pages(tmp_path: Path) -> None:
    """copy_pages, which the wheel build runs, refuses pages whose imports are missing
    and copies a whole set with the npm packages' licences."""
    with pytest.raises(FileNotFoundError, match="perfect-freehand"):
        webassets.copy_pages(incomplete_pages(tmp_path), tmp_path / "out")
    copied = webassets.copy_pages(webassets.CHECKOUT, tmp_path / "whole")
    names = {str(p) for p in copied}
    assert {"tablet.html", "js/annotations.js", "node_modules/uplot/dist/uPlot.esm.js"} <= names
    assert (tmp_path / "whole/node_modules/perfect-freehand/LICENSE").is_file()
    assert not (tmp_path / "whole/package.json").exists()
    assert webassets.problems(tmp_path / "whole") == []


def test_the_page_closure_follows_every_kind_of_reference(tmp_path: Path) -> None:
    """A page's /static/ links, a module's relative import and string URL, and a style
    sheet's url() are all followed; the one that is missing is reported with its loader."""
    (tmp_path / "js").mkdir()
    for page in webassets.PAGES:
        (tmp_path / page).write_text('<link href="/static/a.css"><script src="/static/js/m.js">')
    (tmp_path / "a.css").write_text("body { background: url('img/bg.svg') }")
    (tmp_path / "js/m.js").write_text('import { x } from "./n.js";\nconst U = "../lib/u.mjs";')
    (tmp_path / "js/n.js").write_text("export const x = 1;")
    files, missing = webassets.closure(tmp_path)
    assert {str(p) for p in files} == {*webassets.PAGES, "a.css", "js/m.js", "js/n.js"}
    assert missing == ["img/bg.svg (loaded by a.css)", "lib/u.mjs (loaded by js/m.js)"]
