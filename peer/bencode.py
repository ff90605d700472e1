"""A strict bencoding decoder for untrusted bytes (BEP 3 'bencoding'), which can also give the
exact bytes of each value of the top-level dictionary (a torrent's info-hash is the SHA-1 of the
`info` value as it appears in the file).

Encoding, where the input is our own, is bencode.py's (`bencodepy.encode`: it sorts keys). We
decode with this module instead because bencode.py, checked on version 4.1.0, is too lax for
bytes from strangers (tests/peer/test_bencode.py shows each point):

- it hands the digits to Python's int(), so `i+3e`, `i 3e`, `i3 e`, `i1_0e` decode to 3 and
  10, and a string length of `1_0:` or `3 :` is taken: several spellings of one value;
- it takes dictionary keys in any order and, for a key given twice, silently keeps the last
  value. A torrent whose info dictionary holds two `length` keys then has one info-hash and two
  readings (the first or the last, depending on the client): that must be refused, not guessed;
- it gives no position of a value, so the info-hash would need a second parser of the same
  bytes, and two parsers that may disagree on one input are what an attacker looks for.

Every value has one spelling here, the canonical one BEP 3 gives:

- integers `i<n>e`: `0`, or an optional `-` then a digit 1-9 then digits. No `-0`, no leading
  zeros, no sign `+`, no spaces, at most 19 digits (every signed 64-bit value fits; clients
  keep these numbers in 64 bits, so a longer one is nobody's file size);
- strings `<length>:<bytes>`: the length without leading zeros, at most 10 digits, the bytes
  all present;
- lists `l...e`; dictionaries `d...e` whose keys are strings in strictly increasing byte
  order (sorted, no duplicates);
- nothing after the top-level value.

Bounds: nesting at most MAX_DEPTH, at most `max_values` values in all, MAX_VALUES unless the
caller says (memory: an empty list is 64 bytes in CPython while `le` is 2 bytes of input, so
the count, not the input size, bounds what a decode allocates). The caller bounds the input
size.
"""

from __future__ import annotations

import re
from typing import TypeAlias

__all__ = ["MAX_DEPTH", "MAX_VALUES", "BencodeError", "Value", "decode", "decode_dict"]

Value: TypeAlias = int | bytes | list["Value"] | dict[bytes, "Value"]

# A torrent is 5 containers deep (top dict, info, files, one file, its path); 32 leaves room
# for extensions, and a recursive decoder stays far from Python's recursion limit of 1000.
MAX_DEPTH = 32
# Values (keys included) in one document: a torrent of 100,000 files is about 800,000. The
# worst case, a million empty lists, costs about 64 MB while it lasts.
MAX_VALUES = 1_000_000

_INT = re.compile(rb"i(0|-?[1-9][0-9]{0,18})e")
_LENGTH = re.compile(rb"(0|[1-9][0-9]{0,9}):")


class BencodeError(Exception):
    """Bytes that are not one canonical bencoded value; `reason` says what and where."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Decoder:
    __slots__ = ("budget", "data", "max_values")

    def __init__(self, data: bytes, max_values: int) -> None:
        self.data = data
        self.max_values = max_values
        self.budget = max_values

    def value(self, pos: int, depth: int) -> tuple[Value, int]:
        """The value that starts at `pos` and the position just after it."""
        self.budget -= 1
        if self.budget < 0:
            raise BencodeError(f"more than {self.max_values} values")
        kind = self.data[pos : pos + 1]
        if kind == b"i":
            match = _INT.match(self.data, pos)
            if match is None:
                raise BencodeError(f"invalid integer at byte {pos}")
            return int(match[1]), match.end()
        if kind in (b"l", b"d"):
            if depth == MAX_DEPTH:
                raise BencodeError(f"nested deeper than {MAX_DEPTH} at byte {pos}")
            if kind == b"l":
                return self.list(pos + 1, depth + 1)
            return self.dict(pos + 1, depth + 1, None)
        return self.string(pos)

    def string(self, pos: int) -> tuple[bytes, int]:
        match = _LENGTH.match(self.data, pos)
        if match is None:
            if pos == len(self.data):
                raise BencodeError(f"truncated at byte {pos}")
            raise BencodeError(f"invalid value at byte {pos}")
        end = match.end() + int(match[1])
        if end > len(self.data):
            raise BencodeError(f"string at byte {pos} runs past the end")
        return self.data[match.end() : end], end

    def list(self, pos: int, depth: int) -> tuple[list[Value], int]:
        items: list[Value] = []
        while self.data[pos : pos + 1] != b"e":
            item, pos = self.value(pos, depth)
            items.append(item)
        return items, pos + 1

    def dict(
        self, pos: int, depth: int, spans: dict[bytes, tuple[int, int]] | None
    ) -> tuple[dict[bytes, Value], int]:
        items: dict[bytes, Value] = {}
        last: bytes | None = None
        while self.data[pos : pos + 1] != b"e":
            self.budget -= 1
            key_pos = pos
            key, pos = self.string(pos)
            if last is not None and key <= last:
                problem = "duplicate" if key == last else "unsorted"
                raise BencodeError(f"{problem} dictionary key {key!r} at byte {key_pos}")
            start = pos
            items[key], pos = self.value(pos, depth)
            if spans is not None:
                spans[key] = (start, pos)
            last = key
        return items, pos + 1


def decode(data: bytes, *, max_values: int = MAX_VALUES) -> Value:
    """The one value that `data` encodes; BencodeError when it is anything else."""
    decoder = _Decoder(data, max_values)
    value, end = decoder.value(0, 0)
    if end != len(data):
        raise BencodeError(f"data after the end of the value at byte {end}")
    return value


def decode_dict(
    data: bytes, *, max_values: int = MAX_VALUES
) -> tuple[dict[bytes, Value], dict[bytes, tuple[int, int]]]:
    """A top-level dictionary, and for each of its keys the span (start, end) of its value's
    bytes in `data`; BencodeError when `data` is not exactly one dictionary."""
    if data[:1] != b"d":
        raise BencodeError("not a dictionary")
    decoder = _Decoder(data, max_values)
    decoder.budget -= 1
    spans: dict[bytes, tuple[int, int]] = {}
    value, end = decoder.dict(1, 1, spans)
    if end != len(data):
        raise BencodeError(f"data after the end of the value at byte {end}")
    return value, spans
