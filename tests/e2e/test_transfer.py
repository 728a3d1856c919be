"""`session.transfer` end to end over sockets, on both backends and across two nodes
(issue 11)."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any
from unittest.mock import ANY

import aiohttp
import pytest
from redis.asyncio import Redis

from mayday.client import (
    AdvisorStateChanged,
    HelpOffer,
    HelpQueued,
    HelpWithdrawn,
    MaydayClient,
    MaydayError,
    SessionEnded,
    SessionStarted,
    SessionTransferred,
    SessionTransferring,
    SignalRelayed,
    TransferFailed,
)
from tests.conftest import Harness, StartServer, two_nodes
from tests.redis_server import RedisServer


async def on_backend(
    request: pytest.FixtureRequest, start_server: StartServer, **overrides: object
) -> Harness:
    if request.param == "memory":
        return await start_server(**overrides)
    redis: RedisServer = request.getfixturevalue("redis_server")
    client = Redis.from_url(redis.url)
    await client.flushall()
    await client.aclose()
    return await start_server(redis_url=redis.url, **overrides)


@pytest.fixture(params=["memory", "redis"])
async def server(request: pytest.FixtureRequest, start_server: StartServer) -> Harness:
    return await on_backend(request, start_server)


@pytest.fixture(params=["memory", "redis"])
async def hasty(request: pytest.FixtureRequest, start_server: StartServer) -> Harness:
    """A server whose offers hold half a second."""
    return await on_backend(request, start_server, reservation_timeout_s=0.5)


async def ops_view(h: Harness, request_id: str) -> Any:
    headers = {"Authorization": f"Bearer {h.token('ops', 'ops-1')}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{h.http_url}/api/ops/requests/{request_id}", headers=headers) as resp,
    ):
        assert resp.status == 200
        return await resp.json()


async def csv_transfers(h: Harness) -> dict[str, str]:
    """The CSV export's last column, ``transfers``, by request."""
    headers = {"Authorization": f"Bearer {h.token('ops', 'ops-1')}"}
    url = f"{h.http_url}/api/ops/requests?format=csv"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows[0][-1] == "transfers"
    return {row[0]: row[-1] for row in rows[1:]}


async def in_call(user: MaydayClient, advisor: MaydayClient) -> SessionStarted:
    """The user asks for help and this advisor, the only one free, takes it."""
    await advisor.set_available()
    await user.request_help(topic="printer")
    offer = await advisor.next(HelpOffer)
    await advisor.accept(offer.request_id)
    return await user.next(SessionStarted)


async def free(advisor: MaydayClient) -> MaydayClient:
    await advisor.set_available()
    return advisor


