"""Names the local DNS server answers itself: localhost (RFC 6761) and the loopback reverse names.

Unbound's defaults, as it answers them (checked against Unbound 1.17.1): `localhost.` and every
name below it have A 127.0.0.1 and AAAA ::1, with NS and SOA at the apex; another type is
NODATA with the SOA. `1.0.0.127.in-addr.arpa.` and the IPv6 one for ::1 (RFC 6303 §4.2, §4.3)
have PTR localhost.; below them is NXDOMAIN. All with AA and TTL 10800, whatever RD says.

Unlike Unbound, the rest of 127.in-addr.arpa. is not answered here (Unbound makes all of it a
local zone, NXDOMAIN): the miniature Internet lives in 127.0.0.0/8, so `dig -x 127.0.0.20` is
resolved through the hierarchy like any other name.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from dnslib import AAAA, NS, PTR, QTYPE, RCODE, SOA, A, DNSBuffer, DNSLabel

from dnsserver.resolver.iterate import Result
from dnsserver.resolver.rrset import Name, RRset, name_of

TTL = 10800
LOCALHOST: Name = (b"localhost",)
V4_LOOPBACK: Name = name_of("1.0.0.127.in-addr.arpa.")
V6_LOOPBACK: Name = name_of(ipaddress.IPv6Address("::1").reverse_pointer + ".")

_HERE = DNSLabel("localhost.")
_SOA = SOA(_HERE, DNSLabel("nobody.invalid."), (1, 3600, 1200, 604800, 10800))


def _wire(rdata: Any) -> bytes:
    buf = DNSBuffer()
    rdata.pack(buf)
    return bytes(buf.data)


def _rrset(name: Name, rtype: int, *rdatas: Any) -> RRset:
    return RRset(name, rtype, TTL, tuple(_wire(rd) for rd in rdatas))


def _zone_of(name: Name) -> tuple[Name, dict[int, tuple[Any, ...]]] | None:
    """(apex, data at the apex) of the local zone holding `name`, or None."""
    if name[-1:] == LOCALHOST:
        data = {
            QTYPE.A: (A("127.0.0.1"),),
            QTYPE.AAAA: (AAAA("::1"),),
            QTYPE.NS: (NS(_HERE),),
            QTYPE.SOA: (_SOA,),
        }
        return LOCALHOST, data
    for apex in (V4_LOOPBACK, V6_LOOPBACK):
        if name[-len(apex) :] == apex:
            return apex, {QTYPE.PTR: (PTR(_HERE),), QTYPE.NS: (NS(_HERE),), QTYPE.SOA: (_SOA,)}
    return None


def answer(name: Name, qtype: int) -> Result | None:
    """The local answer for (`name`, `qtype`), or None: resolve it as usual."""
    found = _zone_of(name)
    if found is None:
        return None
    apex, data = found
    if name != apex:
        if apex != LOCALHOST:  # a static zone: nothing below its apex
            return Result(rcode=RCODE.NXDOMAIN, authority=(_rrset(apex, QTYPE.SOA, _SOA),))
        # RFC 6761 §6.3: every name below localhost. is the loopback host (Unbound: redirect)
        data = {t: v for t, v in data.items() if t in (QTYPE.A, QTYPE.AAAA)}
    if qtype == QTYPE.ANY:
        rrsets = tuple(_rrset(name, t, *v) for t, v in sorted(data.items()))
        return Result(rcode=RCODE.NOERROR, answer=rrsets)
    if qtype in data:
        return Result(rcode=RCODE.NOERROR, answer=(_rrset(name, qtype, *data[qtype]),))
    return Result(rcode=RCODE.NOERROR, authority=(_rrset(apex, QTYPE.SOA, _SOA),))
