"""Packed answers: cache hits are served by patching ID, RD, question case and TTLs in place.

A response is encoded once; its TTL field offsets are recorded. Serving it later copies the
bytes and rewrites only the ID, the RD flag, the question name (same length, the client's
case) and each TTL counted down by the whole seconds elapsed since it was encoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

OPT = 41
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_HDR = struct.Struct("!HHHHHH")


class WireError(ValueError):
    """Bytes that are not a DNS message we can walk."""


@dataclass(frozen=True, slots=True)
class QuestionKey:
    """A client query's question, cut from the wire without a full parse."""

    key: bytes  # lowercased qname wire + qtype + qclass + EDNS marker (DO, NSID): the cache key
    qname_wire: bytes  # the client's spelling, copied into the answer
    udp_size: int  # 512 without EDNS (RFC 1035 §4.2.1), else the client's advertised size
    rd: bool


def question_key(data: bytes) -> QuestionKey | None:
    """The cache key of a plain query (one question, no compression, at most an OPT), or None."""
    if len(data) < 17:
        return None
    _, flags, qd, an, ns, ar = _HDR.unpack_from(data)
    if flags & 0xF800 or qd != 1 or an or ns or ar > 1:  # QR=1 or opcode != QUERY: slow path
        return None
    i, n = 12, len(data)
    while True:
        if i >= n:
            return None
        ln = data[i]
        if ln == 0:
            break
        if ln > 63:
            return None
        i += ln + 1
    end = i + 5
    if end > n:
        return None
    qname = data[12 : i + 1]
    udp = 512
    edns = b"\x00"
    if ar:
        # OPT: root owner, type 41, class = UDP size, ttl = ext-rcode/version/flags, rdlen
        if end + 11 > n or data[end] != 0 or data[end + 1 : end + 3] != b"\x00\x29":
            return None
        if data[end + 6] != 0:  # EDNS version other than 0: BADVERS on the slow path
            return None
        options = end + 11
        if options + _U16.unpack_from(data, end + 9)[0] != n:
            return None  # the OPT's options run past the message, or something follows
        udp = max(512, min(4096, _U16.unpack_from(data, end + 3)[0]))
        nsid = _asks_nsid(data, options)
        if nsid is None:
            return None  # malformed options: FORMERR on the slow path
        # RFC 3225: DO is echoed; RFC 5001: NSID is answered only to a query that asks for it
        edns = bytes(((2 if data[end + 7] & 0x80 else 1) + (2 if nsid else 0),))
    elif end != n:
        return None
    return QuestionKey(qname.lower() + data[i + 1 : end] + edns, qname, udp, bool(flags & 0x0100))


def _asks_nsid(data: bytes, i: int) -> bool | None:
    """Whether the EDNS options from `i` to the end of `data` include NSID (code 3); None if
    they do not exactly fill it."""
    n, nsid = len(data), False
    while i + 4 <= n:
        nsid = nsid or data[i : i + 2] == b"\x00\x03"
        i += 4 + _U16.unpack_from(data, i + 2)[0]
    return nsid if i == n else None


def _skip_name(data: bytes, i: int) -> int:
    n = len(data)
    while True:
        if i >= n:
            raise WireError("name runs past the end")
        ln = data[i]
        if ln & 0xC0 == 0xC0:
            return i + 2
        if ln == 0:
            return i + 1
        if ln > 63:
            raise WireError("bad label length")
        i += ln + 1


def ttl_offsets(data: bytes) -> list[tuple[int, int]]:
    """(offset, ttl) of every TTL field except OPT's in an encoded message."""
    if len(data) < 12:
        raise WireError("short header")
    _, _, qd, an, ns, ar = _HDR.unpack_from(data)
    i = 12
    for _ in range(qd):
        i = _skip_name(data, i) + 4
    out = []
    for _ in range(an + ns + ar):
        i = _skip_name(data, i)
        if i + 10 > len(data):
            raise WireError("record runs past the end")
        rtype = _U16.unpack_from(data, i)[0]
        if rtype != OPT:
            out.append((i + 4, _U32.unpack_from(data, i + 4)[0]))
        i += 10 + _U16.unpack_from(data, i + 8)[0]
    if i > len(data):
        raise WireError("rdata runs past the end")
    return out


class PackedAnswer:
    """An encoded answer plus what is needed to re-serve it to another client later."""

    __slots__ = ("created", "data", "expires", "qname_len", "ttls")

    def __init__(self, data: bytes, created: float) -> None:
        self.data = data
        self.created = created
        self.ttls = ttl_offsets(data)
        min_ttl = min((t for _, t in self.ttls), default=0)
        self.expires = created + min_ttl
        self.qname_len = _skip_name(data, 12) - 12

    def render(self, qid: int, qname_wire: bytes, rd: bool, now: float) -> bytes:
        out = bytearray(self.data)
        _U16.pack_into(out, 0, qid)
        out[2] = (out[2] & 0xFE) | (1 if rd else 0)
        if len(qname_wire) == self.qname_len:
            out[12 : 12 + self.qname_len] = qname_wire
        elapsed = int(now - self.created)
        if elapsed > 0:
            for off, ttl in self.ttls:
                _U32.pack_into(out, off, max(0, ttl - elapsed))
        return bytes(out)
