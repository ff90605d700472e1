"""A tiny in-memory DNS hierarchy (dnslib) and a driver that runs the resolution core over it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR, DNSHeader, DNSLabel, DNSQuestion, DNSRecord

from dnsserver.resolver.cache import Cache, CacheConfig
from dnsserver.resolver.drive import run
from dnsserver.resolver.hints import RootHints
from dnsserver.resolver.iterate import IterConfig, Resolver, Result, UpstreamQuery, UpstreamReply
from dnsserver.resolver.message import read_message
from dnsserver.resolver.rrset import name_of
from dnsserver.resolver.stats import Stats

Handler = Callable[[DNSRecord], DNSRecord | None]


def _under(name: DNSLabel, zone: DNSLabel) -> bool:
    return not zone.label or bool(name.matchSuffix(zone))


class FakeZone:
    """Authoritative data for one zone, from master-file lines with absolute names."""

    def __init__(self, origin: str, text: str) -> None:
        self.origin = DNSLabel(origin)
        self.rrs: list[RR] = []
        for line in text.strip().splitlines():
            line = line.strip()
            if line and not line.startswith(";"):
                self.rrs.extend(RR.fromZone(line))

    def soa(self) -> list[RR]:
        return [r for r in self.rrs if r.rtype == QTYPE.SOA]

    def cut_for(self, qname: DNSLabel) -> DNSLabel | None:
        """The delegation point (a non-apex owner with NS) at or above qname, if any."""
        best = None
        for r in self.rrs:
            deeper = best is None or len(r.rname.label) > len(best.label)
            if r.rtype == QTYPE.NS and r.rname != self.origin and _under(qname, r.rname) and deeper:
                best = r.rname
        return best

    def answer(self, q: DNSRecord) -> DNSRecord:
        """RFC 1034 §4.3.2, minimally: referral, answer (CNAME chased in zone), NXDOMAIN, NODATA."""
        qn, qt = q.q.qname, q.q.qtype
        resp = DNSRecord(DNSHeader(id=q.header.id, qr=1, aa=1, rd=q.header.rd), q=q.q)
        cut = self.cut_for(qn)
        if cut is not None:
            resp.header.aa = 0
            ns = [r for r in self.rrs if r.rtype == QTYPE.NS and r.rname == cut]
            for r in ns:
                resp.add_auth(r)
            targets = [r.rdata.label for r in ns]
            for r in self.rrs:
                if r.rtype in (QTYPE.A, QTYPE.AAAA) and r.rname in targets:
                    resp.add_ar(r)
            return resp
        name = qn
        for _ in range(8):
            here = [r for r in self.rrs if r.rname == name]
            hits = [r for r in here if r.rtype == qt]
            if hits:
                for r in hits:
                    resp.add_answer(r)
                return resp
            cn = [r for r in here if r.rtype == QTYPE.CNAME]
            if cn and qt != QTYPE.CNAME:
                resp.add_answer(cn[0])
                name = cn[0].rdata.label
                if not _under(name, self.origin):
                    return resp
                continue
            if not here and not any(_under(r.rname, name) for r in self.rrs):
                resp.header.rcode = RCODE.NXDOMAIN
            for r in self.soa():
                resp.add_auth(r)
            return resp
        return resp


@dataclass
class FakeServer:
    zones: list[FakeZone] = field(default_factory=list)
    handler: Handler | None = None  # overrides the zones (attacks, garbage)
    down: bool = False
    queries: int = 0
    delay: float = 0.0  # network fakes only: seconds before answering
    truncate_udp: bool = False  # network fakes only: answer UDP with TC=1 and no records
    tcp_delay: float = 0.0  # network fakes only: seconds before answering over TCP
    seen_ids: list[int] = field(default_factory=list)

    def respond(self, q: DNSRecord) -> DNSRecord | None:
        self.queries += 1
        if self.down:
            return None
        if self.handler is not None:
            return self.handler(q)
        best = None
        for z in self.zones:
            if _under(q.q.qname, z.origin) and (
                best is None or len(z.origin.label) > len(best.origin.label)
            ):
                best = z
        if best is None:
            r = DNSRecord(DNSHeader(id=q.header.id, qr=1, rd=q.header.rd), q=q.q)
            r.header.rcode = RCODE.REFUSED
            return r
        return best.answer(q)


SOA = "{z} 3600 IN SOA ns.{s} host.{s} 1 7200 3600 1209600 300"


def zone(origin: str, body: str) -> FakeZone:
    suffix = "" if origin == "." else origin
    return FakeZone(origin, SOA.format(z=origin, s=suffix) + "\n" + body)


def default_net() -> dict[str, FakeServer]:
    """root -> test. -> example.test. (with glue), glue-less other zones, a lame one, CNAMEs."""
    root = zone(
        ".",
        """
        . 3600 IN NS a.root.test.
        test. 3600 IN NS ns1.tld.test.
        ns1.tld.test. 3600 IN A 127.0.0.11
        a.root.test. 3600 IN A 127.0.0.10
        """,
    )
    tld = zone(
        "test.",
        """
        test. 3600 IN NS ns1.tld.test.
        ns1.tld.test. 3600 IN A 127.0.0.11
        example.test. 3600 IN NS ns.example.test.
        ns.example.test. 3600 IN A 127.0.0.12
        other.test. 3600 IN NS ns.other.test.
        ns.other.test. 3600 IN A 127.0.0.13
        glueless.test. 3600 IN NS ns.other.test.
        lame.test. 3600 IN NS ns1.lame.test.
        lame.test. 3600 IN NS ns2.lame.test.
        ns1.lame.test. 3600 IN A 127.0.0.14
        ns2.lame.test. 3600 IN A 127.0.0.12
        """,
    )
    example = zone(
        "example.test.",
        """
        example.test. 3600 IN NS ns.example.test.
        ns.example.test. 3600 IN A 127.0.0.12
        www.example.test. 300 IN A 127.1.0.1
        mail.example.test. 300 IN A 127.1.0.2
        alias.example.test. 300 IN CNAME www.example.test.
        far.example.test. 300 IN CNAME host.glueless.test.
        nx.example.test. 300 IN CNAME missing.other.test.
        example.test. 300 IN MX 10 mail.example.test.
        """
        + "\n".join(f'big.example.test. 300 IN TXT "{i:02d}{"x" * 60}"' for i in range(20)),
    )
    other = zone(
        "other.test.",
        """
        other.test. 3600 IN NS ns.other.test.
        ns.other.test. 3600 IN A 127.0.0.13
        www.other.test. 60 IN A 127.1.0.3
        """,
    )
    glueless = zone(
        "glueless.test.",
        """
        glueless.test. 3600 IN NS ns.other.test.
        host.glueless.test. 300 IN A 127.1.0.4
        """,
    )
    lame = zone(
        "lame.test.",
        """
        lame.test. 3600 IN NS ns1.lame.test.
        www.lame.test. 300 IN A 127.1.0.5
        """,
    )
    root.rrs.extend(RR.fromZone("alt. 3600 IN NS ns.alt-servers.test."))
    alt = zone(
        "alt.",
        """
        alt. 3600 IN NS ns.alt-servers.test.
        noglue.alt. 3600 IN NS ns.other.test.
        loopa.alt. 3600 IN NS ns.loopb.test.
        """,
    )
    tld.rrs.extend(
        RR.fromZone(
            "ns.alt-servers.test. 3600 IN A 127.0.0.15\n"
            "loopb.test. 3600 IN NS ns.loopa.alt.\n"
            "alt-servers.test. 3600 IN NS ns.other.test."
        )
    )
    altservers = zone("alt-servers.test.", "ns.alt-servers.test. 3600 IN A 127.0.0.15")
    noglue = zone("noglue.alt.", "host.noglue.alt. 300 IN A 127.1.0.6")
    return {
        "127.0.0.10": FakeServer([root]),
        "127.0.0.15": FakeServer([alt]),
        "127.0.0.11": FakeServer([tld]),
        "127.0.0.12": FakeServer([example, lame]),
        "127.0.0.13": FakeServer([other, glueless, noglue, altservers]),
        "127.0.0.14": FakeServer([]),  # lame: REFUSED for lame.test
    }


HINTS = RootHints(((b"a", b"root", b"test"),), {(b"a", b"root", b"test"): ("127.0.0.10",)})


@dataclass
class Harness:
    net: dict[str, FakeServer]
    now: float = 1000.0
    rtt: float = 0.002
    sent: list[UpstreamQuery] = field(default_factory=list)
    cache_config: CacheConfig = field(default_factory=CacheConfig)
    config: IterConfig = field(default_factory=IterConfig)
    seed: int = 1
    resolver: Resolver = field(init=False)
    stats: Stats = field(init=False)

    def __post_init__(self) -> None:
        self.stats = Stats()
        self.resolver = Resolver(
            HINTS,
            Cache(self.cache_config),
            rng=random.Random(self.seed),
            stats=self.stats,
            config=self.config,
        )

    def resolve(self, name: str, qtype: str | int = "A") -> Result:
        t = qtype if isinstance(qtype, int) else int(getattr(QTYPE, qtype))
        return run(self.resolver.resolve(name_of(name), t, self.now), self.exchange)

    def exchange(self, q: UpstreamQuery) -> UpstreamReply:
        self.sent.append(q)
        server = self.net.get(q.server)
        query = DNSRecord(
            DNSHeader(id=random.randrange(65536), rd=0), q=DNSQuestion(q.qlabel, q.qtype)
        )
        resp = server.respond(DNSRecord.parse(query.pack())) if server else None
        if resp is None:
            self.now += q.timeout
            return UpstreamReply(now=self.now, message=None)
        self.now += self.rtt
        return UpstreamReply(now=self.now, message=read_message(resp.pack()), rtt=self.rtt)

    def addresses(self, res: Result) -> list[str]:
        return sorted(str(rr.rdata) for s in res.answer if s.rtype == QTYPE.A for rr in s.to_rrs())
