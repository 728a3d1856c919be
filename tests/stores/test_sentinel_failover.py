"""A Sentinel failover while help requests flow (issue 13): two nodes on a master, its
replica and a Sentinel; users press Help at a steady pace, advisors accept, signal both
ways and end; the master is SIGKILLed mid-flow and Sentinel promotes the replica. Every
request queued is answered once, no advisor is in two sessions, and every session's
frames arrive in order, once each."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mayday.client import (
    HelpClosed,
    HelpOffer,
    MaydayClient,
    MaydayError,
    SessionEnded,
    SessionStarted,
    SignalRelayed,
)
from mayday.stores.scripts import connect
from tests.conftest import REDIS_PASSWORD, Harness, StartServer, two_nodes
from tests.hangs import bounded
from tests.redis_server import SentinelGroup

USERS = 20
ADVISORS = 4
PACE_S = 0.15  # one user presses Help every PACE_S: the flow lasts about 3 s
KILL_AFTER_S = 1.0
FRAMES = 8  # numbered `signal` frames each side sends in each session, GAP_S apart
GAP_S = 0.1
FLOW_TIMEOUT_S = 45.0


@pytest.fixture
def failover_group(tmp_path: Path) -> Iterator[SentinelGroup]:
    """A Sentinel group of this test's own (its master is killed), on free ports."""
    group = SentinelGroup(tmp_path / "sentinel", password=REDIS_PASSWORD)
    try:
        yield group.start()
    finally:
        group.stop()


@dataclass
class Received:
    """The numbers of one side's frames as the other side got them."""

    numbers: list[int] = field(default_factory=list)
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self, event: SignalRelayed) -> None:
        assert event.description is not None
        self.numbers.append(int(event.description["sdp"].rsplit("=", 1)[1]))
        if len(self.numbers) >= FRAMES:
            self.complete.set()

    async def all_in(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self.complete.wait(), timeout)


@dataclass
class Ledger:
    """What every client saw, for the checks at the end."""

    queued: dict[str, str] = field(default_factory=dict)  # request id -> user
    user_started: list[SessionStarted] = field(default_factory=list)
    advisor_started: list[tuple[str, SessionStarted]] = field(default_factory=list)
    in_session: dict[str, str] = field(default_factory=dict)  # advisor -> session id
    doubled: list[str] = field(default_factory=list)  # an advisor offered a 2nd session
    got: dict[tuple[str, str], Received] = field(default_factory=dict)  # (session, to)
    refused: list[str] = field(default_factory=list)  # calls refused, for the report

    def listen(self, client: MaydayClient, session_id: str, to: str) -> Received:
        got = self.got.setdefault((session_id, to), Received())
        client.on_signal(session_id, got.take)
        return got


async def pump(client: MaydayClient, session_id: str) -> None:
    """Send FRAMES numbered offers, one in flight at a time, as a peer's SDP and ICE
    candidates go: a session lasts about a second, so some are live at the kill."""
    for n in range(1, FRAMES + 1):
        await client.signal(session_id, description={"type": "offer", "sdp": f"v=0 n={n}"})
        await asyncio.sleep(GAP_S)


async def advisor_loop(advisor: MaydayClient, name: str, ledger: Ledger) -> None:
    """Take every offer; in each session signal both ways, then end it."""
    await advisor.set_available()
    while True:
        offer = await advisor.next(HelpOffer, timeout=None)
        try:
            started = await advisor.accept(offer.request_id)
        except MaydayError as exc:  # taken elsewhere or expired: not this advisor's
            ledger.refused.append(f"{name} accept {offer.request_id}: {exc}")
            continue
        if name in ledger.in_session:
            ledger.doubled.append(f"{name}: {ledger.in_session[name]} and {started.session_id}")
        ledger.in_session[name] = started.session_id
        ledger.advisor_started.append((name, started))
        got = ledger.listen(advisor, started.session_id, "advisor")
        await pump(advisor, started.session_id)
        await got.all_in()
        del ledger.in_session[name]
        await advisor.end_session(started.session_id)


async def user_flow(user: MaydayClient, name: str, delay: float, ledger: Ledger) -> None:
    """Press Help after ``delay``; once answered, signal, and wait for the end."""
    await asyncio.sleep(delay)
    queued = await user.request_help()
    ledger.queued[queued.request_id] = name
    started = await user.next(SessionStarted, timeout=FLOW_TIMEOUT_S)
    ledger.user_started.append(started)
    got = ledger.listen(user, started.session_id, "user")
    await pump(user, started.session_id)
    await got.all_in()
    ended = await user.next(SessionEnded, timeout=FLOW_TIMEOUT_S)
    assert ended.session_id == started.session_id


