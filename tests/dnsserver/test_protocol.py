"""Message-level rules: FORMERR, NOTIMP, REFUSED, EDNS0 (RFC 6891), truncation, the cache."""

from __future__ import annotations

import struct
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import pytest

from dnsserver.chaos import Identity
from dnsserver.engine import Engine, Response
from dnsserver.zoneset import ZoneSet, load_zones
from tests.dnsserver.conftest import ask, has

BIG_ZONE = """$ORIGIN big.test.
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 60
@ NS ns1
ns1 A 127.0.0.1
{txt}
mx MX 10 ns1
""".format(
    txt="\n".join(f'many TXT "record number {i:03d} padding padding padding"' for i in range(60))
)


@pytest.fixture
def big(tmp_path: Path) -> Engine:
    path = tmp_path / "big.zone"
    path.write_text(BIG_ZONE)
    return Engine(load_zones([str(path)]))


def header(wire: bytes) -> tuple[int, int, int, int, int, int]:
    return struct.unpack("!HHHHHH", wire[:12])  # type: ignore[return-value]


def test_qdcount_two_is_formerr_with_id_kept(engine: Engine) -> None:
    wire = bytearray(dns.message.make_query("www.networkutopia.com", "A").to_wire())
    wire[4:6] = b"\x00\x02"
    reply = engine.handle(bytes(wire), tcp=False)
    assert reply.wire is not None and reply.problem
    qid, flags, qd, an, ns, ar = header(reply.wire)
    assert qid == struct.unpack("!H", wire[:2])[0]
    assert flags & 0x8000 and flags & 0xF == dns.rcode.FORMERR
    assert (qd, an, ns, ar) == (0, 0, 0, 0)  # header only: the question may be the problem


def test_response_is_never_answered(engine: Engine) -> None:
    q = dns.message.make_query("www.networkutopia.com", "A")
    q.flags |= dns.flags.QR
    assert engine.handle(q.to_wire(), tcp=False).wire is None


def test_short_packet_is_dropped(engine: Engine) -> None:
    assert engine.handle(b"\x12\x34\x01", tcp=False).wire is None


def test_unknown_opcode_is_notimp(engine: Engine) -> None:
    q = dns.message.make_query("www.networkutopia.com", "A")
    q.set_opcode(dns.opcode.NOTIFY)
    r = dns.message.from_wire(engine.handle(q.to_wire(), tcp=False).wire or b"")
    assert r.rcode() == dns.rcode.NOTIMP and r.opcode() == dns.opcode.NOTIFY


def test_notimp_does_not_copy_rd_which_only_query_defines(engine: Engine) -> None:
    for opcode in (dns.opcode.NOTIFY, dns.opcode.UPDATE, dns.opcode.STATUS):
        q = dns.message.make_query("www.networkutopia.com", "A")  # RD set
        q.set_opcode(opcode)
        wire = engine.handle(q.to_wire(), tcp=False).wire or b""
        qid, flags, *_ = header(wire)
        assert qid == q.id and flags & 0xF == dns.rcode.NOTIMP
        assert (flags >> 11) & 0xF == opcode and not flags & dns.flags.RD


def test_formerr_to_a_query_keeps_rd(engine: Engine) -> None:
    wire = bytearray(dns.message.make_query("www.networkutopia.com", "A").to_wire())
    wire[4:6] = b"\x00\x02"  # QDCOUNT 2
    flags = header(engine.handle(bytes(wire), tcp=False).wire or b"")[1]
    assert flags & 0xF == dns.rcode.FORMERR and flags & dns.flags.RD


def test_tc_bit_in_a_query_is_ignored(engine: Engine) -> None:
    for tcp in (False, True):
        q = dns.message.make_query("www.networkutopia.com", "A", use_edns=0)
        q.flags |= dns.flags.TC
        reply = engine.handle(q.to_wire(), tcp=tcp)
        assert reply.problem is None and reply.wire is not None
        r = dns.message.from_wire(reply.wire)
        assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.TC
        assert [rd.address for rd in r.answer[0]] == ["127.0.1.50"]


