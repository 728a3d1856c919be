"""Adversarial client frames, and the checks every answer to them must pass (issue 16).

One generator for the Hypothesis tests (tests/security/test_fuzz.py, which hand it a
Hypothesis ``Random``) and the load test (``load_tests/fuzz.py``, a seeded one): every
client frame type, valid or mutated (a field missing, of the wrong type, too long, out of
range, unicode edge cases, huge numbers, NaN, duplicate keys, deep nesting, extra fields,
a bad ``id`` or ``type``, not an object, not JSON, over the size limit), and the rarer
frames the WebSocket layer refuses (binary; invalid UTF-8, closed 1007; over 1 MiB, closed
1009). Frames name the sender's own live session and request, another pair's, made-up
ones, so that handlers run their deep paths as well as their refusals.

``FuzzSocket`` sends them and checks every frame that comes back: ``seq`` with no gap,
``error`` only with a documented code (``ALLOWED_CODES``: never ``internal_error``), an
answer for every frame that carried a readable ``id``, no close but the documented ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import orjson

from mayday.protocol.errors import ErrorCode

# What a frame on an open socket may be refused with: the documented codes, less the
# server bug and the three that only come with a refused socket or plain HTTP.
ALLOWED_CODES = frozenset(c.value for c in ErrorCode) - {
    ErrorCode.INTERNAL_ERROR.value,
    ErrorCode.UNAUTHORIZED.value,
    ErrorCode.TOO_MANY_SOCKETS.value,
    ErrorCode.DRAINING.value,
}
CLOSE_INVALID_UTF8 = 1007
CLOSE_TOO_BIG = 1009
MAX_FRAME_BYTES = 65536
HARD_CAP = 1 << 20
RAW = "@@raw@@"

Frame = dict[str, Any]
Rng = random.Random


# ---------------------------------------------------------------- ids the frames name
@dataclass
class Ids:
    """The ids a socket's frames may name: its own (harvested from what it receives),
    another pair's (foreign), tokens for ``auth.refresh``; made-up ones are added here."""

    sessions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    foreign_sessions: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)

    def learn(self, frame: Frame) -> None:
        """Keep the session and request ids of a frame the server sent (the last 8), and
        which sessions ended."""
        if frame.get("type") == "session.ended":
            self.ended.add(str(frame.get("session_id")))
        for name, kept in (("session_id", self.sessions), ("request_id", self.requests)):
            value = frame.get(name)
            if isinstance(value, str) and value not in kept:
                kept.append(value)
                del kept[:-8]

    def session_id(self, rng: Rng) -> Any:
        return _pick_id(rng, self.sessions, self.foreign_sessions, "ses")

    def request_id(self, rng: Rng) -> Any:
        return _pick_id(rng, self.requests, self.foreign_requests, "req")

    def token(self, rng: Rng) -> str:
        if self.tokens and rng.random() < 0.5:
            return rng.choice(self.tokens)
        return rng.choice(FAKE_TOKENS)


FAKE_TOKENS = (
    "",
    "not.a.jwt",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6Im9wcyJ9.",
    "eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
    "a" * 9000,
    "\u202e.\u0000.\u00e9",
)


def _pick_id(rng: Rng, own: list[str], foreign: list[str], prefix: str) -> str:
    roll = rng.random()
    if own and roll < 0.55:
        return rng.choice(own)
    if foreign and roll < 0.75:
        return rng.choice(foreign)
    if roll < 0.9:
        return f"{prefix}_{rng.getrandbits(128):032x}"
    return rng.choice(WEIRD_STRINGS)


# ---------------------------------------------------------------- valid frames, by type
def _sdp(rng: Rng) -> str:
    return "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n" + "a=x\r\n" * rng.randint(0, 20)


def _candidate(rng: Rng) -> Frame | None:
    if rng.random() < 0.2:
        return None
    return {
        "candidate": f"candidate:{rng.randint(1, 9)} 1 udp 2122260223 192.0.2.1 5000 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": rng.randint(0, 3),
        "usernameFragment": "abcd",
    }


def _signal(rng: Rng, ids: Ids) -> Frame:
    frame: Frame = {"type": "signal", "session_id": ids.session_id(rng)}
    if rng.random() < 0.4:
        sdp_type = rng.choice(("offer", "answer", "pranswer", "rollback"))
        frame["description"] = {"type": sdp_type, "sdp": _sdp(rng)}
    else:
        frame["candidate"] = _candidate(rng)
    return frame


