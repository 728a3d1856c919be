"""Queue order and positions: a sorted set of keys that knows each key's rank."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import Any

# Keys are compared as tuples: the queue's are (order time, sequence number, request id).
Key = tuple[Any, ...]


class RankedSet:
    """Distinct keys kept in order, with ``rank(key)``: how many members are <= key.

    The keys live in sorted buckets of about ``load`` keys (at most twice that; the
    layout of sortedcontainers' SortedList), with a Fenwick tree over the buckets'
    sizes. Adding or removing costs a bisect over the buckets' last keys, an insert
    into one bucket (a memmove of at most ``2 * load`` pointers) and a tree update; a
    rank, two bisects and a prefix sum: O(log n) each. When buckets split or merge
    (once in about ``load`` changes) the tree is rebuilt, in O(n / load), at the
    next rank. Queue keys do not arrive in order (a priority moves a request ahead
    of earlier ones), so the Fenwick tree over arrival numbers that this replaces
    could not give their positions.
    """

    def __init__(self, load: int = 512) -> None:
        self._load = load
        self._buckets: list[list[Key]] = []
        self._maxes: list[Key] = []  # the last key of each bucket
        self._tree: list[int] | None = None  # Fenwick tree of bucket sizes; None: rebuild
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Key]:
        for bucket in self._buckets:
            yield from bucket

    def add(self, key: Key) -> None:
        self._size += 1
        if not self._buckets:
            self._buckets, self._maxes, self._tree = [[key]], [key], None
            return
        i = min(bisect_left(self._maxes, key), len(self._buckets) - 1)
        bucket = self._buckets[i]
        insort(bucket, key)
        self._maxes[i] = bucket[-1]
        if len(bucket) > 2 * self._load:
            self._split(i)
        else:
            self._count(i, 1)

    def remove(self, key: Key) -> None:
        i = bisect_left(self._maxes, key)
        bucket = self._buckets[i] if i < len(self._buckets) else []
        j = bisect_left(bucket, key)
        if j == len(bucket) or bucket[j] != key:
            raise KeyError(key)
        del bucket[j]
        self._size -= 1
        if not bucket:
            del self._buckets[i], self._maxes[i]
            self._tree = None
        elif len(bucket) < self._load // 2 and len(self._buckets) > 1:
            # Scattered removals must not leave many small buckets behind.
            self._merge(min(i, len(self._buckets) - 2))
        else:
            self._maxes[i] = bucket[-1]
            self._count(i, -1)

    def rank(self, key: Key) -> int:
        i = bisect_left(self._maxes, key)
        if i == len(self._buckets):
            return self._size
        return self._before(i) + bisect_right(self._buckets[i], key)

    def _split(self, i: int) -> None:
        bucket = self._buckets[i]
        half = len(bucket) // 2
        self._buckets[i : i + 1] = [bucket[:half], bucket[half:]]
        self._maxes[i : i + 1] = [bucket[half - 1], bucket[-1]]
        self._tree = None

    def _merge(self, i: int) -> None:
        """Join buckets ``i`` and ``i + 1``, splitting again if that is too big."""
        joined = self._buckets[i] + self._buckets[i + 1]
        self._buckets[i : i + 2], self._maxes[i : i + 2] = [joined], [joined[-1]]
        self._tree = None
        if len(joined) > 2 * self._load:
            self._split(i)

    def _count(self, i: int, delta: int) -> None:
        tree = self._tree
        if tree is None:
            return  # rebuilt from the buckets at the next rank
        i += 1
        while i < len(tree):
            tree[i] += delta
            i += i & -i

    def _before(self, i: int) -> int:
        """How many keys the buckets before bucket ``i`` hold."""
        if self._tree is None:
            self._tree = [0] + [len(b) for b in self._buckets]
            for j in range(1, len(self._tree)):
                parent = j + (j & -j)
                if parent < len(self._tree):
                    self._tree[parent] += self._tree[j]
        total, tree = 0, self._tree
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total