def test_edns_opt_echoed_with_our_size_and_do_bit(engine: Engine) -> None:
    r = ask(engine, "www.networkutopia.com", payload=4096, want_dnssec=True)
    assert r.edns == 0 and r.payload == 1232
    assert r.ednsflags & dns.flags.DO


def test_no_edns_in_query_no_opt_in_answer(engine: Engine) -> None:
    r = ask(engine, "www.networkutopia.com", edns=None)
    assert r.edns == -1


def test_unknown_edns_version_is_badvers(engine: Engine) -> None:
    r = ask(engine, "www.networkutopia.com", edns=1)
    assert r.rcode() == dns.rcode.BADVERS
    assert r.edns == 0 and r.answer == []


def test_two_opt_records_are_formerr(engine: Engine) -> None:
    wire = bytearray(dns.message.make_query("a.networkutopia.com", "A", use_edns=0).to_wire())
    opt = wire[-11:]
    wire += opt
    wire[10:12] = b"\x00\x02"
    r = engine.handle(bytes(wire), tcp=False)
    assert r.wire is not None and header(r.wire)[1] & 0xF == dns.rcode.FORMERR


def test_chaos_class_is_refused_by_an_engine_without_an_identity(engine: Engine) -> None:
    # a server's identity answers version.bind (see test_chaos.py); an engine without one does not
    q = dns.message.make_query("version.bind", "TXT", rdclass="CH")
    r = dns.message.from_wire(engine.handle(q.to_wire(), tcp=False).wire or b"")
    assert r.rcode() == dns.rcode.REFUSED


def test_other_classes_are_refused(engine: Engine) -> None:
    q = dns.message.make_query("www.networkutopia.com", "A", rdclass="HS")
    r = dns.message.from_wire(engine.handle(q.to_wire(), tcp=False).wire or b"")
    assert r.rcode() == dns.rcode.REFUSED


def test_zone_transfer_is_refused(engine: Engine) -> None:
    r = ask(engine, "networkutopia.com", "AXFR", tcp=True)
    assert r.rcode() == dns.rcode.REFUSED


def test_big_answer_is_truncated_over_udp_with_question_kept(big: Engine) -> None:
    r = ask(big, "many.big.test", "TXT", edns=None)
    assert has(r, dns.flags.TC)
    assert r.question[0].name.to_text() == "many.big.test."
    assert r.answer == [] and has(r, dns.flags.AA)


def test_edns_size_decides_truncation(big: Engine) -> None:
    small = ask(big, "many.big.test", "TXT", payload=1232)
    assert has(small, dns.flags.TC)
    full_size = len(ask(big, "many.big.test", "TXT", tcp=True).to_wire())
    assert full_size > 1232
    # a client offering more than our maximum still gets at most 1232 bytes over UDP
    assert has(ask(big, "many.big.test", "TXT", payload=65000), dns.flags.TC)


def test_same_query_over_tcp_gets_everything(big: Engine) -> None:
    r = ask(big, "many.big.test", "TXT", tcp=True, edns=None)
    assert not has(r, dns.flags.TC)
    assert len(r.answer[0]) == 60


def test_payload_below_512_is_treated_as_512(engine: Engine) -> None:
    r = ask(engine, "www.amazon.com", "A", payload=100)
    assert not has(r, dns.flags.TC) and len(r.answer) == 2


def test_cache_hit_patches_the_id_only(engine: Engine) -> None:
    q1 = dns.message.make_query("www.amazon.com", "A")
    q2 = dns.message.make_query("www.amazon.com", "A")
    r1 = engine.handle(q1.to_wire(), tcp=False).wire or b""
    assert len(engine.udp_cache) == 1
    key = q2.to_wire()[2:]
    entry = engine.udp_cache.get(key)
    assert entry is not None and entry[0] == r1[2:]
    assert entry[1].startswith(b"answer ")


