"""The DNS hierarchy of `minternet up`: status, an iterated resolution by hand, and dig."""

from __future__ import annotations

import shutil
import subprocess
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from minternet import topology

from .conftest import E2E_PORT_OFFSET

pytestmark = pytest.mark.e2e
DNS_PORT = 53 + E2E_PORT_OFFSET
TOPO = topology.DEFAULT


def test_status_lists_every_host_running_on_its_address(topology_up):
    assert set(topology_up) == {h.name for h in TOPO.hosts}
    for host in TOPO.hosts:
        s = topology_up[host.name]
        assert s["running"] and s["pid"] > 0
        assert s["address"] == host.address and s["role"] == host.role
        if host.role.startswith("dns-"):
            assert s["ports"] == {"dns": DNS_PORT, "control": 8953 + E2E_PORT_OFFSET}


def ask(server: str, name: str, rdtype: str, *, tcp: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    q.flags &= ~dns.flags.RD  # an iterative query, as a resolver sends it
    query = dns.query.tcp if tcp else dns.query.udp
    return query(q, server, port=DNS_PORT, timeout=3)


def referral_glue(resp: dns.message.Message) -> str:
    """The address of the first name server of a referral, from the glue."""
    assert not resp.flags & dns.flags.AA, "a referral is not authoritative"
    assert resp.rcode() == dns.rcode.NOERROR and not resp.answer
    ns = next(r for r in resp.authority if r.rdtype == dns.rdatatype.NS)
    target = ns[0].target
    glue = next(r for r in resp.additional if r.name == target and r.rdtype == dns.rdatatype.A)
    return glue[0].address


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gaia.cs.umass.edu.", {"127.0.1.22"}),
        ("engineering.nyu.edu.", {"127.0.1.32"}),
        ("www.networkutopia.com.", {"127.0.1.50"}),
        ("mail.crepes.fr.", {"127.0.0.40"}),
        ("edge.amazon.com.", {"127.0.1.70", "127.0.1.71", "127.0.1.72"}),
    ],
)
def test_iterated_resolution_walks_root_tld_authoritative(topology_up, name, expected):
    """The notes' iterated query: each server answers 'I don't know, but ask this server'."""
    server = TOPO.host("root").address
    for _ in range(2):  # root -> TLD, TLD -> authoritative
        server = referral_glue(ask(server, name, "A"))
    final = ask(server, name, "A")
    assert final.flags & dns.flags.AA
    assert not final.flags & dns.flags.RA
    (rrset,) = final.answer
    assert {r.address for r in rrset} == expected


def test_authoritative_answers_over_tcp_too(topology_up):
    resp = ask(TOPO.host("dns-hamburger").address, "hamburger.edu.", "MX", tcp=True)
    assert resp.flags & dns.flags.AA
    assert [r.exchange.to_text() for r in resp.answer[0]] == ["mail.hamburger.edu."]
    glue = {(r.name.to_text(), r[0].address) for r in resp.additional}
    assert ("mail.hamburger.edu.", "127.0.0.41") in glue


# --- dig, the real client -----------------------------------------------------------------

needs_dig = pytest.mark.skipif(
    shutil.which("dig") is None, reason="dig not installed (Debian package bind9-dnsutils)"
)


