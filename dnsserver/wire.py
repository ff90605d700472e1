"""Parsing DNS queries from wire bytes (RFC 1035 §4.1) and header-only error responses."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dnsserver.errors import DnsError, FormatError, NotImplementedOpcode, Unanswerable

#: A domain name as a tuple of labels, leftmost first, without the root label.
Name = tuple[bytes, ...]

# Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD/CD).
QR = 0x8000
AA = 0x0400
TC = 0x0200
RD = 0x0100
RA = 0x0080
AD = 0x0020
CD = 0x0010
OPCODE_MASK = 0x7800

TYPE_OPT = 41
OPTION_NSID = 3  # RFC 5001 §2.3
TYPE_TSIG = 250
MAX_NAME_WIRE = 255  # RFC 1035 §2.3.4: a name is at most 255 octets on the wire
HEADER = struct.Struct("!HHHHHH")  # ID, flags, and the four section counts
RR_FIXED = struct.Struct("!HHIH")  # a record after its owner: type, class, TTL, RDATA length
_U16 = struct.Struct("!H")


@dataclass(frozen=True, slots=True)
class Edns:
    """The client's OPT pseudo-RR (RFC 6891 §6.1)."""

    payload: int
    version: int
    do: bool
    nsid: bool = False  # the client asked who we are (RFC 5001 NSID option)


@dataclass(frozen=True, slots=True)
class Tsig:
    """The client's TSIG record (RFC 8945 §4.2): what an unsigned error response echoes."""

    key: Name  # the key name (the record's owner)
    algorithm: Name
    time_fudge: bytes  # Time Signed (48 bits) and Fudge (16 bits), as sent
    original_id: int


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed standard query; `labels` keeps the client's case, `key` is lowercased."""

    id: int
    flags: int
    labels: Name
    key: Name
    qtype: int
    qclass: int
    edns: Edns | None
    tsig: Tsig | None = None


def name_wire(labels: Name) -> bytes:
    """A name as it goes on the wire, uncompressed."""
    return b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"


def write_name(out: bytearray, name: Name, seen: dict[Name, int]) -> None:
    """Append `name` to `out`, compressed (RFC 1035 §4.1.4): a suffix already in `seen` (each
    suffix written is remembered there at its offset, case and all) becomes a pointer to it.
    Offsets past the 14 bits a pointer holds are not remembered."""
    for i in range(len(name)):
        at = seen.get(name[i:])
        if at is not None:
            out += _U16.pack(0xC000 | at)
            return
        if len(out) < 0x4000:
            seen[name[i:]] = len(out)
        out.append(len(name[i]))
        out += name[i]
    out.append(0)


def read_name(data: bytes, pos: int) -> tuple[Name, int]:
    """Read a possibly compressed name at `pos`; return its labels and the offset after it.

    RFC 1035 §4.1.4: a pointer must point strictly before every octet already read for this
    name, so a compression loop cannot exist; labels over 63 octets (types 01/10) and names over
    255 octets are malformed.
    """
    labels: list[bytes] = []
    total = 1
    end = -1
    floor = pos  # pointers must go strictly below this
    n = len(data)
    while True:
        if pos >= n:
            raise FormatError("name runs past the end of the message")
        length = data[pos]
        if length == 0:
            pos += 1
            break
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= n:
                raise FormatError("truncated compression pointer")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if end < 0:
                end = pos + 2
            if target >= floor:
                raise FormatError("compression pointer loop or forward pointer")
            floor = pos = target
            continue
        if kind:
            raise FormatError(f"unsupported label type {kind >> 6:#x}")
        total += length + 1
        if total > MAX_NAME_WIRE:
            raise FormatError("name longer than 255 octets")
        if pos + 1 + length > n:
            raise FormatError("label runs past the end of the message")
        labels.append(data[pos + 1 : pos + 1 + length])
        pos += 1 + length
    return tuple(labels), (end if end >= 0 else pos)


