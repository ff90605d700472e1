"""Sequence sets and UID sets (RFC 3501 §9 `sequence-set`): parsed, resolved, written compactly.

A set is a comma-separated list of numbers and ranges; `*` is the largest number in use (the
message count, or the highest UID), and a range may be written in either order (`5:3` is
`3:5`, `*:4` is `4:*`). `$` (RFC 5182, SEARCHRES) is the saved search result: it parses into a
set whose `saved` is true and which the session resolves itself (issue 16).

Resolution, against the mailbox's count or highest UID, gives sorted, merged, inclusive ranges:

- message sequence numbers: a number above the count is an error (RFC 9051 §6.4.5 says BAD),
  and `*` in an empty mailbox too;
- UIDs: numbers that name no message are simply not there (RFC 3501 §6.4.8), and `n:*` always
  includes the highest UID even when `n` is above it.

`compact` writes numbers back as the shortest set (`1:3,5`), for COPYUID, APPENDUID and ESEARCH.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["MAX_NUMBER", "STAR", "Ranges", "SeqSet", "SeqSetError", "compact"]

MAX_NUMBER = 4294967295  # nz-number is a 32-bit unsigned integer (RFC 3501 §9 `number`)
STAR = 0  # `*` inside a range (0 is never a valid nz-number)

_ITEM = rb"(?:\d{1,10}|\*)(?::(?:\d{1,10}|\*))?"
_SET = re.compile(_ITEM + rb"(?:," + _ITEM + rb")*\Z")


class SeqSetError(ValueError):
    """A set that is not valid syntax, or names numbers that do not exist; says why."""


def _number(text: bytes) -> int:
    if text == b"*":
        return STAR
    if text[0] == 48:  # "0": nz-number has no leading zero (and 0 is not a message)
        raise SeqSetError(f"{text.decode()} is not a valid message number")
    n = int(text)
    if n > MAX_NUMBER:
        raise SeqSetError(f"{text.decode()} is above {MAX_NUMBER}")
    return n


@dataclass(frozen=True, slots=True)
class SeqSet:
    """A parsed set: `ranges` as written ((lo, hi) pairs, STAR for `*`), or `saved` for `$`."""

    ranges: tuple[tuple[int, int], ...]
    saved: bool = False

    @classmethod
    def parse(cls, text: bytes, *, allow_saved: bool = False) -> SeqSet:
        """A set from its wire form; SeqSetError says what is wrong."""
        if text == b"$":
            if not allow_saved:
                raise SeqSetError("$ (a saved search result) is not supported")
            return cls((), saved=True)
        if _SET.match(text) is None:
            raise SeqSetError(f"invalid sequence set {text[:40]!r}")
        ranges: list[tuple[int, int]] = []
        for item in text.split(b","):
            lo, sep, hi = item.partition(b":")
            a = _number(lo)
            ranges.append((a, _number(hi) if sep else a))
        return cls(tuple(ranges))

    def to_bytes(self) -> bytes:
        """The wire form, as written (a range keeps its order)."""
        if self.saved:
            return b"$"
        return b",".join(_item(lo, hi) for lo, hi in self.ranges)

    def has_star(self) -> bool:
        return any(STAR in r for r in self.ranges)

    def resolve_seq(self, count: int) -> Ranges:
        """Message sequence numbers against a mailbox of `count` messages."""
        if self.saved:
            raise SeqSetError("$ must be resolved by the session")
        spans: list[tuple[int, int]] = []
        for lo, hi in self.ranges:
            x = count if lo == STAR else lo
            y = count if hi == STAR else hi
            a, b = min(x, y), max(x, y)
            if a == 0:
                raise SeqSetError("no messages: * names nothing")
            if b > count:
                raise SeqSetError(f"message {b} does not exist (there are {count})")
            spans.append((a, b))
        return Ranges.merge(spans)

    def resolve_uid(self, max_uid: int) -> Ranges:
        """UIDs against a mailbox whose highest UID is `max_uid` (0: empty)."""
        if self.saved:
            raise SeqSetError("$ must be resolved by the session")
        spans: list[tuple[int, int]] = []
        for lo, hi in self.ranges:
            x = max_uid if lo == STAR else lo
            y = max_uid if hi == STAR else hi
            a, b = max(min(x, y), 1), min(max(x, y), max_uid)
            if a <= b:
                spans.append((a, b))
        return Ranges.merge(spans)


def _item(lo: int, hi: int) -> bytes:
    a = b"*" if lo == STAR else str(lo).encode()
    if lo == hi:
        return a
    return a + b":" + (b"*" if hi == STAR else str(hi).encode())


@dataclass(frozen=True, slots=True)
class Ranges:
    """Sorted, disjoint, non-adjacent inclusive ranges: the numbers a set resolved to."""

    spans: tuple[tuple[int, int], ...]

    @classmethod
    def merge(cls, spans: Iterable[tuple[int, int]]) -> Ranges:
        out: list[tuple[int, int]] = []
        for a, b in sorted(spans):
            if out and a <= out[-1][1] + 1:
                out[-1] = (out[-1][0], max(b, out[-1][1]))
            else:
                out.append((a, b))
        return cls(tuple(out))

    def __contains__(self, n: object) -> bool:
        if not isinstance(n, int):
            return False
        spans = self.spans
        i = bisect.bisect_right(spans, n, key=_low) - 1
        return i >= 0 and spans[i][0] <= n <= spans[i][1]

    def __iter__(self) -> Iterator[int]:
        for a, b in self.spans:
            yield from range(a, b + 1)

    def __len__(self) -> int:
        return sum(b - a + 1 for a, b in self.spans)

    def __bool__(self) -> bool:
        return bool(self.spans)

    def to_bytes(self) -> bytes:
        return b",".join(_item(a, b) for a, b in self.spans)


def _low(span: tuple[int, int]) -> int:
    return span[0]


def compact(numbers: Iterable[int]) -> bytes:
    """Numbers in the order given, consecutive runs as ranges: [1, 2, 3, 5] -> b"1:3,5".

    The order is kept (COPYUID pairs its source and destination sets element by element), so
    sort first where the reader expects sorted output (ESEARCH ALL). Empty input gives b"".
    """
    return b",".join([_item(a, b) for a, b in runs(numbers)])


def runs(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Numbers in the order given as (first, last) runs of consecutive ones: [1, 2, 3, 5] ->
    [(1, 3), (5, 5)]."""
    out: list[list[int]] = []
    for n in numbers:
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return [(a, b) for a, b in out]
