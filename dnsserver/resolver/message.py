"""An upstream response read straight from its bytes: header, question and records, with each
record's rdata in the form the resolver caches (dnsserver/resolver/rrset.py).

Every cache miss reads one of these, so the common types are read here without building
dnslib objects: A and AAAA (checked for length), NS, CNAME, PTR and MX (their name followed
through compression pointers and written out whole), SOA (its two names written as dnslib
packs them: the second compressed against the first, pointers counted from the rdata's
start). Any other type is parsed and packed again by dnslib's class for it, as before, so
the bytes cached for a record are the same whichever way it was read (a property test holds
the two readers to that).

What dnslib refused, this refuses too, with FormatError: a message that runs short, a record
with empty rdata (OPT aside), a name whose labels are not UTF-8 (dnslib cannot give them
back when the answer is sent). It is stricter where the RFCs are: a name must fill its
record's rdata exactly, and a compression pointer must point before the name it is part of.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from dnslib import RD, RDMAP, DNSBuffer

from dnsserver.errors import FormatError
from dnsserver.resolver.rrset import Name, type_text
from dnsserver.wire import HEADER, RR_FIXED, name_wire, read_name, write_name

_QUESTION = struct.Struct("!HH")

A, NS, CNAME, SOA, PTR, MX, AAAA, OPT = 1, 2, 5, 6, 12, 15, 28, 41
#: the types whose rdata is one name, after this many octets (written whole when read)
NAME_AFTER = {NS: 0, CNAME: 0, PTR: 0, MX: 2}
_SIZE = {A: 4, AAAA: 16}


class Record(NamedTuple):
    """One resource record: owner as on the wire (case kept), type, class, TTL, rdata."""

    name: Name
    rtype: int
    rclass: int
    ttl: int
    rdata: bytes


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    flags: int
    questions: tuple[tuple[Name, int, int], ...]  # (name as sent back, type, class)
    answer: tuple[Record, ...]
    authority: tuple[Record, ...]
    additional: tuple[Record, ...]

    @property
    def qr(self) -> bool:
        return bool(self.flags & 0x8000)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def aa(self) -> bool:
        return bool(self.flags & 0x0400)

    @property
    def tc(self) -> bool:
        return bool(self.flags & 0x0200)

    @property
    def rcode(self) -> int:
        return self.flags & 0xF


def read_message(data: bytes) -> Message:
    """The message in `data`, or FormatError."""
    data = bytes(data)  # (a bytearray's slices would be unhashable labels)
    if len(data) < HEADER.size:
        raise FormatError("shorter than a header")
    qid, flags, qd, an, ns, ar = HEADER.unpack_from(data)
    pos = HEADER.size
    questions = []
    for _ in range(qd):
        name, pos = _name(data, pos)
        if pos + 4 > len(data):
            raise FormatError("question runs past the end")
        qtype, qclass = _QUESTION.unpack_from(data, pos)
        pos += 4
        questions.append((name, qtype, qclass))
    sections = []
    for count in (an, ns, ar):
        records = []
        for _ in range(count):
            record, pos = _record(data, pos)
            if record is not None:
                records.append(record)
        sections.append(tuple(records))
    return Message(qid, flags, tuple(questions), *sections)


def _name(data: bytes, pos: int) -> tuple[Name, int]:
    labels, pos = read_name(data, pos)
    for label in labels:
        if not label.isascii():
            try:
                label.decode()
            except UnicodeDecodeError:
                raise FormatError("a label that is not UTF-8") from None
    return labels, pos


def _record(data: bytes, pos: int) -> tuple[Record | None, int]:
    owner, pos = _name(data, pos)
    if pos + RR_FIXED.size > len(data):
        raise FormatError("record runs past the end")
    rtype, rclass, ttl, length = RR_FIXED.unpack_from(data, pos)
    start = pos + RR_FIXED.size
    end = start + length
    if end > len(data):
        raise FormatError("rdata runs past the end")
    if rtype == OPT:
        return None, end
    if not length:
        raise FormatError("a record with empty rdata")
    return Record(owner, rtype, rclass, ttl, _rdata(data, rtype, start, end)), end


def _rdata(data: bytes, rtype: int, start: int, end: int) -> bytes:
    size = _SIZE.get(rtype)
    if size is not None:
        if end - start != size:
            raise FormatError(f"{type_text(rtype)} rdata of {end - start} octets")
        return data[start:end]
    at = NAME_AFTER.get(rtype)
    if at is not None:
        if end - start <= at:
            raise FormatError(f"{type_text(rtype)} rdata too short")
        labels, after = _name(data, start + at)
        if after != end:
            raise FormatError(f"{type_text(rtype)} name does not fill its rdata")
        return data[start : start + at] + name_wire(labels)
    if rtype == SOA:
        mname, pos = _name(data, start)
        rname, pos = _name(data, pos)
        if pos + 20 != end:
            raise FormatError("SOA rdata of the wrong length")
        return _compressed((mname, rname)) + data[pos:end]
    return _by_dnslib(data, rtype, start, end)


def _compressed(names: Sequence[Name]) -> bytes:
    """Names written one after the other, compressed against each other (offsets from the
    start: the rdata's own), exactly as dnslib's encode_name does."""
    out = bytearray()
    seen: dict[Name, int] = {}
    for name in names:
        write_name(out, name, seen)
    return bytes(out)


def _by_dnslib(data: bytes, rtype: int, start: int, end: int) -> bytes:
    buf = DNSBuffer(data)
    buf.offset = start
    try:
        rd = RDMAP.get(type_text(rtype), RD).parse(buf, end - start)
        out = DNSBuffer()
        rd.pack(out)
    except Exception:  # dnslib raises several kinds on garbage
        raise FormatError(f"unreadable {type_text(rtype)} rdata") from None
    return bytes(out.data)
