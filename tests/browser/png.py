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
    if kind == 4:
        return _paeth_row(line, prior, bpp)
    out = bytearray(line)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        if kind == 1:
            out[i] = (out[i] + left) & 0xFF
        else:
            out[i] = (out[i] + ((left + prior[i]) >> 1)) & 0xFF
    return bytes(out)


def _paeth_row(line: bytes, prior: bytes, bpp: int) -> bytes:
    """The Paeth filter undone, inlined: it is most rows of a screenshot, and the slow part."""
    out = bytearray(line)
    for i in range(bpp):  # no left or corner pixel: the predictor is the pixel above
        out[i] = (out[i] + prior[i]) & 0xFF
    for i in range(bpp, len(out)):
        a, b, c = out[i - bpp], prior[i], prior[i - bpp]
        pa, pb = abs(b - c), abs(a - c)  # |p - a|, |p - b| with p = a + b - c
        pc = abs(a + b - c - c)
        if pa <= pb and pa <= pc:
            out[i] = (out[i] + a) & 0xFF
        elif pb <= pc:
            out[i] = (out[i] + b) & 0xFF
        else:
            out[i] = (out[i] + c) & 0xFF
    return bytes(out)


def _add_lanes(x: bytes, y: bytes) -> bytes:
    """Bytewise (x + y) mod 256 in one big-integer addition: the low 7 bits of each lane
    add without carrying into the next lane, and the top bit is their xor."""
    n = len(x)
    a, b = int.from_bytes(x, "big"), int.from_bytes(y, "big")
    low, high = int.from_bytes(b"\x7f" * n, "big"), int.from_bytes(b"\x80" * n, "big")
    return (((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(n, "big")
