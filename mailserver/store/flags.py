"""Message flags: the five storable system flags as bits, keywords as names, Maildir info letters.

The index holds every flag (system flags as a bit mask, keywords as a space-separated list that
keeps the first spelling a client used and compares case-insensitively). The file name holds the
standard ones as the Maildir spec's info letters, so mutt and Dovecot read them: D \\Draft,
F \\Flagged, P $Forwarded (as Dovecot maps "passed"), R \\Answered, S \\Seen, T \\Deleted. \\Recent
is not a stored flag (the session gets it from the store's recent claim) and cannot be set.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import CANNOT, LIMIT, StoreError

SEEN = 1
ANSWERED = 2
FLAGGED = 4
DELETED = 8
DRAFT = 16

SYSTEM = {
    "\\Seen": SEEN,
    "\\Answered": ANSWERED,
    "\\Flagged": FLAGGED,
    "\\Deleted": DELETED,
    "\\Draft": DRAFT,
}
_BY_LOWER = {name.lower(): (name, bit) for name, bit in SYSTEM.items()}
_LETTERS = {DRAFT: "D", FLAGGED: "F", ANSWERED: "R", SEEN: "S", DELETED: "T"}
_BITS_OF_LETTER = {letter: bit for bit, letter in _LETTERS.items()}
FORWARDED = "$Forwarded"

MAX_KEYWORD = 128  # characters in one keyword
MAX_KEYWORDS = 64  # keywords on one message
# atom-specials of RFC 3501 (plus "\\", which only system flags may start with, and "]")
_NOT_IN_KEYWORD = frozenset('(){ %*"\\]') | frozenset(chr(c) for c in range(0x21)) | {"\x7f"}


def parse(names: Iterable[str]) -> tuple[int, tuple[str, ...]]:
    """Flag names as given by a client -> (system bits, keywords); StoreError on a bad name."""
    bits = 0
    keywords: list[str] = []
    for name in names:
        if name.startswith("\\"):
            known = _BY_LOWER.get(name.lower())
            if known is None:
                raise StoreError(f"cannot store flag {name!r}")
            bits |= known[1]
        else:
            check_keyword(name)
            keywords.append(name)
    return bits, merge((), keywords)


def check_keyword(name: str) -> None:
    """StoreError unless `name` is an atom a client may use as a keyword."""
    if not name or len(name) > MAX_KEYWORD:
        raise StoreError(f"keyword must be 1..{MAX_KEYWORD} characters", LIMIT if name else CANNOT)
    if not name.isascii() or any(ch in _NOT_IN_KEYWORD for ch in name):
        raise StoreError(f"invalid keyword {name!r}")


def merge(have: Iterable[str], add: Iterable[str]) -> tuple[str, ...]:
    """`have` plus the keywords of `add` it lacks (case-insensitively), first spelling kept."""
    out = list(have)
    seen = {k.lower() for k in out}
    for k in add:
        if k.lower() not in seen:
            seen.add(k.lower())
            out.append(k)
    if len(out) > MAX_KEYWORDS:
        raise StoreError(f"more than {MAX_KEYWORDS} keywords on a message", LIMIT)
    return tuple(out)


def remove(have: Iterable[str], drop: Iterable[str]) -> tuple[str, ...]:
    """`have` without the keywords of `drop` (case-insensitively)."""
    gone = {k.lower() for k in drop}
    return tuple(k for k in have if k.lower() not in gone)


def names(bits: int, keywords: Iterable[str] = ()) -> tuple[str, ...]:
    """The flag names of a message: system flags in a fixed order, then its keywords."""
    return tuple(name for name, bit in SYSTEM.items() if bits & bit) + tuple(keywords)


def split_keywords(text: str) -> tuple[str, ...]:
    """Keywords as the index stores them (space-separated) -> a tuple."""
    return tuple(text.split())


def join_keywords(keywords: Iterable[str]) -> str:
    """A tuple of keywords -> the index's text form."""
    return " ".join(keywords)


def to_info(bits: int, keywords: Iterable[str], keep: str = "") -> str:
    """The Maildir info letters (after `:2,`) of these flags, ASCII-sorted as the spec asks.

    `keep` is the letters of the file's current info that this store does not own (Dovecot's
    lowercase keyword letters, experimental ones): they stay in the name.
    """
    letters = {_LETTERS[bit] for bit in _LETTERS if bits & bit}
    if any(k.lower() == FORWARDED.lower() for k in keywords):
        letters.add("P")
    letters.update(ch for ch in keep if ch not in _BITS_OF_LETTER and ch != "P")
    return "".join(sorted(letters))


def from_info(info: str) -> tuple[int, bool, str]:
    """Maildir info letters -> (system bits, whether P ($Forwarded) is set, letters not ours)."""
    bits = 0
    for ch in info:
        bits |= _BITS_OF_LETTER.get(ch, 0)
    other = "".join(ch for ch in info if ch not in _BITS_OF_LETTER and ch != "P")
    return bits, "P" in info, other
