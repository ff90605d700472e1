"""localhost (RFC 6761) and the loopback reverse names (RFC 6303), answered by the resolver
itself as Unbound does -- but not the rest of 127.in-addr.arpa., where the topology lives."""

from __future__ import annotations

from typing import Any

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.reversename
import pytest
from dnslib import QTYPE, RCODE

from dnsserver.resolver import local
from dnsserver.resolver.rrset import name_of

Start = Any
SOA = "localhost. 10800 IN SOA localhost. nobody.invalid. 1 3600 1200 604800 10800"


def zone_lines(name: str, qtype: int) -> tuple[int, list[str], list[str]] | None:
    res = local.answer(name_of(name), qtype)
    if res is None:
        return None

    def text(sets: Any) -> list[str]:
        return [" ".join(rr.toZone().split()) for s in sets for rr in s.to_rrs()]

    return res.rcode, text(res.answer), text(res.authority)


@pytest.mark.parametrize(
    ("name", "qtype", "want"),
    [
        ("localhost.", QTYPE.A, (RCODE.NOERROR, ["localhost. 10800 IN A 127.0.0.1"], [])),
        ("LocalHost.", QTYPE.AAAA, (RCODE.NOERROR, ["localhost. 10800 IN AAAA ::1"], [])),
        ("localhost.", QTYPE.NS, (RCODE.NOERROR, ["localhost. 10800 IN NS localhost."], [])),
        ("localhost.", QTYPE.MX, (RCODE.NOERROR, [], [SOA])),
        ("www.localhost.", QTYPE.A, (RCODE.NOERROR, ["www.localhost. 10800 IN A 127.0.0.1"], [])),
        (
            "1.0.0.127.in-addr.arpa.",
            QTYPE.PTR,
            (RCODE.NOERROR, ["1.0.0.127.in-addr.arpa. 10800 IN PTR localhost."], []),
        ),
        (
            dns.reversename.from_address("::1").to_text(),
            QTYPE.PTR,
            (
                RCODE.NOERROR,
                [dns.reversename.from_address("::1").to_text() + " 10800 IN PTR localhost."],
                [],
            ),
        ),
        (
            "localhost.",
            QTYPE.ANY,
            (
                RCODE.NOERROR,
                [
                    "localhost. 10800 IN A 127.0.0.1",
                    "localhost. 10800 IN NS localhost.",
                    SOA,
                    "localhost. 10800 IN AAAA ::1",
                ],
                [],
            ),
        ),
        (
            "a.b.localhost.",
            QTYPE.ANY,
            (
                RCODE.NOERROR,
                ["a.b.localhost. 10800 IN A 127.0.0.1", "a.b.localhost. 10800 IN AAAA ::1"],
                [],
            ),
        ),
        ("www.localhost.", QTYPE.NS, (RCODE.NOERROR, [], [SOA])),  # below the apex: no NS
        (
            "1.0.0.127.in-addr.arpa.",
            QTYPE.ANY,
            (
                RCODE.NOERROR,
                [
                    "1.0.0.127.in-addr.arpa. 10800 IN NS localhost.",
                    SOA.replace("localhost.", "1.0.0.127.in-addr.arpa.", 1),
                    "1.0.0.127.in-addr.arpa. 10800 IN PTR localhost.",
                ],
                [],
            ),
        ),
        (
            "1.0.0.127.in-addr.arpa.",
            QTYPE.A,
            (RCODE.NOERROR, [], [SOA.replace("localhost.", "1.0.0.127.in-addr.arpa.", 1)]),
        ),
        (
            "x.1.0.0.127.in-addr.arpa.",
            QTYPE.PTR,
            (RCODE.NXDOMAIN, [], [SOA.replace("localhost.", "1.0.0.127.in-addr.arpa.", 1)]),
        ),
    ],
)
def test_local_answers(name: str, qtype: int, want: tuple[int, list[str], list[str]]) -> None:
    assert zone_lines(name, qtype) == want


@pytest.mark.parametrize(
    "name",
    ["20.0.0.127.in-addr.arpa.", "127.in-addr.arpa.", "0.0.127.in-addr.arpa.", "localhost.com."],
)
def test_the_rest_is_resolved(name: str) -> None:
    assert local.answer(name_of(name), QTYPE.PTR) is None


async def test_answered_with_aa_without_asking_anyone(start_resolver: Start) -> None:
    d, ports = await start_resolver()
    for rd in (True, False):
        q = dns.message.make_query("localhost.", "A")
        if not rd:
            q.flags &= ~dns.flags.RD
        r = await dns.asyncquery.udp(q, "127.0.0.1", port=ports["dns"], timeout=5)
        assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
        assert [(rr.ttl, rd.address) for rr in r.answer for rd in rr] == [(10800, "127.0.0.1")]
    assert d.stats.upstream_queries == 0
    q = dns.message.make_query(dns.reversename.from_address("127.0.0.20"), "PTR")
    await dns.asyncquery.udp(q, "127.0.0.1", port=ports["dns"], timeout=5)
    assert d.stats.upstream_queries > 0  # the rest of 127.in-addr.arpa. is asked upstream
