"""Modified UTF-7 for mailbox names (RFC 3501 §5.1.3), encoded and decoded strictly.

A name on the wire is printable US-ASCII (0x20-0x7E). Every printable character stands for
itself except "&", written "&-"; any run of other characters is its UTF-16BE form in base64
with "," for "/", no padding, between "&" and "-". Decoding refuses everything the RFC rules
out, so that one mailbox has exactly one wire name: a bare "&", an unterminated run, a
character outside the modified base64 alphabet, leftover bits that are not zero, a run that
encodes a printable ASCII character, two runs side by side (one run is the shortest form),
broken surrogate pairs and octets outside 0x20-0x7E.
"""

from __future__ import annotations

import binascii
import re

__all__ = ["Utf7Error", "decode", "encode"]


class Utf7Error(ValueError):
    """A wire name that is not valid modified UTF-7; the message says why."""


# Printable ASCII other than "&" stands for itself; everything else is a run to encode.
_DIRECT = re.compile(r"[\x20-\x25\x27-\x7e]+")
_WIRE = re.compile(r"[\x20-\x7e]*")
_RUN_CHARS = re.compile(r"[A-Za-z0-9+,]*")
_PIECE = re.compile(r"&([^-]*)(-?)")  # "&-", an encoded run, or an unterminated "&..."
_ADJACENT = re.compile(r"&[^-]+-&[^-]")  # a run right after a run: not the shortest form


def encode(name: str) -> str:
    """The wire form of a mailbox name (ASCII). Lone surrogates cannot be encoded."""
    if name.isascii() and name.isprintable() and "&" not in name:
        return name  # the common case: nothing to do
    out: list[str] = []
    pos, end = 0, len(name)
    while pos < end:
        m = _DIRECT.match(name, pos)
        if m is not None:
            out.append(m.group())
            pos = m.end()
            continue
        if name[pos] == "&":
            out.append("&-")
            pos += 1
            continue
        stop = pos + 1
        while stop < end and not ("\x20" <= name[stop] <= "\x7e"):
            stop += 1
        try:
            raw = name[pos:stop].encode("utf-16-be")
        except UnicodeEncodeError:
            raise Utf7Error("a lone surrogate cannot be encoded") from None
        b64 = binascii.b2a_base64(raw, newline=False).decode().rstrip("=")
        out.append("&" + b64.replace("/", ",") + "-")
        pos = stop
    return "".join(out)


def decode(wire: str | bytes) -> str:
    """The mailbox name a wire name stands for; Utf7Error if the wire form is not canonical."""
    if isinstance(wire, bytes):
        if not wire.isascii():
            raise Utf7Error("8-bit octet in a mailbox name")
        wire = wire.decode()
    if _WIRE.fullmatch(wire) is None:
        raise Utf7Error("control character in a mailbox name")
    if "&" not in wire:
        return wire
    if _ADJACENT.search(wire):
        raise Utf7Error("two encoded runs side by side (not the shortest form)")
    out: list[str] = []
    pos = 0
    for m in _PIECE.finditer(wire):
        out.append(wire[pos : m.start()])
        if not m.group(2):
            raise Utf7Error("'&' without a closing '-'")
        out.append(_decode_run(m.group(1)) if m.group(1) else "&")
        pos = m.end()
    out.append(wire[pos:])
    return "".join(out)


def _decode_run(b64: str) -> str:
    if _RUN_CHARS.fullmatch(b64) is None:
        raise Utf7Error("character outside modified base64 in an encoded run")
    if len(b64) % 8 not in (0, 3, 6):
        raise Utf7Error("encoded run of a length no UTF-16 text has")
    padded = b64.replace(",", "/") + "=" * (-len(b64) % 4)
    raw = binascii.a2b_base64(padded)
    if binascii.b2a_base64(raw, newline=False).decode().rstrip("=") != b64.replace(",", "/"):
        raise Utf7Error("encoded run with nonzero leftover bits")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError:
        raise Utf7Error("encoded run with a broken surrogate pair") from None
    if any("\x20" <= c <= "\x7e" for c in text):
        raise Utf7Error("encoded run holds printable ASCII (not the shortest form)")
    return text