async def test_a_warm_transfer_hands_the_user_to_the_colleague(server: Harness) -> None:
    """The colleague is offered the call with the note; on accept both advisors hear, the
    old session ends transferred, and the user's new session with the colleague carries
    signals; the request's timeline shows the transfer."""
    user = await server.client("user", "u1", name="Tab")
    ada = await server.client("advisor", "a1", name="Ada")
    started = await in_call(user, ada)
    bo = await free(await server.client("advisor", "a2", name="Bo"))
    ack = await ada.call(
        "session.transfer", session_id=started.session_id, to={"advisor": "a2"}, note="jam"
    )
    transfer_id = ack.fields["transfer_id"]
    offer = await bo.next(HelpOffer)
    assert offer.request_id == started.request_id and offer.expires_in_s == 15.0
    assert offer.transfer == {
        "transfer_id": transfer_id,
        "from": {"id": "a1", "name": "Ada"},
        "note": "jam",
    }
    # The user hears whom they go to while the first advisor is still in the call.
    told = await user.next(SessionTransferring)
    assert told == SessionTransferring(
        started.session_id, transfer_id, "warm", {"id": "a2", "name": "Bo"}
    )
    new = await bo.accept(offer.request_id)
    done = SessionTransferred(started.session_id, transfer_id, {"id": "a2", "name": "Bo"})
    assert await ada.next(SessionTransferred) == done
    assert await bo.next(SessionTransferred) == done
    ended = await user.next(SessionEnded)
    assert (ended.session_id, ended.reason) == (started.session_id, "transferred")
    again = await user.next(SessionStarted)
    assert (again.session_id, again.request_id) == (new.session_id, started.request_id)
    assert again.peer == {"id": "a2", "name": "Bo", "role": "advisor"}
    await bo.signal(new.session_id, description={"type": "offer", "sdp": "v=0 bo"})
    got = await user.next(SignalRelayed)
    assert (got.session_id, got.description) == (new.session_id, {"type": "offer", "sdp": "v=0 bo"})
    with pytest.raises(MaydayError) as refused:
        await ada.signal(started.session_id, description={"type": "offer", "sdp": "v=0"})
    assert refused.value.code in ("invalid_state", "not_found")
    view = await ops_view(server, started.request_id)
    assert (view["transfers"], view["priority"]) == (1, 0)
    assert await csv_transfers(server) == {started.request_id: "1"}
    transfer = next(e for e in view["timeline"] if e["event"] == "transfer")
    assert {k: transfer[k] for k in ("by", "from", "to", "mode", "note")} == {
        "by": "a1",
        "from": "a1",
        "to": {"advisor": "a2"},
        "mode": "warm",
        "note": "jam",
    }


async def test_a_declined_warm_transfer_leaves_the_user_with_the_advisor(
    server: Harness,
) -> None:
    """The colleague declines: the first advisor gets transfer.failed and the call goes on."""
    user = await server.client("user", "u1")
    ada = await server.client("advisor", "a1")
    started = await in_call(user, ada)
    bo = await free(await server.client("advisor", "a2"))
    ack = await ada.call("session.transfer", session_id=started.session_id, to={"advisor": "a2"})
    offer = await bo.next(HelpOffer)
    await bo.decline(offer.request_id)
    failed = await ada.next(TransferFailed)
    assert failed == TransferFailed(ack.fields["transfer_id"], started.session_id, "declined")
    assert (await user.next(SessionTransferring)).to == {"id": "a2", "name": "a2"}
    assert await user.next(TransferFailed) == failed
    await ada.signal(started.session_id, description={"type": "offer", "sdp": "v=0 still"})
    assert (await user.next(SignalRelayed)).session_id == started.session_id


async def test_a_cold_transfer_to_skills_requeues_for_someone_who_has_them(
    server: Harness,
) -> None:
    """Cold: the call ends at once, the user waits at the head of the queue, and the next
    advisor with the skill is offered it with the note; the first advisor is not."""
    user = await server.client("user", "u1")
    ada = await server.client("advisor", "a1", name="Ada")
    started = await in_call(user, ada)
    await ada.call(
        "session.transfer",
        session_id=started.session_id,
        to={"skills": ["printer"]},
        note="needs the printer team",
        mode="cold",
    )
    ended = await user.next(SessionEnded)
    assert ended.reason == "transferred"
    queued = await user.next(HelpQueued)
    assert (queued.request_id, queued.position) == (started.request_id, 1)
    cy = await free(await server.client("advisor", "a3", name="Cy", skills=["printer"]))
    offer = await cy.next(HelpOffer)
    assert offer.request_id == started.request_id
    assert offer.skills == ["printer"] and offer.transfer is not None
    assert offer.transfer["note"] == "needs the printer team"
    assert not [e for e in ada.pending_events() if isinstance(e, HelpOffer)]
    await cy.accept(offer.request_id)
    assert (await user.next(SessionStarted)).request_id == started.request_id