def test_case_variants_are_cached_separately_and_echoed(engine: Engine) -> None:
    a = ask(engine, "www.amazon.com", "A")
    b = ask(engine, "WWW.AMAZON.COM", "A")
    assert a.question[0].name.to_text() == "www.amazon.com."
    assert b.question[0].name.to_text() == "WWW.AMAZON.COM."


def test_swap_zones_clears_the_cache(engine: Engine, big: Engine) -> None:
    ask(engine, "www.amazon.com", "A")
    engine.swap_zones(big.zones)
    assert len(engine.udp_cache) == 0
    assert ask(engine, "www.amazon.com", "A").rcode() == dns.rcode.REFUSED


def test_cache_is_bounded_and_evicts_the_oldest(all_zones: ZoneSet) -> None:
    e = Engine(all_zones, cache_entries=3)
    queries = [dns.message.make_query(f"n{i}.networkutopia.com", "A") for i in range(5)]
    for q in queries:
        e.handle(q.to_wire(), tcp=False)
    assert len(e.udp_cache) == 3
    assert e.udp_cache.get(queries[0].to_wire()[2:]) is None
    assert e.udp_cache.get(queries[4].to_wire()[2:]) is not None


def test_what_is_not_answered_says_why(engine: Engine) -> None:
    # the shell logs `problem`; the response class of every error is b"error"
    short = engine.handle(b"\x12\x34\x01", tcp=False)
    assert short == Response(None, b"error", "shorter than a DNS header")
    q = dns.message.make_query("www.networkutopia.com", "A")
    q.flags |= dns.flags.QR
    assert engine.handle(q.to_wire(), tcp=True) == Response(
        None, b"error", "a response, not a query"
    )
    wire = bytearray(dns.message.make_query("www.networkutopia.com", "A").to_wire())
    wire[4:6] = b"\x00\x00"  # QDCOUNT 0
    reply = engine.handle(bytes(wire), tcp=False)
    assert reply.kind == b"error" and reply.problem == "QDCOUNT 0 (must be 1)"
    assert reply.wire == wire[:2] + b"\x81\x01" + b"\x00" * 8  # QR RD FORMERR, header only
    q = dns.message.make_query("www.networkutopia.com", "A")
    q.set_opcode(dns.opcode.UPDATE)
    reply = engine.handle(q.to_wire(), tcp=False)
    assert reply.problem == "opcode 5" and reply.kind == b"error"
    assert len(engine.udp_cache) == len(engine.tcp_cache) == 0  # none of them is cached


@pytest.mark.parametrize(
    ("rdtype", "rcode"),
    [
        ("IXFR", dns.rcode.REFUSED),  # no zone transfers
        ("AXFR", dns.rcode.REFUSED),
        ("MAILA", dns.rcode.NOTIMP),  # obsolete (RFC 883)
        ("MAILB", dns.rcode.NOTIMP),
        ("OPT", dns.rcode.FORMERR),  # a pseudo-type is no question
    ],
)
def test_types_that_are_not_answered(engine: Engine, rdtype: str, rcode: int) -> None:
    for tcp in (False, True):
        q = dns.message.make_query("networkutopia.com", rdtype, use_edns=0)
        reply = engine.handle(q.to_wire(), tcp=tcp)
        r = dns.message.from_wire(reply.wire or b"")
        assert r.rcode() == rcode and reply.kind == b"error" and reply.problem is None
        assert not has(r, dns.flags.AA) and r.answer == [] and r.question == q.question
        assert r.edns == 0


def test_class_any_is_answered_as_class_in(engine: Engine) -> None:
    q = dns.message.make_query("www.networkutopia.com", "A", rdclass="ANY")
    r = dns.message.from_wire(engine.handle(q.to_wire(), tcp=False).wire or b"")
    assert r.rcode() == dns.rcode.NOERROR and has(r, dns.flags.AA)
    assert [rd.address for rd in r.answer[0]] == ["127.0.1.50"]


