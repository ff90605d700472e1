"""The searching commands as typed values: SEARCH, SORT, THREAD and CANCELUPDATE.

SEARCH (RFC 3501 §6.4.4) with ESEARCH's return options (RFC 4731), SORT (RFC 5256) with
SORT=DISPLAY (RFC 5957) and ESORT (RFC 5267), THREAD (RFC 5256), SEARCHRES's SAVE (RFC 5182)
and CONTEXT=SEARCH's PARTIAL, UPDATE and CANCELUPDATE (RFC 5267). commands.py's `parse_command`
calls the parsers here, each with the Reader past the command's name; the search program
itself is search.py's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailserver.imap.command import Command
from mailserver.imap.search import CHARSETS, SearchKey, badcharset_code, parse_program
from mailserver.imap.sorting import KEYS as SORT_KEYS
from mailserver.imap.sorting import Criterion
from mailserver.imap.syntax import Reader
from mailserver.imap.threads import ALGORITHMS as THREAD_ALGORITHMS

__all__ = [
    "CancelUpdate",
    "Search",
    "Sort",
    "Thread",
    "parse_cancel_update",
    "parse_search",
    "parse_sort",
    "parse_thread",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Search(Command):
    """SEARCH: `returns` is None for a plain SEARCH, else the ESEARCH return options, with
    PARTIAL's range of positions in `partial`."""

    uid: bool
    charset: str | None
    key: SearchKey
    returns: frozenset[str] | None = None
    partial: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sort(Command):
    """SORT (RFC 5256): the criteria, most significant first, and the search program;
    `returns` is None for a plain SORT, else the ESORT return options (RFC 5267), with
    PARTIAL's range of positions in `partial`."""

    uid: bool
    criteria: tuple[Criterion, ...]
    charset: str
    key: SearchKey
    returns: frozenset[str] | None = None
    partial: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelUpdate(Command):
    """CANCELUPDATE (RFC 5267 §4.3): the tags of the searches no longer to keep up to date."""

    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Thread(Command):
    """THREAD (RFC 5256): the algorithm (one of threads.ALGORITHMS) and the search program."""

    uid: bool
    algorithm: str
    charset: str
    key: SearchKey


# RFC 4731's, SAVE (RFC 5182), PARTIAL, UPDATE and the CONTEXT hint (RFC 5267)
_RETURN_SEARCH = ("MIN", "MAX", "ALL", "COUNT", "SAVE", "PARTIAL", "UPDATE", "CONTEXT")


def _returns(r: Reader, name: str) -> tuple[frozenset[str] | None, tuple[int, int] | None]:
    """` RETURN (options)` if it comes next (ESEARCH, RFC 4731; ESORT, RFC 5267) and PARTIAL's
    range, its ends in order (RFC 5267 §4.4): (None, None) if not; `RETURN ()` means ALL."""
    if not _option(r, b"RETURN"):
        return None, None
    r.sp()
    r.expect(0x28, "'(' after RETURN")
    options: set[str] = set()
    partial = None
    while not r.skip(0x29):
        if options or partial:
            r.sp()
        option = r.keyword()
        if option not in _RETURN_SEARCH:
            raise r.error(f"unknown {name} return option {option[:40]}")
        if option == "PARTIAL":
            if partial is not None:
                raise r.error("PARTIAL given twice")
            r.sp()
            first = r.number(nonzero=True)
            r.expect(0x3A, "':' in the PARTIAL range")
            last = r.number(nonzero=True)
            partial = (min(first, last), max(first, last))
        options.add(option)
    if partial is not None and "ALL" in options:
        raise r.error("PARTIAL and ALL cannot go together")
    return frozenset(options) or frozenset({"ALL"}), partial


def parse_search(r: Reader, tag: str, name: str, uid: bool = False) -> Command:
    returns, partial = _returns(r, "SEARCH")
    charset = None
    if _option(r, b"CHARSET"):
        charset = _charset(r)
    key = parse_program(r, charset)
    return Search(
        tag=tag, name=name, uid=uid, charset=charset, key=key, returns=returns, partial=partial
    )


def parse_sort(r: Reader, tag: str, name: str, uid: bool = False) -> Command:
    """`SORT [RETURN (options)] (criteria) charset search-key...`: the charset is not optional
    here (RFC 5256); the return options are ESORT's (RFC 5267)."""
    returns, partial = _returns(r, "SORT")
    r.sp()
    r.expect(0x28, "'(' to open the sort criteria")
    criteria: list[Criterion] = []
    while True:
        word = r.keyword()
        reverse = word == "REVERSE"
        if reverse:
            r.sp()
            word = r.keyword()
        if word not in SORT_KEYS:
            raise r.error(f"unknown sort key {word[:40]}")
        criteria.append(Criterion(word, reverse))
        if r.skip(0x29):
            break
        r.sp()
    charset = _charset(r)
    key = parse_program(r, charset)
    return Sort(
        tag=tag,
        name=name,
        uid=uid,
        criteria=tuple(criteria),
        charset=charset,
        key=key,
        returns=returns,
        partial=partial,
    )


def parse_cancel_update(r: Reader, tag: str, name: str) -> Command:
    """`CANCELUPDATE "tag" ["tag"...]` (RFC 5267 §4.3: quoted tags)."""
    tags = []
    while True:
        r.sp()
        tags.append(r.text(r.quoted(), "tag"))
        if r.at_end():
            return CancelUpdate(tag=tag, name=name, tags=tuple(tags))


def parse_thread(r: Reader, tag: str, name: str, uid: bool = False) -> Command:
    """`THREAD algorithm charset search-key...` (RFC 5256)."""
    r.sp()
    algorithm = r.keyword()
    if algorithm not in THREAD_ALGORITHMS:
        raise r.error(f"unknown thread algorithm {algorithm[:40]}")
    charset = _charset(r)
    key = parse_program(r, charset)
    return Thread(tag=tag, name=name, uid=uid, algorithm=algorithm, charset=charset, key=key)


def _charset(r: Reader) -> str:
    """` charset`, upper-cased: NO [BADCHARSET (...)] for one the server does not search in."""
    r.sp()
    charset = r.text(r.astring(), "charset").upper()
    if charset not in CHARSETS:
        raise r.error(f"charset {charset[:40]} is not supported", kind="NO", code=badcharset_code())
    return charset


_WORD = re.compile(rb" ([A-Za-z]+)(?= )")


def _option(r: Reader, word: bytes) -> bool:
    """Read ` WORD` (any case) if it comes next and a space follows it (RETURN, CHARSET)."""
    m = _WORD.match(r.data, r.pos)
    if m is None or m.group(1).upper() != word:
        return False
    r.pos = m.end()
    return True