def _xy(rng: Rng) -> list[float]:
    return [round(rng.random(), 4), round(rng.random(), 4)]


def _annotation(rng: Rng, ids: Ids) -> Frame:
    kind = rng.choice(("stroke.begin", "stroke.points", "stroke.end", "shape", "laser", "undo"))
    frame: Frame = {"type": "annotation", "session_id": ids.session_id(rng), "kind": kind}
    stroke = {"stroke_id": f"s{rng.randint(1, 5)}"}
    pen = {"color": "#ff0000", "width": 0.01}
    if kind == "stroke.begin":
        frame |= stroke | pen | {"points": [_xy(rng)]}
    elif kind == "stroke.points":
        frame |= stroke | {"stroke_seq": rng.randint(1, 4), "points": [_xy(rng), _xy(rng)]}
    elif kind == "shape":
        frame |= stroke | pen | {"shape": "arrow", "points": [_xy(rng), _xy(rng)]}
    elif kind == "laser":
        frame["point"] = _xy(rng) if rng.random() < 0.8 else None
    elif kind != "clear":
        frame |= stroke
    return frame


def _session_only(type_: str) -> Callable[[Rng, Ids], Frame]:
    return lambda rng, ids: {"type": type_, "session_id": ids.session_id(rng)}


def _request_only(type_: str) -> Callable[[Rng, Ids], Frame]:
    return lambda rng, ids: {"type": type_, "request_id": ids.request_id(rng)}


TEMPLATES: dict[str, Callable[[Rng, Ids], Frame]] = {
    "help.request": lambda rng, ids: {
        "type": "help.request",
        "topic": rng.choice(("billing", "wifi", "printer")),
        "language": "en",
        "skills": ["general"],
        "device": {"model": "Tab", "os": {"name": "android", "version": "14"}},
    },
    "help.cancel": _request_only("help.cancel"),
    "help.accept": _request_only("help.accept"),
    "help.decline": _request_only("help.decline"),
    "help.history": _request_only("help.history"),
    "advisor.state": lambda rng, ids: {
        "type": "advisor.state",
        "state": rng.choice(("available", "away")),
    },
    "signal": _signal,
    "media.state": lambda rng, ids: {
        "type": "media.state",
        "session_id": ids.session_id(rng),
        "state": rng.choice(("connecting", "connected", "first_frame", "failed", "restarting")),
        "detail": "fuzz",
    },
    "session.end": lambda rng, ids: {
        "type": "session.end",
        "session_id": ids.session_id(rng),
        "reason": "done",
    },
    "session.note": lambda rng, ids: {
        "type": "session.note",
        "session_id": ids.session_id(rng),
        "text": rng.choice(("Printer fixed.", "x" * 2000, "  ", "Wi-Fi ✓ 📶")),
    },
    "session.rate": lambda rng, ids: {
        "type": "session.rate",
        "session_id": ids.session_id(rng),
        "score": rng.choice((1, 5, 0, 6, True, 4.0, "3")),
        "comment": rng.choice((None, "Quick and kind.", "x" * 1001, "  ", 7)),
    },
    "session.transfer": lambda rng, ids: {
        "type": "session.transfer",
        "session_id": ids.session_id(rng),
        "to": rng.choice(({"advisor": "a2"}, {"skills": ["printer"]}, {"skills": []}, {}, "a2")),
        "note": rng.choice((None, "Needs a printer expert.", "x" * 501, 7)),
        "mode": rng.choice(("warm", "cold", "hot")),
    },
    "message.leave": lambda rng, ids: {
        "type": "message.leave",
        "text": rng.choice(("Printer jams.", "x" * 2000, "x" * 2001, "  ", "Wi-Fi ✓ 📶")),
        "request_id": rng.choice((None, ids.request_id(rng))),
        "contact": rng.choice((None, "+33 6 00 00 00 00", "x" * 201, 7)),
    },
    "message.reply": lambda rng, ids: {
        "type": "message.reply",
        "message_id": _pick_id(rng, [], [], "msg"),
        "text": rng.choice(("Try turning it off and on.", "x" * 2001, "")),
    },
    "message.read": lambda rng, ids: {
        "type": "message.read",
        "message_id": _pick_id(rng, [], [], "msg"),
    },
    "ping": lambda rng, ids: {"type": "ping", "data": rng.choice(("x", 1, 2.5, None))},
    "auth.refresh": lambda rng, ids: {"type": "auth.refresh", "token": ids.token(rng)},
    "annotation": _annotation,
    "annotation.snapshot": _session_only("annotation.snapshot"),
    "control.request": _session_only("control.request"),
    "control.grant": _session_only("control.grant"),
    "control.deny": _session_only("control.deny"),
    "control.revoke": _session_only("control.revoke"),
    "control.input": lambda rng, ids: {
        "type": "control.input",
        "session_id": ids.session_id(rng),
        "action": rng.choice(("tap", "scroll")),
        "point": _xy(rng),
        "delta": [0.1, -0.2],
    },
    "share.pause": _session_only("share.pause"),
    "share.resume": _session_only("share.resume"),
}
CLIENT_TYPES = tuple(TEMPLATES)


