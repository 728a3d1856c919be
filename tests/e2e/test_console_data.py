"""What the advisor console and the ops dashboard are told about callers and advisors, through
the real app: a caller's earlier requests, every connected advisor counted, the advisor table,
one request's timeline, and the ops API taking its token from the header only."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from mayday.client import (
    AdvisorStateChanged,
    HelpOffer,
    MaydayClient,
    MaydayError,
    SessionEnded,
    SessionStarted,
)
from tests.conftest import Harness, StartServer


async def ended_call(h: Harness, advisor: MaydayClient, user: MaydayClient) -> str:
    """One answered request of ``user`` that ``advisor`` ends; its request id."""
    await user.request_help(topic="Printer")
    offer = await advisor.next(HelpOffer)
    started = await advisor.accept(offer.request_id)
    await user.next(SessionStarted)
    await advisor.end_session(started.session_id, reason="advisor_ended")
    await user.next(SessionEnded)
    return started.request_id


async def ops_get(h: Harness, path: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(h.http_url + path, headers=headers) as r:
        return r.status, await r.json()


async def test_the_offered_advisor_sees_the_callers_earlier_requests(mayday: Harness) -> None:
    """help.history gives the advisor offered a request the caller's earlier requests, newest
    first, with outcome, who answered, how it ended and how long; nobody else gets them."""
    ada = await mayday.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await mayday.client("user", "u1", name="Tab")
    answered = await ended_call(mayday, ada, user)
    cancelled = await user.request_help(topic="Wi-Fi")
    await ada.next(HelpOffer)
    await user.cancel(cancelled.request_id)
    await ada.set_available(False)

    bo = await mayday.client("advisor", "a2", name="Bo")
    await bo.set_available()
    now = await user.request_help(topic="Printer")
    await bo.next(HelpOffer)
    ack = await bo.call("help.history", request_id=now.request_id)
    assert ack.fields["request_id"] == now.request_id
    first, second = ack.fields["requests"]
    assert (first["request_id"], first["outcome"], first["topic"]) == (
        cancelled.request_id,
        "cancelled",
        "Wi-Fi",
    )
    assert (first["advisor_name"], first["duration_s"], first["note"]) == (None, None, None)
    assert (second["request_id"], second["outcome"], second["advisor_name"]) == (
        answered,
        "ended",
        "Ada",
    )
    assert (second["end_reason"], second["ended_by"]) == ("advisor_ended", "advisor")
    assert second["duration_s"] >= 0
    assert second["note"] is None

    for asker, request_id, code in (
        (ada, now.request_id, "forbidden"),  # not offered to Ada
        (bo, "req_nope", "not_found"),
    ):
        with pytest.raises(MaydayError) as refused:
            await asker.call("help.history", request_id=request_id)
        assert refused.value.code == code
    with pytest.raises(MaydayError) as refused:
        await user.call("help.history", request_id=now.request_id)
    assert refused.value.code == "forbidden"


async def test_a_console_that_has_not_chosen_is_counted_away(
    start_server: StartServer,
) -> None:
    """An advisor who connected and said nothing is away in the queue summary and the advisor
    table, with their name; closing the console takes them off both once the grace of the
    drop is over."""
    h = await start_server(ops_interval_s=3600.0, resume_grace_s=0.3)
    ops = h.token("ops", "o1")
    quiet = await h.client("advisor", "a9", name="Quinn")
    await quiet.call("ping")  # the attach hook has run once the socket answers
    summary = await h.server.store.summary(h.server.clock())
    assert (summary.advisors_away, summary.advisors_available) == (1, 0)
    status, body = await ops_get(h, "/api/ops/summary", ops)
    assert status == 200
    [row] = body["advisors"]
    assert (row["id"], row["name"], row["state"]) == ("a9", "Quinn", "away")
    assert (row["calls_today"], row["declines_today"], row["missed_offers_today"]) == (0, 0, 0)
    assert body["queue"]["advisors_away"] == 1

    await quiet.close()
    h.clients.remove(quiet)
    await asyncio.sleep(0.6)
    _, body = await ops_get(h, "/api/ops/summary", ops)
    assert body["advisors"] == [] and body["queue"]["advisors_away"] == 0


async def test_the_advisor_table_counts_calls_declines_and_missed_offers(
    start_server: StartServer,
) -> None:
    """Each advisor's row counts today's calls, declines and missed offers, and its state
    follows: busy in a call, away after a missed offer."""
    h = await start_server(ops_interval_s=3600.0, reservation_timeout_s=0.3)
    ops = h.token("ops", "o1")
    ada = await h.client("advisor", "a1", name="Ada")
    await ada.set_available()
    bo = await h.client("advisor", "a2", name="Bo")
    await bo.set_available()
    user = await h.client("user", "u1", name="Tab")
    await user.request_help()
    offer = await ada.next(HelpOffer)
    await ada.decline(offer.request_id)
    started = await bo.accept((await bo.next(HelpOffer)).request_id)
    other = await h.client("user", "u2", name="Other")
    await other.request_help()
    await ada.next(HelpOffer)  # left to time out: Ada is set away
    await ada.next(AdvisorStateChanged, where=lambda s: s.reason == "offer_timeout")

    _, body = await ops_get(h, "/api/ops/summary", ops)
    table = {r["id"]: r for r in body["advisors"]}
    assert (table["a1"]["declines_today"], table["a1"]["missed_offers_today"]) == (1, 1)
    assert (table["a1"]["calls_today"], table["a1"]["state"]) == (0, "away")
    assert (table["a2"]["calls_today"], table["a2"]["state"], table["a2"]["name"]) == (
        1,
        "busy",
        "Bo",
    )
    assert table["a2"]["since"] <= h.server.clock()

    _, body = await ops_get(h, "/api/ops/summary", ops)
    [recent] = [r for r in body["recent"] if r["request_id"] == started.request_id]
    assert (recent["advisor"], recent["advisor_name"], recent["user_name"]) == ("a2", "Bo", "Tab")
    assert (recent["end_reason"], recent["duration_s"]) == (None, None)  # still in the call


async def test_one_requests_timeline_and_the_token_only_in_the_header(mayday: Harness) -> None:
    """GET /api/ops/requests/{id} gives the whole timeline with names, 404 for an unknown id;
    a token in the address is refused everywhere in the ops API."""
    ops = mayday.token("ops", "o1")
    ada = await mayday.client("advisor", "a1", name="Ada")
    await ada.set_available()
    user = await mayday.client("user", "u1", name="Tab")
    request_id = await ended_call(mayday, ada, user)

    status, view = await ops_get(mayday, f"/api/ops/requests/{request_id}", ops)
    assert status == 200
    assert [e["event"] for e in view["timeline"]] == [
        "requested",
        "offered",
        "offer.accepted",
        "session.started",
        "session.ended",
        "ended",
    ]
    assert (view["advisor_name"], view["end_reason"], view["ended_by"]) == (
        "Ada",
        "advisor_ended",
        "advisor",
    )
    assert view["duration_s"] >= 0
    status, body = await ops_get(mayday, "/api/ops/requests/req_nope", ops)
    assert (status, body["code"]) == (404, "not_found")

    for path in (
        f"/api/ops/requests?format=csv&token={ops}",
        f"/api/ops/summary?token={ops}",
        f"/api/ops/requests/{request_id}?token={ops}",
    ):
        status, body = await ops_get(mayday, path)
        assert (status, body["code"]) == (401, "unauthorized"), path


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_a_raised_alert_follows_the_live_value(start_server: StartServer) -> None:
    """The oldest-wait alert keeps the moment it was raised, but its message and value in
    ops.update follow the wait as it grows."""
    clock = Clock(1_000_000.0)
    h = await start_server(ops_interval_s=3600.0, clock=clock)
    ops = h.token("ops", "o1")
    user = await h.client("user", "u1")
    await user.request_help()
    clock.now += 6.5
    await h.server.housekeeping()
    _, body = await ops_get(h, "/api/ops/summary", ops)
    raised = body["alerts"]["oldest_wait"]
    assert "6.5 s" in raised["message"] and raised["value"] == pytest.approx(6.5)
    clock.now += 2.0
    _, body = await ops_get(h, "/api/ops/summary", ops)
    later = body["alerts"]["oldest_wait"]
    assert "8.5 s" in later["message"] and later["value"] == pytest.approx(8.5)
    assert later["since"] == raised["since"]
