"""Session state in Redis, shared by every server process: one Lua script per operation.

``lua/board.lua`` (prepended to each script) names the keys of ``mayday/stores/keys.py``
and opens a board on first change; ``lua/draw.lua`` is the twin of ``Drawing.apply``;
consent transitions are checked with the table of ``control.py`` passed in, so the
rules live in one place. Points are never decoded in Lua: Python writes each batch
as JSON once and the script appends the text.
"""

from __future__ import annotations

import json
from typing import Any, cast

from mayday.protocol.annotations import (
    Annotation,
    AnnotationSnapshot,
    ControlInput,
    wire_points,
)
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.routing.model import Session
from mayday.sessions.control import (
    PAUSED,
    TRANSITIONS,
    ConsentState,
    ControlAction,
    log_change,
)
from mayday.sessions.drawing import Limits, Stroke
from mayday.sessions.store import (
    AUDIT_TTL_S,
    BOARD_TTL_S,
    AuditEntry,
    control_entry,
    input_entry,
    share_entry,
)
from mayday.stores.keys import Keys
from mayday.stores.scripts import RedisClient, Script

SCRIPTS = ("draw", "control", "share", "input", "snapshot")


def _fragment(points: list[list[float]]) -> str:
    """JSON list items without the brackets: what the scripts append to a stroke."""
    return json.dumps(points, separators=(",", ":"))[1:-1]


class RedisSessionsStore:
    """``SessionsStore`` on the same Redis (and under the same hash tag) as the routing.

    Every changing script first reads the routing's session hash and refuses a
    session that is gone (``not_found``) or ended (``invalid_state``).
    """

    checks_session = True

    def __init__(
        self, redis: RedisClient, keys: Keys | None = None, limits: Limits | None = None
    ) -> None:
        self.redis = redis
        self.keys = keys or Keys()
        self.limits = limits or Limits()
        self._scripts = {
            n: Script(redis, n, package="mayday.sessions", prelude="board") for n in SCRIPTS
        }
        self._erase = Script(redis, "erase", package="mayday.sessions")

    async def _run(self, name: str, session: Session | str, now: float, *args: Any) -> Any:
        sid = session if isinstance(session, str) else session.id
        peers = ("", "") if isinstance(session, str) else (session.user_id, session.advisor_id)
        argv = [self.keys.prefix, sid, repr(now), BOARD_TTL_S, AUDIT_TTL_S, *peers, *args]
        return await self._scripts[name]([self.keys.board(sid)], argv)

    async def annotate(self, session: Session, a: Annotation, now: float) -> bool:
        meta: dict[str, Any] = {"kind": "shape" if a.kind == "shape" else "stroke"}
        if a.shape is not None:
            meta["shape"] = a.shape
        if a.color is not None:
            meta.update(color=a.color, width=a.width)
        lim = self.limits
        changed = await self._run(
            "draw",
            session,
            now,
            a.kind,
            a.stroke_id or "",
            json.dumps(meta),
            a.stroke_seq or 0,
            _fragment(wire_points(a.points)),
            len(a.points),
            lim.strokes,
            lim.stroke_points,
            lim.points,
            lim.retired,
        )
        return bool(int(changed))

    async def snapshot(self, session_id: str) -> AnnotationSnapshot:
        raw = json.loads(await self._run("snapshot", session_id, 0.0))
        strokes = []
        for stroke_id, meta_json, points in raw["strokes"] or []:
            meta = json.loads(meta_json)
            stroke = Stroke(
                stroke_id,
                meta["kind"],
                meta["color"],
                meta["width"],
                [(x, y) for x, y in json.loads(f"[{points}]")],
                meta.get("shape"),
                int(meta["seq"]),
                bool(meta["ended"]),
            )
            strokes.append(stroke.to_snapshot())
        control = ConsentState(raw["control"]).value
        return AnnotationSnapshot(session_id, strokes, control, bool(raw["paused"]))

    async def control(
        self, session: Session, action: ControlAction, by: str, now: float
    ) -> tuple[ConsentState, ConsentState]:
        rule = TRANSITIONS[action]
        entry = control_entry(action, by, now, ConsentState.OFF).to_dict()
        del entry["from"]
        head = json.dumps(entry, separators=(",", ":"))[:-1] + ',"from":'
        result = await self._run(
            "control",
            session,
            now,
            ",".join(sorted(rule.sources)),
            rule.target.value,
            ",".join(sorted(rule.repeats)),
            f"cannot {action}: {rule.refusal}",
            "1" if rule.needs_sharing else "0",
            f"cannot {action}: {PAUSED}",
            head,
        )
        old, new = (ConsentState(s) for s in str(result).split(","))
        if new != old:
            log_change(session.id, old, new)
        return old, new

    async def share(self, session: Session, paused: bool, by: str, now: float) -> bool:
        entry = share_entry(paused, by, now).to_json()
        return bool(int(await self._run("share", session, now, "1" if paused else "0", entry)))

    async def control_input(self, session: Session, inp: ControlInput, by: str, now: float) -> None:
        accepted = input_entry(inp, by, now).to_json()
        refused_head = input_entry(inp, by, now, "").to_json()[: -len(',"reason":""}')]
        reason = str(await self._run("input", session, now, accepted, refused_head + ',"reason":'))
        if reason:
            raise ProtocolError(ErrorCode.INVALID_STATE, reason)

    async def audit(self, session_id: str) -> list[AuditEntry]:
        raw = cast(list[str], await self.redis.lrange(self.keys.audit(session_id), 0, -1))
        return [AuditEntry.from_dict(json.loads(item)) for item in raw]

    async def session_of(self, role: str, sub: str) -> str | None:
        found = await self.redis.get(self.keys.board_of(role, sub))
        return None if found is None else str(found)

    async def erase(self, user_id: str, session_ids: tuple[str, ...]) -> int:
        if not session_ids:
            return 0
        argv = [self.keys.prefix, user_id, *session_ids]
        return int(await self._erase([self.keys.board(session_ids[0])], argv))
