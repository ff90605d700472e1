"""BINARY[section] (RFC 3516): a section with its Content-Transfer-Encoding taken off.

A leaf part (not multipart, no embedded message) is its body decoded: 7bit, 8bit, binary or
no encoding at all as it is, base64 and quoted-printable decoded, any other encoding
`UnknownEncoding` (the command's NO [UNKNOWN-CTE]). A part that holds others (BINARY[] for the
whole message, a multipart, a message/rfc822 part) is its bytes with every leaf inside it
decoded and that leaf's Content-Transfer-Encoding field saying "binary", as Dovecot answers:
then one leaf with an unknown encoding anywhere inside fails the whole section. A part that
does not exist is empty, as for BODY[section].

Decoding is RFC 2045's robust kind, not a validator (Dovecot refuses such bodies with NO
[PARSE]; a client wants the attachment): base64 skips every octet outside its alphabet
(§6.8) and ends at the first "="; quoted-printable keeps an "=" that no two hex digits
follow, as it is, and drops the white space at the end of a line (§6.7). Decoded octets are
sent as they are, line endings included: the bytes of the attachment the client saves.
"""

from __future__ import annotations

import binascii
import re
import string
from collections.abc import Callable

from mailserver.message.errors import MessageError
from mailserver.message.section import find_part
from mailserver.message.structure import Part

__all__ = ["UnknownEncoding", "binary_section", "decode"]

Body = bytes | memoryview

_IDENTITY = frozenset((b"", b"7bit", b"8bit", b"binary"))
_BASE64 = (string.ascii_letters + string.digits + "+/").encode()
_NOT_BASE64 = bytes(c for c in range(256) if c not in _BASE64)
# From the start of a run of white space only, and possessive: a long run that no line end
# follows costs one pass, not one per octet of it (a run of a million spaces, quadratic).
_TRAILING_SPACE = re.compile(rb"(?<![ \t])[ \t]++(?=\r?\n|\Z)")


class UnknownEncoding(MessageError):
    """A Content-Transfer-Encoding this server cannot decode (x-uuencode, a typo): RFC 3516
    makes the FETCH fail with NO [UNKNOWN-CTE]."""


def _base64(body: Body) -> bytes:
    data = bytes(body)
    pad = data.find(b"=")
    if pad >= 0:
        data = data[:pad]
    data = data.translate(None, _NOT_BASE64)
    extra = len(data) % 4
    if extra == 1:  # six bits: not one octet
        data = data[:-1]
    elif extra:
        data += b"=" * (4 - extra)
    return binascii.a2b_base64(data)


def _quoted_printable(body: Body) -> bytes:
    return binascii.a2b_qp(_TRAILING_SPACE.sub(b"", bytes(body)))


_DECODERS: dict[bytes, Callable[[Body], bytes]] = {
    b"base64": _base64,
    b"quoted-printable": _quoted_printable,
}


def decode(encoding: bytes, body: Body) -> Body:
    """`body` with its Content-Transfer-Encoding `encoding` (lowercased, as Part.encoding
    gives it) taken off; UnknownEncoding for one this module does not know."""
    if encoding in _IDENTITY:
        return body
    decoder = _DECODERS.get(encoding)
    if decoder is None:
        shown = encoding[:40].decode("ascii", "replace")
        raise UnknownEncoding(f"unknown Content-Transfer-Encoding {shown}")
    return decoder(body)


def binary_section(buf: bytes, root: Part, part: tuple[int, ...]) -> Body:
    """BINARY[part] of the message `buf` whose MIME tree is `root` (see the module docstring);
    `part` empty is the whole message."""
    if not part:
        return _converted(buf, root, 0, len(buf))
    found = find_part(root, part)
    if found is None:
        return b""
    if not found.is_multipart and found.message is None:
        return decode(found.encoding, memoryview(buf)[found.body_start : found.body_end])
    return _converted(buf, found, found.body_start, found.body_end)


def _converted(buf: bytes, top: Part, start: int, end: int) -> Body:
    """buf[start:end], which holds `top`'s leaves, with each leaf that has an encoding decoded
    and its Content-Transfer-Encoding field's value replaced by "binary"."""
    view = memoryview(buf)
    pieces: list[Body] = []
    pos = start
    for leaf in top.walk():  # (in message order: their offsets only grow)
        if leaf.is_multipart:
            continue
        encoding = leaf.encoding
        if encoding in _IDENTITY:  # (a message/rfc822 part read as a message is one of these)
            continue
        body = decode(encoding, view[leaf.body_start : leaf.body_end])
        field = leaf.header.find(b"content-transfer-encoding")  # (there: the encoding is)
        if field is not None:
            value_end = field.end
            while value_end > field.value_start and buf[value_end - 1] in b"\r\n":
                value_end -= 1
            pieces += [view[pos : field.value_start], b" binary"]
            pos = value_end
        pieces += [view[pos : leaf.body_start], body]
        pos = leaf.body_end
    if not pieces:
        return view[start:end]
    pieces.append(view[pos:end])
    return b"".join(pieces)
