"""The topology's generated zones: valid master files, consistent delegations and glue."""

from __future__ import annotations

import dns.name
import dns.rdatatype
import dns.zone

from minternet import topology, zonegen

TOPO = topology.DEFAULT
PORTS = topology.port_scheme(False)


def load(zone: str) -> dns.zone.Zone:
    return dns.zone.from_text(zonegen.render_zone(TOPO, zone, PORTS), origin=zone, relativize=False)


def addresses(z: dns.zone.Zone, name: str) -> set[str]:
    rrset = z.get_rrset(name, dns.rdatatype.A)
    return {r.address for r in rrset} if rrset else set()


def test_every_zone_parses_and_has_soa_and_ns():
    for zone in TOPO.zones():
        z = load(zone)
        assert z.get_rrset(zone, dns.rdatatype.SOA) is not None
        ns = {r.target.to_text() for r in z.get_rrset(zone, dns.rdatatype.NS)}
        assert ns == {h.fqdn for h in TOPO.zone_servers(zone)}


def test_each_delegation_in_the_parent_matches_the_child_and_has_glue():
    for zone in TOPO.zones():
        parent = zonegen.parent_zone(TOPO, zone)
        if parent is None:
            assert zone == "."
            continue
        pz = load(parent)
        ns = pz.get_rrset(zone, dns.rdatatype.NS)
        assert ns is not None, f"{parent} does not delegate {zone}"
        for r in ns:
            target = r.target.to_text()
            if zonegen.is_subdomain(target, parent):
                host = next(h for h in TOPO.hosts if h.fqdn == target)
                assert addresses(pz, target) == {host.address}, f"glue for {target} in {parent}"


def test_every_host_name_resolves_to_its_address_somewhere():
    for host in TOPO.hosts:
        zone = zonegen.zone_of_name(TOPO, host.fqdn)
        assert zone is not None
        assert addresses(load(zone), host.fqdn) == {host.address}


def test_srv_records_carry_the_port_scheme():
    z = load("crepes.fr.")
    srv = z.get_rrset("_submission._tcp.crepes.fr.", dns.rdatatype.SRV)
    assert [r.port for r in srv] == [PORTS["submission"]] == [10587]
    std = dns.zone.from_text(
        zonegen.render_zone(TOPO, "crepes.fr.", topology.port_scheme(True)),
        origin="crepes.fr.",
        relativize=False,
    )
    assert [r.port for r in std.get_rrset("_submission._tcp.crepes.fr.", "SRV")] == [587]


def test_addresses_are_unique_and_on_loopback():
    addrs = [h.address for h in TOPO.hosts]
    assert len(addrs) == len(set(addrs))
    assert all(a.startswith("127.") for a in addrs)


def test_root_hints_name_the_root_server():
    text = zonegen.render_root_hints(TOPO)
    root = TOPO.host("root")
    assert f"{root.fqdn}\t3600000\tIN\tA\t{root.address}" in text
    assert dns.name.from_text(root.fqdn)