async def stranded(node: Harness, ledger: Ledger) -> str:
    """What the store holds of each request queued and not answered, and of the
    advisors, after a flow that did not finish."""
    answered = {s.request_id for s in ledger.user_started}
    lines = [f"refused: {ledger.refused}", f"in session: {ledger.in_session}"]
    for request_id, user in ledger.queued.items():
        if request_id not in answered:
            lines.append(f"{user} {request_id}: {await node.server.store.request(request_id)}")
    lines += [repr(a) for a in await node.server.store.advisors(10)]
    return "the flow did not finish:\n" + "\n".join(lines)


async def run_flow(nodes: list[Harness], group: SentinelGroup, ledger: Ledger) -> dict[str, float]:
    advisors = [await nodes[i % 2].client("advisor", f"a{i}") for i in range(ADVISORS)]
    users = [await nodes[j % 2].client("user", f"u{j}") for j in range(USERS)]
    loops = [
        asyncio.create_task(advisor_loop(a, f"a{i}", ledger), name=f"advisor a{i}")
        for i, a in enumerate(advisors)
    ]
    flows = [
        asyncio.create_task(user_flow(u, f"u{j}", j * PACE_S, ledger), name=f"user u{j}")
        for j, u in enumerate(users)
    ]
    times: dict[str, float] = {}
    started = time.monotonic()

    async def flow() -> None:
        await asyncio.sleep(KILL_AFTER_S)
        old = group.master_port()
        times["answered_at_kill"] = len(ledger.user_started)
        times["in_session_at_kill"] = len(ledger.in_session)
        await asyncio.to_thread(group.kill_master)
        await asyncio.to_thread(group.wait_promoted, old)
        times["promoted_s"] = time.monotonic() - started
        await asyncio.gather(*flows)
        times["flow_s"] = time.monotonic() - started

    try:
        await bounded("the failover flow", flow(), FLOW_TIMEOUT_S)
    except TimeoutError:
        pytest.fail(await stranded(nodes[0], ledger))
    finally:
        for task in loops + flows:
            task.cancel()
        gathered = asyncio.gather(*loops, *flows, return_exceptions=True)
        await bounded("the clients' tasks, cancelled", gathered, 10)
    for user in users:
        extra = [e for e in user.pending_events() if isinstance(e, SessionStarted | HelpClosed)]
        assert not extra, f"a user got more than its one session: {extra}"
    return times


async def test_a_command_in_flight_when_the_master_dies_ends_on_the_promoted_one(
    failover_group: SentinelGroup,
) -> None:
    """A blocking read sent to the master just before it is SIGKILLed is sent again, by
    the client's retry, to the replica Sentinel promotes (redis-py reconnected it to the
    dead master's address for minutes: the failover flow's hang)."""
    group = failover_group
    client = connect(group.url)
    try:
        await client.ping()
        read = asyncio.create_task(client.blpop(["{mayday}:nothing"], timeout=2))
        await asyncio.sleep(0.3)
        old = group.master_port()
        await asyncio.to_thread(group.kill_master)
        async with asyncio.timeout(20):
            assert await read is None
        assert group.master_port() != old
    finally:
        await asyncio.wait_for(client.aclose(), 10)


@pytest.mark.timeout(90)
async def test_a_sentinel_failover_mid_flow_loses_no_request_and_answers_none_twice(
    failover_group: SentinelGroup, start_server: StartServer
) -> None:
    """20 users press Help across two nodes, 4 advisors answer; the master is SIGKILLed
    a second in and Sentinel promotes the replica: every queued request is answered
    exactly once, no advisor is in two sessions, each session's frames come in order,
    none twice, none lost."""
    group = failover_group
    nodes = await two_nodes(start_server, group.url, rate_limit_per_s=1000.0, rate_limit_burst=1000)
    ledger = Ledger()
    times = await run_flow(nodes, group, ledger)
    print(f"failover flow: {times}; refused: {ledger.refused}")
    assert 0 < times["answered_at_kill"] < USERS, "the kill was not mid-flow"
    assert len(ledger.queued) == USERS
    per_request = Counter(s.request_id for s in ledger.user_started)
    assert per_request == Counter(ledger.queued.keys()), "a request answered twice, or never"
    by_advisor = Counter(s.request_id for _, s in ledger.advisor_started)
    assert by_advisor == per_request, "an advisor's session.started without its user's"
    assert not ledger.doubled, ledger.doubled
    for key, got in ledger.got.items():
        assert got.numbers == list(range(1, FRAMES + 1)), f"frames of {key}: {got.numbers}"
    assert len(ledger.got) == 2 * USERS
