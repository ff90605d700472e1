"""The registrar's rules (minternet/registrar.py): names, TLDs, the UPDATE it sends, its file."""

from __future__ import annotations

import json
from pathlib import Path

import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.update
import pytest

from dnsserver.zone import load_zone
from minternet import registrar, topology, zonegen
from minternet.registrar import RegistrarError, Registration

TOPO = topology.DEFAULT
REG = Registration(
    "example.com.",
    (("ns1.example.com.", "127.0.0.80"), ("ns.elsewhere.net.", "127.0.0.81")),
    served=True,
)


def test_name_servers_are_parsed_and_checked() -> None:
    got = registrar.parse_servers(["NS1.Example.com=127.0.0.80", "ns2.example.com.=::1"], "x")
    assert got == (("ns1.example.com.", "127.0.0.80"), ("ns2.example.com.", "::1"))
    for bad, message in [
        (["ns1.example.com"], "expected NAME=ADDRESS"),
        (["=127.0.0.1"], "expected NAME=ADDRESS"),
        (["ns1.example.com="], "expected NAME=ADDRESS"),
        (["ns1.example.com=300.1.1.1"], "'300.1.1.1' is not an address"),
        (["a.example.com=127.0.0.1", "A.example.com.=127.0.0.2"], "a.example.com. is given twice"),
        (["bad..name=127.0.0.1"], "bad name 'bad..name'"),
    ]:
        with pytest.raises(RegistrarError, match=message):
            registrar.parse_servers(bad, "example.com.")
    with pytest.raises(RegistrarError, match=r"give the domain's name servers: --ns NAME=ADDRESS"):
        registrar.parse_servers([], "example.com.")


def test_a_domain_is_registered_in_the_tld_right_above_it() -> None:
    assert registrar.tld_of(TOPO, "example.com.") == "com."
    assert registrar.tld_of(TOPO, "bar.edu.") == "edu."
    with pytest.raises(RegistrarError, match=r"a\.b\.com\. is not directly below com\."):
        registrar.tld_of(TOPO, "a.b.com.")
    with pytest.raises(RegistrarError, match=r"example\.org\. is not below a TLD of this topology"):
        registrar.tld_of(TOPO, "example.org.")
    with pytest.raises(RegistrarError, match="not below a TLD"):
        registrar.tld_of(TOPO, "com.")  # a TLD is not registered in itself


def test_served_servers_need_free_loopback_addresses() -> None:
    registrar.check_served(REG, TOPO)
    taken = Registration("x.com.", (("ns1.x.com.", TOPO.host("seeder").address),), served=True)
    with pytest.raises(RegistrarError, match=r"127\.0\.0\.60 is seeder's address already"):
        registrar.check_served(taken, TOPO)
    outside = Registration("x.com.", (("ns1.x.com.", "192.0.2.1"),), served=True)
    with pytest.raises(RegistrarError, match=r"it must be a 127\.0\.0\.0/8 address"):
        registrar.check_served(outside, TOPO)
    v6 = Registration("x.com.", (("ns1.x.com.", "::1"),), served=True)
    with pytest.raises(RegistrarError, match="must be a 127"):
        registrar.check_served(v6, TOPO)


def sent(msg: dns.update.UpdateMessage) -> dns.message.Message:
    """The message as the TLD server reads it off the wire."""
    return dns.message.from_wire(msg.to_wire())


def rrsets(section: list) -> list[tuple[str, int, str, list[str]]]:
    return [
        (r.name.to_text(), r.rdclass if r.deleting is None else r.deleting,
         dns.rdatatype.to_text(r.rdtype), sorted(rd.to_text() for rd in r))
        for r in section
    ]  # fmt: skip


