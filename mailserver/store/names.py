"""Mailbox names: validation, the Maildir++ folder each name lives in, and LIST/LSUB matching.

Names are Unicode strings with `/` as the hierarchy separator (the session converts modified
UTF-7 on the wire). INBOX is case-insensitive (RFC 3501 section 5.1), also as the first level of
a longer name: `inbox/x` is `INBOX/x`. Refused (StoreError CANNOT): the empty name, empty levels
(`a//b`, `/a`, `a/`), control characters, lone surrogates, and the LIST wildcards `*` and `%`.

On disk (Maildir++): INBOX is the Maildir itself; any other name is the directory `.` followed by
its levels joined with `.`. A `.` inside a level cannot be the separator, so it is escaped, as is
the escape character itself: `.` -> `~2e`, `~` -> `~7e` (Dovecot's `~` escaping style). Other
characters are stored as UTF-8. A folder name must fit one directory entry (255 bytes), which
bounds names (StoreError LIMIT).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import LIMIT, StoreError

SEP = "/"
INBOX = "INBOX"
MAX_FOLDER_BYTES = 255  # one directory entry on every common filesystem
MAX_PATTERN = 1024  # LIST patterns longer than this are refused (matching is O(name x pattern))

_FORBIDDEN = frozenset("*%") | frozenset(chr(c) for c in range(0x20)) | {"\x7f"}
_ESCAPES = {".": "~2e", "~": "~7e"}
_UNESCAPES = {"2e": ".", "7e": "~"}


def normalize(name: str) -> str:
    """The canonical form of a mailbox name, or StoreError if it can never be a mailbox."""
    if not name:
        raise StoreError("empty mailbox name")
    levels = name.split(SEP)
    if "" in levels:
        raise StoreError(f"empty hierarchy level in mailbox name {name!r}")
    for ch in name:
        if ch in _FORBIDDEN or "\ud800" <= ch <= "\udfff":
            raise StoreError(f"mailbox name {name!r} contains {ch!r}")
    if levels[0].upper() == INBOX:
        levels[0] = INBOX
    canonical = SEP.join(levels)
    if len(to_folder(canonical).encode()) > MAX_FOLDER_BYTES:
        raise StoreError(f"mailbox name too long: {name[:40]!r}...", LIMIT)
    return canonical


def parent(name: str) -> str | None:
    """The superior name of `name` (`a/b` -> `a`), or None at the top level."""
    head, sep, _ = name.rpartition(SEP)
    return head if sep else None


def ancestors(name: str) -> list[str]:
    """Every superior name of `name`, nearest last (`a/b/c` -> [`a`, `a/b`])."""
    levels = name.split(SEP)
    return [SEP.join(levels[:i]) for i in range(1, len(levels))]


def is_inferior(name: str, of: str) -> bool:
    """Whether `name` lies under `of` in the hierarchy (not `of` itself)."""
    return name.startswith(of + SEP)


def _escape(level: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in level)


def _unescape(level: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(level):
        code = level[i + 1 : i + 3].lower()
        if level[i] == "~" and code in _UNESCAPES:
            out.append(_UNESCAPES[code])
            i += 3
        else:
            out.append(level[i])
            i += 1
    return "".join(out)


def to_folder(name: str) -> str:
    """The Maildir++ directory of a canonical name: "" for INBOX, `.Archive.2024` for
    Archive/2024."""
    if name == INBOX:
        return ""
    return "." + ".".join(_escape(level) for level in name.split(SEP))


def from_folder(folder: str) -> str:
    """The mailbox name of a Maildir++ directory (`.Sent` -> Sent); StoreError if it is none."""
    if not folder.startswith(".") or folder in (".", ".."):
        raise StoreError(f"not a Maildir++ folder: {folder!r}")
    name = SEP.join(_unescape(level) for level in folder[1:].split("."))
    canonical = normalize(name)
    if canonical == INBOX:
        raise StoreError(f"folder {folder!r} would be a second INBOX")
    return canonical


def match(pattern: str, name: str) -> bool:
    """LIST matching (RFC 3501 section 6.3.8): `*` matches anything, `%` anything but `/`.

    An NFA simulation with the pattern positions as the bits of an int: O(len(name) x
    len(pattern) / word size) whatever the pattern (a regular expression would backtrack
    exponentially on `*%*%*%...x`). The INBOX part of a name matches case-insensitively, as
    INBOX itself is (`inbo%` matches INBOX).
    """
    if len(pattern) > MAX_PATTERN:
        raise StoreError("LIST pattern too long", LIMIT)
    star = pct = 0
    for i, p in enumerate(pattern):
        if p == "*":
            star |= 1 << i
        elif p == "%":
            pct |= 1 << i
    wild = star | pct
    inbox = len(INBOX) if name == INBOX or name.startswith(INBOX + SEP) else 0
    states = _closure(1, wild)
    for k, ch in enumerate(name):
        same = 0
        for i, p in enumerate(pattern):
            if p == ch or (k < inbox and p.upper() == ch):
                same |= 1 << i
        same &= ~wild
        states = ((states & same) << 1) | (states & star) | (0 if ch == SEP else states & pct)
        if not states:
            return False
        states = _closure(states, wild)
    return bool(states >> len(pattern) & 1)


def _closure(states: int, wild: int) -> int:
    """Add the states reached by letting wildcards match nothing."""
    while True:
        grown = states | ((states & wild) << 1)
        if grown == states:
            return states
        states = grown


@dataclass(frozen=True, slots=True, kw_only=True)
class Listed:
    """One name a LIST or LSUB answers with: `exists` False means \\Noselect (implied parent)."""

    name: str
    exists: bool
    has_children: bool


def listing(pattern: str, names: Iterable[str]) -> list[Listed]:
    """The names matching `pattern` among `names` and their implied parents, sorted.

    A parent that is not in `names` but has inferiors there is listed as not existing
    (\\Noselect), as RFC 3501 asks for hierarchy levels a `%` reaches and as LSUB does for an
    unsubscribed parent of a subscribed name.
    """
    present = set(names)
    everything = set(present)
    with_children: set[str] = set()
    for name in present:
        for up in ancestors(name):
            everything.add(up)
            with_children.add(up)
    return [
        Listed(name=n, exists=n in present, has_children=n in with_children)
        for n in sorted(everything)
        if match(pattern, n)
    ]
