"""Annotations and control across two server processes sharing one Redis."""

from __future__ import annotations

import asyncio

import pytest

from mayday.client import (
    AnnotationRelayed,
    AnnotationSnapshot,
    ControlInputRelayed,
    ControlState,
)
from tests.annotations.helpers import PEN, draw, frame, paired
from tests.conftest import StartServer


@pytest.fixture
def redis_url(any_redis_url: str) -> str:
    """Every test here that takes ``redis_url`` runs on each Redis topology in turn: one
    server, a three-master Cluster, a Sentinel's master."""
    return any_redis_url


async def test_snapshot_follows_the_user_to_another_node(
    start_server: StartServer, redis_url: str
) -> None:
    """Drawn through node B, the drawing reaches the user's new socket on node A whole, the
    session survives the old socket closing, and control works across the nodes."""
    node_a, node_b = [await start_server(redis_url=redis_url) for _ in range(2)]
    user, advisor, sid = await paired(node_b, node_a)  # user on B, advisor on A
    await draw(advisor, sid, "stroke.begin", stroke_id="s1", **PEN, points=[[0.1, 0.1]])
    await draw(advisor, sid, "stroke.points", stroke_id="s1", stroke_seq=1, points=[[0.9, 0.9]])
    await draw(advisor, sid, "stroke.end", stroke_id="s1")
    assert (await frame(user, AnnotationRelayed)).kind == "stroke.begin"

    moved = await node_a.client("user", "u1")  # the tablet reconnects, to the other node
    snapshot = await frame(moved, AnnotationSnapshot)
    assert snapshot == AnnotationSnapshot(
        session_id=sid,
        strokes=[
            {
                "stroke_id": "s1",
                "kind": "stroke",
                **PEN,
                "points": [[0.1, 0.1], [0.9, 0.9]],
                "stroke_seq": 1,
                "ended": True,
            }
        ],
        control="off",
        paused=False,
    )
    await user.close()
    await asyncio.sleep(0.2)
    await draw(advisor, sid, "undo", stroke_id="s1")
    assert await frame(moved, AnnotationRelayed) == AnnotationRelayed(sid, "undo", stroke_id="s1")
    await advisor.call("control.request", session_id=sid)
    assert (await frame(moved, ControlState)).state == "requested"
    await moved.call("control.grant", session_id=sid)
    await advisor.call("control.input", session_id=sid, action="tap", point=[0.5, 0.5])
    assert (await frame(moved, ControlInputRelayed)).point == [0.5, 0.5]
    entries = await node_b.server.boards.audit(sid)
    assert [e.event for e in entries] == ["control.request", "control.grant", "control.input"]
    assert await node_b.server.boards.snapshot(sid) == (await node_a.server.boards.snapshot(sid))
