"""The local DNS server of `minternet up`: resolves by walking the hierarchy, then from cache."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest

from minternet import topology
from minternet.control import request

from .conftest import E2E_PORT_OFFSET, minternet

pytestmark = pytest.mark.e2e
DNS_PORT = 53 + E2E_PORT_OFFSET
RESOLVER = topology.DEFAULT.host("local-dns").address


def resolve(name: str, rdtype: str = "A", *, rd: bool = True) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    if not rd:
        q.flags &= ~dns.flags.RD
    return dns.query.udp(q, RESOLVER, port=DNS_PORT, timeout=5)


def stats(state_services: dict[str, dict]) -> dict[str, int]:
    s = state_services["local-dns"]
    return request(f"{s['address']}:{s['ports']['control']}", "stats")["stats"]


@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        ("gaia.cs.umass.edu.", "A", "127.0.1.22"),
        ("www.enterprise.com.", "A", "127.0.1.60"),  # CNAME, NS out of the zone's own domain
        ("www.amazon.com.", "A", "127.0.1.70"),  # CNAME to a set of replicas
        ("hamburger.edu.", "MX", "10 mail.hamburger.edu."),
        ("anything.users.networkutopia.com.", "A", "127.0.1.52"),  # a wildcard
    ],
)
def test_recursive_query_is_answered_with_ra(topology_up, name, rdtype, expected):
    resp = resolve(name, rdtype)
    assert resp.rcode() == dns.rcode.NOERROR
    assert resp.flags & dns.flags.RA and not resp.flags & dns.flags.AA
    assert expected in {r.to_text() for rrset in resp.answer for r in rrset}


def test_second_answer_comes_from_the_cache_with_a_lower_ttl(topology_up):
    before = stats(topology_up)
    first = resolve("engineering.nyu.edu.")
    mid = stats(topology_up)
    assert mid["upstream_queries"] > before["upstream_queries"]
    cached = resolve("engineering.nyu.edu.", rd=False)  # RD=0: the cache only
    after = stats(topology_up)
    assert after["upstream_queries"] == mid["upstream_queries"]
    assert after["cache_hits"] > mid["cache_hits"]
    assert cached.answer[0][0].address == first.answer[0][0].address == "127.0.1.32"
    assert cached.answer[0].ttl <= first.answer[0].ttl <= 3600


def test_nxdomain_through_the_resolver(topology_up):
    resp = resolve("no-such-host.crepes.fr.")
    assert resp.rcode() == dns.rcode.NXDOMAIN
    assert resp.authority and resp.authority[0].rdtype == dns.rdatatype.SOA


def test_trace_shows_the_walk_from_the_root(topology_up):
    out = subprocess.run(
        [sys.executable, "-m", "dnsserver", "trace", "gaia.cs.umass.edu", "--port", str(DNS_PORT)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    servers = [topology.DEFAULT.host(n).address for n in ("root", "tld-edu", "dns-umass")]
    positions = [out.find(a) for a in servers]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), out
    assert "127.0.1.22" in out


def test_status_shows_the_resolver_counters(topology_up, tmp_path):
    resolve("www.networkutopia.com.")
    state = topology_up["local-dns"]["log"].rsplit("/logs/", 1)[0]
    out = minternet("status", "--json", "--state-dir", state)
    entry = next(s for s in json.loads(out.stdout)["services"] if s["name"] == "local-dns")
    assert entry["stats"]["queries"] >= 1 and entry["stats"]["upstream_queries"] >= 1
    table = minternet("status", "--state-dir", state).stdout
    counters = table.split("\ncounters (each daemon's control endpoint):\n", 1)[1]
    line = next(x for x in counters.splitlines() if x.startswith("  local-dns "))
    assert " queries " in line and " cache hits " in line


def test_reverse_lookup_walks_the_hierarchy_but_localhost_is_local(topology_up):
    # dig -x 127.0.0.20: root -> arpa. -> in-addr.arpa. -> 127.in-addr.arpa.
    resp = resolve(dns.reversename.from_address("127.0.0.20").to_text(), "PTR")
    assert resp.rcode() == dns.rcode.NOERROR and not resp.flags & dns.flags.AA
    assert [rd.target.to_text() for rr in resp.answer for rd in rr] == ["dns.umass.edu."]
    resp = resolve(dns.reversename.from_address("2001:db8:119::12").to_text(), "PTR")
    assert [rd.target.to_text() for rr in resp.answer for rd in rr] == ["gaia.cs.umass.edu."]
    local = resolve("1.0.0.127.in-addr.arpa.", "PTR", rd=False)  # RFC 6303: ours alone
    assert local.flags & dns.flags.AA
    assert [rd.target.to_text() for rr in local.answer for rd in rr] == ["localhost."]


def ask_as_a_stub(name: str) -> dns.message.Message:
    """A question as a stub resolver asks it (dig: three tries, here 2 s each): a datagram the
    kernel dropped from a full socket buffer is asked again, as any client does."""
    q = dns.message.make_query(name, "A")
    for attempt in range(3):
        try:
            return dns.query.udp(q, RESOLVER, port=DNS_PORT, timeout=2)
        except dns.exception.Timeout:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def test_a_flood_through_the_local_dns_server_never_stops_its_cached_answers(topology_up):
    # `dnsserver flood` from an address of its own, random names under hamburger.edu; a user
    # asks for a cached name all along, and is answered every time
    assert resolve("www.crepes.fr.").rcode() == dns.rcode.NOERROR
    before = stats(topology_up)
    flood = subprocess.Popen(
        [sys.executable, "-m", "dnsserver", "flood", "--server", f"{RESOLVER}:{DNS_PORT}",
         "--zone", "hamburger.edu", "--qps", "3000", "--seconds", "3",
         "--source", "127.0.0.250", "--quiet"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    answered = asked = 0
    try:
        while flood.poll() is None and asked < 200:
            asked += 1
            r = ask_as_a_stub("www.crepes.fr.")
            answered += [rd.address for rr in r.answer for rd in rr] == ["127.0.1.40"]
            time.sleep(0.05)
        out = flood.communicate(timeout=30)[0]
    finally:
        flood.kill()
        flood.communicate()  # reaped and its pipe closed, whatever happened above
    assert asked >= 20 and answered == asked
    after = stats(topology_up)
    assert after["shed_client"] - before["shed_client"] > 1000  # the flood was shed
    assert after["upstream_tcp"] == before["upstream_tcp"]  # no TCP retries to hamburger.edu
    lines = out.splitlines()
    assert lines[1].startswith("sent ") and lines[2].startswith("answered ")
    sent = int(lines[1].split()[1].replace(",", ""))
    got = int(lines[2].split()[1].replace(",", ""))
    assert got >= sent * 0.9 and "SERVFAIL" in lines[2]  # shed at once, not left to time out
    log = Path(topology_up["dns-hamburger"]["log"]).read_text(errors="replace")
    assert f"rate limiting responses to {RESOLVER}" not in log  # the local DNS server is exempt
