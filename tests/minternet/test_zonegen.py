"""The topology's generated zones: valid master files, consistent delegations and glue."""

from __future__ import annotations

from pathlib import Path

import dns.name
import dns.rdatatype
import dns.reversename
import dns.zone
import pytest

from minternet import topology, zonegen
from minternet.topology import Host, Record, Topology

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


# A small topology with the corner cases the default one lacks: a host named as a zone apex, a
# zone served by a name server below its own cut, zone data at the root and at an apex, names
# that share an address, and addresses whose text and numeric orders differ.
TINY = Topology(
    hosts=(
        Host("root", "dns-root", "127.0.0.10", "a.root.", (".", "127.in-addr.arpa.")),
        Host("web", "web", "127.0.0.9", "example."),
        Host("ns", "dns-auth", "127.0.0.20", "ns.sub.example.", ("example.",)),
        Host("other", "dns-auth", "127.0.0.100", "ns.other.", ("sub.example.",)),
    ),
    records={
        ".": (Record("www", "A", "127.0.0.90"),),
        "example.": (
            Record("*.users", "A", "127.0.0.60"),  # a wildcard names no machine: no PTR
            Record("www", "A", "127.0.0.10"),  # a host's address: its own name wins
            Record("a", "A", "127.0.0.70"),
            Record("b", "A", "127.0.0.70"),  # as many labels: the first one wins
            Record("@", "A", "127.0.0.80"),
            Record("deep.er", "A", "127.0.0.80"),  # the most labels win
            Record("x", "A", "127.0.0.80"),
            Record("@", "A", "127.0.0.81"),
            Record("@", "MX", "10 a", ttl=60),
            Record("_sip._udp", "SRV", "0 0 {port:sip} a"),
        ),
    },
    default_ttl=600,
    negative_ttl=30,
)

HEAD = "; zone {0} -- generated by minternet from the topology; edits are overwritten\n"
HEAD += "$ORIGIN {0}\n$TTL 600\n"
ADDRESSES = "; addresses of name servers and service hosts (glue where below a cut)\n"
TINY_ZONES = {
    ".": HEAD.format(".")
    + "@ IN SOA a.root. hostmaster.root-servers.net. ( 2026112701 7200 3600 1209600 30 )\n"
    "@ IN NS a.root.\n"
    "; delegation of 127.in-addr.arpa.\n"
    "127.in-addr.arpa. IN NS a.root.\n"
    "; delegation of example.\n"
    "example. IN NS ns.sub.example.\n" + ADDRESSES + "a.root. IN A 127.0.0.10\n"
    "ns.other. IN A 127.0.0.100\n"
    "ns.sub.example. IN A 127.0.0.20\n"
    "; zone data\n"
    "www IN A 127.0.0.90\n",
    "127.in-addr.arpa.": HEAD.format("127.in-addr.arpa.")
    + "@ IN SOA a.root. hostmaster.127.in-addr.arpa. ( 2026112701 7200 3600 1209600 30 )\n"
    "@ IN NS a.root.\n"
    "; reverse DNS: a PTR for every address of the topology in this zone\n"
    "9.0.0 IN PTR example.\n"
    "10.0.0 IN PTR a.root.\n"
    "20.0.0 IN PTR ns.sub.example.\n"
    "70.0.0 IN PTR a.example.\n"
    "80.0.0 IN PTR deep.er.example.\n"
    "81.0.0 IN PTR example.\n"
    "90.0.0 IN PTR www.\n"
    "100.0.0 IN PTR ns.other.\n",
    "example.": HEAD.format("example.")
    + "@ IN SOA ns.sub.example. hostmaster.example. ( 2026112701 7200 3600 1209600 30 )\n"
    "@ IN NS ns.sub.example.\n"
    "; delegation of sub.example.\n"
    "sub IN NS ns.other.\n" + ADDRESSES + "@ IN A 127.0.0.9\n"
    "ns.sub IN A 127.0.0.20\n"  # its own name server, below the cut: glue
    "; zone data\n"
    "*.users IN A 127.0.0.60\n"
    "www IN A 127.0.0.10\n"
    "a IN A 127.0.0.70\n"
    "b IN A 127.0.0.70\n"
    "@ IN A 127.0.0.80\n"
    "deep.er IN A 127.0.0.80\n"
    "x IN A 127.0.0.80\n"
    "@ IN A 127.0.0.81\n"
    "@ 60 IN MX 10 a\n"
    "_sip._udp IN SRV 0 0 5060 a\n",
    "sub.example.": HEAD.format("sub.example.")
    + "@ IN SOA ns.other. hostmaster.sub.example. ( 2026112701 7200 3600 1209600 30 )\n"
    "@ IN NS ns.other.\n" + ADDRESSES + "ns IN A 127.0.0.20\n",
}


@pytest.mark.parametrize("zone", list(TINY_ZONES))
def test_the_zones_of_a_small_topology_golden(zone: str) -> None:
    text = zonegen.render_zone(TINY, zone, {"sip": 5060})
    assert text == TINY_ZONES[zone]
    dns.zone.from_text(text, origin=zone, relativize=False)  # and a valid master file


def test_the_root_hints_of_a_small_topology_golden() -> None:
    assert zonegen.render_root_hints(TINY) == (
        "; root hints for the minternet -- generated from the topology\n"
        ".\t3600000\tIN\tNS\ta.root.\n"
        "a.root.\t3600000\tIN\tA\t127.0.0.10\n"
    )


def test_write_zones_writes_a_file_per_zone_making_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "zones"
    paths = zonegen.write_zones(TINY, directory, {"sip": 5060})
    assert paths == {
        ".": directory / "root.zone",
        "127.in-addr.arpa.": directory / "127.in-addr.arpa.zone",
        "example.": directory / "example.zone",
        "sub.example.": directory / "sub.example.zone",
    }
    for zone, path in paths.items():
        assert path.read_text() == TINY_ZONES[zone]


def test_a_zone_file_is_named_after_the_zone() -> None:
    assert zonegen.zone_filename(".") == "root.zone"
    assert zonegen.zone_filename("BOX.") == "BOX.zone"  # only the final dot goes
    assert zonegen.zone_filename("Xa.example.") == "Xa.example.zone"


def test_a_zone_nobody_serves_and_a_name_in_no_zone() -> None:
    with pytest.raises(KeyError, match=r"^.no host serves nowhere\.'$"):
        zonegen.render_zone(TINY, "nowhere.", {})
    rootless = Topology(hosts=(Host("ns", "dns-auth", "127.0.0.5", "ns.example.", ("example.",)),))
    assert zonegen.zone_of_name(rootless, "www.example.") == "example."
    assert zonegen.zone_of_name(rootless, "www.other.") is None
    assert zonegen.parent_zone(rootless, "example.") is None
    assert zonegen.zone_of_name(TINY, "WWW.Sub.Example.") == "sub.example."


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
