"""The header of a message or MIME part: fields kept as byte offsets into the raw message.

RFC 5322 §2.2 and §3.2.2: a header is a run of fields, each a line that may be continued
(folded) on lines starting with a space or a tab, ended by a blank line. What arrives is not
always that, and IMAP must give back exactly what was stored, so nothing is rewritten here:

- a line ends at LF, with or without a CR before it (the store keeps CRLF; bare LF must
  not break anything);
- a line without a colon is kept as a field of its own whose name is the whole line and whose
  value is empty (`has_colon` False): it stays in BODY[HEADER] and in HEADER.FIELDS.NOT, and
  no HEADER.FIELDS name can match it; so is a continuation line before any field;
- a header with no blank line runs to the end of the entity (then the body is empty); in a
  MIME part it also stops at a boundary line of an enclosing multipart, and the line ending
  before that line belongs to the boundary, not to the header.

Speed: the end of a header, a named field and the HEADER.FIELDS selection are found by regular
expressions (C code), so a header of 50 MB costs no Python per line; the list of every field
is built only when asked for (HEADER.FIELDS.NOT).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

_WSP = b" \t"
BLANK_END = re.compile(rb"\n\r?\n")
_FIELD_START = re.compile(rb"\n(?![ \t])")  # the line end after which a new field begins


class Field(NamedTuple):
    """One header field: its name (as written, trailing white space removed) and byte range."""

    name: bytes
    key: bytes  # the name lowercased, for case-insensitive matching
    start: int  # offset of the field's first byte
    end: int  # offset after the line ending of its last line
    value_start: int  # offset after the colon (== end when it has none)
    has_colon: bool


def _alternatives(names: tuple[bytes, ...]) -> bytes:
    """`(?:name|...)`. Names are given in lower case (the convention of every caller, checked so
    that a slip shows). Their order does not matter: every pattern made of them goes on with
    `[ \t]*:`, so a name that is the start of another (`to`, `to-x`) cannot match in its place."""
    if any(n != n.lower() for n in names):
        raise ValueError(f"header field names are looked up in lower case: {names!r}")
    return rb"(?:" + b"|".join(re.escape(n) for n in sorted(set(names))) + rb")"


@lru_cache(maxsize=1024)
def _names(names: tuple[bytes, ...]) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """Where a field with one of these names begins: after a line end (LF), then the name,
    optional white space and the colon; case-insensitive (ASCII)."""
    field = _alternatives(names) + rb"[ \t]*:"
    return re.compile(field, re.IGNORECASE), re.compile(rb"\n" + field, re.IGNORECASE)


@lru_cache(maxsize=1024)
def _whole_fields(names: tuple[bytes, ...]) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """Like `_names`, but each match runs to the end of the field: its first line, the lines
    that continue it (starting with a space or a tab) and its last line ending. For the one at
    the header's start, and for the others (after an LF, which the match before consumed:
    searched from the header's second byte on, so that the first field is not found twice)."""
    field = _alternatives(names) + rb"[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*\n?"
    return re.compile(field, re.IGNORECASE), re.compile(rb"(?<=\n)" + field, re.IGNORECASE)


