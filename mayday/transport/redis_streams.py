"""Parked streams in Redis: a socket that closes on one node can be resumed on any node.

A live stream stays in the memory of the node that holds its socket (numbering a
frame costs no round trip). When the socket closes, ``park.lua`` writes the stream
(its number, its kept frames, its resume token) to Redis for the grace period,
and from then on the relay's ``deliver.lua`` numbers every frame for the identity
into it. ``claim.lua`` gives it to a socket on any node and registers that node in
the identity's location in the same step. A socket that resumes on the node whose old
socket is still open (a half-open link the server has not yet seen die) takes the live
stream over here, as on the embedded store. A node killed with ``kill -9`` parks
nothing: its sockets' clients resume elsewhere with ``resumed: false`` and get the
current state (docs/protocol.md, "Resuming").
"""

from __future__ import annotations

from typing import Protocol, cast

from mayday.stores.keys import Keys
from mayday.stores.scripts import RedisClient, Script
from mayday.transport.streams import (
    KEEP_BYTES,
    KEEP_FRAMES,
    PARKED_PER_IDENTITY,
    Claim,
    Stream,
    new_token,
    take_over,
)


class Inbox(Protocol):
    """This node's inbox reader (``RedisRelay``): its node and the last entry it handed
    to the sockets here (batches are handed over without an await, so at any await this
    is exact)."""

    node_id: str
    last_id: str


class RedisStreamBook:
    claim_registers = True

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        grace_s: float,
        keep_frames: int = KEEP_FRAMES,
        inbox: Inbox | None = None,
    ) -> None:
        self.keys, self.grace_s, self.keep_frames = keys, grace_s, keep_frames
        self.inbox = inbox
        self._park = Script(redis, "park")
        self._claim = Script(redis, "claim")
        self._live: dict[str, Stream] = {}  # token -> a stream with a socket on this node

    def open(self, key: tuple[str, str]) -> Stream:
        stream = Stream(key, new_token(), keep_frames=self.keep_frames)
        self._live[stream.token] = stream
        return stream

    async def park(self, stream: Stream, now: float) -> None:
        if self._live.get(stream.token) is stream:
            del self._live[stream.token]
        role, sub = stream.key
        frames = [f"{seq}\t{body.decode()}" for seq, body in stream.kept]
        args: list[str | int | float] = [self.keys.prefix, stream.id, role, sub, stream.token]
        args += [stream.seq, stream.evicted_to, self.grace_s, now, PARKED_PER_IDENTITY]
        # Where this node's inbox reader is now: what it reads from here on for this
        # identity, park.lua numbers into the stream (the socket is held: see Server).
        inbox = self.inbox
        args += [inbox.node_id, inbox.last_id] if inbox is not None else ["", "0-0"]
        args += [stream.keep_frames, stream.keep_bytes]
        stream.conn = None
        await self._park([self.keys.stream(stream.id)], [*args, *frames])

    async def claim(
        self, token: str, key: tuple[str, str], last_seq: int, now: float, node: str = ""
    ) -> Claim | None:
        live = self._live.get(token)
        if live is not None:  # its socket is still open here (a half-open link)
            if live.key != key:
                return None  # someone else's token: theirs stays valid
            del self._live[token]  # used up either way
            return take_over(live, last_seq, self._live)
        role, sub = key
        args = [self.keys.prefix, node, role, sub, token]
        raw = cast(list[str], await self._claim([self.keys.location(role, sub)], args))
        if not raw:
            return None
        stream = Stream(key, new_token(), keep_frames=self.keep_frames)
        stream.seq, stream.evicted_to = int(raw[0]), int(raw[1])
        for entry in raw[2:]:
            seq, body = entry.split("\t", 1)
            data = body.encode()
            stream.kept.append((int(seq), data))
            stream.kept_size += len(data)
        replay = stream.replay_after(last_seq)
        if replay is None:
            return None
        self._live[stream.token] = stream
        return Claim(stream, replay, None)

    def live_here(self, token: str) -> bool:
        stream = self._live.get(token)
        return stream is not None and stream.conn is not None

    def parked(self, key: tuple[str, str]) -> list[Stream]:
        return []  # numbered in Redis by deliver.lua

    def expire(self, now: float) -> None:
        return None  # the keys expire by themselves


__all__ = ["KEEP_BYTES", "RedisStreamBook"]