def parse_query(data: bytes) -> Query:
    """Parse a query; raises Unanswerable, NotImplementedOpcode or FormatError."""
    if len(data) < 12:
        raise Unanswerable("shorter than a DNS header")
    qid, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
    if flags & QR:
        raise Unanswerable("a response, not a query")  # never answer responses: no loops
    if flags & OPCODE_MASK:
        raise NotImplementedOpcode(f"opcode {(flags & OPCODE_MASK) >> 11}")
    if qdcount != 1:
        raise FormatError(f"QDCOUNT {qdcount} (must be 1)")
    # TC in a query means nothing (RFC 1035 §4.1.1 defines it for responses): ignored, as
    # NSD, BIND and Unbound do; the response never copies it.
    labels, pos = read_name(data, 12)
    if pos + 4 > len(data):
        raise FormatError("truncated question")
    qtype, qclass = struct.unpack_from("!HH", data, pos)
    pos += 4
    edns: Edns | None = None
    tsig: Tsig | None = None
    total = ancount + nscount + arcount
    for i in range(total):
        owner, pos = read_name(data, pos)
        if pos + 10 > len(data):
            raise FormatError("truncated resource record")
        rtype, rclass, ttl, rdlength = RR_FIXED.unpack_from(data, pos)
        pos += 10
        if pos + rdlength > len(data):
            raise FormatError("RDATA runs past the end of the message")
        if rtype == TYPE_OPT:
            # RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
            if i < ancount + nscount or owner or edns is not None:
                raise FormatError("misplaced or duplicate OPT record")
            nsid = _check_options(data, pos, pos + rdlength)
            edns = Edns(
                payload=rclass, version=(ttl >> 16) & 0xFF, do=bool(ttl & 0x8000), nsid=nsid
            )
        elif rtype == TYPE_TSIG:
            # RFC 8945 §5.1: one TSIG, the last record of the additional section
            if i != total - 1 or i < ancount + nscount:
                raise FormatError("TSIG record not last in the additional section")
            tsig = _read_tsig(data, owner, pos, pos + rdlength)
        pos += rdlength
    return Query(
        id=qid,
        flags=flags,
        labels=labels,
        key=tuple(label.lower() for label in labels),
        qtype=qtype,
        qclass=qclass,
        edns=edns,
        tsig=tsig,
    )


def _read_tsig(data: bytes, owner: Name, pos: int, end: int) -> Tsig:
    """RFC 8945 §4.2: Algorithm Name, Time Signed, Fudge, MAC Size, MAC, Original ID, Error,
    Other Len, Other Data; every field must lie within the record."""
    algorithm, pos = read_name(data, pos)
    if pos + 10 > end:
        raise FormatError("truncated TSIG record")
    time_fudge = data[pos : pos + 8]
    (mac_size,) = struct.unpack_from("!H", data, pos + 8)
    pos += 10 + mac_size
    if pos + 6 > end:
        raise FormatError("truncated TSIG record")
    original_id, _error, other_len = struct.unpack_from("!HHH", data, pos)
    if pos + 6 + other_len != end:
        raise FormatError("TSIG record length mismatch")
    return Tsig(key=owner, algorithm=algorithm, time_fudge=time_fudge, original_id=original_id)


def _check_options(data: bytes, pos: int, end: int) -> bool:
    """RFC 6891 §6.1.2: OPT RDATA is a sequence of {code, length, value}. True if one of them
    is NSID (code 3, RFC 5001)."""
    nsid = False
    while pos < end:
        if pos + 4 > end:
            raise FormatError("truncated EDNS option")
        code, length = struct.unpack_from("!HH", data, pos)
        nsid = nsid or code == OPTION_NSID
        pos += 4 + length
        if pos > end:
            raise FormatError("EDNS option runs past its record")
    return nsid


def requests_nsid(data: bytes) -> bool:
    """True if the query `data` carries an NSID option (for servers that parse with dnslib,
    which drops empty EDNS options)."""
    try:
        query = parse_query(data)
    except DnsError:
        return False
    return query.edns is not None and query.edns.nsid


def header_only(data: bytes, rcode: int) -> bytes:
    """A response with just a header (FORMERR, NOTIMP): ID and opcode copied from the query, and
    RD too when the opcode is QUERY -- the only opcode that defines it (the same bit is zero in
    UPDATE's header, RFC 2136 §2.2)."""
    qid, flags = struct.unpack_from("!HH", data)
    copied = OPCODE_MASK | RD if not flags & OPCODE_MASK else OPCODE_MASK
    flags = QR | (flags & copied) | (rcode & 0xF)
    return HEADER.pack(qid, flags, 0, 0, 0, 0)
