"""The one bounded map: never past its size, oldest out first, touch for LRU order."""

from __future__ import annotations

import pytest

from minternet.bounded import BoundedMap


def test_putting_into_a_full_map_drops_the_oldest() -> None:
    m: BoundedMap[str, int] = BoundedMap(2)
    m.put("a", 1)
    m.put("b", 2)
    m.put("c", 3)
    assert dict(m) == {"b": 2, "c": 3}


def test_replacing_a_key_drops_nothing() -> None:
    m: BoundedMap[str, int] = BoundedMap(2)
    m.put("a", 1)
    m.put("b", 2)
    m.put("a", 10)
    assert dict(m) == {"a": 10, "b": 2}


def test_touch_keeps_a_used_key_longest() -> None:
    m: BoundedMap[str, int] = BoundedMap(2)
    m.put("a", 1)
    m.put("b", 2)
    m.touch("a")
    m.put("c", 3)
    assert dict(m) == {"a": 1, "c": 3}


def test_a_map_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^a bounded map holds at least one entry$"):
        BoundedMap(0)
