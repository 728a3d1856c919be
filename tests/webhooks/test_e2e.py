"""Webhooks through the real app on both backends, to a real endpoint that checks each
signature with the Standard Webhooks library: the events of a request's life in order,
retries under one webhook-id with Retry-After honoured, 410 disabling the endpoint, the
ops view of the attempts, and deliveries that outlive the node that queued them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from mayday.auth import issue_token
from mayday.client import HelpClosed, HelpOffer, MaydayClient, SessionEnded
from mayday.settings import Settings
from mayday.transport.app import bound_port, create_app, start
from mayday.transport.server import SERVER
from tests.conftest import SECRET, Harness, StartServer
from tests.redis_server import RedisServer
from tests.webhooks.receiver import Receiver

FAST = {"webhook_retry_s": (0.1, 0.1, 0.1), "webhook_timeout_s": 2.0}


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The settings of one backend: the embedded store on a data folder, or a real Redis."""
    if request.param == "memory":
        return {"data_dir": tmp_path}
    server: RedisServer = request.getfixturevalue("redis_server")
    return {"redis_url": server.url}


@pytest.fixture(autouse=True)
async def empty_redis(backend: dict[str, Any]) -> None:
    if "redis_url" in backend:
        client = Redis.from_url(backend["redis_url"])
        await client.flushall()
        await client.aclose()


def hooks(receiver: Receiver, **endpoint: Any) -> str:
    return json.dumps([receiver.endpoint(**endpoint)])


