from __future__ import annotations

from uplight.interning import Interner


def test_equal_values_share_the_first_object_until_the_limit() -> None:
    intern: Interner[frozenset[str]] = Interner(limit=1)
    first = frozenset({"a", "b"})
    assert intern(first) is first
    assert intern(frozenset({"b", "a"})) is first  # an equal value: the first one
    other = frozenset({"c"})
    assert intern(other) is other
    assert intern(frozenset({"c"})) is not other  # the limit reached: not remembered
