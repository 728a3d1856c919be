"""``mayday serve`` runs the server; ``mayday token`` prints a signed token;
``mayday check-config`` prints the settings in force."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import io
import logging
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mayday import __version__, webassets
from mayday.auth import (
    IMPLIED_LEVEL,
    MAX_LEVEL,
    MIN_LEVEL,
    PRIORITY_MAX,
    PRIORITY_MIN,
    AuthError,
    Role,
    issue_token,
)
from mayday.gcpolicy import GcPolicy
from mayday.jwks import KeyConfigError
from mayday.logsafe import configure_logging
from mayday.settings import Settings, SettingsError
from mayday.settings_report import effective_lines, help_epilog, secret_values

if TYPE_CHECKING:
    from aiohttp import web

DEV_SECRET = "mayday-dev-secret-do-not-use-in-production"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (SettingsError, AuthError, KeyConfigError) as exc:
        print(f"mayday: {exc}", file=sys.stderr)
        return 2
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mayday", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mayday {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the signaling server",
        description="Run the signaling server.",
        epilog=help_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _server_flags(serve)
    serve.set_defaults(func=_serve)

    check = sub.add_parser(
        "check-config",
        help="print the settings in force (secrets masked); exit 2 when one is bad",
        description="Print the settings `mayday serve` would run with, secrets masked, "
        "and exit non-zero (2) when one is bad, the secret is missing or the web pages "
        "are incomplete.",
        epilog=help_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _server_flags(check)
    check.set_defaults(func=_check_config)

    token = sub.add_parser("token", help="print a token signed with MAYDAY_JWT_SECRET")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--sub", required=True, help="the identity")
    token.add_argument("--name", help="display name (default: the sub)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.add_argument(
        "--skills",
        default="",
        help="comma-separated skills (advisors), each optionally name:level (1-5, default 3)",
    )
    token.add_argument(
        "--priority",
        type=int,
        default=0,
        help=f"queue priority of a user, {PRIORITY_MIN} to {PRIORITY_MAX}, higher served "
        "sooner (default 0: no claim written)",
    )
    token.set_defaults(func=_token)
    return parser


def _skill_claim(raw: str) -> list[str] | dict[str, int]:
    """``--skills``: a list of names, or with any ``name:level`` an object of levels
    (a bare name then has the implied level)."""
    items = [s.strip() for s in raw.split(",") if s.strip()]
    if not any(":" in s for s in items):
        return items
    levels = {}
    for item in items:
        name, _, level = item.partition(":")
        if level and not (level.isdigit() and MIN_LEVEL <= int(level) <= MAX_LEVEL):
            raise SettingsError(f"--skills: the level of {name} must be from 1 to 5")
        levels[name.strip()] = int(level) if level else IMPLIED_LEVEL
    return levels


def _token(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    skills = _skill_claim(args.skills)
    if not 0 < args.ttl <= settings.jwt_max_ttl_s:
        raise SettingsError(
            f"--ttl must be from 1 to {settings.jwt_max_ttl_s} s (MAYDAY_JWT_MAX_TTL_S): "
            "the server refuses a token that expires later"
        )
    print(
        issue_token(
            settings.jwt_secret,
            role=args.role,
            sub=args.sub,
            name=args.name,
            ttl_s=args.ttl,
            audience=settings.jwt_audience,
            skills=skills,
            issuer=settings.jwt_issuer,
            priority=args.priority,
        )
    )
    return 0


def _server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (MAYDAY_HOST)")
    parser.add_argument("--port", type=int, help="port to bind, 0 picks one (MAYDAY_PORT)")
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="share state through Redis at URL: redis://, "
        "redis+sentinel://HOST:PORT[,...]/SERVICE_NAME or redis+cluster://HOST:PORT[,...]",
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development mode: a built-in secret when none is set, and ready links printed",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (MAYDAY_LOG_LEVEL)")
    parser.add_argument(
        "--api-only",
        action="store_true",
        default=None,
        help="serve /ws and the HTTP API without the web pages (MAYDAY_API_ONLY)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    """The settings of ``serve`` and ``check-config``: variables, then flags; refuses what
    the server could not run with (no secret, incomplete pages)."""
    flags = {
        "host": args.host,
        "port": args.port,
        "redis_url": args.redis,
        "log_level": args.log_level,
        "api_only": args.api_only,
    }
    settings = Settings.from_env(**flags)
    # An integrator who signs every token in their own backend needs no shared secret.
    if not settings.jwt_secret and not (settings.jwt_public_key or settings.jwks_file):
        if not args.dev:
            raise SettingsError("set MAYDAY_JWT_SECRET (or run with --dev to try it out)")
        settings = Settings.from_env(**flags, jwt_secret=DEV_SECRET)
    if not settings.api_only:
        missing = webassets.problems(settings.web_root)
        if missing:
            raise SettingsError(
                webassets.incomplete_message(settings.web_root, missing)
                + f"\nrun `{webassets.FIX}` in the source checkout (or install a wheel, "
                "which carries them), or start with --api-only to serve the API alone"
            )
    return settings


def _check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    for line in effective_lines(settings):
        print(line)
    print("# mayday serve would start with these settings", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format, secret_values(settings))
    try:
        asyncio.run(_run(settings, dev=args.dev))
    except ListenError as exc:
        print(f"mayday: {exc}", file=sys.stderr)
        return 1
    return 0


class ListenError(Exception):
    """The server could not listen where it was told to."""


async def _listen(settings: Settings) -> web.AppRunner:
    from mayday.transport.app import start

    try:
        return await start(settings)
    except OSError as exc:
        where = f"{settings.host}:{settings.port}"
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(
                f"cannot listen on {where}: the port is already in use "
                "(another server there? choose one with --port or MAYDAY_PORT)"
            ) from None
        raise ListenError(f"cannot listen on {where}: {exc.strerror or exc}") from None


async def _run(settings: Settings, *, dev: bool) -> None:
    from mayday.transport.app import bound_port
    from mayday.transport.server import SERVER

    runner = await _listen(settings)
    # Everything made at start lives as long as the process: keep it out of every later
    # full collection, whose pause grows with the objects it has to walk.
    gc.collect()
    gc.freeze()
    gc_policy = GcPolicy(settings.gc_sweep_s, sockets=runner.app[SERVER].socket_counts)
    gc_policy.start()
    base = f"http://{settings.host}:{bound_port(runner)}"
    store = "redis store" if settings.redis_url else "in-memory store"
    print(f"Mayday {__version__} serving on {base} ({store})", flush=True)
    if dev:
        _print_dev_links(settings, base)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watchdog: asyncio.Task[None] | None = None
    try:
        await stop.wait()
        watchdog = asyncio.create_task(_report_stuck_stop(settings.drain_timeout_s + STOP_SLACK_S))
        await _drain(runner)
    finally:
        await gc_policy.close()
        await runner.cleanup()
        if watchdog is not None:
            watchdog.cancel()


# A stop longer than the drain's bound plus this says what it still waits for.
STOP_SLACK_S = 15.0


async def _report_stuck_stop(after_s: float) -> None:
    """A stop that takes longer than it should logs each task it still waits on, with
    its stack (code only, never a local value): systemd kills the process at its
    TimeoutStopSec, and without this nobody would know what held it."""
    await asyncio.sleep(after_s)
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        stack = io.StringIO()
        task.print_stack(limit=6, file=stack)
        logging.getLogger("mayday.cli").error(
            "still stopping after %.0f s, waiting on: %s", after_s, stack.getvalue()
        )


async def _drain(runner: web.AppRunner) -> None:
    """SIGTERM or SIGINT: a clean stop (docs/deploy.md, "Rolling restart")."""
    from mayday.transport.server import SERVER

    server = runner.app[SERVER]
    left = await server.drain()
    if left:
        print(f"mayday: {left} sockets still open after the drain; closing them", flush=True)


def _print_dev_links(settings: Settings, base: str) -> None:
    """Print pages with ready tokens, to stdout only: development links, never logged."""

    def link(page: str, role: str, sub: str, name: str) -> str:
        token = issue_token(
            settings.jwt_secret,
            role=role,
            sub=sub,
            name=name,
            ttl_s=min(12 * 3600, settings.jwt_max_ttl_s),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
        return f"{base}/{page}?token={token}"

    print("\nTry it: open the tablet page and an advisor page in two windows.", flush=True)
    print(f"  tablet:         {link('tablet', 'user', 'tablet-1', 'Tablet One')}")
    print(f"  advisor:        {link('advisor', 'advisor', 'advisor-1', 'Ada Advisor')}")
    print(f"  second advisor: {link('advisor', 'advisor', 'advisor-2', 'Bo Advisor')}")
    print(f"  second tablet:  {link('tablet', 'user', 'tablet-2', 'Tablet Two')}")
    print(f"  ops dashboard:  {link('ops', 'ops', 'ops-1', 'Olga Ops')}\n", flush=True)