# ---------------------------------------------------------------- hostile values
WEIRD_STRINGS = (
    "",
    " ",
    "\u0000",
    "\n",
    "%0A",
    "\r\nX-Injected: 1",
    "\x1b[31mred",
    "\u202eevil",
    "e\u0301\u0301\u0301",
    "\ufeff",
    "\uffff",
    "\ud800",  # a lone surrogate: JSON may write it, strict parsers refuse it
    "\udfff\ud800",
    "\U0001f600" * 40,
    "\u00e9" * 300,
    "null",
    "__proto__",
    "../../etc/passwd",
    "ses_" + "0" * 60,
    "'; DROP TABLE x; --",
)
WRONG_TYPES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1.5,
    "",
    "x",
    [],
    [1, 2],
    {},
    {"a": 1},
    [[0.5, 0.5]],
)
OUT_OF_RANGE: tuple[Any, ...] = (
    -1,
    0,
    2,
    -0.0001,
    1.0001,
    1e308,
    -1e308,
    5e-324,
    2**31,
    2**53 + 1,
    2**63,
    2**64 - 1,
    -(2**63),
)
RAW_NUMBERS = (
    "1e400",
    "-1e400",
    "123456789012345678901234567890",
    "18446744073709551616",
    "-0",
    "1E+2",
    "0.00000000000000000000000000001",
    "1" * 400,
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    "01",
    "+1",
    ".5",
)
BAD_IDS: tuple[Any, ...] = ("1", 1.5, True, None, [1], {"a": 1}, 2**64, -(2**70), 1e300)
BAD_TYPES: tuple[Any, ...] = (
    None,
    1,
    True,
    [],
    {},
    "",
    "hello",
    "HELP.REQUEST",
    "help.request\u0000",
    "signal ",
    "\u202esignal",
    "error",
    "ack",
    "t" * 5000,
)
NOT_OBJECTS = ("[]", "[1,2]", '"ping"', "1", "null", "true", '[{"type":"ping"}]')


def nested_text(depth: int) -> str:
    """JSON text of a value ``depth`` containers deep, lists and objects in turn (as text:
    ``json`` itself cannot write a thousand levels)."""
    opening = "".join("[" if level % 2 else '{"n":' for level in range(depth))
    closing = "".join("]" if level % 2 else "}" for level in reversed(range(depth)))
    return f"{opening}1{closing}"