class Header:
    """The fields of one entity, and where its header (blank line included) and body begin."""

    __slots__ = ("_fields", "buf", "end", "fields_end", "start")

    def __init__(self, buf: bytes, start: int, end: int, fields_end: int) -> None:
        self.buf = buf
        self.start = start
        self.end = end  # offset after the blank line (or where the header stopped without one)
        self.fields_end = fields_end  # offset after the last field (before the blank line)
        self._fields: tuple[Field, ...] | None = None

    @property
    def fields(self) -> tuple[Field, ...]:
        """Every field in message order (built on first use)."""
        if self._fields is None:
            starts = list(self._field_starts())
            ends = [*starts[1:], self.fields_end]
            self._fields = tuple(map(self._scan, starts, ends))
        return self._fields

    def _field_starts(self) -> Iterable[int]:
        if self.fields_end > self.start:
            yield self.start
        for m in _FIELD_START.finditer(self.buf, self.start, self.fields_end):
            if m.end() < self.fields_end:
                yield m.end()

    def _scan(self, start: int, end: int) -> Field:
        """The field at buf[start:end]: its name is before the first colon of its first line;
        with none there (or a first line that is a continuation) it has no colon."""
        buf = self.buf
        nl = buf.find(b"\n", start, end)
        line_end = end if nl < 0 else nl
        colon = buf.find(b":", start, line_end)
        if colon < 0 or buf[start] in _WSP:
            name = buf[start:line_end].rstrip(b"\r")
            return Field(name, name.lower(), start, end, end, False)
        return self._field(start, end, colon + 1)

    def _field(self, start: int, end: int, value_start: int) -> Field:
        name = self.buf[start : value_start - 1].rstrip(_WSP)
        return Field(name, name.lower(), start, end, value_start, True)

    def _field_from(self, start: int, value_start: int) -> Field:
        m = _FIELD_START.search(self.buf, value_start, self.fields_end)
        return self._field(start, self.fields_end if m is None else m.end(), value_start)

    def _matches(self, names: tuple[bytes, ...]) -> Iterable[Field]:
        """The fields with one of these names (with a colon), in message order."""
        if not names:  # (an empty alternation would match every line starting with ":")
            return
        first_line, other_lines = _names(names)
        first = first_line.match(self.buf, self.start, self.fields_end)
        if first is not None:
            yield self._field_from(self.start, first.end())
        for m in other_lines.finditer(self.buf, self.start, self.fields_end):
            yield self._field_from(m.start() + 1, m.end())

    def raw(self, field: Field) -> bytes:
        """The field exactly as stored, folding and line ending included."""
        return self.buf[field.start : field.end]

    def value(self, field: Field) -> bytes:
        """The unfolded value: line endings inside removed, outer white space stripped."""
        return unfold(self.buf[field.value_start : field.end])

    def find(self, name: bytes) -> Field | None:
        """The first field of that name (given in lower case; the message's case does not
        matter), or None."""
        return next(iter(self._matches((name,))), None)

    def get(self, name: bytes) -> bytes | None:
        """The unfolded value of the first field of that name, or None when there is none."""
        field = self.find(name)
        return None if field is None else self.value(field)

    def get_all(self, name: bytes) -> list[bytes]:
        """The unfolded values of every field of that name, in message order."""
        return [self.value(f) for f in self._matches((name,))]

    def select(self, names: Iterable[bytes], *, exclude: bool) -> bytes:
        """HEADER.FIELDS (or .NOT with `exclude`): the matching fields in message order, as
        stored, then a blank line (RFC 3501 §6.4.5). Names match case-insensitively; a line
        without a colon matches no name."""
        wanted = tuple(n.lower() for n in names)
        buf, start, end = self.buf, self.start, self.fields_end
        if exclude:
            keys = set(wanted)
            out = [buf[f.start : f.end] for f in self.fields if not (f.has_colon and f.key in keys)]
        elif not wanted:  # (an empty alternation would match every line starting with ":")
            out = []
        else:
            # one regular expression finds each whole field (no Field per match): FETCH of the
            # header fields a client lists, for every message of a mailbox, is this loop
            first, others = _whole_fields(wanted)
            at_start = first.match(buf, start, end)
            out = [at_start[0]] if at_start is not None else []
            out += [m[0] for m in others.finditer(buf, start + 1, end)]
        if out and not out[-1].endswith(b"\n"):  # only the last field can end without one
            out[-1] += b"\r\n"
        out.append(b"\r\n")
        return b"".join(out)


def unfold(raw: bytes) -> bytes:
    """Remove the line breaks of folding (CRLF or LF) and the white space around the value."""
    if b"\n" in raw:
        raw = raw.replace(b"\r\n", b"").replace(b"\n", b"")
    return raw.strip(b" \t\r")


def parse_header(buf: bytes, start: int) -> Header:
    """Read the header that begins at `start` (it may run to the end of `buf`)."""
    return read_header(buf, start, BLANK_END)[0]


def read_header(
    buf: bytes, start: int, finder: re.Pattern[bytes], first_cut: bool = False
) -> tuple[Header, int | None]:
    """Read the header that begins at `start`; return it and the offset of the boundary line
    that cut it short, or None.

    `finder` finds the line end before a blank line or before a boundary line (group 1 set
    for a boundary); `first_cut` says the header's first line is itself a boundary line.
    """
    if first_cut:
        return Header(buf, start, start, start), start
    if buf.startswith(b"\n", start):
        return Header(buf, start, start + 1, start), None
    if buf.startswith(b"\r\n", start):
        return Header(buf, start, start + 2, start), None
    m = finder.search(buf, start)
    if m is None:
        return Header(buf, start, len(buf), len(buf)), None
    if m.lastindex is None:  # a blank line
        return Header(buf, start, m.end(), m.start() + 1), None
    # m.start() is the LF of the first line or a later one, never `start` itself.
    fields_end = m.start() - (buf[m.start() - 1] == 0x0D)
    return Header(buf, start, fields_end, fields_end), m.start() + 1
