"""The resolver against the real authoritative engine serving the default topology's zones."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.flags
import dns.message
import dns.rdatatype
import dns.reversename
import pytest
from dnslib import RR, DNSRecord

from dnsserver.aio.resolver import ResolverDaemon
from dnsserver.aio.server import DnsServer
from dnsserver.config import AuthConfig
from dnsserver.resolver import hints as hints_mod
from dnsserver.resolver.config import ResolverConfig
from dnsserver.resolver_cli import format_trace, trace
from dnsserver.rrl import RrlConfig
from dnsserver.text import parse_name
from minternet import topology, zonegen

from .conftest import _free_port_on_all

TOPO = topology.DEFAULT
DNS_HOSTS = [h for h in TOPO.hosts if h.zones]

#: (name, type) -> what a user expects, for every name the topology's zones define.
EXPECTED = {
    ("gaia.cs.umass.edu.", "A"): ["127.0.1.22"],
    ("www.umass.edu.", "A"): ["127.0.1.20"],
    ("cs.umass.edu.", "A"): ["127.0.1.22"],
    ("engineering.nyu.edu.", "A"): ["127.0.1.32"],
    ("www.crepes.fr.", "A"): ["127.0.1.40"],
    ("mail.crepes.fr.", "A"): ["127.0.0.40"],
    ("smtp.crepes.fr.", "A"): ["127.0.0.40"],
    ("mail.hamburger.edu.", "A"): ["127.0.0.41"],
    ("www.networkutopia.com.", "A"): ["127.0.1.50"],
    ("ftp.networkutopia.com.", "A"): ["127.0.1.50"],
    ("dns1.networkutopia.com.", "A"): ["127.0.0.24"],
    ("x.users.networkutopia.com.", "A"): ["127.0.1.52"],
    ("www.enterprise.com.", "A"): ["127.0.1.60"],
    ("www.amazon.com.", "A"): ["127.0.1.70", "127.0.1.71", "127.0.1.72"],
    ("a.root-servers.net.", "A"): ["127.0.0.10"],
}


@pytest.fixture
async def topo(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    port = _free_port_on_all([h.address for h in DNS_HOSTS] + ["127.0.0.2"])
    ports = dict(topology.port_scheme(False), dns=port)
    paths = zonegen.write_zones(TOPO, tmp_path / "zones", ports)
    hints = tmp_path / "root.hints"
    hints.write_text(zonegen.render_root_hints(TOPO))
    servers: list[Any] = []
    try:
        for h in DNS_HOSTS:
            cfg = AuthConfig(
                zones=tuple(str(paths[z]) for z in h.zones),
                listen=(f"{h.address}:{port}",),
                rrl=RrlConfig(enabled=False),
            )
            s = DnsServer(cfg, name=h.name)
            await s.start()
            servers.append(s)
        res = ResolverDaemon(
            ResolverConfig(
                listen="127.0.0.2:0",
                root_hints=str(hints),
                upstream_port=port,
                control="127.0.0.2:0",
            ),
            name="local-dns",
        )
        rports = await res.start()
        servers.append(res)
        yield {"port": rports["dns"], "upstream": port, "hints": hints, "resolver": res}
    finally:
        for s in reversed(servers):
            await s.stop()


async def _a(port: int, name: str, rdtype: str = "A") -> list[str]:
    q = dns.message.make_query(name, rdtype)
    resp = await dns.asyncquery.udp(q, "127.0.0.2", port=port, timeout=5)
    return sorted(
        rd.address
        for rr in resp.answer
        if rr.rdtype == dns.rdatatype.from_text(rdtype)
        for rd in rr
    )


async def test_every_topology_name_resolves(topo: dict[str, Any]) -> None:
    for (name, rdtype), want in EXPECTED.items():
        assert await _a(topo["port"], name, rdtype) == want, name
    q = dns.message.make_query("hamburger.edu.", "MX")
    resp = await dns.asyncquery.udp(q, "127.0.0.2", port=topo["port"], timeout=5)
    assert [rd.exchange.to_text() for rr in resp.answer for rd in rr] == ["mail.hamburger.edu."]
    q = dns.message.make_query("nothing.umass.edu.", "A")
    resp = await dns.asyncquery.udp(q, "127.0.0.2", port=topo["port"], timeout=5)
    assert resp.rcode() == dns.rcode.NXDOMAIN


async def _ptr(port: int, address: str, *, rd: bool = True) -> dns.message.Message:
    q = dns.message.make_query(dns.reversename.from_address(address), "PTR")
    if not rd:
        q.flags &= ~dns.flags.RD
    return await dns.asyncquery.udp(q, "127.0.0.2", port=port, timeout=5)


async def test_every_address_resolves_back_to_its_name(topo: dict[str, Any]) -> None:
    names = zonegen.reverse_names(TOPO)
    assert names["127.0.0.20"] == "dns.umass.edu." and names["2001:db8:119::12"] == (
        "gaia.cs.umass.edu."
    )
    for address, name in names.items():
        resp = await _ptr(topo["port"], address)
        assert [rd.target.to_text() for rr in resp.answer for rd in rr] == [name], address
        assert not resp.flags & dns.flags.AA  # from the hierarchy, not made up locally


async def test_trace_of_a_reverse_lookup_walks_root_in_addr_arpa_127(
    topo: dict[str, Any],
) -> None:
    hints = hints_mod.load(str(topo["hints"]))
    res = await trace(parse_name("20.0.0.127.in-addr.arpa"), 12, hints, topo["upstream"], 2.0)
    assert [(s.server, s.outcome, s.detail) for s in res.steps] == [
        ("127.0.0.10", "referral", "in-addr.arpa. NS a.in-addr-servers.arpa. (1 glue)"),
        ("127.0.0.14", "referral", "127.in-addr.arpa. NS a.iana-servers.net. (0 glue)"),
        # the name server has no glue: its address is looked up from the root
        ("127.0.0.10", "referral", "net. NS a.gtld-servers.net. (1 glue)"),
        ("127.0.0.11", "answer", "A 127.0.0.26"),
        ("127.0.0.26", "answer", "PTR dns.umass.edu."),
    ]


async def test_localhost_is_answered_locally_the_rest_of_127_is_not(
    topo: dict[str, Any],
) -> None:
    sent = topo["resolver"].stats.upstream_queries
    for rd in (True, False):
        resp = await _ptr(topo["port"], "127.0.0.1", rd=rd)
        assert resp.flags & dns.flags.AA
        assert [(rr.ttl, rd.target.to_text()) for rr in resp.answer for rd in rr] == [
            (10800, "localhost.")
        ]
    resp = await dns.asyncquery.udp(
        dns.message.make_query("localhost.", "AAAA"), "127.0.0.2", port=topo["port"], timeout=5
    )
    assert [rd.address for rr in resp.answer for rd in rr] == ["::1"]
    assert topo["resolver"].stats.upstream_queries == sent
    resp = await _ptr(topo["port"], "127.0.0.2")  # through the hierarchy
    assert [rd.target.to_text() for rr in resp.answer for rd in rr] == ["dns.nyu.edu."]
    assert topo["resolver"].stats.upstream_queries > sent


@pytest.mark.parametrize(
    ("name", "rdtype", "target", "address"),
    [
        (".", "NS", "a.root-servers.net.", "127.0.0.10"),  # what `dig +trace` follows
        ("hamburger.edu.", "MX", "mail.hamburger.edu.", "127.0.0.41"),
        ("_imap._tcp.crepes.fr.", "SRV", "mail.crepes.fr.", "127.0.0.40"),
    ],
)
async def test_targets_addresses_come_in_the_additional_section(
    topo: dict[str, Any], name: str, rdtype: str, target: str, address: str
) -> None:
    for _ in range(2):  # resolved, then from the packed-answer cache
        q = dns.message.make_query(name, rdtype)
        resp = await dns.asyncquery.udp(q, "127.0.0.2", port=topo["port"], timeout=5)
        assert resp.answer and not resp.flags & dns.flags.TC
        extra = {(rr.name.to_text(), rd.address) for rr in resp.additional for rd in rr}
        assert (target, address) in extra


async def test_additional_data_is_dropped_before_truncating(topo: dict[str, Any]) -> None:
    fit = topo["resolver"].frontend._fit
    reply = DNSRecord.question("example.test", "MX").reply()
    reply.add_answer(*RR.fromZone("example.test. 60 IN MX 10 mx.example.test."))
    for i in range(60):  # 60 addresses: about 1,000 octets of optional data
        reply.add_ar(*RR.fromZone(f"mx.example.test. 60 IN A 192.0.2.{i}"))
    out = DNSRecord.parse(fit(bytes(reply.pack()), reply, 512))
    assert not out.header.tc and len(out.rr) == 1 and not out.ar
    for i in range(60):  # now the answer itself does not fit
        reply.add_answer(*RR.fromZone(f"example.test. 60 IN MX {i} mx{i}.example.test."))
    out = DNSRecord.parse(fit(bytes(reply.pack()), reply, 512))
    assert out.header.tc and not out.rr and out.q.qname == "example.test."


async def test_trace_walks_root_edu_umass(topo: dict[str, Any]) -> None:
    hints = hints_mod.load(str(topo["hints"]))
    res = await trace((b"gaia", b"cs", b"umass", b"edu"), 1, hints, topo["upstream"], 2.0)
    assert [(s.server, s.outcome) for s in res.steps] == [
        ("127.0.0.10", "referral"),
        ("127.0.0.12", "referral"),
        ("127.0.0.20", "answer"),
    ]
    text = format_trace("gaia.cs.umass.edu", 1, res)
    assert "edu. NS a.edu-servers.net." in text and "127.0.1.22" in text


async def test_trace_shows_the_cname_of_an_answer(topo: dict[str, Any]) -> None:
    hints = hints_mod.load(str(topo["hints"]))
    res = await trace(parse_name("cs.umass.edu"), 1, hints, topo["upstream"], 2.0)
    lines = format_trace("cs.umass.edu", 1, res).splitlines()
    assert re.fullmatch(
        r"  3  ask 127\.0\.0\.20 +\(zone umass\.edu\.\) cs\.umass\.edu\. A: "
        r"ANSWER CNAME gaia\.cs\.umass\.edu\. -> A 127\.0\.1\.22  \[[0-9.]+ ms\]",
        lines[3],
    ), lines[3]
    assert lines[4] == ";; status NOERROR, 3 queries"


async def _dig(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "dig", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return out.decode()


@pytest.mark.interop
async def test_dig_through_the_resolver(topo: dict[str, Any]) -> None:
    if shutil.which("dig") is None:
        pytest.skip("dig is missing: install the Debian package bind9-dnsutils")
    at = ["@127.0.0.2", "-p", str(topo["port"])]
    for (name, rdtype), want in EXPECTED.items():
        out = await _dig(*at, name, rdtype, "+short")
        got = sorted(w for w in out.split() if not w.endswith("."))  # CNAME targets end in "."
        assert got == want, (name, out)
    out = await _dig(*at, "gaia.cs.umass.edu", "+norec")  # in the cache by now
    assert "status: NOERROR" in out and "127.0.1.22" in out and " ra" in out
    out = await _dig(*at, "www.hamburger.edu", "+norec")  # never asked: cache only
    assert "ANSWER: 0" in out
    assert topo["resolver"].stats.upstream_queries > 0
    out = await _dig(*at, "www.hamburger.edu", "+tcp")
    assert "127.0.1.41" in out and "status: NOERROR" in out
    out = await _dig(*at, "NoSuch.Crepes.FR")
    assert "status: NXDOMAIN" in out and "NoSuch.Crepes.FR." in out
