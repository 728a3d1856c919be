"""The Fenwick rank index agrees with a plain sorted list."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mayday.routing.rank import RankIndex


@settings(deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 5000)), max_size=300))
def test_rank_matches_a_sorted_list(ops: list[tuple[bool, int]]) -> None:
    """Random adds and removes (growing past the first capacity) give exact ranks."""
    index, members = RankIndex(capacity=8), set[int]()
    for add, x in ops:
        if add and x not in members:
            index.add(x)
            members.add(x)
        elif not add and x in members:
            index.remove(x)
            members.discard(x)
        for probe in (x, x - 1, 5000):
            assert index.rank(probe) == sum(1 for m in members if m <= probe)
    assert len(index) == len(members)
