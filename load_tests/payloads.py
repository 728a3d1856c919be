"""What a real call puts on the wire, made up: SDP descriptions, ICE candidates, drawings.

A browser's offer with audio and video is 4 to 6 KB of SDP (every codec it
can do, with its RTX and feedback lines), the answer 3 to 4 KB; the ones made
here are 4.4 and 3.0 KB. Each side trickles about eight candidates (host
over IPv4 and IPv6, UDP and TCP, a server-reflexive and TURN relays), then
end-of-candidates. Addresses come
from the documentation ranges (RFC 5737, RFC 3849): nothing here is ever
dialled. The send time travels inside each payload (an ``a=`` line in the
SDP, a ``sent_at`` key in the candidate) so the receiving side of the
simulator can time the relay; the server passes both on unchanged.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

SENT_LINE = "a=x-mayday-sent-at:"
_SENT = re.compile(r"a=x-mayday-sent-at:([0-9.]+)")

# (payload type, name/clock[/channels], fmtp or "", with RTX)
_AUDIO = [
    (111, "opus/48000/2", "minptime=10;useinbandfec=1", False),
    (63, "red/48000/2", "111/111", False),
    (9, "G722/8000", "", False),
    (0, "PCMU/8000", "", False),
    (8, "PCMA/8000", "", False),
    (13, "CN/8000", "", False),
    (110, "telephone-event/48000", "", False),
    (126, "telephone-event/8000", "", False),
]
_VIDEO = [
    (96, "VP8/90000", "", True),
    (98, "VP9/90000", "profile-id=0", True),
    (100, "VP9/90000", "profile-id=2", True),
    (102, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;"
                       "profile-level-id=42001f", True),
    (104, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=0;"
                       "profile-level-id=42001f", True),
    (106, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;"
                       "profile-level-id=42e01f", True),
    (108, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=0;"
                       "profile-level-id=42e01f", True),
    (112, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;"
                       "profile-level-id=64001f", True),
    (45, "AV1/90000", "level-idx=5;profile=0;tier=0", True),
    (116, "red/90000", "", True),
    (118, "ulpfec/90000", "", False),
]  # fmt: skip
_VIDEO_FEEDBACK = ("goog-remb", "transport-cc", "ccm fir", "nack", "nack pli")
_EXTMAP = (
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "urn:ietf:params:rtp-hdrext:sdes:mid",
)


def _token(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _media(
    kind: str, mid: int, codecs: list[tuple[int, str, str, bool]], ice: tuple[str, str, str]
) -> Iterator[str]:
    ufrag, pwd, fingerprint = ice
    pts: list[str] = []
    for pt, _, _, rtx in codecs:
        pts.append(str(pt))
        if rtx:
            pts.append(str(pt + 1))
    yield f"m={kind} 9 UDP/TLS/RTP/SAVPF {' '.join(pts)}"
    yield "c=IN IP4 0.0.0.0"
    yield "a=rtcp:9 IN IP4 0.0.0.0"
    yield f"a=ice-ufrag:{ufrag}"
    yield f"a=ice-pwd:{pwd}"
    yield "a=ice-options:trickle"
    yield f"a=fingerprint:sha-256 {fingerprint}"
    yield "a=setup:actpass"
    yield f"a=mid:{mid}"
    for i, uri in enumerate(_EXTMAP, start=1):
        yield f"a=extmap:{i} {uri}"
    yield "a=sendrecv"
    yield "a=rtcp-mux"
    if kind == "video":
        yield "a=rtcp-rsize"
    for pt, name, fmtp, rtx in codecs:
        yield f"a=rtpmap:{pt} {name}"
        if kind == "video" and not name.startswith(("red", "ulpfec")):
            yield from (f"a=rtcp-fb:{pt} {fb}" for fb in _VIDEO_FEEDBACK)
        if fmtp:
            yield f"a=fmtp:{pt} {fmtp}"
        if rtx:
            yield f"a=rtpmap:{pt + 1} rtx/90000"
            yield f"a=fmtp:{pt + 1} apt={pt}"


def sdp(kind: str, rng: random.Random, sent_at: float) -> str:
    """A Chrome-shaped SDP ``offer`` (every codec, 4.4 KB) or ``answer`` (fewer, 3.0 KB)."""
    video = _VIDEO if kind == "offer" else [_VIDEO[i] for i in (0, 1, 3, 5, 9)]
    audio = _AUDIO if kind == "offer" else _AUDIO[:6]
    fingerprint = ":".join(f"{rng.randrange(256):02X}" for _ in range(32))
    ice = (_token(rng, 4), _token(rng, 24), fingerprint)
    stream, track_a, track_v = _token(rng, 36), _token(rng, 36), _token(rng, 36)
    lines = [
        "v=0",
        f"o=- {rng.randrange(10**18)} 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=extmap-allow-mixed",
        f"a=msid-semantic: WMS {stream}",
        f"{SENT_LINE}{sent_at!r}",
    ]
    for mid, (media, codecs, track) in enumerate(
        (("audio", audio, track_a), ("video", video, track_v))
    ):
        lines.extend(_media(media, mid, codecs, ice))
        ssrc = rng.randrange(2**32)
        lines.append(f"a=msid:{stream} {track}")
        lines.append(f"a=ssrc:{ssrc} cname:{_token(rng, 16)}")
        lines.append(f"a=ssrc:{ssrc} msid:{stream} {track}")
    return "\r\n".join(lines) + "\r\n"


def candidates(rng: random.Random, ufrag: str | None = None) -> list[dict[str, Any]]:
    """Eight RTCIceCandidateInit objects, in the order Chrome trickles them."""
    ufrag = ufrag or _token(rng, 4)
    port = rng.randrange(30000, 60000)
    lan, lan2 = f"192.0.2.{rng.randrange(2, 250)}", f"198.51.100.{rng.randrange(2, 250)}"
    v6 = f"2001:db8::{rng.randrange(1, 0xFFFF):x}"
    public, turn = f"203.0.113.{rng.randrange(2, 250)}", "203.0.113.250"
    rows = [
        (2122260223, "udp", lan, port, "host", ""),
        (2122194687, "udp", lan2, port + 1, "host", ""),
        (2122262783, "udp", v6, port + 2, "host", ""),
        (1686052607, "udp", public, port + 3, "srflx", f" raddr {lan} rport {port}"),
        (1518280447, "tcp", lan, 9, "host", " tcptype active"),
        (1518214911, "tcp", lan2, 9, "host", " tcptype active"),
        (41885439, "udp", turn, port + 4, "relay", f" raddr {public} rport {port + 3}"),
        (25108223, "tcp", turn, port + 5, "relay", f" raddr {public} rport {port + 3}"),
    ]
    out = []
    for i, (priority, proto, address, p, typ, extra) in enumerate(rows):
        foundation = rng.randrange(10**9)
        text = (
            f"candidate:{foundation} 1 {proto} {priority} {address} {p} typ {typ}{extra} "
            f"generation 0 ufrag {ufrag} network-id {1 + i % 2} network-cost 10"
        )
        out.append(
            {"candidate": text, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": ufrag}
        )
    return out


def sent_at(description: dict[str, Any] | None, candidate: dict[str, Any] | None) -> float | None:
    """The send stamp of a relayed description or candidate, if the simulator put one there."""
    if candidate is not None:
        stamp = candidate.get("sent_at")
        return float(stamp) if isinstance(stamp, int | float) else None
    if description is not None:
        match = _SENT.search(description.get("sdp", ""))
        return float(match.group(1)) if match else None
    return None


# ---------------------------------------------------------------- drawings
COLOURS = ("#ff3b30", "#ffcc00", "#34c759", "#007aff")


def stroke(
    session_id: str, stroke_id: str, rng: random.Random, frames: int
) -> list[dict[str, Any]]:
    """One freehand stroke: ``stroke.begin``, ``frames`` batches of points, ``stroke.end``.

    The pen moves in small steps from a random start, three points a batch,
    as a pointer sampled at 60 Hz and sent every 50 ms would.
    """
    x, y = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)

    def step() -> list[float]:
        nonlocal x, y
        x = min(1.0, max(0.0, x + rng.uniform(-0.02, 0.02)))
        y = min(1.0, max(0.0, y + rng.uniform(-0.02, 0.02)))
        return [round(x, 4), round(y, 4)]

    base = {"type": "annotation", "session_id": session_id, "stroke_id": stroke_id}
    out = [
        {
            **base,
            "kind": "stroke.begin",
            "color": rng.choice(COLOURS),
            "width": 0.006,
            "points": [step()],
        }
    ]
    for seq in range(1, frames + 1):
        out.append(
            {
                **base,
                "kind": "stroke.points",
                "stroke_seq": seq,
                "points": [step() for _ in range(3)],
            }
        )
    out.append({**base, "kind": "stroke.end"})
    return out


def laser(session_id: str, rng: random.Random, moves: int) -> list[dict[str, Any]]:
    """The laser pointer moving ``moves`` times, then leaving the picture."""
    x, y = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
    out = []
    for _ in range(moves):
        x = min(1.0, max(0.0, x + rng.uniform(-0.03, 0.03)))
        y = min(1.0, max(0.0, y + rng.uniform(-0.03, 0.03)))
        out.append(
            {
                "type": "annotation",
                "session_id": session_id,
                "kind": "laser",
                "point": [round(x, 4), round(y, 4)],
            }
        )
    out.append({"type": "annotation", "session_id": session_id, "kind": "laser", "point": None})
    return out


def arrow(session_id: str, stroke_id: str, rng: random.Random) -> dict[str, Any]:
    """An arrow pointing at something to tap."""
    tip = [round(rng.uniform(0.1, 0.9), 4), round(rng.uniform(0.1, 0.9), 4)]
    tail = [round(min(1.0, tip[0] + 0.1), 4), round(min(1.0, tip[1] + 0.1), 4)]
    return {
        "type": "annotation",
        "session_id": session_id,
        "kind": "shape",
        "stroke_id": stroke_id,
        "shape": "arrow",
        "color": rng.choice(COLOURS),
        "width": 0.008,
        "points": [tail, tip],
    }


def undo(session_id: str, stroke_id: str) -> dict[str, Any]:
    return {"type": "annotation", "session_id": session_id, "kind": "undo", "stroke_id": stroke_id}


def annotation_key(frame: dict[str, Any]) -> tuple[str, str, int] | None:
    """What identifies a reliable drawing frame on both sides of the relay (laser has none)."""
    stroke_id = frame.get("stroke_id")
    if not isinstance(stroke_id, str):
        return None
    return (stroke_id, str(frame.get("kind")), int(frame.get("stroke_seq") or 0))
