"""Byte sizes as people write them on the command line: `16384`, `64KiB`, `256KiB`, `4MiB`.

The grammar is strict, so a typo is an error instead of a surprise:

- a whole number of bytes, or a whole number followed by one binary unit spelled exactly
  `KiB`, `MiB`, `GiB` or `TiB` (powers of 1024). No decimal units: `256kb` or `4MB` are refused
  rather than guessed at (is `kb` 1000 or 1024 bytes? kilobits?), and so are `1.5MiB`, `-1`,
  `+4KiB`, `1_000`, leading zeros, spaces and a trailing newline.
- Zero is refused: every size the peer takes (piece size, rate limits) must be positive. A
  caller that gives 0 a meaning ("no limit") leaves the option out instead.
- At most MAX_SIZE, far beyond any piece size or rate, so a slip of the keyboard cannot make a
  number with thousands of digits.

`format_size` writes a size back in the largest unit that divides it exactly, so
`parse_size(format_size(n)) == n` for every size parse_size accepts.
"""

from __future__ import annotations

import re

__all__ = ["MAX_SIZE", "format_size", "parse_size"]

_UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
MAX_SIZE = 1 << 50  # 1 PiB (written 1024TiB): no piece size or rate comes near it

# At most 16 digits: 17 are over MAX_SIZE whatever the unit, and int() never reads a long run.
_SIZE = re.compile(r"([1-9][0-9]{0,15})(KiB|MiB|GiB|TiB)?")


def parse_size(text: str) -> int:
    """The number of bytes `text` names; ValueError saying how to write it when it is not one."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"invalid size {text!r}: write a positive whole number of bytes, "
            "optionally followed by KiB, MiB, GiB or TiB (e.g. 16384, 256KiB, 4MiB), "
            "at most 1024TiB"
        )
    size = int(match[1]) * _UNITS.get(match[2], 1)
    if size > MAX_SIZE:
        raise ValueError(f"invalid size {text!r}: more than 1024TiB")
    return size


def format_size(n: int) -> str:
    """`n` bytes in the largest binary unit that divides it exactly: 256KiB, 4MiB, 1000."""
    if n < 0:
        raise ValueError(f"a size cannot be negative: {n}")
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        if n and n % _UNITS[unit] == 0:
            return f"{n // _UNITS[unit]}{unit}"
    return str(n)
