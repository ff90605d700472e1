"""The authoritative lookup algorithm (RFC 1034 §4.3.2): a question in, the sections out.

Sans-I/O: no sockets, no clock. `lookup()` decides rcode, AA and the records of each section;
`response.py` packs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dnslib import RR, DNSLabel

from dnsserver.errors import NOERROR, NXDOMAIN, REFUSED, SERVFAIL
from dnsserver.wire import Name
from dnsserver.zone import AAAA, ANY, CNAME, DS, MX, NS, SRV, A, RRset, Zone
from dnsserver.zoneset import ZoneSet

MAX_CNAME_CHAIN = 16  # a chain this long is a loop or an abuse; stop following

# Response classes for response rate limiting (the categories NSD and BIND account separately).
KIND_ANSWER = "answer"
KIND_NODATA = "nodata"
KIND_NXDOMAIN = "nxdomain"
KIND_REFERRAL = "referral"
KIND_WILDCARD = "wildcard"
KIND_ERROR = "error"


@dataclass(slots=True)
class Answer:
    """What to answer: the rcode, AA, the three record sections and the RRL class."""

    rcode: int = NOERROR
    aa: bool = True
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    kind: str = KIND_ANSWER
    rrl_name: Name = ()  # the name RRL accounts this answer under
    glue_required: bool = False  # a referral whose glue must not be dropped (RFC 9471)


def _add(section: list[RR], owner: DNSLabel, rrset: RRset, ttl: int | None = None) -> None:
    t = rrset.ttl if ttl is None else ttl
    for rd in rrset.rdatas:
        section.append(RR(owner, rrset.rtype, 1, t, rd))


def _soa(ans: Answer, zone: Zone) -> None:
    """RFC 2308 §3: the SOA goes in authority, its TTL the smaller of its TTL and MINIMUM."""
    _add(ans.authority, zone.origin_label, zone.soa, zone.negative_ttl)


def _addresses(zones: ZoneSet, ans: Answer, targets: tuple[tuple[Name, DNSLabel], ...]) -> None:
    """RFC 1034 §4.3.2 step 6: A/AAAA of the names in NS/MX/SRV data, when we hold them."""
    for key, label in targets:
        z = zones.find(key)
        if z is None:
            continue
        node = z.nodes.get(key)
        if node is not None:
            _add_addresses(ans, node, label)


def _add_addresses(ans: Answer, node: dict[int, RRset], label: DNSLabel) -> None:
    """The A and AAAA RRsets of `node` into the additional section, owned by `label`."""
    for rtype in (A, AAAA):
        rrset = node.get(rtype)
        if rrset is not None:
            _add(ans.additional, label, rrset)


def lookup(zones: ZoneSet, labels: Name, key: Name, qtype: int, *, tcp: bool) -> Answer:
    """Answer (`labels` as the client wrote it, `key` lowercased, `qtype`) from `zones`."""
    if zones.unavailable and zones.is_unavailable(key):
        return Answer(rcode=SERVFAIL, kind=KIND_ERROR)  # a secondary zone we cannot serve
    zone = zones.find(key)
    if zone is None:
        return Answer(rcode=REFUSED, kind=KIND_ERROR)  # the engine sends it as an error
    ans = Answer(rrl_name=key)
    owner = DNSLabel(labels)
    seen: set[Name] = set()
    first = True
    for _ in range(MAX_CNAME_CHAIN):
        seen.add(key)
        target = _step(zones, zone, ans, owner, key, qtype, tcp=tcp, first=first)
        if target is None:
            break
        key, owner = target
        first = False
        if key in seen:  # CNAME loop: what we have is the answer
            break
        next_zone = zones.find(key)
        if next_zone is None:  # the chain leaves our zones: the resolver continues it
            break
        zone = next_zone
    return ans


def _step(
    zones: ZoneSet,
    zone: Zone,
    ans: Answer,
    owner: DNSLabel,
    key: Name,
    qtype: int,
    *,
    tcp: bool,
    first: bool,
) -> tuple[Name, DNSLabel] | None:
    """One pass of RFC 1034 §4.3.2 steps 3a-3c in `zone`; returns a CNAME target to follow."""
    depth = len(zone.origin)
    # Step 3b: a zone cut between the origin and the name means a referral. The parent side
    # of a cut answers DS itself (RFC 4035 §3.1.4.1).
    if zone.cuts:
        for i in range(len(key) - depth - 1, -1, -1):
            cut = key[i:]
            if cut in zone.cuts and not (i == 0 and qtype == DS):
                _referral(zone, ans, DNSLabel(owner.label[i:]), cut, first=first)
                return None
    node = zone.nodes.get(key)
    wildcard = False
    if node is None:
        if key in zone.exists:  # an empty non-terminal: the name exists, no data (NODATA)
            _nodata(zone, ans, first=first)
            return None
        # RFC 4592 §3.3.1: the closest encloser, then its wildcard child.
        encloser = key[1:]
        while encloser not in zone.exists:
            encloser = encloser[1:]
        node = zone.nodes.get((b"*", *encloser))
        if node is None:
            ans.rcode = NXDOMAIN  # RFC 6604: also after a CNAME chain
            _soa(ans, zone)
            if first:
                ans.kind, ans.rrl_name = KIND_NXDOMAIN, zone.origin
            return None
        wildcard = True
        if first:
            ans.kind, ans.rrl_name = KIND_WILDCARD, (b"*", *encloser)
    if qtype == ANY:
        # RFC 8482 §4.1: over UDP, one RRset is enough; over TCP, give them all.
        rrsets = sorted(node.values(), key=lambda r: r.rtype)
        for rrset in rrsets if tcp else rrsets[:1]:
            _add(ans.answer, owner, rrset)
        return None
    found = node.get(qtype)
    if found is not None:
        _add(ans.answer, owner, found)
        if qtype in (NS, MX, SRV):
            _addresses(zones, ans, found.targets)
        return None
    cname = node.get(CNAME)
    if cname is not None:  # step 3a: the alias, then its target
        _add(ans.answer, owner, cname)
        return cname.targets[0]  # every CNAME record has its target (masterfile.py)
    _nodata(zone, ans, first=first and not wildcard)
    return None


def _nodata(zone: Zone, ans: Answer, *, first: bool) -> None:
    _soa(ans, zone)
    if first:
        ans.kind = KIND_NODATA


def _referral(zone: Zone, ans: Answer, owner: DNSLabel, cut: Name, *, first: bool) -> None:
    """RFC 1034 §4.3.2 step 3b: the child's NS in authority, glue in additional, no AA."""
    ns = zone.nodes[cut][NS]
    if first:
        ans.aa = False
        ans.kind, ans.rrl_name = KIND_REFERRAL, cut
        ans.glue_required = True
    _add(ans.authority, owner, ns)
    for key, label in ns.targets:
        node = zone.nodes.get(key)  # glue lives below the cut in the parent zone's data
        if node is not None:
            _add_addresses(ans, node, label)
