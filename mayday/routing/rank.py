"""Queue positions in O(log n): a Fenwick tree over enqueue sequence numbers."""

from __future__ import annotations


class RankIndex:
    """A set of increasing integers with ``rank(x)``: how many members are <= x.

    Requests join the queue with the next sequence number and leave from
    anywhere; a position is the rank of the request's number. Grows by
    doubling, so adding stays O(log n) amortised.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._tree = [0] * (capacity + 1)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, x: int) -> None:
        while x >= len(self._tree):
            self._grow()
        self._update(x, 1)
        self._size += 1

    def remove(self, x: int) -> None:
        self._update(x, -1)
        self._size -= 1

    def rank(self, x: int) -> int:
        return self._prefix(self._tree, min(x, len(self._tree) - 1))

    def _update(self, x: int, delta: int) -> None:
        if x <= 0:
            raise ValueError("members are positive integers")
        i = x
        while i < len(self._tree):
            self._tree[i] += delta
            i += i & -i

    def _grow(self) -> None:
        old = self._tree
        self._tree = [0] * (2 * (len(old) - 1) + 1)
        # Rebuild from the point counts: rank(i) - rank(i - 1) on the old tree.
        counts = [0] * len(old)
        for i in range(1, len(old)):
            counts[i] = self._prefix(old, i) - self._prefix(old, i - 1)
        for i in range(1, len(old)):
            if counts[i]:
                j = i
                while j < len(self._tree):
                    self._tree[j] += counts[i]
                    j += j & -j

    @staticmethod
    def _prefix(tree: list[int], x: int) -> int:
        total, i = 0, x
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total