def dig(server: str, *args: str) -> str:
    out = subprocess.run(
        ["dig", f"@{server}", "-p", str(DNS_PORT), "+time=3", "+tries=1", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def rr(text: str) -> str:
    """Whitespace-normalised, so dig's tab alignment does not matter."""
    return " ".join(text.split())


def flags_of(out: str) -> set[str]:
    line = next(x for x in out.splitlines() if x.startswith(";; flags:"))
    return set(line.split(";")[2].split(":")[1].split())


@needs_dig
@pytest.mark.interop
def test_dig_root_ns(topology_up):
    out = dig(TOPO.host("root").address, ".", "NS")
    assert "status: NOERROR" in out
    assert {"qr", "aa"} <= flags_of(out) and "ra" not in flags_of(out)
    assert "a.root-servers.net." in out.split("ANSWER SECTION:")[1]


@needs_dig
@pytest.mark.interop
def test_dig_tld_gives_a_referral_with_glue(topology_up):
    out = dig(TOPO.host("tld-com").address, "networkutopia.com", "NS")
    assert "status: NOERROR" in out and "aa" not in flags_of(out)
    assert "ANSWER: 0" in out
    authority = out.split("AUTHORITY SECTION:")[1]
    assert "dns1.networkutopia.com." in authority
    assert "127.0.0.24" in out.split("ADDITIONAL SECTION:")[1]


@needs_dig
@pytest.mark.interop
@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_dig_authoritative_answer(topology_up, transport):
    out = dig(TOPO.host("dns-networkutopia").address, "www.networkutopia.com", transport)
    assert "status: NOERROR" in out and "aa" in flags_of(out)
    assert "www.networkutopia.com. 3600 IN A 127.0.1.50" in rr(out)


@needs_dig
@pytest.mark.interop
def test_dig_norec_and_case_echo(topology_up):
    out = dig(TOPO.host("dns-umass").address, "+norec", "GaIa.Cs.UMass.EDU")
    flags = flags_of(out)
    assert "rd" not in flags and "aa" in flags and "ra" not in flags
    assert "GaIa.Cs.UMass.EDU. 3600 IN A 127.0.1.22" in rr(out)


@needs_dig
@pytest.mark.interop
def test_dig_nxdomain_carries_the_soa(topology_up):
    out = dig(TOPO.host("dns-crepes").address, "nosuchhost.crepes.fr")
    assert "status: NXDOMAIN" in out and "aa" in flags_of(out)
    assert "crepes.fr. 300 IN SOA dns.crepes.fr." in rr(out)


@needs_dig
@pytest.mark.interop
def test_dig_bufsize_512_truncates_then_tcp_gets_it_all(topology_up):
    server = TOPO.host("dns-crepes").address
    out = dig(server, "+bufsize=512", "+ignore", "mail._domainkey.crepes.fr", "TXT")
    assert "tc" in flags_of(out)
    out = dig(server, "+bufsize=512", "mail._domainkey.crepes.fr", "TXT")
    assert "Truncated, retrying in TCP mode" in out
    assert "v=DKIM1; k=rsa; " in out and "tc" not in flags_of(out)


@needs_dig
@pytest.mark.interop
def test_dig_dnssec_ok_bit_is_echoed_in_edns(topology_up):
    out = dig(TOPO.host("dns-crepes").address, "+dnssec", "crepes.fr", "MX")
    assert "OPT PSEUDOSECTION" in out
    assert "flags: do;" in out
    assert "mail.crepes.fr." in out


@needs_dig
@pytest.mark.interop
def test_dig_outside_served_zones_is_refused(topology_up):
    out = dig(TOPO.host("dns-crepes").address, "www.example.org")
    assert "status: REFUSED" in out


@needs_dig
@pytest.mark.parametrize("name", ["local-dns", "root", "dns-umass", "dns-reverse"])
def test_each_server_says_who_it_is(topology_up, name):
    host = TOPO.host(name)
    who = host.fqdn.rstrip(".")
    out = dig(host.address, "+nsid", "+norec", "gaia.cs.umass.edu")
    assert f'; NSID: {" ".join(f"{b:02x}" for b in who.encode())} ("{who}")' in out, out
    out = dig(host.address, "CH", "TXT", "id.server")
    assert f'id.server.\t\t0\tCH\tTXT\t"{who}"' in out, out
    assert "status: NOERROR" in dig(host.address, "CH", "TXT", "version.bind")


def soa_serial(server: str, zone: str) -> int | None:
    r = ask(server, zone, "SOA")
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return None
    return int(r.answer[0][0].serial)


def dns2_has_transferred() -> None:
    """Wait (up to 15 s) until dns2 serves networkutopia.com at dns1's serial: its first
    transfer may still be under way when the topology reports ready."""
    dns1, dns2 = TOPO.host("dns-networkutopia").address, TOPO.host("dns-networkutopia2").address
    deadline = time.monotonic() + 15
    while soa_serial(dns2, "networkutopia.com.") != soa_serial(dns1, "networkutopia.com."):
        assert time.monotonic() < deadline, "dns2 did not transfer networkutopia.com"
        time.sleep(0.1)


def test_dns2_is_a_secondary_of_dns1_with_the_same_zone(topology_up):
    dns1, dns2 = TOPO.host("dns-networkutopia").address, TOPO.host("dns-networkutopia2").address
    dns2_has_transferred()
    for server in (dns1, dns2):
        r = ask(server, "www.networkutopia.com.", "A")
        assert r.flags & dns.flags.AA and r.answer[0][0].address == "127.0.1.50"
    # com.'s delegation names both, with glue
    referral = ask(TOPO.host("tld-com").address, "www.networkutopia.com.", "A")
    assert {rd.target.to_text() for rrset in referral.authority for rd in rrset} == {
        "dns1.networkutopia.com.",
        "dns2.networkutopia.com.",
    }
    # dns2 answers only for what it is a secondary of
    assert ask(dns2, "www.enterprise.com.", "A").rcode() == dns.rcode.REFUSED


@needs_dig
@pytest.mark.interop
@pytest.mark.parametrize("name", ["dns-networkutopia", "dns-networkutopia2"])
def test_dig_axfr_with_the_zone_key_and_refused_without(topology_up, name):
    server = TOPO.host(name).address
    key = f"{topology_up.state_dir}/keys/networkutopia.com.key"
    dns2_has_transferred()  # (dns2 has nothing to send before)
    out = dig(server, "-k", key, "networkutopia.com", "AXFR")
    records = [line for line in out.splitlines() if line and not line.startswith(";")]
    kinds = [line.split()[3] for line in records]
    assert kinds[0] == kinds[-2] == "SOA" and kinds[-1] == "TSIG", out  # the last one signed
    assert "www.networkutopia.com. 3600 IN A 127.0.1.50" in rr(out)
    refused = dig(server, "networkutopia.com", "AXFR")
    assert "Transfer failed." in refused