def test_answers_are_cached_per_transport(big: Engine) -> None:
    q = dns.message.make_query("many.big.test", "TXT", use_edns=False)
    udp = big.handle(q.to_wire(), tcp=False)
    tcp = big.handle(q.to_wire(), tcp=True)
    assert udp.wire is not None and tcp.wire is not None
    assert big.udp_cache.get(q.to_wire()[2:]) == (udp.wire[2:], b"answer many.big.test")
    assert big.tcp_cache.get(q.to_wire()[2:]) == (tcp.wire[2:], b"answer many.big.test")
    assert len(udp.wire) < 512 < len(tcp.wire)  # truncated over UDP, whole over TCP
    big.swap_zones(big.zones)
    assert len(big.udp_cache) == len(big.tcp_cache) == 0


def test_the_slip_of_what_cannot_be_parsed_is_nothing(engine: Engine) -> None:
    assert engine.slip(b"\x12\x34") is None
    wire = bytearray(dns.message.make_query("www.networkutopia.com", "A").to_wire())
    wire[4:6] = b"\x00\x02"
    assert engine.slip(bytes(wire)) is None  # FORMERR: no question to echo


def test_the_largest_udp_answer_is_configurable(big: Engine) -> None:
    wide = Engine(big.zones, max_udp=4096)
    r = ask(wide, "many.big.test", "TXT", payload=4096)
    assert not has(r, dns.flags.TC) and len(r.answer[0]) == 60 and r.payload == 4096
    r = ask(wide, "many.big.test", "TXT", payload=1232)  # the client's size still counts
    assert has(r, dns.flags.TC)
    assert len(ask(wide, "many.big.test", "TXT", payload=4096).to_wire()) <= 4096


def test_queries_over_512_octets_after_the_id_are_answered_not_cached(engine: Engine) -> None:
    def padded(total: int) -> bytes:
        q = dns.message.make_query("www.networkutopia.com", "A", use_edns=0)
        bare = len(q.to_wire())
        pad = dns.edns.GenericOption(dns.edns.PADDING, b"\x00" * (total - bare - 4))
        q = dns.message.make_query("www.networkutopia.com", "A", use_edns=0, options=[pad])
        wire = q.to_wire()
        assert len(wire) == total
        return wire

    assert engine.handle(padded(514), tcp=False).kind == b"answer www.networkutopia.com"
    assert len(engine.udp_cache) == 1  # 512 octets after the ID: cached
    reply = engine.handle(padded(515), tcp=False)
    assert dns.message.from_wire(reply.wire or b"").answer
    assert len(engine.udp_cache) == 1


def test_a_cache_of_no_entries_caches_nothing(all_zones: ZoneSet) -> None:
    e = Engine(all_zones, cache_entries=0)
    for _ in range(2):
        assert ask(e, "www.amazon.com", "A").answer
    assert len(e.udp_cache) == 0
    one = Engine(all_zones, cache_entries=1)
    ask(one, "www.amazon.com", "A")
    ask(one, "www.networkutopia.com", "A")
    assert len(one.udp_cache) == 1


EXACT_ZONE = """$ORIGIN fit.test.
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 60
@ NS ns1
ns1 A 127.0.0.1
{mx}
"""


@pytest.fixture
def fit(tmp_path: Path) -> Engine:
    mx = "\n".join(
        f"mx MX {i} mail-host-with-a-long-name-{i:02d}\n"
        f"mail-host-with-a-long-name-{i:02d} A 192.0.2.{i}\n"
        f"mail-host-with-a-long-name-{i:02d} AAAA 2001:db8::{i}"
        for i in range(14)
    )
    path = tmp_path / "fit.zone"
    path.write_text(EXACT_ZONE.format(mx=mx))
    return Engine(load_zones([str(path)]), max_udp=4096)


