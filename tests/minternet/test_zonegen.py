"""The topology's generated zones: valid master files, consistent delegations and glue."""

from __future__ import annotations

import dns.name
import dns.rdatatype
import dns.reversename
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


def ptr_of(address: str) -> list[str]:
    """The PTR targets of `address` in the served zone that holds its reverse name."""
    owner = dns.reversename.from_address(address).to_text()
    zone = zonegen.zone_of_name(TOPO, owner)
    assert zone is not None and zone.endswith(("in-addr.arpa.", "ip6.arpa.")), owner
    rrset = load(zone).get_rrset(owner, dns.rdatatype.PTR)
    return [r.target.to_text() for r in rrset] if rrset else []


def test_arpa_is_delegated_as_on_the_internet():
    root = TOPO.host("root")
    assert "arpa." in root.zones  # as a.root-servers.net serves arpa.
    assert {r.target.to_text() for r in load(".").get_rrset("arpa.", "NS")} == {root.fqdn}
    arpa = load("arpa.")
    for child in ("in-addr.arpa.", "ip6.arpa."):
        assert arpa.get_rrset(child, "NS") is not None
    assert load("in-addr.arpa.").get_rrset("127.in-addr.arpa.", "NS") is not None
    assert load("ip6.arpa.").get_rrset("8.b.d.0.1.0.0.2.ip6.arpa.", "NS") is not None


def test_every_host_has_a_ptr_to_its_name():
    for host in TOPO.hosts:
        assert ptr_of(host.address) == [host.fqdn], host.name


def test_every_address_record_of_the_zone_data_has_a_ptr():
    for zone, records in TOPO.records.items():
        for rec in records:
            if rec.rtype in ("A", "AAAA") and not rec.owner.startswith("*"):
                assert len(ptr_of(rec.rdata)) == 1, (zone, rec)
    assert ptr_of("127.0.1.22") == ptr_of("2001:db8:119::12") == ["gaia.cs.umass.edu."]
    assert ptr_of("127.0.1.71") == ["edge.amazon.com."]


def test_one_name_per_address_the_machine_not_the_domain():
    # enterprise.com. and relay1.west-coast.enterprise.com. are both 127.0.1.60
    assert ptr_of("127.0.1.60") == ["relay1.west-coast.enterprise.com."]
    # a host's own name wins: dns.umass.edu is a host
    assert zonegen.reverse_names(TOPO)["127.0.0.20"] == "dns.umass.edu."
    assert ptr_of("127.0.1.52") == []  # only the wildcard *.users.networkutopia.com has it


def test_minternet_zones_prints_the_reverse_zones():
    import contextlib
    import io

    from minternet.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["zones", "127.in-addr.arpa", "arpa."]) == 0
    text = out.getvalue()
    assert "20.0.0 IN PTR dns.umass.edu." in text
    assert "in-addr IN NS a.in-addr-servers.arpa." in text


MAIL_SRV = {
    "_submission._tcp": "submission",
    "_submissions._tcp": "submissions",
    "_imap._tcp": "imap",
    "_imaps._tcp": "imaps",
    "_pop3._tcp": "pop3",
    "_pop3s._tcp": "pop3s",
}


def test_mail_hosts_are_alices_and_bobs_servers():
    crepes, hamburger = TOPO.mail_hosts()
    assert (crepes.name, crepes.address, crepes.fqdn) == (
        "mail-crepes",
        "127.0.0.40",
        "mail.crepes.fr.",
    )
    assert (hamburger.name, hamburger.address, hamburger.fqdn) == (
        "mail-hamburger",
        "127.0.0.41",
        "mail.hamburger.edu.",
    )
    assert crepes.mail_domains == ("crepes.fr.",) and hamburger.mail_domains == ("hamburger.edu.",)
    assert crepes.users[0].address == "alice@crepes.fr"
    assert hamburger.users[0].address == "bob@hamburger.edu"
    for host in (crepes, hamburger):
        assert host.role == "mail" and not host.zones
        assert host.listeners == (
            "smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "control",
        )  # fmt: skip
        assert len(host.users) == 2  # two users per domain: mail between two local users
        for user in host.users:
            assert user.address.split("@")[1] + "." in host.mail_domains and user.password
    addresses = [u.address for h in TOPO.mail_hosts() for u in h.users]
    assert len(addresses) == len(set(addresses))


def test_mail_ports_follow_the_standard_plus_the_offset():
    assert {k: topology.STANDARD_PORTS[k] for k in ("submissions", "imaps", "pop3", "pop3s")} == {
        "submissions": 465,
        "imaps": 993,
        "pop3": 110,
        "pop3s": 995,
    }
    assert PORTS["pop3s"] == 10995 and topology.port_scheme(True)["imaps"] == 993


def test_each_mail_domain_has_the_mx_and_srv_records_of_its_host():
    for host in TOPO.mail_hosts():
        for domain in host.mail_domains:
            z = load(zonegen.zone_of_name(TOPO, domain))
            mx = z.get_rrset(domain, dns.rdatatype.MX)
            assert [(r.preference, r.exchange.to_text()) for r in mx] == [(10, host.fqdn)]
            for label, kind in MAIL_SRV.items():
                srv = z.get_rrset(f"{label}.{domain}", dns.rdatatype.SRV)
                assert [(r.priority, r.weight, r.port, r.target.to_text()) for r in srv] == [
                    (0, 1, PORTS[kind], host.fqdn)
                ], (label, domain)
            assert addresses(z, host.fqdn) == {host.address}
            assert ptr_of(host.address) == [host.fqdn]


def test_mail_records_are_derived_not_written_by_hand():
    for host in TOPO.mail_hosts():
        for domain in host.mail_domains:
            for rec in TOPO.records.get(domain, ()):
                assert rec.rtype not in ("MX", "SRV"), rec
                assert zonegen._absolute(rec.owner, domain) != host.fqdn or rec.rtype != "A", rec
    text = zonegen.render_zone(TOPO, "crepes.fr.", topology.port_scheme(True))
    assert "; mail: MX and RFC 6186 SRV records of the domains of the mail hosts\n" in text
    assert "\n@ IN MX 10 mail.crepes.fr.\n_submission._tcp IN SRV 0 1 587 mail.crepes.fr.\n" in text
    assert "\n_pop3s._tcp IN SRV 0 1 995 mail.crepes.fr.\n" in text
    assert "MX" not in zonegen.render_zone(TOPO, "fr.", PORTS)  # only in the domain's own zone


def test_a_mail_domain_below_a_zone_and_a_host_without_some_listeners():
    host = topology.Host(
        "mail-x",
        "mail",
        "127.0.0.99",
        "mx.example.fr.",
        listeners=("smtp", "imaps"),
        mail_domains=("elsewhere.test.", "lab.example.fr."),  # the first in no zone here
    )
    dns_host = topology.Host("dns-x", "dns-auth", "127.0.0.98", "ns.example.fr.", ("example.fr.",))
    topo = topology.Topology(hosts=(dns_host, host))
    text = zonegen.render_zone(topo, "example.fr.", PORTS)
    assert (
        "\nlab IN MX 10 mx.example.fr.\n_imaps._tcp.lab IN SRV 0 1 10993 mx.example.fr.\n" in text
    )
    assert "_imap._tcp" not in text and "_submission" not in text
