"""Each socket's numbered frames, kept so that a new socket can take up where it left.

A ``Stream`` numbers the frames of one socket (``seq``) and keeps the ones worth
sending again (not the hello, not broadcasts of state sent again every second,
not laser moves), within bounds. When its socket closes, the stream is parked for
``MAYDAY_RESUME_GRACE_S``: frames for its identity are still numbered and kept in
it. A socket that opens with its single-use resume token and the last ``seq`` it
got claims it: the hello, then every kept frame after that ``seq``, in order,
then what comes next, with the numbering going on. When that cannot be done
(unknown or used token, past the grace, more missed than kept), the socket
starts a stream of its own and the server sends the current state instead.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mayday.transport.wire import numbered

KEEP_FRAMES = 256
KEEP_BYTES = 1 << 20
PARKED_PER_IDENTITY = 4


class Socket(Protocol):
    """What a stream knows of the socket that holds it."""

    def close(self, code: int, message: str) -> None: ...

    def release_stream(self) -> None:
        """Stop numbering on this stream: another socket took it over."""
        ...


@dataclass(eq=False, slots=True)
class Stream:
    key: tuple[str, str]
    token: str
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    keep_frames: int = KEEP_FRAMES
    keep_bytes: int = KEEP_BYTES
    seq: int = 0
    # A list, not a deque: an empty deque costs a 512-byte block, and most sockets'
    # streams keep nothing (idle sockets; the hello is not kept).
    kept: list[tuple[int, bytes]] = field(default_factory=list)
    kept_size: int = 0
    # The highest number dropped from ``kept`` to stay in bounds: a client that has less
    # than that cannot be given everything it missed.
    evicted_to: int = 0
    parked_at: float | None = None
    conn: Socket | None = None

    def number(self, body: bytes, keep: bool = True) -> bytes:
        """The next number for ``body`` (a frame without its ``seq``), kept if asked."""
        self.seq += 1
        if keep:
            # A copy of its own size: orjson's bytes keep the 4 KiB buffer they were
            # written in, and a stream keeps up to 256 frames for the whole grace.
            self.kept.append((self.seq, bytes(memoryview(body))))
            self.kept_size += len(body)
            while len(self.kept) > self.keep_frames or self.kept_size > self.keep_bytes:
                seq, old = self.kept.pop(0)
                self.kept_size -= len(old)
                self.evicted_to = seq
        return numbered(body, self.seq)

    def replay_after(self, last_seq: int) -> list[bytes] | None:
        """Every kept frame after ``last_seq``, numbered, or None when some are gone (or
        the client claims more than was ever sent: its state is not this stream's)."""
        if last_seq < self.evicted_to or last_seq > self.seq or last_seq < 0:
            return None
        return [numbered(body, seq) for seq, body in self.kept if seq > last_seq]


@dataclass(frozen=True)
class Resume:
    """What a reconnecting socket asks for: ``?resume=TOKEN&last_seq=N``."""

    token: str
    last_seq: int

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Resume | None:
        """The ask, or None without one; a ``last_seq`` that is not a whole number of at
        most 15 digits makes an ask that cannot be met (the socket then re-syncs)."""
        token = query.get("resume")
        if not token:
            return None
        raw = query.get("last_seq", "")
        last = int(raw) if raw.isdigit() and len(raw) <= 15 else -1
        return cls(token[:128], last)


@dataclass(frozen=True)
class Claim:
    stream: Stream
    replay: list[bytes]
    # The socket the stream still had (a half-open one the client gave up on): it is
    # closed, the claiming socket replaces it.
    replaced: Socket | None


class Streams(Protocol):
    """Where streams are parked and claimed: this process (``StreamBook``), or Redis
    (``mayday.transport.redis_streams.RedisStreamBook``), where any node can claim them."""

    grace_s: float
    keep_frames: int
    # True when claiming registers the socket's location (Redis): frames this node makes
    # for an identity being claimed then go round through Redis (see Server.attach).
    claim_registers: bool

    def open(self, key: tuple[str, str]) -> Stream: ...

    async def claim(
        self, token: str, key: tuple[str, str], last_seq: int, now: float, node: str = ""
    ) -> Claim | None: ...

    async def park(self, stream: Stream, now: float) -> None: ...

    def live_here(self, token: str) -> bool:
        """The stream of ``token`` still has a socket in this process (a resume of it
        replaces that socket)."""
        ...

    def parked(self, key: tuple[str, str]) -> list[Stream]:
        """The streams of ``key`` parked in this process, to number frames into."""
        ...

    def expire(self, now: float) -> None: ...


class StreamBook:
    """The streams of this process, live and parked (the embedded backend's journal)."""

    claim_registers = False

    def __init__(self, grace_s: float, keep_frames: int = KEEP_FRAMES) -> None:
        self.grace_s = grace_s
        self.keep_frames = keep_frames
        self._by_token: dict[str, Stream] = {}
        self._parked: dict[tuple[str, str], list[Stream]] = {}
        # (parked at, token) in parking order, for expiry without a scan; an entry whose
        # stream was claimed, forgotten or parked again since is stale and skipped. The
        # token, not the stream: a stale entry must not hold a forgotten stream's frames
        # (up to ``KEEP_BYTES``) for the rest of the grace.
        self._expiry: deque[tuple[float, str]] = deque()

    def open(self, key: tuple[str, str]) -> Stream:
        stream = Stream(key, new_token(), keep_frames=self.keep_frames)
        self._by_token[stream.token] = stream
        return stream

    async def claim(
        self, token: str, key: tuple[str, str], last_seq: int, now: float, node: str = ""
    ) -> Claim | None:
        """Take over the stream of ``token`` for a new socket of ``key``; the token is used
        up either way (single use), and a new one is given to the stream."""
        self.expire(now)
        stream = self._by_token.pop(token, None)
        if stream is None or stream.key != key:
            if stream is not None:  # someone else's token: theirs stays valid
                self._by_token[token] = stream
            return None
        self._unpark(stream)
        return take_over(stream, last_seq, self._by_token)

    async def park(self, stream: Stream, now: float) -> None:
        """Its socket closed: keep the stream for the grace, bounded per identity."""
        self.expire(now)
        stream.conn, stream.parked_at = None, now
        self._expiry.append((now, stream.token))
        parked = self._parked.setdefault(stream.key, [])
        parked.append(stream)
        while len(parked) > PARKED_PER_IDENTITY:
            self._forget(parked.pop(0))

    def parked(self, key: tuple[str, str]) -> list[Stream]:
        return self._parked.get(key, [])

    def live_here(self, token: str) -> bool:
        stream = self._by_token.get(token)
        return stream is not None and stream.conn is not None

    def expire(self, now: float) -> None:
        """Forget streams parked longer than the grace."""
        deadline = now - self.grace_s
        while self._expiry and self._expiry[0][0] <= deadline:
            at, token = self._expiry.popleft()
            stream = self._by_token.get(token)
            if stream is not None and stream.parked_at == at:
                self._forget(stream)

    def _forget(self, stream: Stream) -> None:
        self._unpark(stream)
        if self._by_token.get(stream.token) is stream:
            del self._by_token[stream.token]

    def _unpark(self, stream: Stream) -> None:
        parked = self._parked.get(stream.key)
        if parked is not None and stream in parked:
            parked.remove(stream)
            if not parked:
                del self._parked[stream.key]
        stream.parked_at = None

    def __len__(self) -> int:
        return len(self._by_token)


def take_over(stream: Stream, last_seq: int, by_token: dict[str, Stream]) -> Claim | None:
    """A new socket takes ``stream`` up after ``last_seq`` (None: more was missed than it
    kept): the socket it had is handed back to be closed, and it gets a new token."""
    replay = stream.replay_after(last_seq)
    if replay is None:
        return None
    replaced, stream.conn = stream.conn, None
    stream.token = new_token()
    by_token[stream.token] = stream
    return Claim(stream, replay, replaced)


def new_token() -> str:
    return secrets.token_urlsafe(24)
