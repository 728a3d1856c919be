"""Three real server processes on one real Redis: exactly-once answers, claim races, and a
node killed with SIGKILL mid-run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from mayday.client import (
    AdvisorStateChanged,
    HelpOffer,
    MaydayClient,
    MaydayError,
    SessionEnded,
    SessionStarted,
)
from mayday.routing.model import RequestState
from mayday.stores.redis import RedisStore
from tests.cluster.conftest import StartNodes
from tests.cluster.nodes import Node, connect_any, gather_limited
from tests.redis_server import RedisServer

pytestmark = pytest.mark.cluster


async def advisor_loop(client: MaydayClient, accepted: list[str]) -> None:
    """Take every offer at once and end the session at once."""
    await client.set_available()
    while True:
        offer = await client.next(HelpOffer, timeout=None)
        started = await client.accept(offer.request_id)
        accepted.append(started.request_id)
        await client.end_session(started.session_id)


async def test_every_request_is_answered_exactly_once(
    start_nodes: StartNodes, redis_server: RedisServer
) -> None:
    """1,000 users and 100 advisors spread over three nodes: each request gets one session."""
    nodes = start_nodes(3, rate_limit_per_s="1000", rate_limit_burst="1000")
    advisors = await gather_limited(
        50, [lambda i=i: connect_any(nodes, "advisor", f"a{i}", i) for i in range(100)]
    )
    accepted: list[str] = []
    loops = [asyncio.create_task(advisor_loop(c, accepted)) for c in advisors]
    users = await gather_limited(
        50, [lambda j=j: connect_any(nodes, "user", f"u{j}", j) for j in range(1000)]
    )

    async def ask(user: MaydayClient) -> tuple[str, str]:
        queued = await user.request_help()
        started = await user.next(SessionStarted, timeout=120)
        await user.next(SessionEnded, where=lambda e: e.session_id == started.session_id)
        return queued.request_id, started.request_id

    try:
        answered = await gather_limited(1000, [lambda u=u: ask(u) for u in users])
        await asyncio.sleep(0.5)
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
    assert all(asked == got for asked, got in answered)
    asked_ids = {asked for asked, _ in answered}
    assert len(asked_ids) == 1000
    assert sorted(accepted) == sorted(asked_ids), "a request accepted twice, or never"
    assert not [e for u in users for e in u.pending_events() if isinstance(e, SessionStarted)]
    await assert_nothing_left(redis_server.url, asked_ids)
    await close_all(users + advisors)


async def test_claim_race_has_exactly_one_winner(
    start_nodes: StartNodes, redis_server: RedisServer
) -> None:
    """Claim mode: every advisor on every node claims every request at once; one wins each."""
    nodes = start_nodes(3, routing_mode="claim", rate_limit_per_s="1000", rate_limit_burst="1000")
    advisors = await gather_limited(
        30, [lambda i=i: connect_any(nodes, "advisor", f"a{i}", i) for i in range(30)]
    )
    for advisor in advisors:
        await advisor.set_available()
    users = [await connect_any(nodes, "user", f"u{j}", j) for j in range(20)]
    asked = [(await u.request_help()).request_id for u in users]
    wins: dict[str, list[str]] = {r: [] for r in asked}
    refusals: list[str] = []

    async def claim_all(advisor: MaydayClient) -> None:
        seen: set[str] = set()
        while len(seen) < len(asked):
            offer = await advisor.next(HelpOffer, timeout=30)
            seen.add(offer.request_id)
            try:
                started = await advisor.accept(offer.request_id)
            except MaydayError as exc:
                refusals.append(exc.code)
                continue
            wins[offer.request_id].append(advisor.hello.sub if advisor.hello else "?")
            await advisor.end_session(started.session_id)
            with contextlib.suppress(MaydayError):
                await advisor.set_available()
            return

    await asyncio.gather(*(claim_all(a) for a in advisors))
    assert all(len(winners) == 1 for winners in wins.values()), wins
    assert refusals and set(refusals) == {"invalid_state"}
    await assert_nothing_left(redis_server.url, set(asked))
    await close_all(users + advisors)


async def test_a_node_killed_mid_run_strands_nothing(
    start_nodes: StartNodes, redis_server: RedisServer
) -> None:
    """kill -9 of one node mid-run: its clients move on, no request is lost or stuck. (These
    clients reconnect without resuming; a short grace ends what they left behind.)"""
    settings = {"reservation_timeout_s": "2", "rate_limit_per_s": "1000", "resume_grace_s": "2"}
    nodes = start_nodes(3, **settings, rate_limit_burst="1000")
    handled: list[str] = []
    advisors = [Roaming(nodes, "advisor", f"a{i}", i) for i in range(30)]
    users = [Roaming(nodes, "user", f"u{j}", j) for j in range(200)]
    loops = [asyncio.create_task(a.serve(handled)) for a in advisors]
    asks = [asyncio.create_task(u.get_help()) for u in users]
    await wait_until(lambda: len(handled) >= 50, timeout=60)
    nodes[0].kill()
    try:
        async with asyncio.timeout(90):
            await asyncio.gather(*asks)
    finally:
        await stop_all(loops)
    asked = {rid for u in users for rid in u.request_ids}
    assert all(u.sessions >= 1 for u in users), "a user never got an advisor"
    await asyncio.sleep(1.0)
    await assert_nothing_left(redis_server.url, asked)
    await close_all([c for r in advisors + users if (c := r.client) is not None])


class Roaming:
    """A client that reconnects to another node when its node dies, and carries on."""

    def __init__(self, nodes: list[Node], role: str, sub: str, home: int) -> None:
        self.nodes, self.role, self.sub, self.home = nodes, role, sub, home
        self.client: MaydayClient | None = None
        self.request_ids: set[str] = set()
        self.sessions = 0
        self.open_session: str | None = None

    async def fresh(self) -> MaydayClient:
        """A link on the next live node, resuming the last one (after kill -9 the
        stream is gone: the server sends the current state instead)."""
        resume = None
        if self.client is not None:
            hello = self.client.hello
            if hello is not None and hello.resume_token:
                resume = (hello.resume_token, self.client.last_seq)
            with contextlib.suppress(Exception):
                await self.client.close()
        self.home += 1
        self.client = await connect_any(self.nodes, self.role, self.sub, self.home, resume)
        return self.client

    async def get_help(self) -> None:
        """Ask once; after a move, ask again only if the server has no open request."""
        client = await self.fresh()
        while True:
            try:
                if await self._ask(client):
                    return
            except (TimeoutError, ConnectionError):
                client = await self.fresh()

    async def _ask(self, client: MaydayClient) -> bool:
        try:
            ack = await client.call("help.request")
            self.request_ids.add(ack.fields["request_id"])
        except MaydayError as exc:
            if exc.code != "invalid_state":
                raise
            self.request_ids.add(exc.message.split('"')[1])
        while True:  # an advisor lost past the grace puts the request back: wait on
            started = await client.next(SessionStarted, timeout=60)
            self.sessions += 1
            sid = started.session_id
            ended = await client.next(SessionEnded, where=lambda e, sid=sid: e.session_id == sid)
            if ended.reason != "advisor_lost":
                return True

    async def serve(self, handled: list[str]) -> None:
        client = await self.fresh()
        while True:
            try:
                await self._serve(client, handled)
            except (TimeoutError, ConnectionError, MaydayError):
                client = await self.fresh()

    async def _serve(self, client: MaydayClient, handled: list[str]) -> None:
        if self.open_session is not None:  # accepted on a node that died: finish it here
            with contextlib.suppress(MaydayError):
                await client.end_session(self.open_session)
            self.open_session = None
        await client.set_available()
        while True:
            event: Any = await client.next(
                (HelpOffer, AdvisorStateChanged, SessionStarted), timeout=30
            )
            if isinstance(event, AdvisorStateChanged):
                if event.reason == "offer_timeout":
                    await client.set_available()
                continue
            if isinstance(event, SessionStarted):  # re-sent after a move: finish it here
                with contextlib.suppress(MaydayError):
                    await client.end_session(event.session_id)
                continue
            started = await client.accept(event.request_id)
            self.open_session = started.session_id
            await client.end_session(started.session_id)
            self.open_session = None
            handled.append(started.request_id)


async def stop_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel until every task is done: on Python 3.11 a cancel that lands as an
    ``asyncio.timeout`` inside the task expires can come out as ``TimeoutError``, which
    the advisor loops catch to move on."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=1)


async def assert_nothing_left(url: str, request_ids: set[str]) -> None:
    """Every request finished on purpose; no queue, no offer, no live session remains."""
    store = RedisStore.from_url(url)
    try:
        keys = store.keys
        for _ in range(50):
            if (
                await store.redis.zcard(keys.queue) == 0
                and await store.redis.zcard(keys.offers) == 0
            ):
                break
            await asyncio.sleep(0.1)
        assert await store.redis.zcard(keys.queue) == 0, "requests still queued"
        assert await store.redis.zcard(keys.offers) == 0, "offers still held"
        finals = {RequestState.ENDED, RequestState.CANCELLED, RequestState.ABANDONED}
        for request_id in request_ids:
            request = await store.request(request_id)
            assert request is not None, f"request {request_id} lost"
            assert request.state in finals, f"request {request_id} stuck in {request.state}"
    finally:
        await store.close()


async def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    """Poll a condition that no event announces (sessions counted across many tasks)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def close_all(clients: list[MaydayClient]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def test_a_clean_stop_abandons_no_one_who_moves_to_another_node(
    start_nodes: StartNodes, redis_server: RedisServer
) -> None:
    """SIGTERM of a node (a rolling restart): a waiting user who reconnects elsewhere keeps
    their place and is answered; nobody is abandoned by the stop itself."""
    nodes = start_nodes(2)
    user = await connect_any(nodes, "user", "u1", 0)
    queued = await user.request_help()
    await asyncio.get_running_loop().run_in_executor(None, nodes[0].stop)
    moved = await connect_any(nodes, "user", "u1", 1)
    await asyncio.sleep(7)  # past the 5 s heartbeat deadline: the stopped node is reaped
    store = RedisStore.from_url(redis_server.url)
    try:
        request = await store.request(queued.request_id)
        assert request is not None and request.state is RequestState.QUEUED
    finally:
        await store.close()
    advisor = await connect_any(nodes, "advisor", "a1", 1)
    await advisor.set_available()
    await advisor.accept((await advisor.next(HelpOffer)).request_id)
    started = await moved.next(SessionStarted)
    assert started.request_id == queued.request_id
    await close_all([user, moved, advisor])
