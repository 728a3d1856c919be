"""A real webhook endpoint on loopback: it checks each POST with the Standard Webhooks
reference library, keeps what it was sent, and answers as the test scripted it."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]
    verified: bool


@dataclass
class Receiver:
    url: str
    secret: str = SECRET
    received: list[Received] = field(default_factory=list)
    # What to answer next, one entry per POST: (status, headers) or "hang"; then 200.
    script: list[tuple[int, dict[str, str]] | str] = field(default_factory=list)
    hold: asyncio.Event = field(default_factory=asyncio.Event)

    def endpoint(self, **extra: Any) -> dict[str, Any]:
        return {"url": self.url, "secret": self.secret, **extra}

    def types(self) -> list[str]:
        return [r.body.get("type", "") for r in self.received]

    async def wait_for(self, count: int, timeout: float = 15) -> list[Received]:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:  # noqa: ASYNC110 (the receiver runs in this loop)
                await asyncio.sleep(0.02)
        return self.received

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        headers = dict(request.headers)
        try:
            Webhook(self.secret).verify(raw, headers)
            verified = True
        except Exception:
            verified = False
        self.received.append(
            Received({k.lower(): v for k, v in headers.items()}, json.loads(raw), verified)
        )
        answer = self.script.pop(0) if self.script else (200, {})
        if answer == "hang":
            await self.hold.wait()
            return web.Response(status=200)
        status, extra = answer  # type: ignore[misc]
        return web.Response(status=status, headers=extra, text="scripted")


async def serve_receiver() -> AsyncIterator[Receiver]:
    app = web.Application()
    runner = web.AppRunner(app)
    receiver = Receiver("")
    app.router.add_post("/hook", receiver.handle)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield receiver
    receiver.hold.set()
    await runner.cleanup()