# ---------------------------------------------------------------- one fuzzed frame
@dataclass(frozen=True)
class Fuzzed:
    """One frame to send, and what the server owes it.

    ``data`` is text (a text frame) or bytes (``binary`` frames, and text frames of bytes
    that are not UTF-8); ``expect_id`` is the id its answer must carry (None: the frame
    may get no answer, or one without an id); ``closes`` is the close code the socket must
    get for it (1007, 1009), or None when the socket must stay open.
    """

    type: str
    mutation: str
    data: str | bytes
    binary: bool = False
    expect_id: int | None = None
    closes: int | None = None


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value`` (containers and scalars), below the top level."""
    found: list[tuple[Any, ...]] = [path] if path else []
    if isinstance(value, dict):
        for key, child in value.items():
            if not path and key in ("type", "id"):
                continue
            found += _leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _leaves(child, (*path, index))
    return found


def _get(frame: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        frame = frame[step]
    return frame


def _value(frame: Any, path: tuple[Any, ...]) -> Any:
    """The value at ``path``, or None where there is none (a field to be added)."""
    try:
        return _get(frame, path)
    except (KeyError, IndexError, TypeError):
        return None


def _set(frame: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(frame, path[:-1])[path[-1]] = value


def _some_path(rng: Rng, frame: Frame, want: type | tuple[type, ...] = object) -> tuple[Any, ...]:
    paths = [p for p in _leaves(frame) if isinstance(_get(frame, p), want)]
    if not paths:
        return (rng.choice(("extra", "session_id", "request_id", "state")),)
    return rng.choice(paths)


def _missing(rng: Rng, frame: Frame) -> Frame:
    paths = _leaves(frame)
    if paths:
        path = rng.choice(paths)
        del _get(frame, path[:-1])[path[-1]]
    elif rng.random() < 0.5:
        del frame["type"]
    return frame


def _wrong_type(rng: Rng, frame: Frame) -> Frame:
    path = _some_path(rng, frame)
    current = _value(frame, path)
    choices = [v for v in WRONG_TYPES if type(v) is not type(current)]
    _set(frame, path, rng.choice(choices))
    return frame


def _too_long(rng: Rng, frame: Frame) -> Frame:
    path = _some_path(rng, frame, (str, list))
    size = rng.choice((65, 129, 201, 1025, 8193, 20_000, 60_001))
    if isinstance(_value(frame, path), list):
        _set(frame, path, [_xy(rng) for _ in range(rng.choice((17, 65, 300)))])
    else:
        _set(frame, path, rng.choice(string.ascii_letters) * size)
    return frame


def _out_of_range(rng: Rng, frame: Frame) -> Frame:
    _set(frame, _some_path(rng, frame, (int, float, list)), rng.choice(OUT_OF_RANGE))
    return frame


def _unicode(rng: Rng, frame: Frame) -> Frame:
    _set(frame, _some_path(rng, frame, str), rng.choice(WEIRD_STRINGS))
    return frame


def _extra(rng: Rng, frame: Frame) -> Frame:
    extras = {"from": "someone-else", "seq": -1, "role": "ops", "sub": "root"}
    key = rng.choice([*extras, "__proto__", "constructor", "\u0000", "x" * 300])
    frame[key] = extras.get(key, {"a": [{"b": 1}]})
    return frame


def _bad_id(rng: Rng, frame: Frame) -> Frame:
    frame["id"] = rng.choice(BAD_IDS)
    return frame


def _bad_type(rng: Rng, frame: Frame) -> Frame:
    if rng.random() < 0.15:
        del frame["type"]
    else:
        frame["type"] = rng.choice((*BAD_TYPES, *CLIENT_TYPES))  # another type's fields
    return frame


def _placeholder(rng: Rng, frame: Frame) -> Frame:
    _set(frame, _some_path(rng, frame), RAW)
    return frame


DICT_MUTATIONS: dict[str, Callable[[Rng, Frame], Frame]] = {
    "valid": lambda rng, frame: frame,
    "missing": _missing,
    "wrong_type": _wrong_type,
    "too_long": _too_long,
    "out_of_range": _out_of_range,
    "unicode": _unicode,
    "extra_field": _extra,
    "bad_id": _bad_id,
    "bad_type": _bad_type,
}
TEXT_MUTATIONS = ("deep", "huge_number", "duplicate_key", "not_object", "garbage", "too_large")
WIRE_MUTATIONS = ("binary", "invalid_utf8", "over_1mib")
MUTATIONS = (*DICT_MUTATIONS, *TEXT_MUTATIONS, *WIRE_MUTATIONS)
# How often each is drawn in a random stream: mostly plausible frames, so that handlers
# run; the frames that close the socket rarely, because every one costs a reconnect.
WEIGHTS: dict[str, float] = {m: 6.0 for m in DICT_MUTATIONS}
WEIGHTS |= {m: 3.0 for m in TEXT_MUTATIONS}
WEIGHTS |= {"valid": 14.0, "too_large": 1.0, "binary": 2.0, "invalid_utf8": 0.05, "over_1mib": 0.02}


def dumps(frame: Any, rng: Rng) -> str:
    """JSON text as a client might write it: ASCII-escaped or not, spaced or not. Lone
    surrogates can only travel escaped."""
    separators = (",", ":") if rng.random() < 0.5 else (", ", ": ")
    text = json.dumps(frame, ensure_ascii=rng.random() < 0.5, separators=separators)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(frame, separators=separators)
    return text


def fuzz_frame(
    rng: Rng,
    ids: Ids,
    frame_id: int,
    type_: str | None = None,
    mutation: str | None = None,
) -> Fuzzed:
    """One adversarial frame of ``type_`` (any client type if None) mutated by
    ``mutation`` (drawn by ``WEIGHTS`` if None); ``frame_id`` is its ``id`` when it has a
    valid one, its first field (where a client puts it: even a frame refused unparsed
    gets it back)."""
    type_ = type_ or rng.choice(CLIENT_TYPES)
    if mutation is None:
        mutation = rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
    frame: Frame = {"id": frame_id, **TEMPLATES[type_](rng, ids)}
    if mutation in DICT_MUTATIONS:
        return _text(type_, mutation, dumps(DICT_MUTATIONS[mutation](rng, frame), rng))
    if mutation in TEXT_MUTATIONS:
        return _text(type_, mutation, _text_mutation(rng, frame, mutation))
    return _wire(rng, type_, mutation, frame)


def _text_mutation(rng: Rng, frame: Frame, mutation: str) -> str:
    if mutation == "deep":
        depth = rng.choice((6, 7, 8, 9, 12, 64, 300, 1000))
        return dumps(_placeholder(rng, frame), rng).replace(f'"{RAW}"', nested_text(depth))
    if mutation == "huge_number":
        return dumps(_placeholder(rng, frame), rng).replace(f'"{RAW}"', rng.choice(RAW_NUMBERS))
    if mutation == "duplicate_key":
        text = dumps(frame, rng)
        key = rng.choice([k for k in frame if k != "id"] or ["type"])
        again = json.dumps(rng.choice((*WRONG_TYPES, *BAD_TYPES[:6])))
        return text[:-1] + f', "{key}": {again}' + "}"
    if mutation == "not_object":
        return rng.choice(NOT_OBJECTS)
    if mutation == "garbage":
        text = dumps(frame, rng)
        return rng.choice(
            (
                text[: rng.randint(0, len(text) - 1)],
                text + "}",
                text + " x",
                "",
                " ",
                "{",
                "\ufeff" + text,
            )
        )
    # too_large: over the byte limit, in ASCII, or in two-byte characters that stay
    # under it counted as characters.
    filler = (
        "\u00e9" * (MAX_FRAME_BYTES // 2 + 10)
        if rng.random() < 0.5
        else "a" * (MAX_FRAME_BYTES + 1)
    )
    frame["padding"] = filler
    text = json.dumps(frame, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate elsewhere: only escaped
        text = json.dumps(frame)
    return text


def _text(type_: str, mutation: str, text: str) -> Fuzzed:
    return Fuzzed(type_, mutation, text, expect_id=answered_id(text))


def _wire(rng: Rng, type_: str, mutation: str, frame: Frame) -> Fuzzed:
    body = json.dumps(frame).encode()
    if mutation == "binary":
        return Fuzzed(type_, mutation, body, binary=True)
    if mutation == "invalid_utf8":
        bad = rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"))
        at = rng.randint(0, len(body))
        return Fuzzed(type_, mutation, body[:at] + bad + body[at:], closes=CLOSE_INVALID_UTF8)
    frame["padding"] = "a" * HARD_CAP
    return Fuzzed(type_, mutation, json.dumps(frame), closes=CLOSE_TOO_BIG)


def answered_id(text: str) -> int | None:
    """The id the server must answer ``text`` with: the ``id`` of a JSON object (strict
    JSON, as the protocol says), or, for a frame over the size limit, the leading
    ``"id": N`` this generator writes first; None if it need not."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        head = text[:40]
        if head.startswith('{"id": '):
            number = head[7:].split(",", 1)[0]
            return int(number) if number.isdigit() else None
        return None
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(frame, dict):
        return None
    value = frame.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ---------------------------------------------------------------- sending and checking