async def ops_get(h: Harness, path: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {h.token('ops', 'o1')}"}
    async with aiohttp.ClientSession() as http, http.get(h.http_url + path, headers=headers) as r:
        return r.status, await r.json()


async def attempts_until(
    h: Harness, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10
) -> dict[str, Any]:
    """The ops view of the deliveries once its attempts (newest first) satisfy ``done``."""
    async with asyncio.timeout(timeout):
        while True:
            status, view = await ops_get(h, "/api/webhooks/deliveries")
            assert status == 200
            if done(view["attempts"]):
                return dict(view)
            await asyncio.sleep(0.05)


async def ops_post(h: Harness, path: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {h.token('ops', 'o1')}"}
    async with aiohttp.ClientSession() as http, http.post(h.http_url + path, headers=headers) as r:
        return r.status, await r.json()


async def test_a_call_and_a_message_are_announced_in_order_and_signed(
    start_server: StartServer, backend: dict[str, Any], receiver: Receiver
) -> None:
    """help.requested, session.started, session.ended for a call; help.requested and
    help.closed for a request closed by message.leave; message.left and message.replied.
    Each is signed as the specification says and carries its own webhook-id."""
    h = await start_server(webhooks=hooks(receiver), **backend, **FAST)
    user = await h.client("user", "u1", name="Tab")
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    queued = await user.request_help(topic="Printer")
    started = await ada.accept((await ada.next(HelpOffer)).request_id)
    await ada.end_session(started.session_id)
    await user.next(SessionEnded)
    await receiver.wait_for(3)
    second = await user.request_help(topic="Wifi")
    await ada.set_available(False)
    left = await user.call("message.leave", text="Call me", request_id=second.request_id)
    await user.next(HelpClosed)
    await ada.call("message.reply", message_id=left.fields["message_id"], text="Done")
    try:
        got = await receiver.wait_for(7)
    except TimeoutError:
        raise AssertionError(receiver.types()) from None

    assert all(r.verified for r in got)
    assert receiver.types()[:3] == ["help.requested", "session.started", "session.ended"]
    assert receiver.types()[3:] == [
        "help.requested",
        "message.left",
        "help.closed",
        "message.replied",
    ]
    assert len({r.headers["webhook-id"] for r in got}) == 7
    requested, began, ended = (r.body["data"] for r in got[:3])
    assert requested["request_id"] == queued.request_id
    assert requested["user"] == {"id": "u1", "name": "Tab"} and requested["topic"] == "Printer"
    assert began == {
        "session_id": started.session_id,
        "request_id": queued.request_id,
        "user": {"id": "u1"},
        "advisor": {"id": "a1", "name": "Ada"},
    }
    assert (ended["session_id"], ended["reason"], ended["by"]) == (
        started.session_id,
        "ended",
        "advisor",
    )
    closed, replied = got[5].body["data"], got[6].body["data"]
    assert (closed["request_id"], closed["outcome"]) == (second.request_id, "message")
    assert replied["message_id"] == left.fields["message_id"] and replied["text"] == "Call me"
    assert replied["reply"]["text"] == "Done" and replied["reply"]["advisor"]["name"] == "Ada"


async def test_a_failed_delivery_is_retried_under_its_webhook_id_after_retry_after(
    start_server: StartServer, backend: dict[str, Any], receiver: Receiver
) -> None:
    """500, then 503 with Retry-After: 1, then 200: three attempts of one delivery with the
    same webhook-id, the third at least a second after the second; ops see all three."""
    receiver.script = [(500, {}), (503, {"Retry-After": "1"})]
    h = await start_server(webhooks=hooks(receiver, events=["help.requested"]), **backend, **FAST)
    user = await h.client("user", "u1")
    await user.request_help()
    got = await receiver.wait_for(3)
    assert len({r.headers["webhook-id"] for r in got}) == 1
    assert all(r.verified for r in got)
    stamps = [int(r.headers["webhook-timestamp"]) for r in got]
    view = await attempts_until(h, lambda a: len(a) == 3)
    attempts = view["attempts"][::-1]  # oldest first
    assert [(a["attempt"], a["status"], a["outcome"]) for a in attempts] == [
        (1, 500, "retry"),
        (2, 503, "retry"),
        (3, 200, "delivered"),
    ]
    assert attempts[2]["at"] - attempts[1]["at"] >= 1.0 > attempts[1]["at"] - attempts[0]["at"]
    assert stamps[2] >= stamps[0]
    assert view["pending"] == 0
    assert view["endpoints"][0]["url"] == receiver.url and "secret" not in json.dumps(view)


async def test_a_delivery_that_never_succeeds_fails_when_the_schedule_is_spent(
    start_server: StartServer, backend: dict[str, Any], receiver: Receiver
) -> None:
    """Four 500s with three delays: the delivery fails after its fourth attempt, no fifth."""
    receiver.script = [(500, {})] * 10
    h = await start_server(webhooks=hooks(receiver, events=["help.requested"]), **backend, **FAST)
    await (await h.client("user", "u1")).request_help()
    view = await attempts_until(h, lambda a: bool(a) and a[0]["outcome"] == "failed")
    assert [a["outcome"] for a in view["attempts"]][::-1] == ["retry", "retry", "retry", "failed"]
    await asyncio.sleep(0.5)
    assert len(receiver.received) == 4 and view["pending"] == 0


async def test_410_disables_the_endpoint_until_ops_enable_it(
    start_server: StartServer, backend: dict[str, Any], receiver: Receiver
) -> None:
    """An endpoint that answers 410 Gone gets nothing more, and ops see it disabled; once
    enabled again it gets the next events."""
    receiver.script = [(410, {})]
    h = await start_server(webhooks=hooks(receiver, events=["help.requested"]), **backend, **FAST)
    user = await h.client("user", "u1")
    first = await user.request_help()
    await receiver.wait_for(1)
    view = await attempts_until(h, bool)
    (endpoint,) = view["endpoints"]
    assert endpoint["disabled"]["status"] == 410
    assert view["attempts"][0]["outcome"] == "disabled"
    await user.cancel(first.request_id)
    await user.next(HelpClosed)
    await user.request_help()
    await asyncio.sleep(1.0)
    assert len(receiver.received) == 1
    status, body = await ops_post(h, f"/api/webhooks/endpoints/{endpoint['endpoint_id']}/enable")
    assert (status, body["was_disabled"]) == (200, True)
    missing = await ops_post(h, "/api/webhooks/endpoints/ep_nope/enable")
    assert missing[0] == 404
    await asyncio.sleep(1.1)  # the sender reads the disabled list at its next poll
    other = await h.client("user", "u2")
    await other.request_help()
    got = await receiver.wait_for(2)
    assert got[1].body["data"]["user"]["id"] == "u2"


async def test_a_delivery_cut_short_is_sent_by_the_next_node(
    backend: dict[str, Any], receiver: Receiver, tmp_path: Path
) -> None:
    """The endpoint hangs; the node posting to it stops mid-attempt (its outbox lease
    stays); a new node on the same data folder (a restart) or the same Redis (another node)
    sends the delivery once the lease ran out: at least once, the same webhook-id."""
    receiver.script = ["hang"]
    endpoint = hooks(receiver, events=["help.requested"])
    overrides = {"port": 0, "jwt_secret": SECRET, "webhooks": endpoint, **FAST}
    settings = Settings(**{"data_dir": tmp_path, **overrides, **backend})
    app = create_app(settings)
    runner = await start(settings, app)
    token = issue_token(SECRET, role="user", sub="u1")
    user = await MaydayClient.connect(f"ws://127.0.0.1:{bound_port(runner)}/ws", token)
    await user.request_help()
    (hung,) = await receiver.wait_for(1)
    await user.close()
    await runner.cleanup()  # mid-attempt: nothing settled, the lease stays

    app = create_app(settings)
    runner = await start(settings, app)
    try:
        got = await receiver.wait_for(2, timeout=15)
        assert got[1].headers["webhook-id"] == hung.headers["webhook-id"]
        assert got[1].verified and got[1].body == hung.body
        outbox = app[SERVER].webhooks.outbox
        async with asyncio.timeout(5):
            while await outbox.pending():  # noqa: ASYNC110 (another task settles it)
                await asyncio.sleep(0.05)
        (attempt, *_) = await outbox.attempts(10)
        assert (attempt.attempt, attempt.outcome) == (1, "delivered")
    finally:
        await runner.cleanup()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_an_alert_is_announced_signed_to_a_standard_endpoint(
    start_server: StartServer, backend: dict[str, Any], receiver: Receiver
) -> None:
    """The alert the old webhook got unsigned reaches a MAYDAY_WEBHOOKS endpoint as the
    signed alert.raised and alert.cleared events, with the ops.alert frame as data."""
    clock = Clock(time.time())
    endpoint = hooks(receiver, events=["alert.raised", "alert.cleared"])
    h = await start_server(webhooks=endpoint, ops_interval_s=3600.0, clock=clock, **backend)
    user = await h.client("user", "u1")
    await user.request_help()
    clock.now += 9.5  # past the target with nobody free
    await h.server.housekeeping()
    ada = await h.client("advisor", "a1")
    await ada.set_available()
    await ada.accept((await ada.next(HelpOffer)).request_id)
    await h.server.housekeeping()
    got = await receiver.wait_for(2)
    assert receiver.types() == ["alert.raised", "alert.cleared"]
    assert all(r.verified for r in got)
    raised = got[0].body["data"]
    assert (raised["type"], raised["name"], raised["state"]) == (
        "ops.alert",
        "oldest_wait",
        "raised",
    )
