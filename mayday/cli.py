"""``mayday serve`` runs the server; ``mayday token`` prints a signed token."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
from collections.abc import Sequence

from mayday import __version__
from mayday.auth import AuthError, Role, issue_token
from mayday.gcpolicy import GcPolicy
from mayday.jwks import KeyConfigError
from mayday.logsafe import configure_logging
from mayday.settings import Settings, SettingsError

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

    serve = sub.add_parser("serve", help="run the signaling server")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8080, 0 picks one)")
    serve.add_argument("--redis", metavar="URL", help="share state through Redis at URL")
    serve.add_argument(
        "--dev",
        action="store_true",
        help="development mode: a built-in secret when none is set, and ready links printed",
    )
    serve.add_argument("--log-level", default=os.environ.get("MAYDAY_LOG_LEVEL", "INFO"))
    serve.set_defaults(func=_serve)

    token = sub.add_parser("token", help="print a token signed with MAYDAY_JWT_SECRET")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--sub", required=True, help="the identity")
    token.add_argument("--name", help="display name (default: the sub)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.add_argument("--skills", default="", help="comma-separated skills (advisors)")
    token.set_defaults(func=_token)
    return parser


def _token(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    skills = [s.strip() for s in args.skills.split(",") if s.strip()]
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
        )
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    configure_logging(args.log_level.upper())
    settings = Settings.from_env(host=args.host, port=args.port, redis_url=args.redis)
    # An integrator who signs every token in their own backend needs no shared secret.
    if not settings.jwt_secret and not (settings.jwt_public_key or settings.jwks_file):
        if not args.dev:
            raise SettingsError("set MAYDAY_JWT_SECRET (or run with --dev to try it out)")
        settings = Settings.from_env(
            host=args.host, port=args.port, redis_url=args.redis, jwt_secret=DEV_SECRET
        )
    asyncio.run(_run(settings, dev=args.dev))
    return 0


async def _run(settings: Settings, *, dev: bool) -> None:
    from mayday.transport.app import bound_port, start

    runner = await start(settings)
    # Everything made at start lives as long as the process: keep it out of every later
    # full collection, whose pause grows with the objects it has to walk.
    gc.collect()
    gc.freeze()
    gc_policy = GcPolicy(settings.gc_sweep_s)
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
    try:
        await stop.wait()
    finally:
        await gc_policy.close()
        await runner.cleanup()


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
