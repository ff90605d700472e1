"""A stored message, parsed from its raw bytes on demand: what FETCH and SEARCH ask of it."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property

from mailserver.message.binary import binary_section
from mailserver.message.bodystructure import body_structure
from mailserver.message.dates import parse_date
from mailserver.message.envelope import ImapValue, envelope
from mailserver.message.header import Header, parse_header
from mailserver.message.preview import preview
from mailserver.message.section import Section, partial, section_bytes, top_section_bytes
from mailserver.message.structure import DEFAULT_LIMITS, Limits, Part, parse_structure
from mailserver.message.textsearch import body_matches, header_matches


class Message:
    """The raw bytes of one message and its structure, each parsed the first time it is
    needed: ENVELOPE needs only the top header; BODYSTRUCTURE and sections, the MIME tree.

    `raw` may be bytes, a bytearray or a memoryview; anything but bytes is copied once.
    """

    def __init__(self, raw: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS):
        self.raw = raw if isinstance(raw, bytes) else bytes(raw)
        self.limits = limits
        self._binary: dict[tuple[int, ...], memoryview | bytes] = {}

    @property
    def size(self) -> int:
        """RFC822.SIZE: the octets of the message as stored."""
        return len(self.raw)

    @cached_property
    def header(self) -> Header:
        """The top-level header."""
        if "root" in self.__dict__:
            return self.root.header
        return parse_header(self.raw, 0)

    @cached_property
    def root(self) -> Part:
        """The MIME tree (the message itself is its root)."""
        return parse_structure(self.raw, self.limits)

    def envelope(self) -> list[ImapValue]:
        """FETCH ENVELOPE."""
        return envelope(self.header)

    def body(self, *, rev2: bool = False) -> list[ImapValue]:
        """FETCH BODY (no extension data); `rev2`: for an IMAP4rev2 session, which is told
        message/global parts as messages (bodystructure.py)."""
        return body_structure(self.root, extended=False, global_message=rev2)

    def bodystructure(self, *, rev2: bool = False) -> list[ImapValue]:
        """FETCH BODYSTRUCTURE (`rev2` as for `body`)."""
        return body_structure(self.root, extended=True, global_message=rev2)

    def section(
        self, section: Section, start: int | None = None, length: int | None = None
    ) -> memoryview | bytes:
        """FETCH BODY[section]<start.length>: the bytes, sliced without copying the message.
        A section of the message itself (no part numbers: BODY[], HEADER, TEXT, HEADER.FIELDS)
        needs only its top header, not the MIME tree."""
        if section.part:
            data = section_bytes(self.raw, self.root, section)
        else:
            data = top_section_bytes(self.raw, self.header, section)
        if start is None:
            return data
        return partial(data, start, length)

    def binary(
        self, part: tuple[int, ...], start: int | None = None, length: int | None = None
    ) -> memoryview | bytes:
        """FETCH BINARY[part]<start.length> (RFC 3516): the part with its transfer encoding
        taken off (binary.binary_section; UnknownEncoding for one it cannot); the partial
        range counts decoded octets. Each part is decoded once (BINARY.SIZE[1] BINARY[1])."""
        data = self._binary.get(part)
        if data is None:
            data = self._binary[part] = binary_section(self.raw, self.root, part)
        return data if start is None else partial(data, start, length)

    def date(self) -> datetime | None:
        """The Date: header (see dates.parse_date), or None."""
        return parse_date(self.header.get(b"date"))

    def header_matches(self, name: bytes, needle: str) -> bool:
        """SEARCH HEADER name needle (and FROM, TO, CC, BCC, SUBJECT)."""
        return header_matches(self.header, name, needle)

    def body_matches(self, needle: str) -> bool:
        """SEARCH BODY needle."""
        return body_matches(self.raw, self.root, needle)

    def text_matches(self, needle: str) -> bool:
        """SEARCH TEXT needle: header and body."""
        return body_matches(self.raw, self.root, needle, with_header=True)

    def preview(self) -> str:
        """FETCH PREVIEW (RFC 8970): a few words of its text (preview.py)."""
        return preview(self.raw, self.root)
