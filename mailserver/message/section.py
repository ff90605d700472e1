"""BODY[section]<partial> (RFC 3501 §6.4.5): which bytes of a message a section names.

Part numbers: in a message (the top one or one inside a message/rfc822 part) a multipart's
parts are numbered from 1; a message that is not multipart has a single part, 1, its body.
A message/rfc822 part's own parts are those of the message it holds. HEADER, TEXT and
HEADER.FIELDS[.NOT] after part numbers need a message/rfc822 part; MIME needs part numbers and
gives the part's MIME header (for part 1 of a non-multipart message: the message header).
A part that does not exist, or a specifier that does not apply to it, is the empty string.
Bytes come back as memoryview slices of the stored message (no copy); HEADER.FIELDS builds its
small answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailserver.message.errors import SectionError
from mailserver.message.header import Header
from mailserver.message.structure import Part

_TEXTS = ("", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME")
_NAMED = frozenset(t.encode() for t in _TEXTS if t)
_NUMBER = re.compile(rb"[1-9][0-9]{0,9}\Z")
# RFC 3501 header-fld-name is an astring: an atom (ASTRING-CHAR) or a quoted string.
_FIELD = re.compile(rb'\s*(?:"((?:[^"\\\r\n]|\\["\\])*)"|([^\s()"{\\\]%*\x00-\x1f\x7f]+))')


@dataclass(frozen=True, slots=True)
class Section:
    """A parsed section spec: part numbers, then what of that part."""

    part: tuple[int, ...] = ()
    text: str = ""  # one of "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
    fields: tuple[bytes, ...] = ()  # for HEADER.FIELDS[.NOT]

    def __post_init__(self) -> None:
        if self.text not in _TEXTS:
            raise SectionError(f"unknown section text {self.text!r}")
        if self.text == "MIME" and not self.part:
            raise SectionError("MIME needs a part number")
        if self.text.startswith("HEADER.FIELDS") and not self.fields:
            raise SectionError(f"{self.text} needs a list of field names")
        if any(n < 1 for n in self.part):
            raise SectionError("part numbers start at 1")


def parse_section(spec: bytes) -> Section:
    """The Section for the text between "[" and "]", e.g. b'1.2.HEADER.FIELDS (From To)'."""
    head, space, rest = spec.partition(b" ")
    numbers: list[int] = []
    words = head.split(b".") if head else []
    i = 0
    while i < len(words) and words[i][:1].isdigit():
        if not _NUMBER.match(words[i]):
            raise SectionError(f"bad part number in section [{_show(spec)}]")
        numbers.append(int(words[i]))
        i += 1
    text = b".".join(words[i:]).upper()
    if i < len(words) and text not in _NAMED:
        raise SectionError(f"unknown section [{_show(spec)}]")
    fields: tuple[bytes, ...] = ()
    if text.startswith(b"HEADER.FIELDS"):
        if not space:
            raise SectionError(f"{text.decode()} needs a list of field names")
        fields = _field_list(rest)
    elif space:
        raise SectionError(f"unexpected text in section [{_show(spec)}]")
    return Section(part=tuple(numbers), text=text.decode(), fields=fields)


def _show(spec: bytes) -> str:
    """A section spec for an error message (the command's BAD text): short, printable."""
    return spec[:80].decode("ascii", "backslashreplace")


def _field_list(text: bytes) -> tuple[bytes, ...]:
    text = text.strip()
    if not (text.startswith(b"(") and text.endswith(b")")):
        raise SectionError("field names must be a parenthesised list")
    inner, pos, names = text[1:-1], 0, []
    while inner[pos:].strip():
        m = _FIELD.match(inner, pos)
        if m is None:
            raise SectionError(f"bad field name in {_show(text)}")
        quoted, atom = m.group(1), m.group(2)
        if quoted is not None:
            names.append(re.sub(rb"\\(.)", rb"\1", quoted))
        else:
            names.append(atom)
        pos = m.end()
    if not names:
        raise SectionError("field names must be a non-empty list")
    return tuple(names)


def find_part(root: Part, numbers: tuple[int, ...]) -> Part | None:
    """The part that the part numbers name, or None when it does not exist."""
    if not numbers:
        return None
    current = _in_message(root, numbers[0])
    for n in numbers[1:]:
        if current is None:
            return None
        if current.message is not None:
            current = _in_message(current.message, n)
        elif current.is_multipart:
            current = _child(current, n)
        else:
            return None
    return current


def _in_message(message: Part, n: int) -> Part | None:
    """Part n of a message: a multipart's nth part, or the message's own body for n == 1."""
    if message.is_multipart:
        return _child(message, n)
    return message if n == 1 else None


def _child(multipart: Part, n: int) -> Part | None:
    return multipart.children[n - 1] if 1 <= n <= len(multipart.children) else None


def section_bytes(buf: bytes, root: Part, section: Section) -> memoryview | bytes:
    """The bytes that `section`, which has part numbers, names in the message `buf` whose tree
    is `root` (a section of the message itself needs only its header: top_section_bytes)."""
    view = memoryview(buf)
    part = find_part(root, section.part)
    if part is None:
        return b""
    if not section.text:
        return view[part.body_start : part.body_end]
    if section.text == "MIME":
        return view[part.header.start : part.header.end]
    message = part.message
    if message is None:
        return b""
    if section.text == "HEADER":
        return view[message.header.start : message.header.end]
    if section.text == "TEXT":
        return view[message.body_start : message.body_end]
    return message.header.select(section.fields, exclude=section.text.endswith(".NOT"))


def top_section_bytes(buf: bytes, header: Header, section: Section) -> memoryview | bytes:
    """The bytes of a section without part numbers (BODY[], HEADER, TEXT, HEADER.FIELDS
    [.NOT]) from the message's top `header` alone: the MIME tree is not needed, as the body
    of the message itself runs from the end of its header to the end of `buf`."""
    if not section.text:
        return memoryview(buf)
    if section.text == "HEADER":
        return memoryview(buf)[header.start : header.end]
    if section.text == "TEXT":
        return memoryview(buf)[header.end :]
    return header.select(section.fields, exclude=section.text.endswith(".NOT"))


def partial(data: memoryview | bytes, start: int, length: int | None) -> memoryview | bytes:
    """<start.length> of a section: the octets from `start` (none past the end), at most
    `length` of them (RFC 3501 §6.4.5)."""
    if start < 0 or (length is not None and length < 0):
        raise SectionError("partial offsets are non-negative")
    return data[start:] if length is None else data[start : start + length]
