"""Bytes to text in a named charset, never failing: what SEARCH and the decoders need."""

from __future__ import annotations

import codecs
from functools import lru_cache


@lru_cache(maxsize=256)
def text_codec(charset: str) -> str | None:
    """Python's codec for a MIME charset name (RFC 2231 `*lang` suffix ignored), or None
    when Python knows no text encoding by that name."""
    name = charset.partition("*")[0].strip().strip('"').lower()
    if not name or len(name) > 64 or not (name.isascii() and name.isprintable()):
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # bytes-to-bytes codecs (base64_codec, zlib...) are not text encodings, and a few text
    # codecs (idna, punycode) cannot replace what they cannot decode: neither will do.
    if not getattr(info, "_is_text_encoding", True):
        return None
    try:
        "".join(codecs.iterdecode([b"\xff\xfe\x00a"], info.name, "replace"))
    except (UnicodeError, ValueError, TypeError, LookupError):
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None) -> str:
    """`data` as text: in `charset` when Python knows it (bad bytes replaced), else UTF-8,
    else Latin-1 (which maps every byte, so substring search still finds 8-bit text)."""
    codec = text_codec(charset) if charset else None
    if codec is not None:
        return data.decode(codec, "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")
