"""Messages left when nobody could answer, through the real app on both backends: the
request it replaces closes with outcome ``message``, advisors list messages over HTTP, the
first reply wins (across two nodes on Redis), the user gets the reply at once and at each
connection until ``message.read``; every refusal has its stable code."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from mayday.client import HelpClosed, MaydayClient, MaydayError
from mayday.protocol.messages import MessageReplied
from mayday.stores.messages import OPEN_PER_USER
from tests.conftest import Harness, StartServer, two_nodes
from tests.redis_server import RedisServer


@pytest.fixture
def redis_url(any_redis_url: str) -> str:
    """Every test here that takes ``redis_url`` runs on each Redis topology in turn: one
    server, a three-master Cluster, a Sentinel's master."""
    return any_redis_url


@pytest.fixture(params=["memory", "redis"])
async def msg_server(
    request: pytest.FixtureRequest, start_server: StartServer, tmp_path: Path
) -> Harness:
    if request.param == "memory":
        return await start_server(data_dir=tmp_path)
    server: RedisServer = request.getfixturevalue("redis_server")
    client = Redis.from_url(server.url)
    await client.flushall()
    await client.aclose()
    return await start_server(redis_url=server.url)


async def refused(client: MaydayClient, type_: str, **fields: object) -> str:
    with pytest.raises(MaydayError) as error:
        await client.call(type_, **fields)
    return error.value.code


async def listed(h: Harness, role: str = "advisor", **query: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {h.token(role, role + '-1')}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{h.http_url}/api/messages", params=query, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_offline_request_becomes_a_message_and_the_reply_reaches_the_user(
    msg_server: Harness,
) -> None:
    """Nobody online: help.queued says offline; message.leave closes the request with
    outcome message; an advisor sees it in GET /api/messages, replies; the connected user
    gets message.replied at once, and again at each connection until message.read."""
    h = msg_server
    user = await h.client("user", "u1", name="Tab", reconnect=False)
    queued = await user.request_help(topic="Printer")
    assert queued.offline is True
    ack = await user.call(
        "message.leave", text=" Printer jams. ", request_id=queued.request_id, contact="+33 6"
    )
    message_id = ack.fields["message_id"]
    closed = await user.next(HelpClosed)
    assert (closed.request_id, closed.outcome) == (queued.request_id, "message")
    req = await h.server.store.request(queued.request_id)
    assert req is not None and req.state.value == "message"

    status, body = await listed(h)
    assert status == 200 and body["count"] == 1
    shown = body["messages"][0]
    assert shown["message_id"] == message_id
    assert (shown["text"], shown["contact"], shown["request_id"]) == (
        "Printer jams.",
        "+33 6",
        queued.request_id,
    )
    assert shown["user"] == {"id": "u1", "name": "Tab"}
    assert (shown["state"], shown["reply"], shown["read"]) == ("open", None, False)

    ada = await h.client("advisor", "a1", name="Ada")
    reply_ack = await ada.call("message.reply", message_id=message_id, text="Open tray 2.")
    assert reply_ack.fields["message_id"] == message_id
    at = reply_ack.fields["at"]
    now = await user.next(MessageReplied)
    expected = MessageReplied(message_id, "Open tray 2.", {"id": "a1", "name": "Ada"}, at)
    assert now == expected
    assert (await listed(h, state="open"))[1]["count"] == 0
    answered = (await listed(h, "ops", state="answered"))[1]["messages"]
    assert [m["message_id"] for m in answered] == [message_id]
    ada_shown = {"id": "a1", "name": "Ada"}
    assert answered[0]["reply"] == {"text": "Open tray 2.", "advisor": ada_shown, "at": at}

    await user.close()
    for _ in range(2):  # shown at every connection until read
        again = await h.client("user", "u1", name="Tab", reconnect=False)
        assert await again.next(MessageReplied) == expected
        await again.close()
    again = await h.client("user", "u1", name="Tab", reconnect=False)
    await again.next(MessageReplied)
    await again.call("message.read", message_id=message_id)
    await again.call("message.read", message_id=message_id)  # a retry does no harm
    await again.close()
    last = await h.client("user", "u1", name="Tab", reconnect=False)
    await last.call("ping")
    await asyncio.sleep(0.1)
    assert not [e for e in last.pending_events() if isinstance(e, MessageReplied)]
    assert (await listed(h, state="answered"))[1]["messages"][0]["read"] is True


async def test_first_reply_wins(msg_server: Harness) -> None:
    """Two advisors reply to one message: the first reply is stored, the second gets
    invalid_state, and the user only ever sees the first."""
    h = msg_server
    user = await h.client("user", "u1", name="Tab")
    message_id = (await user.call("message.leave", text="Help")).fields["message_id"]
    ada = await h.client("advisor", "a1", name="Ada")
    bo = await h.client("advisor", "a2", name="Bo")
    await ada.call("message.reply", message_id=message_id, text="First")
    assert await refused(bo, "message.reply", message_id=message_id, text="Second") == (
        "invalid_state"
    )
    assert (await user.next(MessageReplied)).text == "First"
    stored = await h.server.store.message(message_id)
    assert stored is not None and stored.reply is not None and stored.reply.text == "First"