def test_a_response_that_fits_exactly_is_sent_whole(fit: Engine) -> None:
    full = len(ask(fit, "mx.fit.test", "MX", tcp=True, payload=4096).to_wire())
    assert 512 < full < 4096
    r = ask(fit, "mx.fit.test", "MX", payload=full)  # the client takes exactly this many octets
    assert not has(r, dns.flags.TC) and len(r.additional) == 28 and len(r.to_wire()) == full
    r = ask(fit, "mx.fit.test", "MX", payload=full - 1)  # one octet less: no additional data
    assert not has(r, dns.flags.TC) and r.additional == [] and len(r.answer[0]) == 14
    bare = len(r.to_wire())
    assert 512 < bare < full - 1
    r = ask(fit, "mx.fit.test", "MX", payload=bare)  # exactly the answer without additional data
    assert not has(r, dns.flags.TC) and len(r.answer[0]) == 14 and len(r.to_wire()) == bare
    r = ask(fit, "mx.fit.test", "MX", payload=bare - 1)  # one octet less: truncated
    assert has(r, dns.flags.TC) and r.answer == [] and has(r, dns.flags.AA)


def test_a_truncated_answer_keeps_the_nsid_asked_for(big: Engine) -> None:
    shown = Engine(big.zones, identity=Identity(identity="ns-big"))
    nsid = dns.edns.GenericOption(dns.edns.NSID, b"")
    q = dns.message.make_query("many.big.test", "TXT", use_edns=0, options=[nsid])
    r = dns.message.from_wire(shown.handle(q.to_wire(), tcp=False).wire or b"")
    assert has(r, dns.flags.TC) and r.answer == []
    assert [o.to_wire() for o in r.options if o.otype == dns.edns.NSID] == [b"ns-big"]


def test_any_answers_carry_the_name_asked(engine: Engine) -> None:
    for tcp in (False, True):
        r = ask(engine, "NetworkUtopia.com", "ANY", tcp=tcp)
        assert r.answer and {rrset.name.to_text() for rrset in r.answer} == {"NetworkUtopia.com."}


@pytest.mark.parametrize(
    ("name", "rdtype", "rdclass", "edns", "rcode"),
    [
        ("www.networkutopia.com", "A", "IN", 1, dns.rcode.BADVERS),
        ("www.networkutopia.com", "A", "HS", 0, dns.rcode.REFUSED),
        ("foo.bar", "TXT", "CH", 0, dns.rcode.REFUSED),
        ("networkutopia.com", "AXFR", "IN", 0, dns.rcode.REFUSED),
        ("networkutopia.com", "MAILB", "IN", 0, dns.rcode.NOTIMP),
        ("networkutopia.com", "OPT", "IN", 0, dns.rcode.FORMERR),
        ("www.example.org", "A", "IN", 0, dns.rcode.REFUSED),
    ],
)
def test_every_error_is_rate_limited_as_one_class_and_says_who_answered(
    all_zones: ZoneSet, name: str, rdtype: str, rdclass: str, edns: int, rcode: int
) -> None:
    zones = ZoneSet([all_zones.by_origin[(b"networkutopia", b"com")]])
    shown = Engine(zones, identity=Identity(identity="ns-x", version="v"))
    nsid = dns.edns.GenericOption(dns.edns.NSID, b"")
    q = dns.message.make_query(name, rdtype, rdclass=rdclass, use_edns=edns, options=[nsid])
    reply = shown.handle(q.to_wire(), tcp=False)
    assert reply.kind == b"error" and reply.problem is None
    r = dns.message.from_wire(reply.wire or b"")
    assert r.rcode() == rcode and r.question == q.question
    assert [o.to_wire() for o in r.options if o.otype == dns.edns.NSID] == [b"ns-x"]


def test_a_signed_query_is_rate_limited_as_an_error(engine: Engine) -> None:
    q = dns.message.make_query("networkutopia.com", "MX")
    q.use_tsig(dns.tsigkeyring.from_text({"k.": "c2VjcmV0"}), keyname="k.")
    assert engine.handle(q.to_wire(), tcp=False).kind == b"error"
