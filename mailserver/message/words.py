"""RFC 2047 encoded words in header text, decoded for SEARCH, SORT and display.

Every charset Python knows is decoded (RFC 2231's `charset*lang` form too). Adjacent encoded
words in the same charset are decoded together, so a character split across two words (as
mailers do with UTF-8 in B encoding) comes out whole, and the white space between two encoded
words is dropped (RFC 2047 §6.2). A word in an unknown charset, or whose encoded text cannot be
decoded, is kept as written. Text outside encoded words is UTF-8, else Latin-1.
"""

from __future__ import annotations

import binascii
import re

from mailserver.message.charsets import decode_bytes, text_codec

_WORD = re.compile(rb"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_SPACE = re.compile(rb"[ \t\r\n]*\Z")


def _payload(encoding: bytes, text: bytes) -> bytes | None:
    try:
        if encoding.upper() == b"B":
            text = text.rstrip(b"=")
            return binascii.a2b_base64(text + b"=" * (-len(text) % 4), strict_mode=True)
        return binascii.a2b_qp(text, header=True)
    except (binascii.Error, ValueError):
        return None


def decode_words(raw: bytes) -> str:
    """Header text with its encoded words decoded."""
    if b"=?" not in raw:
        return decode_bytes(raw, None)
    out: list[str] = []
    pending: list[bytes] = []  # payloads of adjacent words in `pending_charset`
    pending_charset = ""
    pos = 0

    def flush() -> None:
        if pending:
            out.append(decode_bytes(b"".join(pending), pending_charset))
            pending.clear()

    for m in _WORD.finditer(raw):
        between = raw[pos : m.start()]
        charset = m.group(1).decode("ascii", "replace")
        payload = _payload(m.group(2), m.group(3)) if text_codec(charset) else None
        if payload is None:  # unknown charset or bad encoding: the word as written
            flush()
            out.append(decode_bytes(raw[pos : m.end()], None))
            pos = m.end()
            continue
        adjacent = pending and _SPACE.match(between) is not None
        if not adjacent:
            flush()
            if between:
                out.append(decode_bytes(between, None))
        elif charset.lower() != pending_charset.lower():
            flush()
        pending_charset = charset
        pending.append(payload)
        pos = m.end()
    flush()
    out.append(decode_bytes(raw[pos:], None))
    return "".join(out)
