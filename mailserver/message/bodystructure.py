"""BODY and BODYSTRUCTURE (RFC 3501 §7.4.2) of a MIME tree, as the encoder's Python values.

Types, subtypes, parameter names and values are given as written in the message (clients
compare them case-insensitively); a part without a valid Content-Type is "text" "plain"
("charset" "us-ascii"), or "message" "rfc822" inside a multipart/digest. RFC 2231 parameters
are merged (see params.py). A multipart whose parts could not be found (no boundary, the
boundary never appears, or a limit was reached) is given one empty text/plain part, since the
grammar needs at least one, as Dovecot does.

Sizes are octets of the body as stored; line counts are the number of lines of the body
(LF-terminated lines, plus a last one without a line ending). The store keeps messages with
CRLF line endings, so these are the RFC's CRLF figures; for a message with bare LF they are
consistent with what BODY[...] returns for it, which is what a client checks them against.
"""

from __future__ import annotations

from mailserver.message.envelope import ImapValue, envelope
from mailserver.message.header import Header
from mailserver.message.params import ContentType, _Reader, parse_disposition
from mailserver.message.structure import Part

_EMPTY_BODY: list[ImapValue] = [
    b"text",
    b"plain",
    [b"charset", b"us-ascii"],
    None,
    None,
    b"7bit",
    0,
    0,
]
_EMPTY_EXTENSION: list[ImapValue] = [None, None, None, None]


def count_lines(buf: bytes, start: int, end: int) -> int:
    """Text lines in buf[start:end]: its LFs, plus one for a last line without a line end."""
    if end <= start:
        return 0
    lines = buf.count(b"\n", start, end)
    return lines if buf[end - 1] == 0x0A else lines + 1


def body_structure(part: Part, *, extended: bool, global_message: bool) -> list[ImapValue]:
    """BODYSTRUCTURE of `part` (BODY when `extended` is False). A message/global part (RFC
    6532) is described as a message, with its envelope, body and lines, only for
    `global_message` (IMAP4rev2, RFC 9051 §7.5.2); IMAP4rev1's grammar has that form for
    message/rfc822 alone (RFC 3501 §9), so a rev1 client gets a basic part, as from Dovecot."""
    header = part.header
    if part.is_multipart:
        out: list[ImapValue] = [
            body_structure(c, extended=extended, global_message=global_message)
            for c in part.children
        ]
        if not out:
            out.append(_EMPTY_BODY + (_EMPTY_EXTENSION if extended else []))
        ctype = part.content_type
        assert ctype is not None  # the multipart type comes from a Content-Type
        out.append(ctype.subtype)
        if extended:
            out.append(_params(ctype))
            out.extend(_common_extension(header))
        return out
    ctype = part.content_type
    buf = header.buf
    if ctype is None:
        kind, sub = part.type, part.subtype
        params: ImapValue = [b"charset", b"us-ascii"] if kind == b"text" else None
    else:
        kind, sub, params = ctype.type, ctype.subtype, _params(ctype)
    encoding = header.get(b"content-transfer-encoding")
    encoding = _first_token(encoding) if encoding is not None else None
    out = [
        kind,
        sub,
        params,
        header.get(b"content-id"),
        header.get(b"content-description"),
        encoding or b"7bit",
        part.body_end - part.body_start,
    ]
    as_message = part.type == b"message" and (
        part.subtype == b"rfc822" or (global_message and part.subtype == b"global")
    )
    if part.message is not None and as_message:
        inner = part.message
        out.append(envelope(inner.header))
        out.append(body_structure(inner, extended=extended, global_message=global_message))
        out.append(count_lines(buf, part.body_start, part.body_end))
    elif as_message:
        # not opened (encoded, or nested past the limit): the grammar (body-type-msg) still
        # needs an envelope, a body and a line count; an empty message stands in for it
        out.append([None] * 10)
        out.append(_EMPTY_BODY + (_EMPTY_EXTENSION if extended else []))
        out.append(count_lines(buf, part.body_start, part.body_end))
    elif part.type == b"text":
        out.append(count_lines(buf, part.body_start, part.body_end))
    if extended:
        out.append(header.get(b"content-md5"))
        out.extend(_common_extension(header))
    return out


def _params(ctype: ContentType | None) -> ImapValue:
    if ctype is None or not ctype.params:
        return None
    return [item for pair in ctype.params for item in pair]


def _first_token(value: bytes) -> bytes:
    reader = _Reader(value)
    return reader.token() or value


def _common_extension(header: Header) -> list[ImapValue]:
    """body-fld-dsp, body-fld-lang, body-fld-loc."""
    disposition = parse_disposition(header.get(b"content-disposition"))
    dsp: ImapValue = None
    if disposition is not None:
        dsp = [disposition.type, _params(disposition)]
    location = header.get(b"content-location")
    if location is not None:  # a folded URI loses the white space folding added (RFC 2557)
        location = b"".join(location.split())
    return [dsp, _languages(header.get(b"content-language")), location]


def _languages(value: bytes | None) -> ImapValue:
    if value is None:
        return None
    tags: list[ImapValue] = []
    for item in value.split(b","):
        tag = _Reader(item).token()
        if tag:
            tags.append(tag)
    return tags or None
