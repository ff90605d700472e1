"""The MIME tree of a message (RFC 2045, RFC 2046), as byte offsets into its raw bytes.

Why not the stdlib `email` package: IMAP answers with exact byte ranges of each part's header
and body (BODY[1.2.MIME], BODYSTRUCTURE sizes, partial fetches), and `email` keeps none: it
copies every part, rewrites line endings and re-serialises headers, and it is slow on large
messages. So, like Dovecot, Cyrus and mox, this is an offset-keeping parser of its own: one
pass over the bytes, `bytes.find` (C speed) to jump from one line starting with "--" to the
next, no copy of any body (a 50 MB attachment is never sliced).

How boundaries are found (RFC 2046 §5.1.1). The parser keeps a stack of the boundaries of
every open multipart; a line is a delimiter when it is "--" and one of them (innermost first)
followed by nothing but white space (RFC 2046's transport padding), and it closes its
multipart when "--" follows the boundary (the rest of that line does not matter). So a
boundary that is a prefix of another ("b" and "b2") does not end the other's parts. The CRLF
(or LF) before a delimiter line belongs to the delimiter, not to the part before it. An
enclosing multipart's delimiter also ends every part inside it, so an inner multipart that is
never closed ends there; one never closed at all ends with the message. A multipart whose
boundary never appears has no parts: everything is preamble.

Limits: at most `max_parts` entities (the message itself, each body part, each embedded
message) and `max_depth` levels of nesting (multipart or message/rfc822). Past either, a
multipart keeps no more parts and a message/rfc822 is not opened: the rest is an opaque body.

Defaults: a part without Content-Type is text/plain (us-ascii), or message/rfc822 inside a
multipart/digest (RFC 2046 §5.1.5); an invalid Content-Type counts as absent.
A message/rfc822 or message/global part is opened as an embedded message unless its
Content-Transfer-Encoding is one that would need decoding first (base64, quoted-printable):
then it is an opaque part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from mailserver.message.header import BLANK_END, Header, read_header
from mailserver.message.params import ContentType, parse_content_type

_IDENTITY = frozenset({b"", b"7bit", b"8bit", b"binary"})
_MESSAGE_SUBTYPES = frozenset({b"rfc822", b"global"})
# What may follow a boundary on its line: "--" (the close delimiter, then anything), or
# white space (RFC 2046's transport padding) up to the line end.
_SUFFIX = re.compile(rb"--|[ \t\r]*(?:\n|\Z)")


@lru_cache(maxsize=512)
def _finder(bounds: tuple[bytes, ...], closing: int) -> re.Pattern[bytes]:
    """A regular expression for the next delimiter line of any open multipart: a line that is
    one of `bounds` (each "--" + boundary, innermost last) and a valid suffix. Group i (from 1)
    is the i-th innermost boundary. The search runs in C: a body with millions of lines that
    begin with "--" costs no Python per line. With `closing` >= 0, that level's boundary
    matches only as a close delimiter."""
    alternatives = []
    for level in range(len(bounds) - 1, -1, -1):
        suffix = rb"(?=--)" if level == closing else rb"(?=--|[ \t\r]*(?:\n|\Z))"
        alternatives.append(rb"(" + re.escape(bounds[level][2:]) + rb")" + suffix)
    return re.compile(rb"\n--(?:" + rb"|".join(alternatives) + rb")")


@lru_cache(maxsize=512)
def _header_finder(bounds: tuple[bytes, ...]) -> re.Pattern[bytes]:
    """Where a header inside these multiparts ends: the line end before a blank line, or
    before a delimiter line of any of them (then group 1 is set)."""
    alternatives = rb"|".join(re.escape(b[2:]) for b in reversed(bounds))
    return re.compile(rb"\n(?:\r?\n|--(" + alternatives + rb")(?=--|[ \t\r]*(?:\n|\Z)))")


@dataclass(frozen=True, slots=True)
class Limits:
    """How much structure one message may have before the rest is treated as opaque."""

    max_parts: int = 10_000
    max_depth: int = 100


DEFAULT_LIMITS = Limits()


@dataclass(slots=True)
class Part:
    """One entity: its header (offsets), body (offsets), media type and what it contains.

    `children` are the parts of a multipart; `message` is the embedded message of a
    message/rfc822 (or message/global) part, itself a Part whose header is that message's.
    """

    header: Header
    body_start: int
    body_end: int
    content_type: ContentType | None  # None: absent or invalid (the default applies)
    type: bytes  # lowercased media type, the default applied
    subtype: bytes
    children: list[Part] = field(default_factory=list)
    message: Part | None = None

    @property
    def is_multipart(self) -> bool:
        return self.type == b"multipart"

    @property
    def encoding(self) -> bytes:
        """Content-Transfer-Encoding, lowercased; empty when absent."""
        value = self.header.get(b"content-transfer-encoding")
        return b"" if value is None else value.split(b"(", 1)[0].strip().lower()

    @property
    def start(self) -> int:
        return self.header.start

    def walk(self) -> list[Part]:
        """This part and every part inside it, depth first, in message order."""
        out: list[Part] = []
        stack: list[Part] = [self]
        while stack:
            part = stack.pop()
            out.append(part)
            inner = part.children if part.message is None else [part.message]
            stack.extend(reversed(inner))
        return out


@dataclass(frozen=True, slots=True)
class _Delimiter:
    start: int  # offset of the "--" that begins the line
    level: int  # index in the boundary stack
    close: bool  # "--boundary--"
    after: int  # offset after the line's line ending


class _Parser:
    def __init__(self, buf: bytes, limits: Limits) -> None:
        self.buf = buf
        self.end = len(buf)
        self.limits = limits
        self.bounds: list[bytes] = []  # b"--" + boundary of every open multipart
        self.parts = 0

    def match(self, pos: int) -> _Delimiter | None:
        """The delimiter whose line begins at `pos` (which begins with "--"), if any."""
        buf = self.buf
        for level, bound in reversed(list(enumerate(self.bounds))):
            if buf.startswith(bound, pos) and _SUFFIX.match(buf, pos + len(bound)):
                return self._delimiter(pos, level)
        return None

    def _delimiter(self, pos: int, level: int) -> _Delimiter:
        after_bound = pos + len(self.bounds[level])
        nl = self.buf.find(b"\n", after_bound)
        return _Delimiter(
            start=pos,
            level=level,
            close=self.buf.startswith(b"--", after_bound),
            after=self.end if nl < 0 else nl + 1,
        )

    def is_delimiter(self, pos: int) -> bool:
        return self.match(pos) is not None

    def next_delimiter(self, pos: int, closing: int = -1) -> _Delimiter | None:
        """The first delimiter line at or after `pos` (a line start after a line end, so
        never 0). With `closing`, only the close delimiter of that level counts."""
        if not self.bounds:
            return None
        m = _finder(tuple(self.bounds), closing).search(self.buf, pos - 1)
        if m is None:
            return None
        # One alternative per open multipart, innermost first: its group number says which.
        return self._delimiter(m.start() + 1, len(self.bounds) - (m.lastindex or 1))

    def content_end(self, delim: _Delimiter | None, floor: int) -> int:
        """Where the content before `delim` ends: before the line ending that precedes it."""
        if delim is None:
            return self.end
        end = delim.start  # after a LF: a delimiter line follows a header line at least
        if self.buf[end - 1] == 0x0A:
            end -= 1
            if self.buf[end - 1] == 0x0D:
                end -= 1
        return max(end, floor)

    def entity(self, start: int, depth: int, in_digest: bool) -> tuple[Part, _Delimiter | None]:
        """The entity at `start` and the delimiter line that ended it (None: the end)."""
        self.parts += 1
        bounds = tuple(self.bounds)
        first_cut = bool(bounds) and self.buf.startswith(b"--", start) and self.is_delimiter(start)
        finder = _header_finder(bounds) if bounds else BLANK_END
        header, cut = read_header(self.buf, start, finder, first_cut)
        body_start = header.end
        ctype = parse_content_type(header.get(b"content-type"))
        if ctype is None:
            kind, sub = (b"message", b"rfc822") if in_digest else (b"text", b"plain")
        else:
            kind, sub = ctype.type.lower(), ctype.subtype.lower()
        part = Part(
            header=header,
            body_start=body_start,
            body_end=body_start,
            content_type=ctype,
            type=kind,
            subtype=sub,
        )
        if cut is not None:  # the header was cut short by a delimiter: no body
            return part, self.match(cut)
        room = depth < self.limits.max_depth and self.parts < self.limits.max_parts
        if kind == b"multipart":
            boundary = None if ctype is None else ctype.param(b"boundary")
            if boundary and room:
                delim = self.multipart(part, boundary, depth, sub == b"digest")
            else:
                delim = self.next_delimiter(body_start)
        elif kind == b"message" and sub in _MESSAGE_SUBTYPES and room and _identity(part):
            inner, delim = self.entity(body_start, depth + 1, False)
            part.message = inner
        else:
            delim = self.next_delimiter(body_start)
        # An empty last part right before the delimiter can end after the line ending that
        # belongs to the delimiter: the body still contains it.
        inner_end = part.children[-1].body_end if part.children else body_start
        if part.message is not None:
            inner_end = part.message.body_end
        part.body_end = max(self.content_end(delim, body_start), inner_end)
        return part, delim

    def multipart(self, part: Part, boundary: bytes, depth: int, digest: bool) -> _Delimiter | None:
        """Read the parts of a multipart; return the delimiter that ended it (None: the end)."""
        self.bounds.append(b"--" + boundary)
        level = len(self.bounds) - 1
        delim = self.next_delimiter(part.body_start)
        while delim is not None and delim.level == level and not delim.close:
            if self.parts >= self.limits.max_parts:
                # No room for more parts: the rest of this multipart is opaque.
                delim = self.next_delimiter(delim.after, closing=level)
                break
            child, delim = self.entity(delim.after, depth + 1, digest)
            part.children.append(child)
        self.bounds.pop()
        if delim is not None and delim.level == level:  # closed: the epilogue follows
            delim = self.next_delimiter(delim.after)
        return delim


def _identity(part: Part) -> bool:
    return part.encoding in _IDENTITY


def parse_structure(buf: bytes, limits: Limits = DEFAULT_LIMITS) -> Part:
    """The MIME tree of the whole message in `buf`."""
    part, _ = _Parser(buf, limits).entity(0, 0, False)
    return part
