"""Golden cases for the lookup rules of RFC 1034 §4.3.2 and friends, on the default topology."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from dnsserver.engine import Engine
from dnsserver.lookup import MAX_CNAME_CHAIN
from dnsserver.zoneset import ZoneSet, load_zones
from tests.dnsserver.conftest import ask, has, rrs


def test_authoritative_answer_sets_aa_and_never_ra(engine: Engine) -> None:
    r = ask(engine, "www.networkutopia.com", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert has(r, dns.flags.AA) and has(r, dns.flags.QR)
    assert not has(r, dns.flags.RA)
    assert has(r, dns.flags.RD)  # copied from the query
    assert rrs(r.answer) == ["www.networkutopia.com. 3600 IN A 127.0.1.50"]


def test_rd_clear_is_copied_clear(engine: Engine) -> None:
    q = dns.message.make_query("www.networkutopia.com", "A")
    q.flags &= ~dns.flags.RD
    r = dns.message.from_wire(engine.handle(q.to_wire(), tcp=False).wire or b"")
    assert not has(r, dns.flags.RD) and not has(r, dns.flags.RA)


def test_case_insensitive_match_and_question_echoed_in_client_case(engine: Engine) -> None:
    r = ask(engine, "WwW.NetworkUTOPIA.cOm", "A")
    assert r.question[0].name.to_text() == "WwW.NetworkUTOPIA.cOm."
    assert [rr.address for rr in r.answer[0]] == ["127.0.1.50"]  # type: ignore[attr-defined]
    assert has(r, dns.flags.AA)


def test_referral_from_root_has_no_aa_child_ns_and_glue(engine: Engine) -> None:
    # The engine holds every zone; ask a name in a TLD zone we serve only at the root level:
    # take a root-only engine so the delegation is visible.
    r = ask(_only(engine, "."), "www.networkutopia.com", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert not has(r, dns.flags.AA)
    assert r.answer == []
    assert rrs(r.authority) == ["com. 3600 IN NS a.gtld-servers.net."]
    assert rrs(r.additional) == ["a.gtld-servers.net. 3600 IN A 127.0.0.11"]


def test_referral_from_tld_to_authoritative(engine: Engine) -> None:
    r = ask(_only(engine, "com."), "www.networkutopia.com", "MX")
    assert not has(r, dns.flags.AA)
    assert sorted(rrs(r.authority)) == [  # the primary and its secondary (dns2)
        "networkutopia.com. 3600 IN NS dns1.networkutopia.com.",
        "networkutopia.com. 3600 IN NS dns2.networkutopia.com.",
    ]
    assert sorted(rrs(r.additional)) == [
        "dns1.networkutopia.com. 3600 IN A 127.0.0.24",
        "dns2.networkutopia.com. 3600 IN A 127.0.0.27",
    ]


def test_most_specific_zone_wins_when_parent_and_child_are_served(engine: Engine) -> None:
    r = ask(engine, "www.networkutopia.com", "A")  # com. and networkutopia.com. both loaded
    assert has(r, dns.flags.AA) and r.answer


def test_nxdomain_has_soa_with_negative_ttl(engine: Engine) -> None:
    r = ask(engine, "nope.networkutopia.com", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert has(r, dns.flags.AA)
    assert r.answer == []
    (soa,) = r.authority
    assert soa.rdtype == dns.rdatatype.SOA and soa.name.to_text() == "networkutopia.com."
    # RFC 2308 §5: min(SOA TTL 3600, MINIMUM 300)
    assert soa.ttl == 300


def test_nodata_has_soa_and_noerror(engine: Engine) -> None:
    r = ask(engine, "www.networkutopia.com", "MX")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert [rr.rdtype for rr in r.authority] == [dns.rdatatype.SOA]
    assert r.authority[0].ttl == 300


def test_empty_non_terminal_is_nodata_not_nxdomain(engine: Engine) -> None:
    r = ask(engine, "_tcp.crepes.fr", "A")  # exists only as a parent of _imap._tcp
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert r.authority[0].rdtype == dns.rdatatype.SOA


def test_cname_chain_followed_inside_served_zones(engine: Engine) -> None:
    r = ask(engine, "www.amazon.com", "A")
    assert rrs(r.answer) == [
        "www.amazon.com. 3600 IN CNAME edge.amazon.com.",
        "edge.amazon.com. 60 IN A 127.0.1.70",
        "edge.amazon.com. 60 IN A 127.0.1.71",
        "edge.amazon.com. 60 IN A 127.0.1.72",
    ]
    assert has(r, dns.flags.AA)


def test_cname_query_for_cname_type_is_not_followed(engine: Engine) -> None:
    r = ask(engine, "ftp.networkutopia.com", "CNAME")
    assert rrs(r.answer) == ["ftp.networkutopia.com. 3600 IN CNAME www.networkutopia.com."]


def test_cname_across_zones_on_one_server(engine: Engine) -> None:
    r = ask(engine, "www.enterprise.com", "A")
    assert rrs(r.answer) == [
        "www.enterprise.com. 3600 IN CNAME relay1.west-coast.enterprise.com.",
        "relay1.west-coast.enterprise.com. 3600 IN A 127.0.1.60",
    ]


def test_mx_answer_carries_target_address_in_additional(engine: Engine) -> None:
    r = ask(engine, "hamburger.edu", "MX")
    assert rrs(r.answer) == ["hamburger.edu. 3600 IN MX 10 mail.hamburger.edu."]
    assert rrs(r.additional) == ["mail.hamburger.edu. 3600 IN A 127.0.0.41"]


def test_srv_answer_carries_target_address(engine: Engine) -> None:
    r = ask(engine, "_imap._tcp.crepes.fr", "SRV")
    assert rrs(r.answer) == ["_imap._tcp.crepes.fr. 3600 IN SRV 0 1 10143 mail.crepes.fr."]
    assert rrs(r.additional) == ["mail.crepes.fr. 3600 IN A 127.0.0.40"]


def test_ns_answer_carries_addresses(engine: Engine) -> None:
    r = ask(engine, "umass.edu", "NS")
    assert has(r, dns.flags.AA)
    assert rrs(r.additional) == ["dns.umass.edu. 3600 IN A 127.0.0.20"]


def test_wildcard_synthesises_the_query_name(engine: Engine) -> None:
    r = ask(engine, "Alice.Users.networkutopia.com", "A")
    assert r.rcode() == dns.rcode.NOERROR and has(r, dns.flags.AA)
    assert rrs(r.answer) == ["Alice.Users.networkutopia.com. 3600 IN A 127.0.1.52"]


def test_wildcard_matches_several_labels_deep(engine: Engine) -> None:
    r = ask(engine, "a.b.users.networkutopia.com", "A")
    assert rrs(r.answer) == ["a.b.users.networkutopia.com. 3600 IN A 127.0.1.52"]


def test_wildcard_nodata_for_other_types(engine: Engine) -> None:
    r = ask(engine, "x.users.networkutopia.com", "MX")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert r.authority[0].rdtype == dns.rdatatype.SOA


def test_wildcard_does_not_match_the_owner_itself(engine: Engine) -> None:
    # RFC 4592 §2.2.1: "users" exists (as an empty non-terminal), so no synthesis for it.
    r = ask(engine, "users.networkutopia.com", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []


def test_name_outside_served_zones_is_refused(engine: Engine) -> None:
    r = ask(_only(engine, "networkutopia.com."), "www.example.org", "A")
    assert r.rcode() == dns.rcode.REFUSED
    assert not has(r, dns.flags.AA)
    assert r.question[0].name.to_text() == "www.example.org."


def test_any_is_minimal_over_udp_and_complete_over_tcp(engine: Engine) -> None:
    udp = ask(engine, "networkutopia.com", "ANY")
    assert len(udp.answer) == 1  # RFC 8482: one RRset
    tcp = ask(engine, "networkutopia.com", "ANY", tcp=True)
    types = {rrset.rdtype for rrset in tcp.answer}
    assert {dns.rdatatype.SOA, dns.rdatatype.NS, dns.rdatatype.MX, dns.rdatatype.TXT} <= types


def test_txt_and_caa_and_aaaa(engine: Engine) -> None:
    assert rrs(ask(engine, "networkutopia.com", "CAA").answer) == [
        'networkutopia.com. 3600 IN CAA 0 issue "letsencrypt.org"'
    ]
    assert rrs(ask(engine, "www.networkutopia.com", "AAAA").answer) == [
        "www.networkutopia.com. 3600 IN AAAA 2001:db8:212::80"
    ]
    assert rrs(ask(engine, "crepes.fr", "TXT").answer) == [
        'crepes.fr. 3600 IN TXT "v=spf1 mx -all"'
    ]


def test_soa_query_at_apex(engine: Engine) -> None:
    r = ask(engine, "fr", "SOA")
    assert has(r, dns.flags.AA)
    assert r.answer[0].rdtype == dns.rdatatype.SOA


def test_root_answers_its_own_ns_with_glue(engine: Engine) -> None:
    r = ask(_only(engine, "."), ".", "NS")
    assert has(r, dns.flags.AA)
    assert rrs(r.answer) == [". 3600 IN NS a.root-servers.net."]
    assert rrs(r.additional) == ["a.root-servers.net. 3600 IN A 127.0.0.10"]


def test_ds_at_a_cut_is_answered_by_the_parent(engine: Engine) -> None:
    r = ask(_only(engine, "."), "com", "DS")
    assert has(r, dns.flags.AA) and r.answer == []  # NODATA from the parent, not a referral
    assert r.authority[0].rdtype == dns.rdatatype.SOA


def _origin(text: str) -> tuple[bytes, ...]:
    return tuple(label.encode() for label in text.rstrip(".").split(".") if label)


def test_a_zone_not_yet_transferred_is_servfail_where_it_is_the_closest_zone(
    engine: Engine,
) -> None:
    # a server for networkutopia.com. whose com. (a secondary) has no copy yet
    child = engine.zones.by_origin[_origin("networkutopia.com")]
    e = Engine(ZoneSet([child], unavailable=[_origin("com")]))
    for name, rdtype in [("www.example.com", "A"), ("com", "SOA"), ("COM", "NS")]:
        r = ask(e, name, rdtype)
        assert r.rcode() == dns.rcode.SERVFAIL and not has(r, dns.flags.AA), name
        assert r.answer == r.authority == [], name
    r = ask(e, "www.networkutopia.com", "A")  # the child zone below it is served
    assert r.rcode() == dns.rcode.NOERROR and has(r, dns.flags.AA)
    assert rrs(r.answer) == ["www.networkutopia.com. 3600 IN A 127.0.1.50"]
    assert ask(e, "www.example.org", "A").rcode() == dns.rcode.REFUSED  # not ours at all


def test_an_unavailable_child_zone_is_servfail_not_a_referral_from_its_parent(
    engine: Engine,
) -> None:
    parent = engine.zones.by_origin[_origin("com")]
    e = Engine(ZoneSet([parent], unavailable=[_origin("networkutopia.com")]))
    for name in ("www.networkutopia.com", "networkutopia.com"):
        assert ask(e, name, "A").rcode() == dns.rcode.SERVFAIL, name
    r = ask(e, "www.example.com", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN and has(r, dns.flags.AA)


def _only(engine: Engine, origin: str) -> Engine:
    """An engine serving just one of the loaded zones (a root/TLD server's view)."""
    from dnsserver.zoneset import ZoneSet

    key = tuple(label.encode() for label in origin.rstrip(".").split(".") if label)
    return Engine(ZoneSet([engine.zones.by_origin[key]]))


# A zone of corner cases: CNAME loops and chains, CNAMEs leaving the served zones, TTLs at 0
# and 1, and delegations (one whose referral does not fit 512 octets without losing glue).
EDGE = """$ORIGIN edge.test.
$TTL 3600
@ SOA ns1 hostmaster 1 7200 3600 1209600 60
@ NS ns1
ns1 A 192.0.2.53
loop1 CNAME loop2
loop2 CNAME loop1
self CNAME self
out CNAME www.example.org.
tonx CNAME nothing
tonodata CNAME ns1
towild CNAME x.wild
*.wild 120 A 192.0.2.80
toother CNAME www.other.test.
tocut CNAME host.sub
zero 0 A 192.0.2.0
one 1 A 192.0.2.1
mail MX 10 one
mail MX 20 zero
mail2 MX 10 mail.example.org.
mail2 MX 20 one
sub NS ns.sub
sub NS ns1
ns.sub A 192.0.2.54
deeper.sub NS ns.deeper.sub
ns.deeper.sub A 192.0.2.55
{chain}
{big}
{wide}
{mx}
"""
CHAIN = "\n".join(f"c{i} CNAME c{i + 1}" for i in range(20)) + "\nc20 A 192.0.2.20"
BIG = "\n".join(
    f"big NS a-rather-long-name-server-name-{i:02d}.big\n"
    f"a-rather-long-name-server-name-{i:02d}.big A 192.0.2.{100 + i}"
    for i in range(12)
)
# Six name servers fit 512 octets; with an A and an AAAA of glue each they do not.
WIDE = "\n".join(
    f"wide NS a-rather-long-name-server-name-{i:02d}.wide\n"
    f"a-rather-long-name-server-name-{i:02d}.wide A 192.0.2.{120 + i}\n"
    f"a-rather-long-name-server-name-{i:02d}.wide AAAA 2001:db8::{120 + i}"
    for i in range(6)
)
MX = "\n".join(
    f"mx MX {i} a-rather-long-mail-host-name-{i:02d}.hosts\n"
    f"a-rather-long-mail-host-name-{i:02d}.hosts A 192.0.2.{200 + i}\n"
    f"a-rather-long-mail-host-name-{i:02d}.hosts AAAA 2001:db8::{200 + i}"
    for i in range(6)
)
OTHER = """$ORIGIN other.test.
$TTL 300
@ 30 SOA ns1 hostmaster 1 7200 3600 1209600 600
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.99
"""


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    d = tmp_path_factory.mktemp("edge")
    (d / "edge.zone").write_text(EDGE.format(chain=CHAIN, big=BIG, wide=WIDE, mx=MX))
    (d / "other.zone").write_text(OTHER)
    return Engine(load_zones([str(d / "edge.zone"), str(d / "other.zone")]))


def kind(engine: Engine, name: str, rdtype: str = "A", rdclass: str = "IN") -> bytes:
    """The response class RRL accounts the answer to this question under."""
    q = dns.message.make_query(name, rdtype, rdclass=rdclass)
    return engine.handle(q.to_wire(), tcp=False).kind


def test_a_cname_loop_is_answered_with_the_loop_once(edge: Engine) -> None:
    r = ask(edge, "loop1.edge.test", "A")
    assert r.rcode() == dns.rcode.NOERROR and has(r, dns.flags.AA)
    assert rrs(r.answer) == [
        "loop1.edge.test. 3600 IN CNAME loop2.edge.test.",
        "loop2.edge.test. 3600 IN CNAME loop1.edge.test.",
    ]
    assert r.authority == []
    # dnspython merges repeated records: the wire must hold each link once (ANCOUNT 2)
    wire = edge.handle(dns.message.make_query("loop1.edge.test", "A").to_wire(), tcp=False).wire
    assert wire is not None and wire[6:8] == b"\x00\x02"
    assert rrs(ask(edge, "self.edge.test", "A").answer) == [
        "self.edge.test. 3600 IN CNAME self.edge.test."
    ]


def test_a_long_cname_chain_is_followed_for_16_links_only(edge: Engine) -> None:
    r = ask(edge, "c0.edge.test", "A", tcp=True)
    assert r.rcode() == dns.rcode.NOERROR
    assert rrs(r.answer) == [
        f"c{i}.edge.test. 3600 IN CNAME c{i + 1}.edge.test." for i in range(MAX_CNAME_CHAIN)
    ]
    assert MAX_CNAME_CHAIN == 16
    # a chain of 16 is followed to its end
    assert rrs(ask(edge, "c5.edge.test", "A", tcp=True).answer)[-1] == (
        "c20.edge.test. 3600 IN A 192.0.2.20"
    )


def test_a_cname_out_of_the_served_zones_is_left_to_the_resolver(edge: Engine) -> None:
    r = ask(edge, "out.edge.test", "A")
    assert r.rcode() == dns.rcode.NOERROR and has(r, dns.flags.AA)
    assert rrs(r.answer) == ["out.edge.test. 3600 IN CNAME www.example.org."]
    assert r.authority == [] and r.additional == []


def test_a_cname_to_a_name_that_does_not_exist_is_nxdomain(edge: Engine) -> None:
    r = ask(edge, "tonx.edge.test", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN  # RFC 6604: the rcode of the last name
    assert rrs(r.answer) == ["tonx.edge.test. 3600 IN CNAME nothing.edge.test."]
    assert rrs(r.authority) == [
        "edge.test. 60 IN SOA ns1.edge.test. hostmaster.edge.test. 1 7200 3600 1209600 60"
    ]


def test_a_cname_to_a_name_without_the_type_is_nodata(edge: Engine) -> None:
    r = ask(edge, "tonodata.edge.test", "MX")
    assert r.rcode() == dns.rcode.NOERROR
    assert rrs(r.answer) == ["tonodata.edge.test. 3600 IN CNAME ns1.edge.test."]
    assert [rrset.rdtype for rrset in r.authority] == [dns.rdatatype.SOA]


def test_a_cname_to_a_wildcard_and_to_another_zone(edge: Engine) -> None:
    assert rrs(ask(edge, "towild.edge.test", "A").answer) == [
        "towild.edge.test. 3600 IN CNAME x.wild.edge.test.",
        "x.wild.edge.test. 120 IN A 192.0.2.80",
    ]
    assert rrs(ask(edge, "toother.edge.test", "A").answer) == [
        "toother.edge.test. 3600 IN CNAME www.other.test.",
        "www.other.test. 300 IN A 192.0.2.99",
    ]
    r = ask(edge, "toother.edge.test", "MX")  # NODATA in the other zone: its SOA
    assert rrs(r.authority) == [
        "other.test. 30 IN SOA ns1.other.test. hostmaster.other.test. 1 7200 3600 1209600 600"
    ]


def test_a_cname_into_a_delegation_ends_with_the_referral(edge: Engine) -> None:
    r = ask(edge, "tocut.edge.test", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert has(r, dns.flags.AA)  # the alias is ours: AA stays, though the rest is a referral
    assert rrs(r.answer) == ["tocut.edge.test. 3600 IN CNAME host.sub.edge.test."]
    assert rrs(r.authority) == [
        "sub.edge.test. 3600 IN NS ns.sub.edge.test.",
        "sub.edge.test. 3600 IN NS ns1.edge.test.",
    ]
    assert kind(edge, "tocut.edge.test") == b"answer tocut.edge.test"


def test_ttl_0_and_1_are_served_as_written(edge: Engine) -> None:
    assert rrs(ask(edge, "zero.edge.test", "A").answer) == ["zero.edge.test. 0 IN A 192.0.2.0"]
    assert rrs(ask(edge, "one.edge.test", "A").answer) == ["one.edge.test. 1 IN A 192.0.2.1"]
    r = ask(edge, "mail.edge.test", "MX")
    assert sorted(rrs(r.additional)) == [
        "one.edge.test. 1 IN A 192.0.2.1",
        "zero.edge.test. 0 IN A 192.0.2.0",
    ]


def test_additional_addresses_of_targets_we_hold_after_one_we_do_not(edge: Engine) -> None:
    r = ask(edge, "mail2.edge.test", "MX")
    assert rrs(r.answer) == [
        "mail2.edge.test. 3600 IN MX 10 mail.example.org.",
        "mail2.edge.test. 3600 IN MX 20 one.edge.test.",
    ]
    assert rrs(r.additional) == ["one.edge.test. 1 IN A 192.0.2.1"]


def test_the_negative_ttl_is_the_smaller_of_soa_ttl_and_minimum(edge: Engine) -> None:
    # RFC 2308 §5: edge.test. has TTL 3600, MINIMUM 60; other.test. TTL 30, MINIMUM 600
    assert ask(edge, "nothing.edge.test", "A").authority[0].ttl == 60
    assert ask(edge, "nothing.other.test", "A").authority[0].ttl == 30


def test_a_query_at_the_delegation_point_is_a_referral(engine: Engine) -> None:
    com = _only(engine, "com.")
    for rdtype in ("A", "NS", "MX"):
        r = ask(com, "networkutopia.com", rdtype)
        assert r.rcode() == dns.rcode.NOERROR and not has(r, dns.flags.AA), rdtype
        assert r.answer == []
        assert sorted(rrs(r.authority)) == [
            "networkutopia.com. 3600 IN NS dns1.networkutopia.com.",
            "networkutopia.com. 3600 IN NS dns2.networkutopia.com.",
        ]
        assert sorted(rrs(r.additional)) == [
            "dns1.networkutopia.com. 3600 IN A 127.0.0.24",
            "dns2.networkutopia.com. 3600 IN A 127.0.0.27",
        ]
    assert kind(com, "NetworkUtopia.com") == b"referral networkutopia.com"


def test_a_name_below_nested_cuts_is_referred_to_the_highest(edge: Engine) -> None:
    r = ask(edge, "www.deeper.sub.edge.test", "A")
    assert not has(r, dns.flags.AA)
    assert rrs(r.authority) == [
        "sub.edge.test. 3600 IN NS ns.sub.edge.test.",
        "sub.edge.test. 3600 IN NS ns1.edge.test.",
    ]
    assert sorted(rrs(r.additional)) == [
        "ns.sub.edge.test. 3600 IN A 192.0.2.54",
        "ns1.edge.test. 3600 IN A 192.0.2.53",
    ]
    assert kind(edge, "www.deeper.sub.edge.test") == b"referral sub.edge.test"


def test_a_referral_too_large_for_udp_is_truncated_not_sent_without_glue(edge: Engine) -> None:
    # RFC 9471 §3: glue for name servers inside the delegated zone is not optional
    full = ask(edge, "www.big.edge.test", "A", tcp=True, edns=None)
    assert len(full.to_wire()) > 512 and len(full.additional) == 12
    r = ask(edge, "www.big.edge.test", "A", edns=None)  # 512 octets
    assert has(r, dns.flags.TC) and not has(r, dns.flags.AA)
    assert r.answer == r.authority == r.additional == []
    assert r.question == full.question
    fits = ask(edge, "www.big.edge.test", "A", payload=1232)
    assert not has(fits, dns.flags.TC) and len(fits.additional) == 12
    # The name servers alone would fit: the glue is not dropped to make them fit.
    full = ask(edge, "www.wide.edge.test", "A", tcp=True, edns=None)
    assert len(full.to_wire()) > 512 and len(rrs(full.additional)) == 12
    r = ask(edge, "www.wide.edge.test", "A", edns=None)
    assert has(r, dns.flags.TC) and r.authority == r.additional == []


def test_an_answer_too_large_for_udp_loses_its_additional_data_first(edge: Engine) -> None:
    # The addresses of MX targets are a courtesy (RFC 2181 §9): dropped, without TC, to fit
    full = ask(edge, "mx.edge.test", "MX", tcp=True, edns=None)
    assert len(full.to_wire()) > 512 and len(rrs(full.additional)) == 12
    r = ask(edge, "mx.edge.test", "MX", edns=None)
    assert not has(r, dns.flags.TC) and has(r, dns.flags.AA)
    assert r.answer == full.answer and r.additional == []
    r = ask(edge, "mx.edge.test", "MX", payload=512)  # the OPT record stays
    assert not has(r, dns.flags.TC) and r.answer == full.answer
    assert r.additional == [] and r.edns == 0 and r.payload == 1232


@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        ("www.networkutopia.com", "A", b"answer www.networkutopia.com"),
        ("WWW.NetworkUtopia.COM", "A", b"answer www.networkutopia.com"),  # one class, any case
        ("www.amazon.com", "A", b"answer www.amazon.com"),  # a CNAME chain: the name asked
        ("www.networkutopia.com", "MX", b"nodata www.networkutopia.com"),
        ("_tcp.crepes.fr", "A", b"nodata _tcp.crepes.fr"),  # an empty non-terminal
        ("nope.networkutopia.com", "A", b"nxdomain networkutopia.com"),  # per zone
        ("a.b.nope.networkutopia.com", "AAAA", b"nxdomain networkutopia.com"),
        ("alice.users.networkutopia.com", "A", b"wildcard *.users.networkutopia.com"),
        ("bob.users.networkutopia.com", "MX", b"wildcard *.users.networkutopia.com"),
        ("nope.example.org", "A", b"nxdomain "),  # the root zone's NXDOMAIN
        ("networkutopia.com", "AXFR", b"error"),
    ],
)
def test_the_rrl_class_of_each_kind_of_answer(
    engine: Engine, name: str, rdtype: str, expected: bytes
) -> None:
    assert kind(engine, name, rdtype) == expected


def test_the_rrl_class_of_referrals_names_the_child(engine: Engine) -> None:
    assert kind(_only(engine, "."), "www.networkutopia.com") == b"referral com"
    assert kind(_only(engine, "com."), "www.networkutopia.com") == b"referral networkutopia.com"
    assert kind(_only(engine, "com."), "www.amazon.com") == b"referral amazon.com"


def test_the_rrl_class_of_other_classes(all_zones: ZoneSet) -> None:
    from dnsserver.chaos import Identity

    shown = Engine(all_zones, identity=Identity(identity="ns1", version="v1"))
    assert kind(shown, "version.bind", "TXT", "CH") == b"chaos"
    assert kind(shown, "version.bind", "A", "CH") == b"error"
    assert kind(shown, "www.networkutopia.com", "A", "HS") == b"error"
    assert kind(_only(shown, "networkutopia.com."), "www.example.org") == b"error"  # REFUSED
