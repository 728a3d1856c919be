"""Business hours over real sockets (issue 12): outside them, or with nobody online who
could take the request, `help.queued` says `offline` at once, with the next opening in
`back_at` when the hours know it."""

from __future__ import annotations

from tests.conftest import StartServer
from tests.hours import closed_until_the_day_after_tomorrow


async def test_outside_the_hours_help_queued_says_offline_and_when_it_opens(
    start_server: StartServer,
) -> None:
    await offline_until_opening(start_server)


async def test_outside_the_hours_on_redis_too(start_server: StartServer, redis_url: str) -> None:
    await offline_until_opening(start_server, redis_url=redis_url)


async def offline_until_opening(start_server: StartServer, **overrides: object) -> None:
    hours, opens = closed_until_the_day_after_tomorrow()
    h = await start_server(hours=hours, **overrides)
    advisor = await h.client("advisor", "a1")  # online, but away
    await advisor.call("advisor.state", state="away")
    user = await h.client("user", "u1")
    queued = await user.request_help()
    assert (queued.offline, queued.back_at) == (True, opens)


async def test_within_the_hours_offline_follows_whether_anyone_could_answer(
    start_server: StartServer,
) -> None:
    h = await start_server()  # no hours: always open
    user = await h.client("user", "u1")
    alone = await user.request_help()
    assert (alone.offline, alone.back_at, alone.estimated_wait_s) == (True, None, None)
    advisor = await h.client("advisor", "a1")
    await advisor.call("advisor.state", state="away")
    await user.cancel(alone.request_id)
    await advisor.set_available()
    offered = await user.request_help()
    assert (offered.offline, offered.back_at, offered.state) == (False, None, "offered")
