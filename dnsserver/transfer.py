"""Zone transfers from a primary: who may transfer, and the AXFR and IXFR answers (sans-I/O).

- `Acl`: addresses and networks, and TSIG key names, allowed to transfer a zone. By default
  (no `allow_transfer` for the zone) its secondaries (the addresses it NOTIFYs) and the holders
  of a key that may update it; a zone with neither refuses every transfer, as before.
- `axfr_wires` (RFC 5936): the zone's SOA, every record, the SOA again. The zone's records are
  packed on the wire once per zone (`zone_wires`, names uncompressed, the apex first, then the
  names in order) and kept for the last few zones: a transfer then only cuts messages from
  them (a 100,000-record zone: 0.03 s, against 5 s rendering each message with dnspython).
- `ixfr_wires` (RFC 1995): from the client's serial, the journal's differences in order (each:
  the old SOA, what went, the new SOA, what came), between the current SOA twice; the client's
  own serial (or a later one) gets the current SOA alone; a serial the journal does not reach
  back to gets the whole zone in the AXFR form, which RFC 1995 §4 allows.
- `messages`: those records in messages of at most MESSAGE_SIZE octets of records, each a
  response with the request's ID and question, signed in a chain (RFC 8945 §5.3.1, with
  dnspython's `dns.tsig.sign`) when the request was signed.
"""

from __future__ import annotations

import ipaddress
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.rrset
import dns.tsig
from dnslib import RD

from dnsserver.journal import Entry, history
from dnsserver.masterfile import Record, rdata_wire
from dnsserver.tsigkeys import KeyFileError, append_tsig, key_name
from dnsserver.update import serial_after
from dnsserver.wire import Name, name_wire
from dnsserver.zone import SOA, Zone

CLASS_IN = 1
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
            ip = ipaddress.ip_address(address.partition("%")[0])
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


def _order(zone: Zone) -> list[Name]:
    """The zone's names, the apex first, then in order."""
    return sorted(zone.nodes, key=lambda k: (k != zone.origin, tuple(reversed(k))))


def client_serial(query: dns.message.Message) -> int | None:
    """The serial in an IXFR query's authority section (RFC 1995 §3), None without one."""
    for rrset in query.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return int(rrset[0].serial)
    return None


# -- the wire path: the zone's records packed once, messages cut from them ---------------------


def _rr(owner: bytes, rtype: int, ttl: int, rd: RD) -> bytes:
    data = rdata_wire(rd)  # names written whole: the record is packed alone
    return owner + struct.pack("!HHIH", rtype, CLASS_IN, ttl, len(data)) + data


_WIRES: dict[int, tuple[Zone, bytes, list[bytes]]] = {}  # id(zone) -> (zone, SOA, records)
WIRES_KEPT = 8
_PACKING = threading.Lock()


def zone_wires(zone: Zone) -> tuple[bytes, list[bytes]]:
    """The zone's SOA and its other records, each as it goes on the wire (owner uncompressed),
    in the AXFR order; packed once per zone and kept for the last few zones."""
    with _PACKING:  # one thread packs a zone; others asking for it meanwhile wait for it
        got = _WIRES.get(id(zone))
        if got is not None and got[0] is zone:
            return got[1], got[2]
        return _pack(zone)


def _pack(zone: Zone) -> tuple[bytes, list[bytes]]:
    soa = _rr(name_wire(zone.origin), SOA, zone.soa.ttl, zone.soa.rdatas[0])
    out: list[bytes] = []
    for key in _order(zone):
        owner = name_wire(key)
        for rtype, rrset in sorted(zone.nodes[key].items()):
            if rtype != SOA:
                out.extend(_rr(owner, rtype, rrset.ttl, rd) for rd in rrset.rdatas)
    if len(_WIRES) >= WIRES_KEPT:
        _WIRES.pop(next(iter(_WIRES)))
    _WIRES[id(zone)] = (zone, soa, out)
    return soa, out


def axfr_wires(zone: Zone) -> Iterator[bytes]:
    soa, records = zone_wires(zone)
    yield soa
    yield from records
    yield soa


def _record_wire(rec: Record) -> bytes:
    return _rr(name_wire(rec.key), rec.rtype, rec.ttl, rec.rdata)


def ixfr_wires(zone: Zone, entries: Sequence[Entry], client_serial: int) -> Iterator[bytes]:
    """IXFR (see the module docstring), as records on the wire."""
    soa = _rr(name_wire(zone.origin), SOA, zone.soa.ttl, zone.soa.rdatas[0])
    if not serial_after(zone.serial, client_serial):
        yield soa
        return
    chain = history(entries, client_serial)
    if not chain or chain[-1].end != zone.serial:
        yield from axfr_wires(zone)
        return
    yield soa
    for entry in chain:
        yield from (_record_wire(r) for r in entry.removed)
        yield from (_record_wire(r) for r in entry.added)
    yield soa


@dataclass(frozen=True, slots=True)
class Signer:
    """How a transfer's messages are signed (RFC 8945 §5.3.1): the request's key, its MAC and
    its TSIG's algorithm and fudge; `now` reads the clock."""

    key: dns.tsig.Key
    request_mac: bytes
    fudge: int
    now: Callable[[], int]


def opt_record(query: dns.message.Message, payload: int) -> bytes | None:
    """Our OPT record for the answer to a request with EDNS (version 0, our UDP payload size,
    the DO bit echoed), None for one without."""
    if query.edns < 0:
        return None
    flags = query.ednsflags & 0x8000  # DO
    return b"\x00" + struct.pack("!HHIH", 41, payload, flags, 0)


def signer_of(query: dns.message.Message, now: Callable[[], int]) -> Signer | None:
    """The signer for a verified request's answer, None for an unsigned request."""
    if not query.had_tsig or not isinstance(query.keyring, dns.tsig.Key) or query.tsig is None:
        return None
    return Signer(query.keyring, query.tsig[0].mac, int(query.tsig[0].fudge), now)


def messages(
    msg_id: int,
    question: bytes,
    records: Iterable[bytes],
    signer: Signer | None,
    opt: bytes | None = None,
) -> Iterator[bytes]:
    """The records in messages of about MESSAGE_SIZE octets: each a response (QR, AA) with the
    request's ID and question (`question`: its name, type and class as on the wire), with
    `opt` (our OPT record, when the request had EDNS: RFC 6891 §7) in every message, signed in
    a chain when there is a `signer`."""
    ctx = None
    first = True

    def message(group: list[bytes]) -> bytes:
        nonlocal ctx, first
        extra = 0 if opt is None else 1
        header = struct.pack("!HHHHHH", msg_id, 0x8400, 1, len(group), 0, extra)
        wire = header + question + b"".join(group) + (opt or b"")
        if signer is None:
            return wire
        # the request's MAC goes into the first message only: the later ones continue the
        # chain (`ctx`; dnspython also reads request_mac only when it starts one)
        wire, ctx = append_tsig(
            wire, signer.key, fudge=signer.fudge, now=signer.now(),
            request_mac=signer.request_mac if first else None, ctx=ctx, multi=True,
        )  # fmt: skip
        first = False
        return wire

    group: list[bytes] = []
    size = 0
    for rr in records:
        if group and size + len(rr) > MESSAGE_SIZE:
            yield message(group)
            group, size = [], 0
        group.append(rr)
        size += len(rr)
    yield message(group)