async def test_transfer_refusals_keep_the_connection(server: Harness) -> None:
    """Users and ops are refused by role, another advisor and a transfer to oneself or to a
    busy colleague are refused, and each socket goes on."""
    user = await server.client("user", "u1")
    ada = await server.client("advisor", "a1")
    started = await in_call(user, ada)
    other = await server.client("advisor", "a2")
    ops = await server.client("ops", "o1")
    frame = {"session_id": started.session_id, "to": {"advisor": "a2"}}
    for client, code in ((user, "forbidden"), (ops, "forbidden"), (other, "forbidden")):
        with pytest.raises(MaydayError) as refused:
            await client.call("session.transfer", **frame)
        assert refused.value.code == code
        assert (await client.call("ping")).fields["time"] > 0
    for fields, code in (
        ({"to": {"advisor": "a1"}}, "invalid_field"),
        ({"to": {"skills": ["printer"]}}, "invalid_field"),
        ({"to": {"advisor": "a2"}}, "invalid_state"),  # a2 is away
        ({"to": {"advisor": "a2"}, "note": "x" * 501}, "invalid_field"),
    ):
        with pytest.raises(MaydayError) as refused:
            await ada.call("session.transfer", session_id=started.session_id, **fields)
        assert refused.value.code == code, fields
    await free(other)
    await ada.call("session.transfer", session_id=started.session_id, to={"advisor": "a2"})
    with pytest.raises(MaydayError) as refused:
        await ada.call("session.transfer", session_id=started.session_id, to={"advisor": "a2"})
    assert refused.value.code == "invalid_state"


async def test_a_warm_transfer_to_an_advisor_on_the_other_node(
    start_server: StartServer, redis_url: str
) -> None:
    """Two nodes on Redis: the first advisor and the user on one, the colleague on the
    other; the offer, the accept, session.transferred and the new session cross nodes, and
    the user ending the new call withdraws nothing."""
    a, b = await two_nodes(start_server, redis_url)
    user = await a.client("user", "u1")
    ada = await a.client("advisor", "a1", name="Ada")
    started = await in_call(user, ada)
    bo = await free(await b.client("advisor", "a2", name="Bo"))
    ack = await ada.call(
        "session.transfer", session_id=started.session_id, to={"advisor": "a2"}, mode="warm"
    )
    offer = await bo.next(HelpOffer)
    assert offer.transfer is not None and offer.transfer["transfer_id"] == ack.fields["transfer_id"]
    new = await bo.accept(offer.request_id)
    assert (await ada.next(SessionTransferred)).to == {"id": "a2", "name": "Bo"}
    assert (await user.next(SessionStarted)).session_id == new.session_id
    await user.signal(new.session_id, description={"type": "answer", "sdp": "v=0 user"})
    assert (await bo.next(SignalRelayed)).from_ == "u1"


async def test_a_pending_transfer_is_withdrawn_when_the_call_ends_across_nodes(
    start_server: StartServer, redis_url: str
) -> None:
    """The user hangs up while the colleague on the other node holds the transfer offer:
    the offer is withdrawn there and the first advisor gets transfer.failed."""
    a, b = await two_nodes(start_server, redis_url)
    user = await a.client("user", "u1")
    ada = await a.client("advisor", "a1")
    started = await in_call(user, ada)
    bo = await free(await b.client("advisor", "a2"))
    await ada.call("session.transfer", session_id=started.session_id, to={"advisor": "a2"})
    await bo.next(HelpOffer)
    await user.end_session(started.session_id)
    withdrawn = await bo.next(HelpWithdrawn)
    assert (withdrawn.request_id, withdrawn.reason) == (started.request_id, "session_ended")
    assert (await ada.next(TransferFailed)).reason == "session_ended"


async def test_an_unanswered_warm_transfer_times_out(hasty: Harness) -> None:
    """The colleague lets the transfer's reservation run out: they are set away as for any
    missed offer, and the first advisor gets transfer.failed (timeout) and keeps the call."""
    h = hasty
    user = await h.client("user", "u1")
    ada = await h.client("advisor", "a1")
    started = await in_call(user, ada)
    bo = await free(await h.client("advisor", "a2"))
    await ada.call("session.transfer", session_id=started.session_id, to={"advisor": "a2"})
    assert (await bo.next(HelpOffer)).expires_in_s == 0.5
    assert (await ada.next(TransferFailed, timeout=5)).reason == "timeout"
    assert (await bo.next(HelpWithdrawn)).reason == "timeout"
    away = await bo.next(AdvisorStateChanged, where=lambda e: e.reason == "offer_timeout")
    assert away.state == "away"
    await ada.signal(started.session_id, description={"type": "offer", "sdp": "v=0 kept"})
    assert (await user.next(SignalRelayed)).session_id == started.session_id


