"""FETCH items (RFC 3501 §6.4.5, `fetch-att`; RFC 7162 MODSEQ): parsed, and named for the reply.

`parse_items` reads what follows FETCH's sequence set: a macro (ALL, FAST, FULL, expanded
here), one item, or a parenthesised list of items. BODY[section]<partial> and BODY.PEEK keep
their section as a `Section`; `FetchItem.response_name()` is the item's name in the FETCH
response (BODY.PEEK answers as BODY, a partial fetch names only its origin octet).
BINARY[part]<partial>, BINARY.PEEK and BINARY.SIZE[part] (RFC 3516) keep their part numbers
as a Section too (its only field: RFC 3516's `section-binary` is part numbers alone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailserver.imap.encode import astring

if TYPE_CHECKING:
    from mailserver.imap.syntax import Reader

__all__ = ["MACROS", "FetchItem", "Section", "parse_items"]

_SIMPLE = frozenset(
    (
        "ENVELOPE",
        "FLAGS",
        "INTERNALDATE",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.SIZE",
        "RFC822.TEXT",
        "BODYSTRUCTURE",
        "UID",
        "MODSEQ",
        "SAVEDATE",  # RFC 8514
    )
)
_NAME = re.compile(rb"[A-Za-z0-9.]+")
_BINARY = frozenset(("BINARY", "BINARY.PEEK", "BINARY.SIZE"))
_PART = re.compile(rb"[1-9][0-9]{0,9}")
_SECTION_TEXTS = frozenset(("HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"))


@dataclass(frozen=True, slots=True)
class Section:
    """`[part.part.text (fields)]`: `part` numbers (empty: the whole message), `text` one of
    HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME or "" (the part itself), `fields`
    the header field names of HEADER.FIELDS (NOT), as the client wrote them."""

    part: tuple[int, ...] = ()
    text: str = ""
    fields: tuple[str, ...] = ()

    def to_bytes(self) -> bytes:
        spec = ".".join(str(n) for n in self.part)
        if self.text:
            spec = f"{spec}.{self.text}" if spec else self.text
        out = spec.encode()
        if self.fields:
            out += b" (" + b" ".join([astring(f.encode()) for f in self.fields]) + b")"
        return out


@dataclass(frozen=True, slots=True)
class FetchItem:
    """One fetch-att. `name` is the item (FLAGS, ENVELOPE, ... BODY, BINARY, BINARY.SIZE); for
    BODY with a section, BINARY and BINARY.SIZE `section` is set, `peek` says BODY.PEEK or
    BINARY.PEEK (do not set \\Seen; BINARY.SIZE is a peek too) and `partial` is (origin, length)
    for `<origin.length>`."""

    name: str
    section: Section | None = None
    peek: bool = False
    partial: tuple[int, int] | None = None

    def response_name(self) -> bytes:
        """The name this item has in the FETCH response: b"BODY[HEADER]<0>", b"FLAGS"..."""
        if self.section is None:
            return b"PREVIEW" if self.name == "PREVIEW.FUZZY" else self.name.encode()
        out = self.name.encode() + b"[" + self.section.to_bytes() + b"]"
        if self.partial is not None:
            out += b"<%d>" % self.partial[0]
        return out


_FAST = (FetchItem("FLAGS"), FetchItem("INTERNALDATE"), FetchItem("RFC822.SIZE"))
MACROS = {
    "ALL": (*_FAST, FetchItem("ENVELOPE")),
    "FAST": _FAST,
    "FULL": (*_FAST, FetchItem("ENVELOPE"), FetchItem("BODY")),
}


def parse_items(r: Reader) -> tuple[FetchItem, ...]:
    """A macro, one fetch-att, or `(fetch-att *(SP fetch-att))`."""
    if r.skip(0x28):
        items = [_parse_item(r)]
        while not r.skip(0x29):
            r.sp()
            items.append(_parse_item(r))
        return tuple(items)
    m = _NAME.match(r.data, r.pos)
    if m is not None:
        macro = MACROS.get(m.group().decode().upper())
        if macro is not None:
            r.pos = m.end()
            return macro
    return (_parse_item(r),)


def _parse_item(r: Reader) -> FetchItem:
    m = _NAME.match(r.data, r.pos)
    if m is None:
        raise r.error("expected a FETCH item")
    r.pos = m.end()
    name = m.group().decode().upper()
    if name in _SIMPLE:
        return FetchItem(name)
    if name in _BINARY:
        return _binary(r, name)
    if name in _PREVIEWS:
        return _preview(r, _PREVIEWS[name])
    if name not in ("BODY", "BODY.PEEK"):
        raise r.error(f"unknown FETCH item {name[:40]}")
    if r.peek() != 0x5B:  # [
        if name == "BODY":
            return FetchItem("BODY")  # BODYSTRUCTURE without extension data
        raise r.error("BODY.PEEK needs a section")
    r.pos += 1
    return FetchItem("BODY", _section(r), name == "BODY.PEEK", _partial(r))


# RFC 8970 §3.1: `PREVIEW [SP "(" preview-mod *(SP preview-mod) ")"]`, LAZY its one modifier;
# the drafts before it (as Dovecot still takes them): SNIPPET, FUZZY and LAZY=FUZZY, and the
# capability names as item names. The item's name says the answer's form: PREVIEW is RFC
# 8970's `PREVIEW "text"`, PREVIEW.FUZZY the draft's `PREVIEW (FUZZY "text")`, SNIPPET
# `SNIPPET (FUZZY "text")`.
_PREVIEWS = {"PREVIEW": "PREVIEW", "SNIPPET": "SNIPPET"}
_PREVIEW_MODS = frozenset(("LAZY", "FUZZY", "LAZY=FUZZY"))
# after the item, a list that is FETCH's own modifiers (RFC 4466 §2.4; RFC 7162) and not its
_FETCH_MODIFIERS = re.compile(rb" \((?:CHANGEDSINCE|VANISHED)[ )]", re.IGNORECASE)
_MODIFIER = re.compile(rb"[^ ()]+")


def _preview(r: Reader, name: str) -> FetchItem:
    """PREVIEW or SNIPPET and its modifiers (LAZY: a preview may be NIL when it would take
    long; ours never does, so LAZY changes nothing). A parenthesised list of FETCH's own
    modifiers (CHANGEDSINCE, VANISHED) is left for FETCH."""
    fuzzy = False
    if r.data[r.pos : r.pos + 6].upper() == b"=FUZZY":  # PREVIEW=FUZZY, SNIPPET=FUZZY
        r.pos += 6
    if r.data[r.pos : r.pos + 2] == b" (" and not _FETCH_MODIFIERS.match(r.data, r.pos):
        r.pos += 2
        while True:
            m = _MODIFIER.match(r.data, r.pos)
            word = b"" if m is None else m.group().upper()
            if word.decode(errors="replace") not in _PREVIEW_MODS:
                shown = word[:40].decode(errors="replace")
                raise r.error(f"{shown!r} is not a supported {name} modifier")
            assert m is not None
            r.pos = m.end()
            fuzzy = fuzzy or word.endswith(b"FUZZY")
            if r.skip(0x29):
                break
            r.sp()
    if name == "PREVIEW" and fuzzy:
        return FetchItem("PREVIEW.FUZZY")
    return FetchItem(name)


def _partial(r: Reader) -> tuple[int, int] | None:
    """`<origin.length>`, if that comes next."""
    if not r.skip(0x3C):
        return None
    origin = r.number()
    r.expect(0x2E, "'.' in a partial range")
    length = r.number(nonzero=True)
    r.expect(0x3E, "'>' after a partial range")
    return (origin, length)


def _binary(r: Reader, name: str) -> FetchItem:
    """`BINARY[.PEEK] section-binary [partial]` or `BINARY.SIZE section-binary` (RFC 3516
    §4.2): section-binary is `[` part numbers `]`, nothing else."""
    r.expect(0x5B, f"'[' after {name}")
    part: list[int] = []
    while not r.skip(0x5D):
        if part:
            r.expect(0x2E, "'.' or ']' after a part number")
        m = _PART.match(r.data, r.pos)
        if m is None:
            raise r.error(f"{name} takes part numbers only")
        r.pos = m.end()
        part.append(int(m.group()))
    section = Section(tuple(part))
    if name == "BINARY.SIZE":
        return FetchItem(name, section, peek=True)
    return FetchItem("BINARY", section, name == "BINARY.PEEK", _partial(r))


def _section(r: Reader) -> Section:
    """The inside of `[...]` and the `]`, the `[` already read."""
    if r.skip(0x5D):
        return Section()
    m = _NAME.match(r.data, r.pos)
    if m is None:
        raise r.error("invalid section")
    r.pos = m.end()
    spec = m.group().decode()
    words = spec.upper().split(".")
    if "" in words:
        raise r.error(f"invalid section {spec[:40]}")
    part: list[int] = []
    while words and words[0].isdigit():
        word = words.pop(0)
        if word[0] == "0" or len(word) > 10:
            raise r.error(f"invalid section part {word}")
        part.append(int(word))
    text = ".".join(words)
    if text not in _SECTION_TEXTS and not (part and text in ("", "MIME")):
        raise r.error(f"invalid section {spec[:40]}")
    fields: list[str] = []
    if text.startswith("HEADER.FIELDS"):
        r.sp()
        r.expect(0x28, "'(' before header field names")
        while True:
            fields.append(r.field_name())
            if r.skip(0x29):
                break
            r.sp()
    r.expect(0x5D, "']' after the section")
    return Section(tuple(part), text, tuple(fields))
