"""The floor: a bare aiohttp relay that pairs two sockets by room and forwards text frames.

    python -m load_tests.floor --port 0

No authentication, no parsing, no limits: whatever a relay in aiohttp must
pay at the very least. Kept in load_tests/ only, as the benchmarks' baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from aiohttp import WSMsgType, web

ROOMS = web.AppKey("rooms", dict[str, list[web.WebSocketResponse]])
PAIRED = '{"type":"paired"}'


async def relay(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    room = request.app[ROOMS].setdefault(request.query.get("room", ""), [])
    if len(room) >= 2:
        await ws.close(code=4409, message=b"room is full")
        return ws
    room.append(ws)
    if len(room) == 2:
        for peer in room:
            await peer.send_str(PAIRED)
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                for peer in room:
                    if peer is not ws:
                        with contextlib.suppress(ConnectionResetError):
                            await peer.send_str(msg.data)
    finally:
        room.remove(ws)
        if not room:
            request.app[ROOMS].pop(request.query.get("room", ""), None)
    return ws


async def serve(host: str, port: int) -> None:
    app = web.Application()
    app[ROOMS] = {}
    app.router.add_get("/ws", relay)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    print(f"floor relay serving on http://{host}:{bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
