"""Parsing a raw HTTP query string into byte values, without ever decoding bytes as text.

info_hash and peer_id are 20 raw bytes percent-encoded (BEP 3), so values stay `bytes`:
`%xx` escapes become the byte they name, `+` becomes a space (form encoding), and a `%` not
followed by two hex digits is an error rather than a literal. Parsed once, no MultiDict.
"""

from __future__ import annotations

from tracker.errors import RequestError

# '%' followed by two hex digits in either case -> the byte (484 entries).
_HEXDIGITS = b"0123456789abcdefABCDEF"
_UNHEX: dict[bytes, bytes] = {
    bytes((h, lo)): bytes((int(bytes((h, lo)), 16),)) for h in _HEXDIGITS for lo in _HEXDIGITS
}

# Keys that may repeat: scrape takes many info_hash (BEP 48). Every other repeat is an error.
MULTI = b"info_hash"

MAX_PARAMS = 64


def unquote(value: bytes) -> bytes:
    """Percent-decode `value` ('+' is a space); raise RequestError on a malformed escape."""
    if b"+" in value:
        value = value.replace(b"+", b" ")
    if b"%" not in value:
        return value
    parts = value.split(b"%")
    out = [parts[0]]
    unhex = _UNHEX
    for part in parts[1:]:
        byte = unhex.get(part[:2])
        if byte is None:
            raise RequestError("malformed query string: bad percent escape")
        out.append(byte)
        out.append(part[2:])
    return b"".join(out)


def parse_query(raw: bytes) -> tuple[dict[bytes, bytes], list[bytes]]:
    """`a=1&info_hash=..` -> ({b"a": b"1"}, [info_hash, ...]); duplicates other than
    info_hash, too many parameters and bad escapes raise RequestError."""
    params: dict[bytes, bytes] = {}
    hashes: list[bytes] = []
    if not raw:
        return params, hashes
    pairs = raw.split(b"&")
    if len(pairs) > MAX_PARAMS:
        raise RequestError("malformed query string: too many parameters")
    for pair in pairs:
        if not pair:
            continue
        key, sep, value = pair.partition(b"=")
        if b"%" in key or b"+" in key:
            key = unquote(key)
        value = unquote(value)
        if key == MULTI:
            hashes.append(value)
        elif key in params:
            raise RequestError(f"duplicate parameter {key.decode('latin-1')!r}")
        else:
            params[key] = value
    return params, hashes
