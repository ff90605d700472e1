"""A dict that never grows past a size: the one bounded cache of every daemon (sans-I/O).

Putting a new key into a full map drops the oldest key (insertion order), at O(1), and
`touch` moves a key to the young end (least-recently-used order, for callers that want it).
Lookups are plain `dict.get`, so hot paths bind them once and pay nothing extra. Entries that
expire carry their own deadline (the resolver's packed answers do); the map bounds memory.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedMap(dict[K, V]):
    __slots__ = ("maxsize",)

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("a bounded map holds at least one entry")
        super().__init__()
        self.maxsize = maxsize

    def put(self, key: K, value: V) -> None:
        """Set `key`; if it is new and the map is full, the oldest key goes first."""
        if key not in self and len(self) >= self.maxsize:
            del self[next(iter(self))]
        self[key] = value

    def touch(self, key: K) -> None:
        """Mark `key` as just used: it goes last in line to be dropped."""
        self[key] = self.pop(key)