async def test_a_cold_transfer_in_claim_mode_is_claimed_once_across_three_nodes(
    start_server: StartServer, redis_url: str
) -> None:
    """Claim mode on three nodes: after a cold transfer to a skill, the two colleagues who
    have it (each on another node) both see the request with the note and race to claim
    it; exactly one wins, the other is told it was claimed, the first advisor never sees it."""
    nodes = [await start_server(redis_url=redis_url, routing_mode="claim") for _ in range(3)]
    user = await nodes[0].client("user", "u1")
    ada = await nodes[0].client("advisor", "a1", name="Ada")
    started = await in_call(user, ada)
    bo = await free(await nodes[1].client("advisor", "a2", name="Bo", skills=["printer"]))
    cy = await free(await nodes[2].client("advisor", "a3", name="Cy", skills=["printer"]))
    await ada.call(
        "session.transfer",
        session_id=started.session_id,
        to={"skills": ["printer"]},
        note="printer",
        mode="cold",
    )
    shown = [await c.next(HelpOffer) for c in (bo, cy)]
    assert {(o.request_id, o.mode, (o.transfer or {}).get("note")) for o in shown} == {
        (started.request_id, "claim", "printer")
    }
    results = await asyncio.gather(
        bo.call("help.accept", request_id=started.request_id),
        cy.call("help.accept", request_id=started.request_id),
        return_exceptions=True,
    )
    won = [c for c, r in zip((bo, cy), results, strict=True) if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], MaydayError) and lost[0].code == "invalid_state"
    loser = cy if won[0] is bo else bo
    assert (await loser.next(HelpWithdrawn)).reason == "claimed"
    again = await user.next(SessionStarted)
    assert again.request_id == started.request_id and again.session_id != started.session_id
    assert not [e for e in ada.pending_events() if isinstance(e, HelpOffer)]


async def advisors_list(h: Harness, token: str | None, query: str = "") -> tuple[int, Any]:
    return await h.get_json(f"/api/advisors{query}", token)


async def test_the_transfer_dialog_lists_who_is_online_free_first(server: Harness) -> None:
    """GET /api/advisors: advisor and ops tokens only; free advisors first (longest idle
    first) with names and skills, then the busy and away ones; bounded by limit."""
    user = await server.client("user", "u1")
    ada = await server.client("advisor", "a1", name="Ada")
    await in_call(user, ada)
    await free(await server.client("advisor", "a2", name="Bo", skills=["printer"]))
    await server.client("advisor", "a3", name="Cy")
    status, body = await advisors_list(server, server.token("advisor", "a1"))
    assert status == 200
    assert body == {
        "advisors": [
            {"id": "a2", "name": "Bo", "state": "free", "skills": ["printer"], "since": ANY},
            {"id": "a1", "name": "Ada", "state": "busy", "skills": [], "since": ANY},
            {"id": "a3", "name": "Cy", "state": "away", "skills": [], "since": ANY},
        ]
    }
    status, body = await advisors_list(server, server.token("ops", "o1"), "?limit=1")
    assert (status, [a["id"] for a in body["advisors"]]) == (200, ["a2"])
    assert (await advisors_list(server, server.token("user", "u1")))[0] == 403
    assert (await advisors_list(server, None))[0] == 401
    assert (await advisors_list(server, server.token("ops", "o1"), "?limit=201"))[0] == 400
    assert (await advisors_list(server, server.token("ops", "o1"), "?state=free"))[0] == 400
