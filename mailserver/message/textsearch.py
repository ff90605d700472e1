"""SEARCH text matching (RFC 3501 §6.4.4): header values and body text, decoded, compared
as substrings in the i;unicode-casemap form (RFC 5051; casemap.py), the server's default
comparator (I18NLEVEL=1, RFC 5255): "résumé" finds "RÉSUMÉ", composed or decomposed.

BODY looks at the text of every text/* part (quoted-printable and base64 decoded, the charset
applied; a missing or us-ascii charset is read as UTF-8, which contains it) and the headers of
embedded messages; TEXT also at the message's own header. Other parts (images, archives) are
not searched, as Dovecot does without a full-text index. A body is decoded in chunks of
`CHUNK` octets and never held whole: memory stays bounded for a 50 MB part, and time linear.

A header field's texts can also be kept in an index (`index_text`) and matched there
(`index_matches`) with the same answers as `header_matches`, without the message: the store
does that for Subject, so SEARCH SUBJECT reads no file.
"""

from __future__ import annotations

import binascii
import codecs
from collections.abc import Callable, Iterable, Iterator

from mailserver.message.address import format_address, parse_addresses
from mailserver.message.casemap import casemap
from mailserver.message.charsets import text_codec
from mailserver.message.header import Header
from mailserver.message.structure import Part
from mailserver.message.words import decode_words

CHUNK = 1 << 20
_SEPARATOR = "\n"  # between the texts of two parts, so that no match spans them
_FIELD = "\x00"  # before each field's text in an index_text
_READ_AS = {"ascii": "utf-8"}  # 8-bit text labelled us-ascii is nearly always UTF-8
_ADDRESS_FIELDS = frozenset({b"from", b"to", b"cc", b"bcc", b"sender", b"reply-to"})
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(c for c in range(256) if c not in _B64 + b"=")


def header_texts(header: Header, name: bytes) -> list[str]:
    """Each field of that name as searchable text: decoded, and for address fields followed
    by its addresses as `name <mailbox@host>` (so both forms match)."""
    out = []
    name = name.lower()
    for value in header.get_all(name):
        text = decode_words(value)
        if name in _ADDRESS_FIELDS:
            addresses = [
                decode_words(format_address(a)) for a in parse_addresses(value) if a[3] is not None
            ]
            text = _SEPARATOR.join([text, *addresses])
        out.append(text)
    return out


def header_matches(header: Header, name: bytes, needle: str) -> bool:
    """SEARCH HEADER/FROM/TO/CC/BCC/SUBJECT: some field of that name contains `needle`.
    With an empty needle: the message has such a field."""
    return any(contains([text], needle) for text in header_texts(header, name))


def index_text(texts: list[str]) -> str | None:
    """The index form of `header_texts`: each text after a NUL, so no field is "" and one
    empty field is "\x00". None when it cannot be kept: a text holds a NUL (a needle could
    then match across two fields) or a lone surrogate (SQLite stores UTF-8 only)."""
    stored = "".join(_FIELD + text for text in texts)
    if stored.count(_FIELD) != len(texts):
        return None
    try:
        stored.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return stored


def index_matches(stored: str, needle: str) -> bool:
    """`header_matches` on the fields whose `index_text` is `stored`."""
    return index_matcher(needle)(stored)


def index_matcher(needle: str) -> Callable[[str], bool]:
    """`index_matches` of one needle, folded once for many messages. No text in a stored
    form holds a NUL, so a needle without one matches the whole only within one field
    (casemap maps each character alone), and a needle with one matches no field."""
    folded = casemap(needle)
    if not folded:
        return _has_field
    if _FIELD in folded:
        return _no_field
    return lambda stored: folded in casemap(stored)


def _has_field(stored: str) -> bool:
    return stored != ""


def _no_field(stored: str) -> bool:
    return False


def contains(texts: Iterable[str], needle: str) -> bool:
    """Whether the concatenated chunks of text contain `needle`, ignoring case."""
    folded = casemap(needle)
    if not folded:
        return True
    keep = len(folded) - 1  # what of a chunk's end may begin a match in the next one
    window = ""
    for chunk in texts:
        window = window[max(len(window) - keep, 0) :] + casemap(chunk)
        if folded in window:
            return True
    return False


def body_matches(buf: bytes, root: Part, needle: str, *, with_header: bool = False) -> bool:
    """SEARCH BODY (or TEXT, `with_header`): the message's text contains `needle`."""
    return contains(body_texts(buf, root, with_header=with_header), needle)


def body_texts(buf: bytes, root: Part, *, with_header: bool) -> Iterator[str]:
    """The searchable text of a message, in chunks, each starting a new part."""
    if with_header:
        yield _header_text(root.header)
    for part in root.walk():
        if part is not root and part.message is not None:
            yield _SEPARATOR + _header_text(part.message.header)
        if part.type == b"text" and not part.is_multipart and part.message is None:
            yield _SEPARATOR
            yield from part_text(buf, part)


def _header_text(header: Header) -> str:
    return decode_words(header.buf[header.start : header.end])


def part_text(buf: bytes, part: Part, limit: int | None = None) -> Iterator[str]:
    """The decoded text of one leaf part, in chunks; of its first `limit` octets only when
    given (PREVIEW reads no more than it shows)."""
    charset = None if part.content_type is None else part.content_type.text_param(b"charset")
    codec = (text_codec(charset) if charset else None) or "utf-8"
    decoder = codecs.getincrementaldecoder(_READ_AS.get(codec, codec))("replace")
    end = part.body_end if limit is None else min(part.body_end, part.body_start + limit)
    for data in decoded_chunks(buf, part.body_start, end, part.encoding):
        yield decoder.decode(data)
    yield decoder.decode(b"", True)


def raw_chunks(buf: bytes, start: int, end: int, size: int = CHUNK) -> Iterator[bytes]:
    """buf[start:end] in pieces of about `size` octets, each ending at a line end if one is near."""
    pos = start
    while pos < end:
        cut = min(pos + size, end)
        if cut < end:
            nl = buf.rfind(b"\n", pos, cut)
            if nl >= pos:
                cut = nl + 1
        yield buf[pos:cut]
        pos = cut


def _b64_run(data: bytes) -> bytes:
    """A run of base64 characters of any length; a lone last character carries no octet."""
    data = data[: len(data) - (len(data) % 4 == 1)]
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4))


def decoded_chunks(buf: bytes, start: int, end: int, encoding: bytes) -> Iterator[bytes]:
    """The body buf[start:end] with its Content-Transfer-Encoding undone, in pieces.

    Bad base64 is decoded as far as it makes sense (stray characters dropped, a lone last
    character ignored); bad quoted-printable is kept as written.
    """
    if encoding == b"base64":
        pending = b""
        for chunk in raw_chunks(buf, start, end):
            pending += chunk.translate(None, _NOT_B64)
            while (pad := pending.find(b"=")) >= 0:  # padding ends a run: decode it alone
                yield _b64_run(pending[:pad])
                pending = pending[pad:].lstrip(b"=")
            whole = len(pending) - len(pending) % 4
            if whole:
                yield binascii.a2b_base64(pending[:whole])
                pending = pending[whole:]
        yield _b64_run(pending)
    elif encoding == b"quoted-printable":
        for chunk in raw_chunks(buf, start, end):
            yield binascii.a2b_qp(chunk)
    else:
        yield from raw_chunks(buf, start, end)
