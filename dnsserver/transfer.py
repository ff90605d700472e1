"""Zone transfers from a primary: who may transfer, and the AXFR and IXFR answers (sans-I/O).

- `Acl`: addresses and networks, and TSIG key names, allowed to transfer a zone. By default
  (no `allow_transfer` for the zone) its secondaries (the addresses it NOTIFYs) and the holders
  of a key that may update it; a zone with neither refuses every transfer, as before.
- `axfr` (RFC 5936): the zone's SOA, every RRset, the SOA again.
- `ixfr` (RFC 1995): from the client's serial, the journal's differences in order (each: the
  old SOA, what went, the new SOA, what came), between the current SOA twice; the client's own
  serial (or a later one) gets the current SOA alone; a serial the journal does not reach back
  to gets the whole zone in the AXFR form, which RFC 1995 §4 allows.
- `render`: those records in messages of at most MESSAGE_SIZE octets, each a response to the
  query, signed in a chain (RFC 8945 §5.3.1) when the query was signed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from dnsserver.journal import Entry, history
from dnsserver.masterfile import Record, rdata_wire
from dnsserver.tsigkeys import KeyFileError, key_name
from dnsserver.update import serial_after
from dnsserver.wire import Name
from dnsserver.zone import SOA, Zone

MESSAGE_SIZE = 16384  # octets of records per message (BIND and NSD send about as much)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Acl:
    """Who may transfer a zone: a client address in `networks`, or a request signed with one
    of `keys` (absolute, lowercase key names)."""

    networks: tuple[Network, ...] = ()
    keys: frozenset[str] = frozenset()

    def allows(self, address: str, key: str | None) -> bool:
        if key is not None and key in self.keys:
            return True
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


def parse_acl(entries: Iterable[str]) -> Acl:
    """`192.0.2.1`, `192.0.2.0/24`, `2001:db8::/32` or `key NAME`; ValueError names a bad one."""
    networks: list[Network] = []
    keys: set[str] = set()
    for entry in entries:
        text = entry.strip()
        if text.lower().startswith("key "):
            try:
                keys.add(key_name(text[4:].strip()))
            except KeyFileError as e:
                raise ValueError(f"transfer ACL entry {entry!r}: {e}") from None
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"transfer ACL entry {entry!r}: not an address, a network or `key NAME`"
            ) from None
    return Acl(tuple(networks), frozenset(keys))


def _owner(key: tuple[bytes, ...]) -> dns.name.Name:
    return dns.name.Name((*key, b""))


def _rdata(rtype: int, rd: object) -> dns.rdata.Rdata:
    wire = rdata_wire(rd)  # type: ignore[arg-type]
    return dns.rdata.from_wire(
        dns.rdataclass.IN, dns.rdatatype.RdataType.make(rtype), wire, 0, len(wire)
    )


def soa_rrset(zone: Zone) -> dns.rrset.RRset:
    return dns.rrset.from_rdata_list(
        _owner(zone.origin), zone.soa.ttl, [_rdata(SOA, zone.soa.rdatas[0])]
    )


_ORDERS: dict[int, tuple[Zone, list[Name]]] = {}  # id(zone) -> (zone, its names in order)
ORDERS_KEPT = 8


def _order(zone: Zone) -> list[Name]:
    """The zone's names, the apex first, then in order; sorted once per zone (a sort of a big
    zone costs a fifth of a second: twenty secondaries asking at once would pay it twenty
    times)."""
    got = _ORDERS.get(id(zone))
    if got is not None and got[0] is zone:
        return got[1]
    order = sorted(zone.nodes, key=lambda k: (k != zone.origin, tuple(reversed(k))))
    if len(_ORDERS) >= ORDERS_KEPT:
        _ORDERS.pop(next(iter(_ORDERS)))
    _ORDERS[id(zone)] = (zone, order)
    return order


def iter_rrsets(zone: Zone) -> Iterator[dns.rrset.RRset]:
    """Every RRset of the zone but the SOA, one at a time: the apex first, then the names in
    order (a transfer of a big zone never holds all of it converted at once)."""
    for key in _order(zone):
        for rtype, rrset in sorted(zone.nodes[key].items()):
            if rtype == SOA:
                continue
            rds = [_rdata(rtype, rd) for rd in rrset.rdatas]
            yield dns.rrset.from_rdata_list(_owner(key), rrset.ttl, rds)


def zone_rrsets(zone: Zone) -> list[dns.rrset.RRset]:
    return list(iter_rrsets(zone))


def axfr_stream(zone: Zone) -> Iterator[dns.rrset.RRset]:
    soa = soa_rrset(zone)
    yield soa
    yield from iter_rrsets(zone)
    yield soa


def axfr(zone: Zone) -> list[dns.rrset.RRset]:
    return list(axfr_stream(zone))


def _record_rrset(rec: Record) -> dns.rrset.RRset:
    return dns.rrset.from_rdata_list(_owner(rec.key), rec.ttl, [_rdata(rec.rtype, rec.rdata)])


def ixfr_stream(
    zone: Zone, entries: Sequence[Entry], client_serial: int
) -> Iterator[dns.rrset.RRset]:
    """The IXFR answer to a client at `client_serial` (see the module docstring)."""
    soa = soa_rrset(zone)
    if not serial_after(zone.serial, client_serial):
        yield soa  # up to date (or ahead of us: nothing we could send)
        return
    chain = history(entries, client_serial)
    if not chain or chain[-1].end != zone.serial:
        yield from axfr_stream(zone)
        return
    yield soa
    for entry in chain:
        yield from (_record_rrset(r) for r in entry.removed)
        yield from (_record_rrset(r) for r in entry.added)
    yield soa


def ixfr(zone: Zone, entries: Sequence[Entry], client_serial: int) -> list[dns.rrset.RRset]:
    return list(ixfr_stream(zone, entries, client_serial))


def _size(rrset: dns.rrset.RRset) -> int:
    name = len(rrset.name.to_wire() or b"")
    return sum(name + 10 + len(rd.to_wire() or b"") for rd in rrset)


def stream(query: dns.message.Message, answers: Iterable[dns.rrset.RRset]) -> Iterator[bytes]:
    """The answers in messages of about MESSAGE_SIZE octets, one at a time, responses to
    `query` (its ID and question), signed in a chain if the query was signed (its key verified
    by the caller)."""
    ctx = None
    first = True

    def message(group: list[dns.rrset.RRset]) -> bytes:
        nonlocal ctx, first
        response = dns.message.make_response(query)
        response.answer = group
        if not first and response.had_tsig:
            response.request_mac = b""  # only the first message covers the request's MAC
        first = False
        wire = response.to_wire(multi=query.had_tsig, tsig_ctx=ctx, max_size=65535)
        ctx = response.tsig_ctx if query.had_tsig else None
        return wire

    group: list[dns.rrset.RRset] = []
    size = 0
    for rrset in answers:
        n = _size(rrset)
        if group and size + n > MESSAGE_SIZE:
            yield message(group)
            group, size = [], 0
        group.append(rrset)
        size += n
    yield message(group)


def render(query: dns.message.Message, answers: Iterable[dns.rrset.RRset]) -> list[bytes]:
    return list(stream(query, answers))


def client_serial(query: dns.message.Message) -> int | None:
    """The serial in an IXFR query's authority section (RFC 1995 §3), None without one."""
    for rrset in query.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return int(rrset[0].serial)
    return None
