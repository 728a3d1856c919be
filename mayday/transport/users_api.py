"""``DELETE /api/users/{user_id}``: erase one user's data, for ops (people ask for it).

What goes: the user's finished requests with their timelines and sessions, their
messages with the replies, the advisors' notes about them, their ratings, and the audit
logs of their sessions. What stays: webhook deliveries already queued (they are not
recalled), the SLA tallies (counts without identities), the process's logs. Refused
(409 ``invalid_state``) while the user has a request open: ending a live call or a wait
from an ops console would surprise the user; ops cancel it, or wait, and call again.
"""

from __future__ import annotations

import hashlib
import logging

from aiohttp import web

from mayday.auth import Role
from mayday.protocol.errors import ProtocolError
from mayday.transport.api import api_error, caller
from mayday.transport.server import SERVER

log = logging.getLogger(__name__)

MAX_USER_ID = 128  # as a token's sub (mayday/auth.py)
PATH = "/api/users/"


def add_routes(app: web.Application) -> None:
    app.router.add_delete(PATH + "{user_id}", erase_user)


async def erase_user(request: web.Request) -> web.Response:
    """Erase the user's data on every node (the stores are shared); how many of each kind
    were erased. Erasing again erases nothing and answers 200."""
    me = caller(request, frozenset({Role.OPS}))
    user_id = request.match_info["user_id"]
    if len(user_id) > MAX_USER_ID:
        raise api_error(400, "invalid_field", f"user_id is longer than {MAX_USER_ID}")
    server = request.app[SERVER]
    try:
        erased = await server.store.erase_user(user_id)
    except ProtocolError as exc:
        raise api_error(409, exc.code.value, exc.message) from None
    # The audit logs after the requests: the sessions are known from the requests erased.
    audit = await server.boards.erase(user_id, erased.session_ids)
    counts = erased.counts(audit)
    # The log keeps who erased and how much, not whom: only a hash of the user id, which
    # ops can match against an id they know, but which names nobody by itself.
    shown = " ".join(f"{kind}={n}" for kind, n in counts.items())
    log.info("user data erased by ops %s: user sha256:%s %s", me.sub, digest(user_id), shown)
    return web.json_response({"user_id": user_id, "erased": counts})


def digest(user_id: str) -> str:
    """The first 16 hex digits of the user id's SHA-256: what the erase log names."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def logged_path(path: str) -> str:
    """``path`` as the access log writes it: a user's id (the erase) as its digest."""
    if not path.startswith(PATH):
        return path
    return f"{PATH}sha256:{digest(path[len(PATH) :])}"
