"""Zones loaded from RFC 1035 master files into a lookup-optimised in-memory model.

Parser choice: dnspython's master-file reader (`dns.zonefile.Reader`, the parser behind
`dns.zone.from_file`) reads the files. It
implements all of RFC 1035 §5 that real zone files use -- $ORIGIN, $TTL, $INCLUDE, `@`,
relative names, omitted owner/TTL/class, parentheses, comments, TXT escapes, TTL units (`1h`),
RFC 3597 `\\#` unknown types -- and reports errors as `file:line: message`. dnslib's own zone
parser lacks $INCLUDE, TTL units and TTLs written after the class, so it is not used. The parsed
records are collected without building a dnspython Zone (its per-record bookkeeping doubles
the load time) and converted once, at load time, into plain dicts keyed on lowercased label
tuples whose record data are dnslib RD objects, ready to pack into answers.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
import dns.zonefile
from dns.rdata import Rdata
from dnslib import QTYPE, RD, RDMAP, DNSBuffer, DNSLabel

from dnsserver.errors import ZoneError
from dnsserver.wire import Name

# RR type numbers the lookup logic cares about (RFC 1035 §3.2.2, RFC 3596, RFC 2782).
A, NS, CNAME, SOA, MX, AAAA, SRV, DS, ANY = 1, 2, 5, 6, 15, 28, 33, 43, 255


@dataclass(frozen=True, slots=True)
class RRset:
    """All records of one type at one name; `targets` are the lowercased names in the RDATA of
    NS/CNAME/MX/SRV records, for CNAME chasing and additional-section processing."""

    rtype: int
    ttl: int
    rdatas: tuple[RD, ...]
    targets: tuple[tuple[Name, DNSLabel], ...] = ()


@dataclass(slots=True)
class Zone:
    """One zone: its nodes (owner -> type -> RRset), delegation points and every existing name."""

    origin: Name  # lowercased
    origin_label: DNSLabel  # as written in the file
    path: str
    soa: RRset
    negative_ttl: int  # RFC 2308 §5: min(SOA TTL, SOA MINIMUM)
    nodes: dict[Name, dict[int, RRset]] = field(default_factory=dict)
    exists: set[Name] = field(default_factory=set)  # owners and empty non-terminals
    cuts: set[Name] = field(default_factory=set)  # non-apex names owning NS

    @property
    def name_text(self) -> str:
        return str(self.origin_label)


def _labels(name: dns.name.Name) -> Name:
    return tuple(label.lower() for label in name.labels[:-1])


# Types whose RDATA holds names that may be compressed in answers (RFC 3597 §4): packed by
# dnslib's typed classes. Every other type is kept as its RDATA bytes (RFC 3597 form).
_NAMED_TYPES = {"NS", "CNAME", "SOA", "PTR", "MX", "SRV"}


def _to_dnslib(rtype: int, rd: Rdata) -> RD:
    if rtype == A:
        return RD(socket.inet_aton(rd.address))  # type: ignore[attr-defined]
    if rtype == AAAA:
        return RD(socket.inet_pton(socket.AF_INET6, rd.address))  # type: ignore[attr-defined]
    wire = rd.to_wire() or b""
    name = QTYPE.forward.get(rtype, "")
    if name in _NAMED_TYPES:
        return RDMAP[name].parse(DNSBuffer(wire), len(wire))
    return RD(wire)


def _target(rdata: Rdata) -> dns.name.Name | None:
    for attr in ("target", "exchange"):  # NS/CNAME/SRV: target, MX: exchange
        value = getattr(rdata, attr, None)
        if isinstance(value, dns.name.Name):
            return value
    return None


class _Collector:
    """Stands in for the dnspython transaction the master-file Reader writes into: it only
    collects (owner, ttl, rdata), skipping dnspython's per-record zone bookkeeping, which
    doubles the load time of a large zone."""

    def __init__(self, origin: dns.name.Name | None) -> None:
        self.manager = self
        self.origin = origin
        self.records: list[tuple[dns.name.Name, int, Rdata]] = []

    def origin_information(self) -> tuple[dns.name.Name | None, bool, dns.name.Name | None]:
        return self.origin, False, self.origin

    def check_put_rdataset(self, check: object) -> None:
        pass

    def _set_origin(self, origin: dns.name.Name) -> None:
        pass

    def add(self, name: dns.name.Name, ttl: int, rd: Rdata) -> None:
        self.records.append((name, ttl, rd))


def build(
    origin: dns.name.Name, records: list[tuple[dns.name.Name, int, Rdata]], path: str
) -> Zone:
    """Group parsed records into RRsets and index them for lookup."""
    okey = _labels(origin)
    grouped: dict[tuple[Name, int], tuple[dns.name.Name, list[Rdata], int]] = {}
    for name, ttl, rd in records:
        k = (_labels(name), int(rd.rdtype))
        entry = grouped.get(k)
        if entry is None:
            grouped[k] = (name, [rd], ttl)
        else:
            if rd not in entry[1]:
                entry[1].append(rd)
            if ttl < entry[2]:  # RFC 2181 §5.2: one TTL per RRset; keep the smallest
                grouped[k] = (entry[0], entry[1], ttl)
    nodes: dict[Name, dict[int, RRset]] = {}
    for (key, rtype), (_owner, rds, ttl) in grouped.items():
        targets = []
        if rtype in (NS, CNAME, MX, SRV):
            for rd in rds:
                t = _target(rd)
                if t is not None:
                    targets.append((_labels(t), DNSLabel(t.labels[:-1])))
        rrset = RRset(rtype, ttl, tuple(_to_dnslib(rtype, rd) for rd in rds), tuple(targets))
        node = nodes.get(key)
        if node is None:
            nodes[key] = node = {}
        node[rtype] = rrset
    exists: set[Name] = set()
    cuts: set[Name] = set()
    depth = len(okey)
    for key, types in nodes.items():
        if CNAME in types and len(types) > 1 and not types.keys() <= _CNAME_COMPANIONS:
            raise ZoneError(f"{path}: {_text(key)} has a CNAME and other data (RFC 1034 §3.6.2)")
        for i in range(len(key) - depth + 1):
            if key[i:] in exists:
                break
            exists.add(key[i:])
        if NS in types and key != okey:
            cuts.add(key)
    apex = nodes.get(okey, {})
    soa = apex.get(SOA)
    if soa is None:
        raise ZoneError(f"{path}: no SOA record at the zone origin {origin}")
    if NS not in apex:
        raise ZoneError(f"{path}: no NS records at the zone origin {origin}")
    minimum = int(soa.rdatas[0].times[-1])
    return Zone(
        origin=okey,
        origin_label=DNSLabel(origin.labels[:-1]),
        path=path,
        soa=soa,
        negative_ttl=min(soa.ttl, minimum),
        nodes=nodes,
        exists=exists,
        cuts=cuts,
    )


_CNAME_COMPANIONS = {CNAME, 46, 47}  # RRSIG, NSEC may sit beside a CNAME (RFC 4035 §2.5)


def _text(key: Name) -> str:
    return ".".join(label.decode("ascii", "backslashreplace") for label in key) + "."


def load_zone(path: str | Path, origin: str | None = None) -> Zone:
    """Load one master file. The origin is `origin`, else the file's first $ORIGIN."""
    path = str(path)
    collector = _Collector(dns.name.from_text(origin) if origin else None)
    try:
        with open(path, encoding="utf-8") as f:
            reader = dns.zonefile.Reader(
                dns.tokenizer.Tokenizer(f, path),
                dns.rdataclass.IN,
                collector,  # type: ignore[arg-type]
                allow_include=True,
            )
            reader.read()
    except OSError as e:
        raise ZoneError(f"{path}: cannot read: {e.strerror or e}") from None
    except dns.exception.SyntaxError as e:
        text = str(e)  # dnspython already writes "file:line: message"
        raise ZoneError(text if ":" in text.split(" ")[0] else f"{path}: {text}") from None
    except dns.zonefile.UnknownOrigin:
        raise ZoneError(f"{path}: no $ORIGIN before the first record") from None
    except dns.exception.DNSException as e:
        raise ZoneError(f"{path}: {e}") from None
    except (ValueError, UnicodeError) as e:
        raise ZoneError(f"{path}: {e}") from None
    if reader.zone_origin is None:
        raise ZoneError(f"{path}: no $ORIGIN and no records")
    return build(reader.zone_origin, collector.records, path)


def type_name(rtype: int) -> str:
    return dns.rdatatype.to_text(rtype)  # type: ignore[arg-type]
