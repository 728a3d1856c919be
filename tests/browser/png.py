"""Just enough PNG decoding to look at a screenshot's pixels, with the standard library only."""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {2: 3, 6: 4}  # colour type -> bytes per pixel (RGB, RGBA), at 8 bits


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    rows: list[bytes]

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        at = x * self.channels
        r, g, b = self.rows[y][at : at + 3]
        return r, g, b


@dataclass(frozen=True)
class ColourStats:
    sampled: int
    distinct: int
    commonest_share: float


def decode(png: bytes) -> Image:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's screenshots are)."""
    if not png.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    header, data = _chunks(png)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
    channels = CHANNELS[colour]
    raw = zlib.decompress(data)
    stride = width * channels
    rows, prior = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        prior = _unfilter(raw[start], raw[start + 1 : start + 1 + stride], prior, channels)
        rows.append(prior)
    return Image(width, height, channels, rows)


def colour_stats(image: Image, step: int = 4) -> ColourStats:
    """Distinct colours, and the commonest colour's share, over every ``step``-th pixel."""
    counts: Counter[bytes] = Counter()
    c = image.channels
    for row in image.rows[::step]:
        for x in range(0, image.width, step):
            counts[row[x * c : x * c + 3]] += 1
    sampled = sum(counts.values())
    return ColourStats(sampled, len(counts), counts.most_common(1)[0][1] / sampled)


def _chunks(png: bytes) -> tuple[bytes, bytes]:
    pos, header, data = len(SIGNATURE), b"", []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            data.append(body)
    return header, b"".join(data)


def _unfilter(kind: int, line: bytes, prior: bytes, bpp: int) -> bytes:
    if kind == 0:
        return line
    if kind == 2:
        return _add_lanes(line, prior)
    out = bytearray(line)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        if kind == 1:
            out[i] = (out[i] + left) & 0xFF
        elif kind == 3:
            out[i] = (out[i] + ((left + prior[i]) >> 1)) & 0xFF
        else:
            corner = prior[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + _paeth(left, prior[i], corner)) & 0xFF
    return bytes(out)


def _add_lanes(x: bytes, y: bytes) -> bytes:
    """Bytewise (x + y) mod 256 in one big-integer addition: the low 7 bits of each lane
    add without carrying into the next lane, and the top bit is their xor."""
    n = len(x)
    a, b = int.from_bytes(x, "big"), int.from_bytes(y, "big")
    low, high = int.from_bytes(b"\x7f" * n, "big"), int.from_bytes(b"\x80" * n, "big")
    return (((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(n, "big")


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c
