"""A small TCP proxy for tests: a load balancer in front of server nodes, and a link
that can be cut for real (reset, then new connections refused), which
``context.set_offline`` cannot do to an open loopback socket."""

from __future__ import annotations

import asyncio
import contextlib
import itertools


class TcpProxy:
    """Listens on a free loopback port; each new connection goes to the next target that
    is not marked down (round robin), bytes copied both ways until either side closes."""

    def __init__(self, targets: list[tuple[str, int]]) -> None:
        self.targets = list(targets)
        self.down: set[int] = set()
        self.refusing = False  # new connections are reset at once, as a closed port does
        self.port = 0
        self._turn = itertools.count()
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, path: str = "/ws", scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def cut(self) -> int:
        """Reset every open connection (no close frame, as a dead Wi-Fi link ends);
        returns how many were cut."""
        links = list(self._links)
        for client, upstream in links:
            for writer in (client, upstream):
                writer.transport.abort()
        return len(links)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        if self._server is not None:
            await self._server.wait_closed()

    def _next_target(self) -> tuple[str, int] | None:
        live = [i for i in range(len(self.targets)) if i not in self.down]
        if not live:
            return None
        return self.targets[live[next(self._turn) % len(live)]]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        target = self._next_target()
        if self.refusing:
            writer.transport.abort()
            return
        if target is None:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.transport.abort()
            return
        link = (writer, up_writer)
        self._links.add(link)
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, link), self._pipe(up_reader, writer, link)
            )
        finally:
            self._links.discard(link)
            for w in link:
                w.transport.abort()

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        link: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        for w in link:  # one side closed: so does the other
            w.transport.abort()
