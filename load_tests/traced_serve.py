"""``mayday serve`` that reports where its memory is, for ``load_tests.fuzz --trace DIR``.

    MAYDAY_TRACE_DIR=DIR python -m load_tests.traced_serve serve --port 0 ...

Each SIGUSR1 appends a line to ``DIR/totals.jsonl``: RSS; glibc's ``mallinfo2`` (bytes
malloc has handed out and bytes it holds free: fragmentation is RSS that is free);
pymalloc's arenas; the garbage collector's counts; and a census of live objects by
type with their sizes (the bytes and strings a container holds counted with it, since
the collector does not track them). SIGUSR2 first thaws the frozen generation
(``mayday.gcpolicy``) and collects in full: what the census then lost was garbage in
reference cycles waiting for the sweep. With ``MAYDAY_TRACE_FRAMES=N`` (N > 0) the
server also runs under tracemalloc, N frames deep, and writes ``DIR/snapshot-K.pickle``
(slow: a traced server handles a fraction of the frames). A debugging aid for the load
tests, not the server.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import json
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from load_tests.common import rss_kib
from mayday.cli import main

COUNTER = itertools.count()
UNTRACKED = (bytes, str, bytearray, memoryview, int, float)


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
            "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def mallinfo() -> dict[str, int]:
    """glibc's view in KiB: ``in_use`` (handed out, mmapped blocks included), ``free``
    (held in its arenas but unused: fragmentation), ``mmapped``."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return {}
    return {
        "in_use_kib": (info.uordblks + info.hblkhd) // 1024,
        "free_kib": info.fordblks // 1024,
        "mmapped_kib": info.hblkhd // 1024,
        "arena_kib": info.arena // 1024,
    }


def mappings() -> dict[str, Any]:
    """Resident KiB by kind of mapping (``/proc/self/smaps``): the brk heap, files, and
    anonymous mappings (pymalloc's arenas, glibc's per-thread arenas, big blocks,
    stacks), with the largest of these as [address, size KiB, resident KiB]."""
    totals: Counter[str] = Counter()
    anon: list[list[Any]] = []
    kind, where, size = "file", "", 0
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and not head[0].endswith(":"):
                start, end = (int(x, 16) for x in head[0].split("-"))
                name = head[5] if len(head) > 5 else ""
                kind = "heap" if name == "[heap]" else "file" if name.startswith("/") else "anon"
                where, size = head[0].split("-")[0], (end - start) // 1024
            elif head[0] == "Rss:":
                totals[kind + "_kib"] += int(head[1])
                if kind == "anon" and int(head[1]) > 1024:
                    anon.append([where, size, int(head[1])])
    anon.sort(key=lambda m: -m[2])
    return dict(totals) | {"largest_anon": anon[:10]}


def pymalloc() -> dict[str, int]:
    """pymalloc's own figures (``sys._debugmallocstats``, which writes to fd 2): its
    arenas now and at most, and the bytes in blocks in use and free in them."""
    wanted = {
        "# arenas allocated current": "arenas",
        "# arenas highwater mark": "arenas_highwater",
        "# bytes in allocated blocks": "allocated_kib",
        "# bytes in available blocks": "available_kib",
        "# bytes lost to pool headers": "pool_headers_kib",
    }
    with tempfile.TemporaryFile("w+") as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        found: dict[str, int] = {}
        for line in out:
            key, _, value = line.partition("=")
            name = wanted.get(key.strip())
            if name:
                number = int(value.strip().replace(",", ""))
                found["pymalloc_" + name] = number // 1024 if name.endswith("kib") else number
    return found


def _untracked_size(referents: list[Any]) -> int:
    """The bytes of what a container holds that the collector does not track: strings,
    bytes, numbers, and tuples of those (the collector untracks such tuples)."""
    size = 0
    for r in referents:
        if isinstance(r, UNTRACKED):
            size += sys.getsizeof(r)
        elif isinstance(r, tuple) and not gc.is_tracked(r):
            size += sys.getsizeof(r) + _untracked_size(list(r))
    return size


def streams() -> dict[str, int]:
    """The sockets' streams (``mayday.transport.streams``): how many, how many parked,
    how many frames they keep and their bytes."""
    from mayday.transport.streams import Stream

    found = [o for o in gc.get_objects() if isinstance(o, Stream)]
    parked = [s for s in found if s.parked_at is not None]
    return {
        "streams": len(found),
        "streams_parked": len(parked),
        "streams_kept_frames": sum(len(s.kept) for s in found),
        "streams_kept_kib": sum(s.kept_size for s in found) // 1024,
        "streams_parked_kept_kib": sum(s.kept_size for s in parked) // 1024,
    } | _holders([s for s in found if s.parked_at is None])


def _holders(streams: list[Any]) -> dict[str, Any]:
    """What refers to the streams that are not parked, and to what refers to those."""
    first: Counter[str] = Counter()
    second: Counter[str] = Counter()
    for stream in streams:
        for r in gc.get_referrers(stream):
            if isinstance(r, list) and r is streams:
                continue
            first[type(r).__qualname__] += 1
            for rr in gc.get_referrers(r):
                if rr is not streams and type(rr).__name__ != "frame":
                    second[type(rr).__qualname__] += 1
    alive = sum(1 for s in streams if s.conn is not None)
    closing = sum(1 for s in streams if s.conn is not None and s.conn._closing is not None)
    return {
        "streams_with_conn": alive,
        "streams_conn_closing": closing,
        "holders": dict(first.most_common(6)),
        "holders2": dict(second.most_common(8)),
    }


def census(limit: int = 25) -> dict[str, list[int]]:
    """The ``limit`` types holding the most bytes: [count, bytes], a container's
    untracked bytes and strings counted with it."""
    gc.unfreeze()
    objects = gc.get_objects()
    gc.freeze()
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for obj in objects:
        name = type(obj).__qualname__
        sizes[name] += sys.getsizeof(obj) + _untracked_size(gc.get_referents(obj))
        counts[name] += 1
    return {name: [counts[name], size] for name, size in sizes.most_common(limit)}


def dump(swept: bool) -> None:
    directory = Path(os.environ["MAYDAY_TRACE_DIR"])
    n = next(COUNTER)
    started = time.perf_counter()
    line: dict[str, Any] = {"n": n, "swept": swept, "rss_kib": rss_kib(os.getpid())}
    line["frozen_before"] = gc.get_freeze_count()
    if swept:
        gc.unfreeze()
        line["collected"] = gc.collect()
        gc.freeze()
        line["rss_after_sweep_kib"] = rss_kib(os.getpid())
    line |= mallinfo() | pymalloc() | mappings()
    gc.unfreeze()
    line |= streams()
    gc.freeze()
    line["census"] = census()
    if tracemalloc.is_tracing():
        tracemalloc.take_snapshot().dump(str(directory / f"snapshot-{n}.pickle"))
        line["traced_kib"] = tracemalloc.get_traced_memory()[0] // 1024
    line["dump_s"] = round(time.perf_counter() - started, 2)
    with open(directory / "totals.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    dump(swept=signum == signal.SIGUSR2)


if __name__ == "__main__":
    frames = int(os.environ.get("MAYDAY_TRACE_FRAMES", "0"))
    if frames > 0:
        tracemalloc.start(frames)
    signal.signal(signal.SIGUSR1, _on_signal)
    signal.signal(signal.SIGUSR2, _on_signal)
    sys.exit(main(sys.argv[1:]))