def test_the_delegation_update_inserts_ns_and_glue_for_servers_inside_only() -> None:
    msg = sent(registrar.delegation(REG))
    assert msg.question[0].name.to_text() == "com."
    assert rrsets(msg.answer) == [("example.com.", dns.rdataclass.NONE, "ANY", [])]
    assert rrsets(msg.authority) == [
        ("example.com.", dns.rdataclass.IN, "NS", ["ns1.example.com."]),
        ("example.com.", dns.rdataclass.IN, "NS", ["ns.elsewhere.net."]),
        ("ns1.example.com.", dns.rdataclass.IN, "A", ["127.0.0.80"]),
    ]
    assert all(r.ttl == 86400 for r in msg.authority)
    assert registrar.glue(REG) == [("ns1.example.com.", "127.0.0.80")]
    v6 = Registration("v6.com.", (("ns.v6.com.", "2001:db8::1"),))
    assert rrsets(sent(registrar.delegation(v6)).authority)[1] == (
        "ns.v6.com.", dns.rdataclass.IN, "AAAA", ["2001:db8::1"],
    )  # fmt: skip


def test_the_removal_update_deletes_the_ns_and_the_glue_names() -> None:
    msg = sent(registrar.removal(REG))
    assert msg.question[0].name.to_text() == "com."
    assert msg.answer == []
    assert rrsets(msg.authority) == [
        ("example.com.", dns.rdataclass.ANY, "NS", []),
        ("ns1.example.com.", dns.rdataclass.ANY, "ANY", []),
    ]


def test_served_domains_become_hosts_primary_first() -> None:
    hosts = REG.hosts()
    assert [(h.name, h.address, h.fqdn, h.zones, h.secondary_of) for h in hosts] == [
        ("example.com-ns1", "127.0.0.80", "ns1.example.com.", ("example.com.",), None),
        ("example.com-ns2", "127.0.0.81", "ns.elsewhere.net.", ("example.com.",),
         "example.com-ns1"),
    ]  # fmt: skip
    assert all(h.role == "dns-auth" for h in hosts)
    assert Registration("example.com.", REG.servers, served=False).hosts() == []


def test_the_starter_zone_has_soa_ns_www_and_mx(tmp_path: Path) -> None:
    topo = registrar.topology_for(TOPO, [REG])
    assert topo.hosts[: len(TOPO.hosts)] == TOPO.hosts
    assert topo.zone_servers("example.com.") == REG.hosts()
    path = tmp_path / "example.com.zone"
    path.write_text(zonegen.render_zone(topo, "example.com.", topology.port_scheme(False)))
    zone = load_zone(path)
    assert not zone.warnings
    text = path.read_text()
    assert "@ IN SOA ns1.example.com. hostmaster.example.com." in text
    assert "www 300 IN A 127.0.0.80" in text and "@ 300 IN MX 10 mail.example.com." in text
    assert "mail 300 IN A 127.0.0.80" in text and "ns1 IN A 127.0.0.80" in text
    # not served: nothing of it in the topology (its servers are someone else's)
    plain = registrar.topology_for(TOPO, [Registration("example.com.", REG.servers)])
    assert plain.hosts == TOPO.hosts and "example.com." not in plain.records


def test_the_registry_file_round_trips_and_a_bad_one_is_named(tmp_path: Path) -> None:
    assert registrar.load(tmp_path) == {}
    other = Registration("other.edu.", (("ns.other.edu.", "127.0.0.90"),))
    registrar.save(tmp_path, [REG, other])
    assert registrar.load(tmp_path) == {"example.com.": REG, "other.edu.": other}
    data = json.loads((tmp_path / registrar.REGISTRY_FILE).read_text())
    assert data["domains"]["other.edu."] == {"servers": [["ns.other.edu.", "127.0.0.90"]],
                                             "served": False}  # fmt: skip
    (tmp_path / registrar.REGISTRY_FILE).write_text("{not json")
    with pytest.raises(RegistrarError, match=r"registered\.json: unreadable"):
        registrar.load(tmp_path)
    (tmp_path / registrar.REGISTRY_FILE).write_text('{"domains": {"x.com.": {}}}')
    with pytest.raises(RegistrarError, match=r"registered\.json: not a registry"):
        registrar.load(tmp_path)
