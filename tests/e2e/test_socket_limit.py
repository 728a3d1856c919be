"""Issue 16, finding 5: one identity cannot open sockets without bound (every frame for
it fans out to all of them)."""

from __future__ import annotations

import json

import aiohttp

from tests.conftest import StartServer


async def test_a_socket_past_the_limit_is_closed_4429_and_the_others_live(
    start_server: StartServer,
) -> None:
    """Three sockets allowed: the fourth gets `too_many_sockets` and close 4429; the three
    still work, another identity is not counted with them, and once one closes a new
    socket is let in."""
    harness = await start_server(max_sockets_per_identity=3)
    token = harness.token("user", "u1")
    async with aiohttp.ClientSession() as http:
        open_ = [await http.ws_connect(harness.ws_url, params={"token": token}) for _ in range(3)]
        for ws in open_:
            assert json.loads((await ws.receive()).data)["type"] == "hello"
        extra = await http.ws_connect(harness.ws_url, params={"token": token})
        refused = json.loads((await extra.receive()).data)
        assert refused["code"] == "too_many_sockets"
        assert (await extra.receive()).type is aiohttp.WSMsgType.CLOSE
        assert extra.close_code == 4429
        other = await harness.client("user", "u2")
        await other.request_help()
        await open_[0].send_str(json.dumps({"type": "help.request", "id": 7}))
        frames = [json.loads((await open_[0].receive()).data) for _ in range(2)]
        assert {f["type"] for f in frames} == {"ack", "help.queued"}
        await open_[1].close()
        again = await http.ws_connect(harness.ws_url, params={"token": token})
        assert json.loads((await again.receive()).data)["type"] == "hello"
        for ws in [*open_[2:], again]:
            await ws.close()
        await other.close()


async def test_a_resume_at_the_limit_replaces_its_half_open_socket(
    start_server: StartServer,
) -> None:
    """At the limit, a socket that resumes one of them takes its place (4409 for the old
    one) instead of being refused."""
    harness = await start_server(max_sockets_per_identity=1)
    token = harness.token("user", "u1")
    async with aiohttp.ClientSession() as http:
        old = await http.ws_connect(harness.ws_url, params={"token": token})
        hello = json.loads((await old.receive()).data)
        params = {"token": token, "resume": hello["resume_token"], "last_seq": "1"}
        new = await http.ws_connect(harness.ws_url, params=params)
        assert json.loads((await new.receive()).data)["resumed"] is True
        assert (await old.receive()).type is aiohttp.WSMsgType.CLOSE
        assert old.close_code == 4409
        await new.close()
