"""The memory and Redis session stores: one contract, and random histories with equal answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from mayday.protocol.annotations import Annotation, ControlInput
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.routing.model import Session
from mayday.sessions.control import ConsentState, ControlAction
from mayday.sessions.drawing import Limits
from mayday.sessions.redis_store import RedisSessionsStore
from mayday.sessions.store import MemorySessionsStore, SessionsStore
from mayday.stores.keys import Keys
from mayday.stores.scripts import connect
from tests.redis_server import RedisServer

SESSION = Session("ses_1", "req_1", "u1", "a1", "advisor", 1000.0)
PEN = {"color": "#0a84ff", "width": 0.01}
SMALL = Limits(strokes=3, stroke_points=6, points=10)


def ann(kind: str, **fields: Any) -> Annotation:
    return Annotation.parse({"session_id": SESSION.id, "kind": kind, **fields})


async def live_session_in(redis: Redis) -> None:
    """An empty Redis holding the routing's record of SESSION, active (the Redis scripts
    check it: the handler may hold a cached copy)."""
    await redis.flushall()
    await redis.hset(Keys().session(SESSION.id), mapping={"id": SESSION.id, "state": "active"})


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionsStore]:
    """Each contract test runs once per store."""
    if request.param == "memory":
        yield MemorySessionsStore()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis = connect(server.url)
    await live_session_in(redis)
    yield RedisSessionsStore(redis)
    await redis.aclose()


async def test_drawing_round_trip(store: SessionsStore) -> None:
    """Strokes and shapes come back whole in the snapshot, in drawing order."""
    assert await store.annotate(
        SESSION, ann("stroke.begin", stroke_id="s1", **PEN, points=[[0.1, 0.2]]), 1.0
    )
    assert await store.annotate(
        SESSION,
        ann("stroke.points", stroke_id="s1", stroke_seq=1, points=[[0.3, 0.4], [0.5, 0.6]]),
        2.0,
    )
    assert await store.annotate(
        SESSION,
        ann("shape", stroke_id="h1", shape="highlight", **PEN, points=[[0, 0], [0.5, 0.5]]),
        3.0,
    )
    assert not await store.annotate(
        SESSION, ann("stroke.points", stroke_id="s1", stroke_seq=1, points=[[0, 0]]), 4.0
    )
    snap = await store.snapshot(SESSION.id)
    assert snap.to_frame() == {
        "type": "annotation.snapshot",
        "session_id": "ses_1",
        "strokes": [
            {
                "stroke_id": "s1",
                "kind": "stroke",
                **PEN,
                "points": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],
                "stroke_seq": 1,
                "ended": False,
            },
            {
                "stroke_id": "h1",
                "kind": "shape",
                "shape": "highlight",
                **PEN,
                "points": [[0.0, 0.0], [0.5, 0.5]],
            },
        ],
        "control": "off",
        "paused": False,
    }
    assert await store.session_of("user", "u1") == "ses_1"
    assert await store.session_of("advisor", "a1") == "ses_1"
    assert await store.session_of("advisor", "a2") is None


async def test_refusals_leave_no_board(store: SessionsStore) -> None:
    """A refused or repeated event creates no state: no snapshot is owed to anyone."""
    with pytest.raises(ProtocolError) as refused:
        await store.annotate(SESSION, ann("undo", stroke_id="nope"), 1.0)
    assert refused.value.code is ErrorCode.NOT_FOUND
    assert not await store.annotate(SESSION, ann("clear"), 1.0)
    assert await store.control(SESSION, ControlAction.REVOKE, "u1", 1.0) == (
        ConsentState.OFF,
        ConsentState.OFF,
    )
    assert await store.session_of("user", "u1") is None
    assert (await store.snapshot(SESSION.id)).strokes == []


async def test_consent_pause_input_and_audit(store: SessionsStore) -> None:
    """Consent changes, pause and inputs (accepted or refused) land in the audit log in order."""
    tap = ControlInput.parse({"session_id": SESSION.id, "action": "tap", "point": [0.25, 0.75]})
    assert await store.control(SESSION, ControlAction.REQUEST, "a1", 10.0) == (
        ConsentState.OFF,
        ConsentState.REQUESTED,
    )
    await store.control(SESSION, ControlAction.GRANT, "u1", 11.0)
    await store.control_input(SESSION, tap, "a1", 12.0)
    assert await store.share(SESSION, True, "u1", 13.0)
    assert not await store.share(SESSION, True, "u1", 13.5)
    with pytest.raises(ProtocolError, match="paused"):
        await store.control_input(SESSION, tap, "a1", 14.0)
    with pytest.raises(ProtocolError, match="paused"):
        await store.annotate(SESSION, ann("laser", point=[0.5, 0.5]), 14.5)
    await store.share(SESSION, False, "u1", 15.0)
    assert await store.annotate(SESSION, ann("laser", point=[0.5, 0.5]), 15.5)
    await store.control(SESSION, ControlAction.REVOKE, "u1", 16.0)
    snap = await store.snapshot(SESSION.id)
    assert (snap.control, snap.paused) == (ConsentState.REVOKED, False)
    assert [e.to_dict() for e in await store.audit(SESSION.id)] == [
        {"t": 10.0, "event": "control.request", "by": "a1", "side": "advisor", "from": "off"},
        {"t": 11.0, "event": "control.grant", "by": "u1", "side": "user", "from": "requested"},
        {
            "t": 12.0,
            "event": "control.input",
            "by": "a1",
            "side": "advisor",
            "action": "tap",
            "point": [0.25, 0.75],
        },
        {"t": 13.0, "event": "share.pause", "by": "u1", "side": "user"},
        {
            "t": 14.0,
            "event": "control.input.refused",
            "by": "a1",
            "side": "advisor",
            "action": "tap",
            "point": [0.25, 0.75],
            "reason": "input refused: the user paused screen sharing",
        },
        {"t": 15.0, "event": "share.resume", "by": "u1", "side": "user"},
        {"t": 16.0, "event": "control.revoke", "by": "u1", "side": "user", "from": "granted"},
    ]
    assert await store.audit("ses_other") == []


SCRIPT: list[tuple[str, dict[str, Any], Any]] = [
    ("stroke.begin", {"stroke_id": "a", **PEN, "points": [[0, 0]] * 3}, True),
    ("stroke.points", {"stroke_id": "a", "stroke_seq": 2, "points": [[0, 0]]}, "invalid_state"),
    ("stroke.points", {"stroke_id": "a", "stroke_seq": 1, "points": [[0, 0]] * 4}, "too_large"),
    ("stroke.points", {"stroke_id": "a", "stroke_seq": 1, "points": [[0, 0]] * 3}, True),
    ("stroke.points", {"stroke_id": "a", "stroke_seq": 1, "points": [[0, 0]] * 3}, False),
    ("stroke.begin", {"stroke_id": "b", **PEN, "points": [[0, 0]] * 4}, True),
    ("shape", {"stroke_id": "c", "shape": "box", **PEN, "points": [[0, 0], [1, 1]]}, "too_large"),
    ("stroke.end", {"stroke_id": "a"}, True),
    ("stroke.points", {"stroke_id": "a", "stroke_seq": 2, "points": [[0, 0]]}, "invalid_state"),
    ("undo", {"stroke_id": "b"}, True),
    ("stroke.begin", {"stroke_id": "b", **PEN}, "invalid_state"),
    ("stroke.begin", {"stroke_id": "c", **PEN}, True),
    ("stroke.begin", {"stroke_id": "d", **PEN}, True),
    ("stroke.begin", {"stroke_id": "e", **PEN}, "too_large"),
    ("clear", {}, True),
    ("stroke.end", {"stroke_id": "c"}, False),
    ("stroke.end", {"stroke_id": "zz"}, "not_found"),
]


async def test_limits_gaps_and_reuse_are_refused_alike(store: SessionsStore) -> None:
    """Under small limits both stores give the same answer to every step of one script."""
    small = MemorySessionsStore(SMALL) if isinstance(store, MemorySessionsStore) else None
    store = small or RedisSessionsStore(store.redis, limits=SMALL)  # type: ignore[attr-defined]
    answers = []
    for i, (kind, fields, _) in enumerate(SCRIPT):
        try:
            answers.append(await store.annotate(SESSION, ann(kind, **fields), float(i)))
        except ProtocolError as exc:
            answers.append(exc.code.value)
    assert answers == [expected for _, _, expected in SCRIPT]
    assert (await store.snapshot(SESSION.id)).strokes == []


async def test_the_redis_store_refuses_a_session_that_ended_or_is_gone(
    redis_server: RedisServer,
) -> None:
    """Every changing script checks the routing's session record, atomically with the
    change: ended is invalid_state, forgotten is not_found, and nothing is written."""
    redis = connect(redis_server.url)
    try:
        await live_session_in(redis)
        store = RedisSessionsStore(redis)
        await redis.hset(Keys().session(SESSION.id), "state", "ended")
        tap = ControlInput.parse({"session_id": SESSION.id, "action": "tap", "point": [0, 0]})
        attempts = [
            store.annotate(SESSION, ann("clear"), 1.0),
            store.annotate(SESSION, ann("laser", point=[0, 0]), 1.0),
            store.control(SESSION, ControlAction.REQUEST, "a1", 1.0),
            store.share(SESSION, True, "u1", 1.0),
            store.control_input(SESSION, tap, "a1", 1.0),
        ]
        for attempt in attempts:
            with pytest.raises(ProtocolError) as refused:
                await attempt
            assert (refused.value.code, refused.value.message) == (
                ErrorCode.INVALID_STATE,
                "session has ended",
            )
        await redis.delete(Keys().session(SESSION.id))
        with pytest.raises(ProtocolError) as gone:
            await store.annotate(SESSION, ann("clear"), 1.0)
        assert gone.value.code is ErrorCode.NOT_FOUND
        assert await redis.keys("*") == []
    finally:
        await redis.aclose()


# ---------------------------------------------------------------- differential

IDS = st.sampled_from(["a", "b", "c"])
LATEST = st.sampled_from(["a", "b", "c", "latest", "latest", "latest"])
POINT = st.tuples(st.integers(0, 4), st.integers(0, 4)).map(lambda p: [p[0] / 4, p[1] / 4])
PTS = st.lists(POINT, min_size=1, max_size=4)
ANNOTATIONS = st.one_of(
    st.builds(
        lambda i, p: ("annotate", "stroke.begin", {"stroke_id": i, **PEN, "points": p}),
        IDS,
        st.lists(POINT, max_size=3),
    ),
    st.builds(
        lambda i, s, p: (
            "annotate",
            "stroke.points",
            {"stroke_id": i, "stroke_seq": s, "points": p},
        ),
        IDS,
        st.sampled_from([1, 2, "next", "next", "next"]),
        PTS,
    ),
    st.builds(lambda i: ("annotate", "stroke.end", {"stroke_id": i}), LATEST),
    st.builds(
        lambda i, s: (
            "annotate",
            "shape",
            {"stroke_id": i, "shape": s, **PEN, "points": [[0, 0], [1, 1]]},
        ),
        IDS,
        st.sampled_from(["arrow", "box", "highlight"]),
    ),
    st.builds(lambda i: ("annotate", "undo", {"stroke_id": i}), IDS),
    st.just(("annotate", "clear", {})),
    st.just(("annotate", "laser", {"point": [0.5, 0.5]})),
)
OTHERS = st.one_of(
    st.builds(lambda a: ("control", a, {}), st.sampled_from(list(ControlAction))),
    st.builds(lambda p: ("share", p, {}), st.sampled_from([True, False, False])),
    st.just(("input", "tap", {})),
)
HISTORY = st.lists(st.one_of(ANNOTATIONS, ANNOTATIONS, ANNOTATIONS, OTHERS), max_size=50)


def _resolve(memory: MemorySessionsStore, op: tuple[Any, ...]) -> tuple[Any, ...]:
    """Stroke id "latest" becomes the newest stroke, and stroke_seq "next" the one that
    continues it (so that strokes grow to their limits), read from the memory store
    before both stores apply the event."""
    name, what, fields = op
    board = memory._boards.get(SESSION.id)
    strokes = board.drawing.strokes if board else {}
    if fields.get("stroke_id") == "latest":
        fields = {**fields, "stroke_id": list(strokes)[-1] if strokes else "a"}
    if fields.get("stroke_seq") == "next":
        stroke = strokes.get(fields["stroke_id"])
        fields = {**fields, "stroke_seq": stroke.seq + 1 if stroke else 1}
    return (name, what, fields)


async def _answer(store: SessionsStore, op: tuple[Any, ...], now: float) -> Any:
    name, what, fields = op
    try:
        if name == "annotate":
            return await store.annotate(SESSION, ann(what, **fields), now)
        if name == "control":
            return await store.control(SESSION, what, "x", now)
        if name == "share":
            return await store.share(SESSION, what, "u1", now)
        inp = ControlInput.parse({"session_id": SESSION.id, "action": "tap", "point": [0, 0]})
        return await store.control_input(SESSION, inp, "a1", now)
    except ProtocolError as exc:
        return (exc.code, exc.message)


async def _differential(ops: list[tuple[Any, ...]], url: str) -> None:
    redis = connect(url)
    await live_session_in(redis)
    try:
        memory, shared = MemorySessionsStore(SMALL), RedisSessionsStore(redis, limits=SMALL)
        for i, marked in enumerate(ops):
            op, now = _resolve(memory, marked), 1000.0 + i
            assert await _answer(memory, op, now) == await _answer(shared, op, now), (i, op)
        assert (await memory.snapshot(SESSION.id)) == (await shared.snapshot(SESSION.id))
        assert (await memory.audit(SESSION.id)) == (await shared.audit(SESSION.id))
        for role, sub in (("user", "u1"), ("advisor", "a1")):
            assert await memory.session_of(role, sub) == await shared.session_of(role, sub)
    finally:
        await redis.aclose()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=HISTORY)
def test_random_histories_give_identical_answers(
    redis_server: RedisServer, ops: list[tuple[Any, ...]]
) -> None:
    """Hypothesis drives both stores with the same random events under small limits: the same
    answers and refusals, then the same snapshot, audit log and peer index."""
    asyncio.run(_differential(ops, redis_server.url))


async def test_erasing_a_users_sessions_takes_their_audit_and_screen(store: SessionsStore) -> None:
    """Erasing the user's session drops its audit log, its drawing and the user's pointer
    to it (on Redis every board key, stroke points too), counts the audit entries, and
    leaves other sessions alone; a second erase counts nothing."""
    other = Session("ses_2", "req_2", "u2", "a1", "advisor", 1000.0)
    if isinstance(store, RedisSessionsStore):
        await store.redis.hset(
            Keys().session(other.id), mapping={"id": other.id, "state": "active"}
        )
    for session in (SESSION, other):
        fields = {"stroke_id": "s1", **PEN, "points": [[0.1, 0.2]]}
        begin = Annotation.parse({"session_id": session.id, "kind": "stroke.begin", **fields})
        assert await store.annotate(session, begin, 1.0)
        await store.share(session, True, session.user_id, 2.0)
        await store.share(session, False, session.user_id, 3.0)
    assert await store.session_of("user", "u1") == SESSION.id
    assert await store.erase("u1", (SESSION.id,)) == 2
    assert await store.audit(SESSION.id) == []
    assert (await store.snapshot(SESSION.id)).to_frame()["strokes"] == []
    assert await store.session_of("user", "u1") is None
    assert len(await store.audit(other.id)) == 2
    assert len((await store.snapshot(other.id)).to_frame()["strokes"]) == 1
    if isinstance(store, RedisSessionsStore):
        left = [k async for k in store.redis.scan_iter(match="*ses_1*")]
        assert left == [Keys().session(SESSION.id)]  # the routing's record is not the board's
    assert await store.erase("u1", (SESSION.id,)) == 0