async def test_two_advisors_on_two_nodes_at_once_one_reply_wins(
    start_server: StartServer, redis_url: str
) -> None:
    """On Redis, two advisors on two nodes reply to one message at the same moment: exactly
    one reply is stored, the other gets invalid_state; the user on a third socket of
    either node gets the winning reply once."""
    one, two = await two_nodes(start_server, redis_url)
    user = await one.client("user", "u1", name="Tab")
    message_id = (await user.call("message.leave", text="Help")).fields["message_id"]
    ada = await one.client("advisor", "a1", name="Ada")
    bo = await two.client("advisor", "a2", name="Bo")
    results = await asyncio.gather(
        ada.call("message.reply", message_id=message_id, text="From Ada"),
        bo.call("message.reply", message_id=message_id, text="From Bo"),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, MaydayError)]
    assert len(errors) == 1 and errors[0].code == "invalid_state"
    winner = "From Ada" if not isinstance(results[0], BaseException) else "From Bo"
    assert (await user.next(MessageReplied)).text == winner
    late = await two.client("user", "u1", name="Tab")
    assert (await late.next(MessageReplied)).text == winner


async def test_refusals(msg_server: Harness) -> None:
    """Roles and identities: only users leave and read (their own), only advisors reply;
    bad fields, unknown ids, another's request or message, a read before any reply."""
    h = msg_server
    user = await h.client("user", "u1", name="Tab")
    other = await h.client("user", "u2", name="Other")
    ada = await h.client("advisor", "a1", name="Ada")
    ops = await h.client("ops", "o1", name="Ops")
    assert await refused(user, "message.leave", text="") == "invalid_field"
    assert await refused(user, "message.leave", text="   ") == "invalid_field"
    assert await refused(user, "message.leave", text="x" * 2001) == "invalid_field"
    assert await refused(user, "message.leave", text="hi", contact="x" * 201) == "invalid_field"
    assert await refused(user, "message.leave", text="hi", contact=7) == "invalid_field"
    await user.call("message.leave", text="x" * 2000)
    assert await refused(ada, "message.leave", text="hi") == "forbidden"
    assert await refused(ops, "message.leave", text="hi") == "forbidden"
    theirs = await other.request_help()
    assert (
        await refused(user, "message.leave", text="hi", request_id=theirs.request_id) == "forbidden"
    )
    assert await refused(user, "message.leave", text="hi", request_id="req_nope") == "not_found"
    mine = (await user.call("message.leave", text="Mine")).fields["message_id"]
    assert await refused(user, "message.reply", message_id=mine, text="self") == "forbidden"
    assert await refused(ops, "message.reply", message_id=mine, text="ops") == "forbidden"
    assert await refused(ada, "message.reply", message_id="msg_nope", text="x") == "not_found"
    assert await refused(ada, "message.reply", message_id=mine, text="") == "invalid_field"
    assert await refused(user, "message.read", message_id=mine) == "invalid_state"
    await ada.call("message.reply", message_id=mine, text="Answer")
    assert await refused(other, "message.read", message_id=mine) == "forbidden"
    assert await refused(ada, "message.read", message_id=mine) == "forbidden"
    assert await refused(user, "message.read", message_id="msg_nope") == "not_found"
    assert not [e for e in other.pending_events() if isinstance(e, MessageReplied)]
    await user.call("message.read", message_id=mine)
    # One user's open messages are bounded.
    for _ in range(OPEN_PER_USER - 1):  # one is open already (the 2,000 characters)
        await user.call("message.leave", text="again")
    assert await refused(user, "message.leave", text="one more") == "rate_limited"
    # A refused message leaves the request it named waiting.
    waiting = await user.request_help()
    refusal = await refused(user, "message.leave", text="more", request_id=waiting.request_id)
    assert refusal == "rate_limited"
    req = await h.server.store.request(waiting.request_id)
    assert req is not None and req.state.waiting
    await user.call("help.cancel", request_id=waiting.request_id)
    assert await refused(user, "message.leave", text="x", request_id=waiting.request_id) == (
        "invalid_state"
    )


async def test_the_http_list_refuses_users_strangers_and_bad_parameters(
    msg_server: Harness,
) -> None:
    """GET /api/messages: 401 without a token, 403 for a user, 400 for a bad state, limit
    or an unknown parameter; oldest first with a limit."""
    h = msg_server
    async with aiohttp.ClientSession() as http, http.get(f"{h.http_url}/api/messages") as resp:
        assert resp.status == 401
    assert (await listed(h, "user"))[0] == 403
    assert (await listed(h, state="closed"))[0] == 400
    assert (await listed(h, limit="many"))[0] == 400
    assert (await listed(h, limit="1001"))[0] == 400
    assert (await listed(h, sort="new"))[0] == 400
    ids = []
    for sub in ("u1", "u2", "u3"):
        user = await h.client("user", sub, name=sub)
        ids.append((await user.call("message.leave", text=f"from {sub}")).fields["message_id"])
        await asyncio.sleep(0.01)
    status, body = await listed(h, "ops", limit="2")
    assert status == 200 and [m["message_id"] for m in body["messages"]] == ids[:2]
