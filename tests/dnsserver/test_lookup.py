"""Golden cases for the lookup rules of RFC 1034 §4.3.2 and friends, on the default topology."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from dnsserver.engine import Engine
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
    assert rrs(r.authority) == ["networkutopia.com. 3600 IN NS dns1.networkutopia.com."]
    assert rrs(r.additional) == ["dns1.networkutopia.com. 3600 IN A 127.0.0.24"]


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


def _only(engine: Engine, origin: str) -> Engine:
    """An engine serving just one of the loaded zones (a root/TLD server's view)."""
    from dnsserver.zoneset import ZoneSet

    key = tuple(label.encode() for label in origin.rstrip(".").split(".") if label)
    return Engine(ZoneSet([engine.zones.by_origin[key]]))
