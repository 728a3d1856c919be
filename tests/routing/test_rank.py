"""The queue's ranked set agrees with a plain sorted list."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mayday.routing.rank import RankedSet


@settings(deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 400)), max_size=400))
def test_rank_matches_a_sorted_list(ops: list[tuple[bool, int]]) -> None:
    """Random adds and removes (splitting and merging small buckets) give exact ranks
    and the sorted order, for keys that arrive in any order."""
    ranked, members = RankedSet(load=4), set[tuple[int, int]]()
    for add, x in ops:
        key = (x % 37, x)  # out of arrival order, with equal first fields
        if add and key not in members:
            ranked.add(key)
            members.add(key)
        elif not add and key in members:
            ranked.remove(key)
            members.discard(key)
        for probe in (key, (key[0], key[1] - 1), (0, 0), (99, 0)):
            assert ranked.rank(probe) == sum(1 for m in members if m <= probe)
    assert list(ranked) == sorted(members)
    assert len(ranked) == len(members)


def test_removing_a_key_not_held_is_refused() -> None:
    """Removing an absent key raises KeyError and changes nothing."""
    ranked = RankedSet(load=2)
    for n in (3, 1, 2):
        ranked.add((n,))
    with pytest.raises(KeyError):
        ranked.remove((4,))
    with pytest.raises(KeyError):
        ranked.remove((1.5,))
    assert list(ranked) == [(1,), (2,), (3,)]