@dataclass
class Tally:
    """What one or more fuzz sockets saw: frames sent, answers, codes, problems."""

    sent: Counter[str] = field(default_factory=Counter)  # by mutation
    types: Counter[str] = field(default_factory=Counter)  # by frame type
    codes: Counter[str] = field(default_factory=Counter)  # error codes received
    # "type ack" or "type code", for the frames whose answer carried their id
    outcomes: Counter[str] = field(default_factory=Counter)
    acks: int = 0
    received: int = 0
    reconnects: int = 0
    closes: Counter[int] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return sum(self.sent.values())

    def violate(self, what: str) -> None:
        if len(self.violations) < 50:
            self.violations.append(what)
        else:
            self.violations[-1] = f"... and more; last: {what}"

    def merge(self, other: Tally) -> None:
        self.sent.update(other.sent)
        self.types.update(other.types)
        self.codes.update(other.codes)
        self.outcomes.update(other.outcomes)
        self.closes.update(other.closes)
        self.acks += other.acks
        self.received += other.received
        self.reconnects += other.reconnects
        for v in other.violations:
            self.violate(v)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": dict(self.sent),
            "types": dict(self.types),
            "codes": dict(self.codes),
            "outcomes": dict(self.outcomes),
            "acks": self.acks,
            "received": self.received,
            "reconnects": self.reconnects,
            "closes": {str(k): v for k, v in self.closes.items()},
            "violations": self.violations,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tally:
        return cls(
            Counter(d["sent"]),
            Counter(d["types"]),
            Counter(d["codes"]),
            Counter(d["outcomes"]),
            d["acks"],
            d["received"],
            d["reconnects"],
            Counter({int(k): v for k, v in d["closes"].items()}),
            list(d["violations"]),
        )


