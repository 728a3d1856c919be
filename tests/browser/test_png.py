"""The PNG decoder the screenshot checks rely on, against images encoded here."""

from __future__ import annotations

import random
import struct
import zlib

from tests.browser.png import colour_stats, decode


def _filtered(kind: int, row: bytes, prior: bytes, bpp: int) -> bytes:
    """Apply PNG filter ``kind`` to one row (the encoder's side of the spec)."""
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prior[i]
        c = prior[i - bpp] if i >= bpp else 0
        p = a + b - c
        paeth = min((abs(p - a), 0, a), (abs(p - b), 1, b), (abs(p - c), 2, c))[2]
        predictor = [0, a, b, (a + b) // 2, paeth][kind]
        out.append((x - predictor) & 0xFF)
    return bytes(out)


def encode(width: int, height: int, rows: list[bytes], channels: int) -> bytes:
    """A PNG whose rows cycle through all five filter types."""
    colour = {3: 2, 4: 6}[channels]
    raw, prior = bytearray(), bytes(width * channels)
    for y, row in enumerate(rows):
        kind = y % 5
        raw += bytes([kind]) + _filtered(kind, row, prior, channels)
        prior = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )


def test_decode_undoes_every_filter() -> None:
    """Random RGB and RGBA pixels come back exactly through rows of all five filters."""
    rng = random.Random(7)
    for channels in (3, 4):
        width, height = 23, 11
        rows = [rng.randbytes(width * channels) for _ in range(height)]
        image = decode(encode(width, height, rows, channels))
        assert (image.width, image.height, image.channels) == (width, height, channels)
        assert image.rows == rows


def test_colour_stats_tell_blank_from_busy() -> None:
    """A one-colour image has one colour at 100 %; a noisy one has many."""
    flat = colour_stats(decode(encode(8, 8, [b"\x10\x20\x30" * 8] * 8, 3)), step=1)
    assert (flat.distinct, flat.commonest_share) == (1, 1.0)
    rng = random.Random(3)
    noisy = decode(encode(16, 16, [rng.randbytes(48) for _ in range(16)], 3))
    assert colour_stats(noisy, step=1).distinct > 200
