"""The SEARCH key tree (RFC 3501 §6.4.4, RFC 7162 §3.1.5 MODSEQ) and its parser.

A search program parses into a small tree of frozen nodes that the session evaluates against
each message: `And` (the program itself and parenthesised groups), `Or`, `Not`, and leaves.
The RFC's shorthands become the leaves they stand for, so the evaluator has fewer cases:
ANSWERED/UNANSWERED and friends are `FlagKey(flag, present)`, NEW is RECENT UNSEEN, OLD is
NOT RECENT, KEYWORD/UNKEYWORD are `FlagKey` of the keyword. Strings are text (str): the
CHARSET says how to read them, UTF-8 (or no CHARSET) and US-ASCII are supported; any other
charset is refused with `NO [BADCHARSET (UTF-8 US-ASCII)]` (RFC 3501 §6.4.4) before a key is
read.

Nesting (parentheses, NOT, OR) is bounded by MAX_DEPTH = 32 levels: a deeper program is BAD,
so hostile input cannot exhaust the stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

from mailserver.imap.seqset import SeqSet
from mailserver.imap.syntax import MAX_MODSEQ, SYSTEM_FLAGS, is_atom

if TYPE_CHECKING:
    from mailserver.imap.syntax import Reader

__all__ = [
    "CHARSETS",
    "MAX_DEPTH",
    "All",
    "And",
    "DateKey",
    "FlagKey",
    "HeaderKey",
    "ModSeqKey",
    "Not",
    "Or",
    "SearchKey",
    "SeqKey",
    "SizeKey",
    "TextKey",
    "any_leaf",
    "badcharset_code",
    "parse_program",
]

MAX_DEPTH = 32
CHARSETS = ("UTF-8", "US-ASCII")


def badcharset_code() -> bytes:
    """The response code that lists the charsets SEARCH supports (RFC 3501 §7.1)."""
    return b"BADCHARSET (" + " ".join(CHARSETS).encode() + b")"


@dataclass(frozen=True, slots=True)
class All:
    """ALL: every message."""


@dataclass(frozen=True, slots=True)
class And:
    """Every key matches: the program, and each parenthesised group."""

    keys: tuple[SearchKey, ...]


@dataclass(frozen=True, slots=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class Not:
    key: SearchKey


@dataclass(frozen=True, slots=True)
class FlagKey:
    """A flag or keyword is set (`present`) or not: SEEN, UNSEEN, KEYWORD x, RECENT, OLD..."""

    flag: str
    present: bool


@dataclass(frozen=True, slots=True)
class HeaderKey:
    """The header field contains `value` (FROM, TO, CC, BCC, SUBJECT, HEADER name value).

    `field` is the field name in lower case; an empty `value` matches every message that has
    the field (RFC 3501 §6.4.4 HEADER).
    """

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class TextKey:
    """BODY (the body only) or TEXT (header and body) contains `value`."""

    where: Literal["BODY", "TEXT"]
    value: str


@dataclass(frozen=True, slots=True)
class DateKey:
    """BEFORE/ON/SINCE on the internal date, SENTBEFORE/SENTON/SENTSINCE on the Date: field,
    SAVEDBEFORE/SAVEDON/SAVEDSINCE on the save date (`saved`, RFC 8514).

    Dates compare without time of day or time zone (RFC 3501 §6.4.4).
    """

    sent: bool
    op: Literal["BEFORE", "ON", "SINCE"]
    day: date
    saved: bool = False


@dataclass(frozen=True, slots=True)
class SizeKey:
    """LARGER n (`larger`) or SMALLER n: RFC822.SIZE compared strictly."""

    larger: bool
    size: int


@dataclass(frozen=True, slots=True)
class AgeKey:
    """OLDER n (`older`) or YOUNGER n (WITHIN, RFC 5032): the internal date more than n
    seconds before `now`, or at most n. `now` is when the command came: `dated` sets it
    before the search runs (the parser leaves it None)."""

    older: bool
    seconds: int
    now: float | None = None


@dataclass(frozen=True, slots=True)
class SeqKey:
    """A sequence set (message numbers) or UID set; resolve it with seqset.py."""

    seqset: SeqSet
    uid: bool


@dataclass(frozen=True, slots=True)
class ModSeqKey:
    """MODSEQ n: the message's mod-sequence is at least `modseq` (RFC 7162 §3.1.5).

    `entry` (a flag name from "/flags/<flag>") and `entry_type` ("priv", "shared", "all")
    are given when the client named one; servers may ignore them (§3.1.5).
    """

    modseq: int
    entry: str | None = None
    entry_type: str | None = None


SearchKey = (
    All
    | And
    | Or
    | Not
    | FlagKey
    | HeaderKey
    | TextKey
    | DateKey
    | AgeKey
    | SizeKey
    | SeqKey
    | ModSeqKey
)


def any_leaf(key: SearchKey, test: Callable[[SearchKey], bool]) -> bool:
    """Whether `test` holds for some leaf of the key tree (under AND, OR and NOT alike)."""
    if isinstance(key, And):
        return any(any_leaf(k, test) for k in key.keys)
    if isinstance(key, Or):
        return any_leaf(key.left, test) or any_leaf(key.right, test)
    if isinstance(key, Not):
        return any_leaf(key.key, test)
    return test(key)


def dated(key: SearchKey, now: float) -> SearchKey:
    """The key tree with OLDER and YOUNGER counted back from `now` (WITHIN, RFC 5032)."""
    if not any_leaf(key, lambda k: isinstance(k, AgeKey)):
        return key
    return map_leaves(
        key, lambda k: AgeKey(k.older, k.seconds, now) if isinstance(k, AgeKey) else k
    )


def map_leaves(key: SearchKey, change: Callable[[SearchKey], SearchKey]) -> SearchKey:
    """The key tree with each leaf replaced by `change(leaf)` (under AND, OR and NOT alike)."""
    if isinstance(key, And):
        return And(tuple(map_leaves(k, change) for k in key.keys))
    if isinstance(key, Or):
        return Or(map_leaves(key.left, change), map_leaves(key.right, change))
    if isinstance(key, Not):
        return Not(map_leaves(key.key, change))
    return change(key)


# Keys that take no argument, as the leaves they stand for.
_FLAG_KEYS: dict[str, SearchKey] = {
    "ALL": All(),
    "SAVEDATESUPPORTED": All(),  # RFC 8514 §4: every mailbox here keeps save dates
    "ANSWERED": FlagKey("\\Answered", True),
    "DELETED": FlagKey("\\Deleted", True),
    "DRAFT": FlagKey("\\Draft", True),
    "FLAGGED": FlagKey("\\Flagged", True),
    "RECENT": FlagKey("\\Recent", True),
    "SEEN": FlagKey("\\Seen", True),
    "UNANSWERED": FlagKey("\\Answered", False),
    "UNDELETED": FlagKey("\\Deleted", False),
    "UNDRAFT": FlagKey("\\Draft", False),
    "UNFLAGGED": FlagKey("\\Flagged", False),
    "UNSEEN": FlagKey("\\Seen", False),
    "NEW": And((FlagKey("\\Recent", True), FlagKey("\\Seen", False))),
    "OLD": FlagKey("\\Recent", False),
}
_HEADER_KEYS = {"BCC": "bcc", "CC": "cc", "FROM": "from", "SUBJECT": "subject", "TO": "to"}
_DATE_KEYS: dict[str, tuple[bool, Literal["BEFORE", "ON", "SINCE"], bool]] = {
    "BEFORE": (False, "BEFORE", False),
    "ON": (False, "ON", False),
    "SINCE": (False, "SINCE", False),
    "SENTBEFORE": (True, "BEFORE", False),
    "SENTON": (True, "ON", False),
    "SENTSINCE": (True, "SINCE", False),
    "SAVEDBEFORE": (False, "BEFORE", True),  # SAVEDATE, RFC 8514 §4
    "SAVEDON": (False, "ON", True),
    "SAVEDSINCE": (False, "SINCE", True),
}
_ENTRY_TYPES = ("priv", "shared", "all")


def parse_program(r: Reader, charset: str | None) -> SearchKey:
    """`1*(SP search-key)` after SEARCH's options; the reader is before the first space.

    `charset` is the CHARSET argument in upper case (None when absent); the caller has checked
    that it is one of CHARSETS.
    """
    keys: list[SearchKey] = []
    while not r.at_end():
        r.sp()
        keys.append(_key(r, charset, 0))
    if not keys:
        raise r.error("SEARCH needs at least one search key")
    return keys[0] if len(keys) == 1 else And(tuple(keys))


def _key(r: Reader, charset: str | None, depth: int) -> SearchKey:
    if depth >= MAX_DEPTH:
        raise r.error(f"search keys nested deeper than {MAX_DEPTH} levels")
    c = r.peek()
    if c == 0x28:  # (
        r.pos += 1
        keys = [_key(r, charset, depth + 1)]
        while not r.skip(0x29):
            r.sp()
            keys.append(_key(r, charset, depth + 1))
        return keys[0] if len(keys) == 1 else And(tuple(keys))
    if 0x30 <= c <= 0x39 or c == 0x2A or c == 0x24:  # digit, *, $
        return SeqKey(r.seqset(), uid=False)
    name = r.keyword()
    leaf = _FLAG_KEYS.get(name)
    if leaf is not None:
        return leaf
    if name in _HEADER_KEYS:
        r.sp()
        return HeaderKey(_HEADER_KEYS[name], _string(r, charset))
    if name in _DATE_KEYS:
        r.sp()
        sent, op, saved = _DATE_KEYS[name]
        return DateKey(sent, op, r.date(), saved)
    if name == "NOT":
        r.sp()
        return Not(_key(r, charset, depth + 1))
    if name == "OR":
        r.sp()
        left = _key(r, charset, depth + 1)
        r.sp()
        return Or(left, _key(r, charset, depth + 1))
    if name in ("BODY", "TEXT"):
        r.sp()
        return TextKey("BODY" if name == "BODY" else "TEXT", _string(r, charset))
    if name == "HEADER":
        r.sp()
        field = r.field_name().lower()
        r.sp()
        return HeaderKey(field, _string(r, charset))
    if name in ("KEYWORD", "UNKEYWORD"):
        r.sp()
        keyword = r.atom("a keyword").decode()
        return FlagKey(keyword, name == "KEYWORD")
    if name in ("LARGER", "SMALLER"):
        r.sp()
        return SizeKey(name == "LARGER", r.number())
    if name in ("OLDER", "YOUNGER"):  # WITHIN (RFC 5032)
        r.sp()
        return AgeKey(name == "OLDER", r.number(nonzero=True))
    if name == "UID":
        r.sp()
        return SeqKey(r.seqset(), uid=True)
    if name == "MODSEQ":
        return _modseq(r)
    raise r.error(f"unknown search key {name}")


def _string(r: Reader, charset: str | None) -> str:
    raw = r.astring()
    if charset == "US-ASCII" and not raw.isascii():
        raise r.error("search string is not US-ASCII")
    return r.text(raw, "search string")


def _modseq(r: Reader) -> ModSeqKey:
    r.sp()
    entry = entry_type = None
    if r.peek() == 0x22:  # "/flags/\\seen" priv
        raw = r.quoted()
        if not raw.lower().startswith(b"/flags/"):
            raise r.error("MODSEQ entry name must be /flags/<flag>")
        flag = r.text(raw[7:], "MODSEQ entry name")
        canonical = SYSTEM_FLAGS.get(flag.upper())
        if canonical is not None:
            flag = canonical
        elif not is_atom(flag):
            raise r.error(f"invalid flag in MODSEQ entry name {flag!r}")
        entry = flag
        r.sp()
        kind = r.atom("an entry type").decode().lower()
        if kind not in _ENTRY_TYPES:
            raise r.error("MODSEQ entry type must be priv, shared or all")
        entry_type = kind
        r.sp()
    return ModSeqKey(r.number(limit=MAX_MODSEQ), entry, entry_type)