class FuzzSocket:
    """One client socket that sends fuzzed frames and checks every frame it gets back.

    A reader task numbers the server's frames (``seq`` must go 1, 2, 3... with no gap),
    keeps the ids they name (``Ids.learn``), and matches answers to the ids sent.
    ``barrier`` sends a ``ping`` and waits for its ack: every frame sent before it has
    then been handled (frames of one socket are handled in order), so any id still
    unanswered is a frame the server dropped.
    """

    def __init__(
        self, http: aiohttp.ClientSession, url: str, token: str, ids: Ids, tally: Tally, name: str
    ) -> None:
        self._http, self._url, self._token = http, url, token
        self.ids, self.tally, self.name = ids, tally, name
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, Fuzzed] = {}
        self._waiters: dict[int, asyncio.Future[Frame]] = {}
        self._expect_close: int | None = None
        self._seq = 0
        self._next_id = 1
        self.on_frame: Callable[[Frame], None] | None = None

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def connect(self, timeout: float = 10.0) -> Frame:
        """Open the socket and wait for its hello (the first frame, ``seq`` 1)."""
        self.ws = await self._http.ws_connect(
            self._url, params={"token": self._token}, max_msg_size=0
        )
        self._seq, self._expect_close = 0, None
        hello = asyncio.get_running_loop().create_future()
        self._waiters[0] = hello
        self._reader = asyncio.create_task(self._read(self.ws))
        return await asyncio.wait_for(hello, timeout)

    async def send(self, fuzzed: Fuzzed) -> None:
        """Send one fuzzed frame; a frame that closes the socket is waited for and the
        socket opened again."""
        assert self.ws is not None
        self.tally.sent[fuzzed.mutation] += 1
        self.tally.types[fuzzed.type] += 1
        if fuzzed.expect_id is not None:
            self._pending[fuzzed.expect_id] = fuzzed
        if fuzzed.closes is not None:
            self._expect_close = fuzzed.closes
        if fuzzed.binary:
            await self.ws.send_bytes(fuzzed.data)  # type: ignore[arg-type]
        elif isinstance(fuzzed.data, bytes):
            await self.ws.send_frame(fuzzed.data, aiohttp.WSMsgType.TEXT)
        else:
            await self.ws.send_str(fuzzed.data)
        if fuzzed.closes is not None:
            await self._closed_then_reopen()

    async def call(self, frame: Frame, timeout: float = 10.0) -> Frame:
        """Send a well-formed frame with a fresh id and wait for its answer."""
        assert self.ws is not None
        frame_id = self.new_id()
        answer = asyncio.get_running_loop().create_future()
        self._waiters[frame_id] = answer
        await self.ws.send_str(json.dumps({"id": frame_id, **frame}))
        return await asyncio.wait_for(answer, timeout)

    async def barrier(self, timeout: float = 10.0) -> None:
        """Wait until the server handled everything sent so far; a frame with a readable
        id that got no answer by then is a violation."""
        try:
            answer = await self.call({"type": "ping"}, timeout)
        except TimeoutError:
            self.tally.violate(f"{self.name}: no answer to a ping within {timeout} s (hang?)")
            raise
        if answer.get("type") != "ack":
            self.tally.violate(f"{self.name}: ping answered with {answer}")
        for frame_id, fuzzed in self._pending.items():
            self.tally.violate(f"{self.name}: no answer to id {frame_id}: {_show(fuzzed)}")
        self._pending.clear()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)

    async def _closed_then_reopen(self) -> None:
        assert self._reader is not None
        expected = self._expect_close
        try:
            await asyncio.wait_for(self._reader, 10)
        except TimeoutError:
            self.tally.violate(f"{self.name}: not closed with {expected} within 10 s")
            await self.ws.close()  # type: ignore[union-attr]
        self._pending.clear()
        self.tally.reconnects += 1
        await self.connect()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                self.tally.violate(f"{self.name}: server sent a {msg.type.name} frame")
                continue
            self._check(orjson.loads(msg.data))
        code = ws.close_code
        self.tally.closes[code or 0] += 1
        if code != self._expect_close and not (self._expect_close is None and code in (1000, None)):
            self.tally.violate(f"{self.name}: closed with {code}, expected {self._expect_close}")
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError(f"{self.name}: closed with {code}"))
        self._waiters.clear()

    def _check(self, frame: Frame) -> None:
        self.tally.received += 1
        seq = frame.get("seq")
        if seq != self._seq + 1:
            self.tally.violate(f"{self.name}: seq {seq} after {self._seq} ({frame.get('type')})")
        self._seq = seq if isinstance(seq, int) else self._seq + 1
        self.ids.learn(frame)
        kind, frame_id = frame.get("type"), frame.get("id")
        if kind == "error":
            code = frame.get("code")
            self.tally.codes[str(code)] += 1
            if code not in ALLOWED_CODES:
                sent = self._pending.get(frame_id)  # type: ignore[arg-type]
                shown = _show(sent) if sent else "(no id)"
                self.tally.violate(f"{self.name}: error {code}: {frame.get('message')} for {shown}")
        elif kind == "ack":
            self.tally.acks += 1
        if kind in ("error", "ack") and isinstance(frame_id, int):
            answered = self._pending.pop(frame_id, None)
            if answered is not None:
                outcome = "ack" if kind == "ack" else str(frame.get("code"))
                self.tally.outcomes[f"{answered.type} {outcome}"] += 1
            waiter = self._waiters.pop(frame_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(frame)
        if kind == "hello" and 0 in self._waiters:
            self._waiters.pop(0).set_result(frame)
        if self.on_frame is not None:
            self.on_frame(frame)


def _show(fuzzed: Fuzzed) -> str:
    data = fuzzed.data if isinstance(fuzzed.data, str) else repr(fuzzed.data)
    return f"{fuzzed.type}/{fuzzed.mutation} {data[:300]!r}"


# ---------------------------------------------------------------- cells and bystanders
class TokenFor(Protocol):
    def __call__(self, role: str, sub: str, *, skills: list[str] | None = None) -> str: ...


@dataclass
class Cell:
    """A user, an advisor and an ops socket that fuzz together, sharing their ids; the
    user and the advisor are kept in a live session with each other (``repair``), so
    that frames naming it run the handlers' deep paths."""

    user: FuzzSocket
    advisor: FuzzSocket
    ops: FuzzSocket
    skill: str
    session_id: str = ""
    repairs: int = 0

    @property
    def sockets(self) -> tuple[FuzzSocket, FuzzSocket, FuzzSocket]:
        return (self.user, self.advisor, self.ops)

    @property
    def live(self) -> bool:
        return bool(self.session_id) and self.session_id not in self.user.ids.ended

    async def repair(self) -> None:
        """Pair the cell's user and advisor again (their session ended, or a fuzzed frame
        left them elsewhere); the answers are checked like any others."""
        self.repairs += 1
        self.session_id = await pair_up(self.user, self.advisor, self.skill) or ""

    async def close(self) -> None:
        for sock in self.sockets:
            await sock.close()


async def pair_up(user: FuzzSocket, advisor: FuzzSocket, skill: str) -> str | None:
    """Put ``user`` and ``advisor`` in a session the way real clients do (whatever they
    held before is cancelled or ended first): the advisor goes available, the user asks
    for help with ``skill``, which only this advisor has, and the advisor accepts. The
    session id, or None if the offer did not come."""
    for sock in (user, advisor):
        for session_id in sock.ids.sessions:
            await sock.call({"type": "session.end", "session_id": session_id})
    for request_id in user.ids.requests:
        await user.call({"type": "help.cancel", "request_id": request_id})
    offers: asyncio.Queue[str] = asyncio.Queue()
    advisor.on_frame = lambda f: (
        offers.put_nowait(f["request_id"]) if f.get("type") == "help.offer" else None
    )
    try:
        await advisor.call({"type": "advisor.state", "state": "available"})
        queued = await user.call({"type": "help.request", "topic": "fuzz", "skills": [skill]})
        if queued.get("type") != "ack":
            return None
        while (request_id := await asyncio.wait_for(offers.get(), 10)) != queued["request_id"]:
            await advisor.call({"type": "help.decline", "request_id": request_id})
        accepted = await advisor.call({"type": "help.accept", "request_id": request_id})
    except TimeoutError:
        return None
    finally:
        advisor.on_frame = None
    return accepted.get("session_id")


async def open_pair(
    http: aiohttp.ClientSession,
    url: str,
    token_for: TokenFor,
    tag: str,
    ids: Ids,
    tally: Tally,
) -> tuple[FuzzSocket, FuzzSocket, str]:
    """A user and an advisor of their own skill ``tag`` (and ``general``), connected and
    in a session; and its id."""
    user = FuzzSocket(http, url, token_for("user", f"u-{tag}"), ids, tally, f"user u-{tag}")
    token = token_for("advisor", f"a-{tag}", skills=[tag, "general"])
    advisor = FuzzSocket(http, url, token, ids, tally, f"advisor a-{tag}")
    await advisor.connect()
    await user.connect()
    session_id = await pair_up(user, advisor, tag)
    if session_id is None:
        raise RuntimeError(f"pair {tag}: the advisor was not offered the request")
    return user, advisor, session_id


async def open_cell(
    http: aiohttp.ClientSession,
    url: str,
    token_for: TokenFor,
    tag: str,
    foreign: Ids,
    tally: Tally,
) -> Cell:
    """A fuzz cell whose frames may also name ``foreign`` ids (another pair's), and
    refresh with tokens of its own identities and of others."""
    ids = Ids(
        foreign_sessions=list(foreign.sessions),
        foreign_requests=list(foreign.requests),
        tokens=[token_for("user", f"u-{tag}"), token_for("advisor", f"a-{tag}")],
    )
    ids.tokens.append(token_for("ops", f"o-{tag}"))
    user, advisor, session_id = await open_pair(http, url, token_for, tag, ids, tally)
    ops = FuzzSocket(http, url, token_for("ops", f"o-{tag}"), ids, tally, f"ops o-{tag}")
    await ops.connect()
    return Cell(user, advisor, ops, tag, session_id)


ROLE_WEIGHTS = (0.45, 0.45, 0.10)


async def fuzz_cell(cell: Cell, rng: Rng, frames: int, batch: int = 32) -> None:
    """Send ``frames`` fuzzed frames from the cell's sockets (drawn by ``ROLE_WEIGHTS``),
    with a barrier on each socket every ``batch`` frames and at the end."""
    since: Counter[int] = Counter()
    for _ in range(frames):
        index = rng.choices(range(3), ROLE_WEIGHTS)[0]
        sock = cell.sockets[index]
        await sock.send(fuzz_frame(rng, sock.ids, sock.new_id()))
        since[index] += 1
        if since[index] >= batch:
            since[index] = 0
            await sock.barrier()
            if not cell.live:
                await cell.repair()
    for sock in cell.sockets:
        await sock.barrier()


@dataclass
class Bystander:
    """A user and an advisor in a session that relay one ``signal`` at a time (advisor to
    user), each stamped with its send time: the latency of each, and the seq checks of
    ``FuzzSocket`` on both sockets."""

    user: FuzzSocket
    advisor: FuzzSocket
    session_id: str
    request_id: str
    latencies: list[float] = field(default_factory=list)

    @classmethod
    async def open(
        cls, http: aiohttp.ClientSession, url: str, token_for: TokenFor, tag: str, tally: Tally
    ) -> Bystander:
        ids = Ids()
        user, advisor, session_id = await open_pair(http, url, token_for, tag, ids, tally)
        return cls(user, advisor, session_id, ids.requests[-1])

    @property
    def ids(self) -> Ids:
        return Ids(sessions=[self.session_id], requests=[self.request_id])

    async def relay_once(self, timeout: float = 10.0) -> float:
        """One signal from the advisor to the user; the seconds it took."""
        loop = asyncio.get_running_loop()
        arrived: asyncio.Future[float] = loop.create_future()

        def seen(frame: Frame) -> None:
            if frame.get("type") == "signal" and not arrived.done():
                arrived.set_result(loop.time())

        self.user.on_frame = seen
        candidate = {
            "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        }
        sent = loop.time()
        assert self.advisor.ws is not None
        await self.advisor.ws.send_str(
            json.dumps({"type": "signal", "session_id": self.session_id, "candidate": candidate})
        )
        try:
            latency = await asyncio.wait_for(arrived, timeout) - sent
        except TimeoutError:
            self.user.tally.violate(f"bystander: a signal did not arrive within {timeout} s")
            raise
        finally:
            self.user.on_frame = None
        self.latencies.append(latency)
        return latency

    async def close(self) -> None:
        await self.user.close()
        await self.advisor.close()
