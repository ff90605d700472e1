"""The answer cache: packed responses keyed on the query bytes after the ID (sans-I/O).

The key is the whole query minus its 2-byte ID: flags (RD, CD), the question in the client's
case, and the OPT record (EDNS present, UDP size, DO bit) -- everything the response depends
on, so a hit is answered by prefixing the client's ID to the stored bytes. UDP and TCP answers
live in separate caches (truncation differs). Bounded: the oldest entry goes first (FIFO).
"""

from __future__ import annotations

from minternet.bounded import BoundedMap

MAX_KEY = 512  # queries larger than this (many options, padding) are answered but not cached

#: (response bytes after the ID, response-rate-limiting class of the response)
Entry = tuple[bytes, bytes]


class AnswerCache:
    """The resolver's `hot` map (dnsserver/resolver/frontend.py) is the same idea: the bytes of a
    query seen before, answered by prefixing the ID; both are BoundedMaps."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.entries: BoundedMap[bytes, Entry] = BoundedMap(max(1, max_entries))
        self.get = self.entries.get  # the fast path binds this once

    def put(self, key: bytes, entry: Entry) -> None:
        if len(key) > MAX_KEY or self.max_entries <= 0:
            return
        self.entries.put(key, entry)

    def clear(self) -> None:
        self.entries.clear()  # the same dict object: bound `get`s stay valid

    def __len__(self) -> int:
        return len(self.entries)
