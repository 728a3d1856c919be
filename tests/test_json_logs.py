"""``MAYDAY_LOG_FORMAT=json``: the log of a whole help request, read back line by line,
is one JSON object a line, names who and what each record concerns, and holds no token
and no secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from mayday.auth import issue_token
from mayday.client import HelpOffer, MaydayClient, SessionEnded, SessionStarted, SignalRelayed
from tests.conftest import SECRET
from tests.serving import clean_env, serve
from tests.test_log_safety import raw_request

TURN_SECRET = "turn-secret-for-the-log-test-0123456789"
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


async def whole_help_request(ws_url: str, tokens: dict[str, str]) -> dict[str, Any]:
    """Advisor available, user asks, offer, accept, an SDP both ways, first frame, end;
    the session's ids and the TURN credential it was given."""
    async with (
        await MaydayClient.connect(ws_url, tokens["advisor"]) as advisor,
        await MaydayClient.connect(ws_url, tokens["user"]) as user,
    ):
        await advisor.set_available()
        queued = await user.request_help(topic="printer")
        offer = await advisor.next(HelpOffer)
        started = await advisor.accept(offer.request_id)
        await user.next(SessionStarted)
        await advisor.signal(started.session_id, description={"type": "offer", "sdp": SDP})
        await user.next(SignalRelayed)
        await user.signal(started.session_id, description={"type": "answer", "sdp": SDP})
        await advisor.next(SignalRelayed)
        await user.report_media(started.session_id, "first_frame")
        await user.end_session(started.session_id)
        await advisor.next(SessionEnded)
    turn = next(s for s in started.ice_servers if s.get("credential"))
    return {
        "request_id": queued.request_id,
        "session_id": started.session_id,
        "credential": turn["credential"],
    }


async def test_the_json_log_of_a_whole_help_request(tmp_path: Path) -> None:
    """Every line is a JSON record with time, level, logger and message; the routing's
    records name the identity, the request and the session; no token, secret or TURN
    credential is anywhere in it, the ops API's bearer and query tokens included."""
    tokens = {
        role: issue_token(SECRET, role=role, sub=f"{role}-1", name=f"{role.title()} One")
        for role in ("user", "advisor", "ops")
    }
    env = clean_env(
        MAYDAY_JWT_SECRET=SECRET,
        MAYDAY_LOG_FORMAT="json",
        MAYDAY_LOG_LEVEL="DEBUG",
        MAYDAY_TURN_URLS="turn:127.0.0.1:3478",
        MAYDAY_TURN_SECRET=TURN_SECRET,
    )
    with serve(tmp_path / "server", env=env) as server:
        ids = await whole_help_request(server.ws_url, tokens)
        async with aiohttp.ClientSession() as http:
            bearer = {"Authorization": f"Bearer {tokens['ops']}"}
            async with http.get(f"{server.base}/api/ops/summary", headers=bearer) as r:
                assert r.status == 200
            # A token in the address is refused (and must not reach the log either).
            csv_url = f"{server.base}/api/ops/requests?format=csv&token={tokens['ops']}"
            async with http.get(csv_url) as r:
                assert r.status == 401
            async with http.get(f"{server.base}/api/ops/requests?format=csv", headers=bearer) as r:
                assert r.status == 200
        raw_request(server.base, f"GET /ws?token={tokens['user']} x HTTP/1.1\r\n\r\n".encode())
        assert server.stop() == 0
        log = server.stderr

    records = [json.loads(line) for line in log.splitlines()]
    assert len(records) > 10
    for entry in records:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
        assert entry["time"].endswith("Z") and "T" in entry["time"]
    routing = [e for e in records if e["logger"] == "mayday.routing.core"]
    asked = [e for e in routing if "new from user user-1" in e["message"]]
    assert asked and asked[0].get("identity") == "user/user-1", routing
    assert any(e.get("request_id") == ids["request_id"] for e in routing), routing
    assert any(e.get("session_id") == ids["session_id"] for e in records), records
    access = [e for e in records if e["logger"] == "aiohttp.access"]
    assert any(
        "/api/ops/summary" in e["message"] and e.get("identity") == "ops/ops-1" for e in access
    )
    assert any(e["level"] == "ERROR" and "exception" in e for e in records)  # the bad request
    for secret in (SECRET, TURN_SECRET, ids["credential"]):
        assert secret not in log
    for token in tokens.values():
        for part in token.split("."):
            assert part not in log
