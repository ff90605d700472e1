"""The header of a message or MIME part: fields kept as byte offsets into the raw message.

RFC 5322 §2.2 and §3.2.2: a header is a run of fields, each a line that may be continued
(folded) on lines starting with a space or a tab, ended by a blank line. What arrives is not
always that, and IMAP must give back exactly what was stored, so nothing is rewritten here:

- a line ends at LF, with or without a CR before it (the store keeps CRLF; bare LF must
  not break anything);
- a line without a colon is kept as a field of its own whose name is the whole line and whose
  value is empty (`has_colon` False): it stays in BODY[HEADER] and in HEADER.FIELDS.NOT, and
  no HEADER.FIELDS name can match it;
- a continuation line before any field (the header starts with white space) is such a
  colon-less field too;
- a header with no blank line runs to the end of the entity (then the body is empty); in a
  MIME part it also stops at a boundary line of an enclosing multipart (`stop` says which
  lines are boundaries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

_WSP = b" \t"
_SP = 0x20
_TAB = 0x09


@dataclass(frozen=True, slots=True)
class Field:
    """One header field: its name (as written, trailing white space removed) and byte range."""

    name: bytes
    key: bytes  # the name lowercased, for case-insensitive matching
    start: int  # offset of the field's first byte
    end: int  # offset after the line ending of its last line
    value_start: int  # offset after the colon (== end when it has none)
    has_colon: bool


@dataclass(frozen=True, slots=True)
class Header:
    """The fields of one entity, and where its header (blank line included) and body begin."""

    buf: bytes
    start: int
    end: int  # offset after the blank line (or where the header stopped without one)
    fields: tuple[Field, ...]

    def raw(self, field: Field) -> bytes:
        """The field exactly as stored, folding and line ending included."""
        return self.buf[field.start : field.end]

    def value(self, field: Field) -> bytes:
        """The unfolded value: line endings inside removed, outer white space stripped."""
        return unfold(self.buf[field.value_start : field.end])

    def find(self, name: bytes) -> Field | None:
        """The first field of that name (case-insensitive), or None."""
        key = name.lower()
        for field in self.fields:
            if field.key == key and field.has_colon:
                return field
        return None

    def get(self, name: bytes) -> bytes | None:
        """The unfolded value of the first field of that name, or None when there is none."""
        field = self.find(name)
        return None if field is None else self.value(field)

    def get_all(self, name: bytes) -> list[bytes]:
        """The unfolded values of every field of that name, in message order."""
        key = name.lower()
        return [self.value(f) for f in self.fields if f.key == key and f.has_colon]

    def select(self, names: Iterator[bytes] | tuple[bytes, ...], *, exclude: bool) -> bytes:
        """HEADER.FIELDS (or .NOT with `exclude`): the matching fields in message order, as
        stored, then a blank line (RFC 3501 §6.4.5). Names match case-insensitively; a line
        without a colon matches no name."""
        keys = {n.lower() for n in names}
        out = [
            self.buf[f.start : f.end]
            for f in self.fields
            if (f.has_colon and f.key in keys) != exclude
        ]
        for i, chunk in enumerate(out):
            if not chunk.endswith(b"\n"):  # the last line of a header cut short
                out[i] = chunk + b"\r\n"
        out.append(b"\r\n")
        return b"".join(out)


def unfold(raw: bytes) -> bytes:
    """Remove the line breaks of folding (CRLF or LF) and the white space around the value."""
    if b"\n" in raw:
        raw = raw.replace(b"\r\n", b"").replace(b"\n", b"")
    return raw.strip(b" \t\r")


def parse_header(buf: bytes, start: int, end: int) -> Header:
    """Read the header that begins at `start`, up to `end`."""
    return read_header(buf, start, end, None)[0]


def read_header(
    buf: bytes, start: int, end: int, stop: Callable[[int], bool] | None
) -> tuple[Header, int]:
    """Read the header that begins at `start`, up to `end`; return it and the offset of the
    boundary line that cut it short, or -1.

    `stop(offset)` is asked for every line that begins with "--" and says whether it is a
    boundary line of an enclosing multipart, where the header (and the entity) ends; the line
    ending before that line belongs to the boundary, not to the header.
    """
    fields: list[Field] = []
    cut = -1
    pos = start
    # The field being read: (start, value_start, name, has_colon), closed at its last line.
    current: tuple[int, int, bytes, bool] | None = None
    header_end = end
    while pos < end:
        nl = buf.find(b"\n", pos, end)
        line_end = end if nl < 0 else nl + 1
        first = buf[pos]
        if first == 0x0A or (first == 0x0D and nl == pos + 1):
            header_end = line_end
            break
        if first == 0x2D and stop is not None and buf.startswith(b"--", pos) and stop(pos):
            cut = header_end = pos
            if header_end > start and buf[header_end - 1] == 0x0A:
                header_end -= 1
                if header_end > start and buf[header_end - 1] == 0x0D:
                    header_end -= 1
            break
        if first in (_SP, _TAB) and current is not None:
            pos = line_end
            continue
        if current is not None:
            fields.append(_field(current, pos))
        colon = buf.find(b":", pos, line_end)
        if colon < 0:
            name = buf[pos:line_end].rstrip(b"\r\n")
            current = (pos, line_end, name, False)
        else:
            current = (pos, colon + 1, buf[pos:colon].rstrip(_WSP), True)
        pos = line_end
    if current is not None:
        fields.append(_field(current, min(pos, header_end)))
    return Header(buf=buf, start=start, end=header_end, fields=tuple(fields)), cut


def _field(current: tuple[int, int, bytes, bool], end: int) -> Field:
    start, value_start, name, has_colon = current
    return Field(
        name=name,
        key=name.lower(),
        start=start,
        end=end,
        value_start=min(value_start, end),
        has_colon=has_colon,
    )
