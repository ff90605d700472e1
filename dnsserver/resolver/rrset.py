"""Names as lowercased label tuples and RRsets with rdata kept as uncompressed wire bytes."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

from dnslib import CLASS, QTYPE, RD, RDMAP, RR, DNSBuffer, DNSLabel

from dnsserver.errors import FormatError
from dnsserver.wire import read_name

#: A domain name: its labels, lowercased, without the empty root label; the root is ().
Name = tuple[bytes, ...]

ROOT: Name = ()


def name_of(label: DNSLabel | str) -> Name:
    """The case-folded Name of a dnslib label (RFC 4343: ASCII case-insensitive)."""
    if not isinstance(label, DNSLabel):
        label = DNSLabel(label)
    return tuple(bytes(part).lower() for part in label.label)


def is_legal(label: DNSLabel) -> bool:
    """RFC 1035 §2.3.4: labels of at most 63 octets, at most 255 octets in all on the wire.

    dnslib parses longer ones without complaint but cannot pack them again.
    """
    parts = label.label
    return all(len(p) <= 63 for p in parts) and sum(len(p) + 1 for p in parts) + 1 <= 255


def is_within(name: Name, zone: Name) -> bool:
    """True if `name` is `zone` or below it: the bailiwick test (RFC 8499 §7)."""
    n = len(zone)
    return n == 0 or (len(name) >= n and name[-n:] == zone)


def to_label(name: Name) -> DNSLabel:
    return DNSLabel(list(name))


def to_text(name: Name) -> str:
    """Presentation form with RFC 1035 §5.1 escapes for dots, backslashes and non-printables."""
    if not name:
        return "."
    out = []
    for label in name:
        chars = []
        for b in label:
            if b in (0x2E, 0x5C, 0x22, 0x28, 0x29, 0x3B, 0x40, 0x24):
                chars.append("\\" + chr(b))
            elif 0x21 <= b <= 0x7E:
                chars.append(chr(b))
            else:
                chars.append(f"\\{b:03d}")
        out.append("".join(chars))
    return ".".join(out) + "."


def type_text(rtype: int) -> str:
    try:
        return str(QTYPE[rtype])
    except Exception:  # dnslib raises its own error for unknown codes
        return f"TYPE{rtype}"


def pack_rdata(rr: RR) -> bytes:
    """The rdata of `rr` as wire bytes; names inside are compressed only against each other."""
    buf = DNSBuffer()
    rr.rdata.pack(buf)
    return bytes(buf.data)


def parse_rdata(rtype: int, data: bytes) -> RD:
    cls = RDMAP.get(type_text(rtype), RD)
    return cls.parse(DNSBuffer(data), len(data))


@dataclass(frozen=True, slots=True)
class RRset:
    """Records of one owner name and type (class IN), with one TTL (RFC 2181 §5.2)."""

    name: Name
    rtype: int
    ttl: int
    rdatas: tuple[bytes, ...]

    def with_ttl(self, ttl: int) -> RRset:
        return RRset(self.name, self.rtype, ttl, self.rdatas)

    def to_rrs(self) -> list[RR]:
        label = to_label(self.name)
        t = self.rtype
        return [RR(label, t, CLASS.IN, self.ttl, parse_rdata(t, d)) for d in self.rdatas]

    def targets(self) -> list[Name]:
        """Names carried in the rdata of NS / CNAME / PTR / NSEC (at its start), MX / HTTPS
        (after 2 octets) and SRV (after 6), case-folded; read from the wire bytes, without
        building dnslib objects (this runs several times for every resolution). Rdata whose
        name does not read, or is the root, is skipped."""
        at = _TARGET_AT.get(self.rtype)
        if at is None:
            return []
        out = []
        for d in self.rdatas:
            try:
                labels, _ = read_name(d, at)
            except FormatError:
                continue
            if labels:  # the root is no target (a null MX, RFC 7505)
                out.append(tuple(label.lower() for label in labels))
        return out

    def addresses(self) -> list[str]:
        """The addresses of an A or AAAA set, as text ([] for any other type)."""
        family = _FAMILY.get(self.rtype)
        if family is None:
            return []
        size = 4 if family == socket.AF_INET else 16
        return [socket.inet_ntop(family, d) for d in self.rdatas if len(d) == size]

    def soa_minimum(self) -> int:
        """The SOA MINIMUM field (RFC 2308 §4: the negative caching TTL), the rdata's last
        four octets."""
        return int.from_bytes(self.rdatas[0][-4:], "big")


#: where the name starts in the rdata of the types `RRset.targets` reads
_TARGET_AT = {QTYPE.NS: 0, QTYPE.CNAME: 0, QTYPE.PTR: 0, QTYPE.NSEC: 0, QTYPE.MX: 2}
_TARGET_AT |= {QTYPE.HTTPS: 2, QTYPE.SRV: 6}
_FAMILY = {QTYPE.A: socket.AF_INET, QTYPE.AAAA: socket.AF_INET6}


def group(rrs: Iterable[RR]) -> dict[tuple[Name, int], RRset]:
    """Group class-IN dnslib records into RRsets (`group_records`)."""
    return group_records(
        (tuple(bytes(p) for p in rr.rname.label), rr.rtype, rr.rclass, rr.ttl, pack_rdata(rr))
        for rr in rrs
        if rr.rtype != QTYPE.OPT
    )


def group_records(
    records: Iterable[tuple[Name, int, int, int, bytes]],
) -> dict[tuple[Name, int], RRset]:
    """Group class-IN records (owner as on the wire, type, class, TTL, rdata) into RRsets
    under their case-folded owner; the TTL of a set is the minimum of its records'."""
    sets: dict[tuple[Name, int], tuple[int, list[bytes]]] = {}
    for owner, rtype, rclass, ttl, data in records:
        if rclass != CLASS.IN or rtype == QTYPE.OPT:
            continue
        key = (tuple(label.lower() for label in owner), rtype)
        if ttl & 0x80000000:  # RFC 2181 §8: a TTL with its top bit set is taken as zero
            ttl = 0
        if key in sets:
            old_ttl, datas = sets[key]
            if data not in datas:
                datas.append(data)
            sets[key] = (min(old_ttl, ttl), datas)
        else:
            sets[key] = (ttl, [data])
    return {k: RRset(k[0], k[1], ttl, tuple(datas)) for k, (ttl, datas) in sets.items()}
