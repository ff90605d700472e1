"""The stub-facing core at its edges: exact responses to every kind of query, the UDP size,
truncation, the two caches of whole answers and the counters (issue 17)."""

from __future__ import annotations

import struct
from typing import Any

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from dnslib import EDNS0, QTYPE, RR, DNSHeader, DNSQuestion, DNSRecord

from dnsserver.aio.stub import Pending, StubUdp
from dnsserver.chaos import Identity
from dnsserver.resolver.admission import Ticket
from dnsserver.resolver.cache import CacheConfig, Rank
from dnsserver.resolver.frontend import Answered, Frontend, Resolve, question, udp_limit
from dnsserver.resolver.packed import question_key
from dnsserver.resolver.rrset import RRset, name_of

from .fakes import Harness, default_net
from .test_frontend import CLIENT, ask, frontend


@pytest.fixture
def h() -> Harness:
    return Harness(default_net())


def flags(r: dns.message.Message) -> int:
    """The header's flag bits (QR, AA, TC, RD, RA, Z, AD, CD), without opcode and rcode."""
    return r.flags & 0x87F0


def nsid(r: dns.message.Message) -> list[bytes]:
    return [o.nsid for o in r.options if o.otype == dns.edns.NSID]


def nsid_query(name: str, rdtype: str, **kw: Any) -> dns.message.Message:
    return dns.message.make_query(
        name, rdtype, use_edns=0, options=[dns.edns.GenericOption(dns.edns.NSID, b"")], **kw
    )


# -- the client's UDP size, when the fast path could not key the query -----------------------------


@pytest.mark.parametrize(
    ("payload", "limit"),
    [
        (0, 512),
        (511, 512),
        (512, 512),
        (513, 513),
        (1232, 1232),
        (4095, 4095),
        (4096, 4096),
        (4097, 4096),
        (65535, 4096),
    ],
)
def test_udp_limit_is_the_opt_size_kept_between_512_and_4096(payload: int, limit: int) -> None:
    q = dns.message.make_query("www.example.test.", "A", use_edns=0, payload=payload)
    q.question.append(q.question[0])  # two questions: a query the fast path leaves alone
    data = q.to_wire()
    assert question_key(data) is None and udp_limit(data) == limit


def test_udp_limit_finds_the_opt_behind_other_additional_records() -> None:
    q = dns.message.make_query("www.example.test.", "A", use_edns=0, payload=1400)
    q.additional.append(dns.rrset.from_text("x.example.test.", 60, "IN", "A", "192.0.2.1"))
    assert udp_limit(q.to_wire()) == 1400


def test_udp_limit_is_512_without_edns_or_for_garbage() -> None:
    assert udp_limit(dns.message.make_query("www.example.test.", "A").to_wire()) == 512
    assert udp_limit(b"\x12\x34\x01\x00garbage!") == 512
    assert udp_limit(b"") == 512


# -- header-only FORMERR for what does not parse ---------------------------------------------------


def unparsable(flags: int, rest: bytes = b"\x05abc") -> bytes:
    return struct.pack("!HHHHHH", 0x1234, flags, 1, 1, 1, 1) + rest


@pytest.mark.parametrize(
    ("flags", "out"),
    [
        (0x07FF, 0x8101),  # QUERY with AA, TC, RD, RA, Z, AD, CD and an rcode: QR, RD, FORMERR
        (0x0600, 0x8001),  # QUERY without RD
        (0x2100, 0xA001),  # NOTIFY with RD: opcode kept, RD is QUERY's alone
        (0x7900, 0xF801),  # opcode 15 with RD
    ],
)
def test_an_unparsable_query_gets_its_header_back_with_formerr(
    h: Harness, flags: int, out: int
) -> None:
    fe = frontend(h)
    step = fe.begin(unparsable(flags), CLIENT, None, 512, h.now)
    assert step == Answered(struct.pack("!HH", 0x1234, out) + bytes(8), "malformed query")
    assert h.stats.formerr == 1


def test_a_bare_twelve_octet_header_is_answered_and_anything_shorter_is_not(h: Harness) -> None:
    fe = frontend(h)
    header = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)  # a question that is not there
    assert fe.begin(header, CLIENT, None, 512, h.now) == Answered(
        b"\x42\x42\x81\x01" + bytes(8), "malformed query"
    )
    assert fe.begin(header[:11], CLIENT, None, 512, h.now) == Answered(None, "malformed query")
    assert h.stats.formerr == 2


def test_an_unparsable_response_is_counted_and_never_answered(h: Harness) -> None:
    fe = frontend(h)
    assert fe.begin(unparsable(0x8100), CLIENT, None, 512, h.now) == Answered(
        None, "malformed query"
    )
    assert h.stats.formerr == 1


def test_an_illegal_name_gets_formerr(h: Harness) -> None:
    fe = frontend(h)
    name = (b"\x3f" + b"a" * 63) * 3 + b"\x3e" + b"b" * 62 + b"\x00"  # 256 octets
    query = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01"
    assert fe.begin(query, CLIENT, None, 512, h.now) == Answered(
        b"\x42\x42\x81\x01" + bytes(8), "malformed query"
    )
    assert h.stats.formerr == 1


# -- errors the core answers itself ----------------------------------------------------------------


def test_notimp_copies_opcode_question_and_do(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A", use_edns=0, want_dnssec=True)
    q.set_opcode(dns.opcode.NOTIFY)
    r = ask(fe, h, q)
    assert r is not None and (r.id, r.opcode(), r.rcode()) == (q.id, dns.opcode.NOTIFY, 4)
    assert flags(r) == dns.flags.QR | dns.flags.RA and r.question == q.question
    assert (r.edns, r.payload, r.ednsflags) == (0, 1232, dns.flags.DO)
    assert not r.answer and not r.authority and h.stats.formerr == 0
    q = dns.message.make_query("www.example.test.", "A", use_edns=0, ednsflags=0x0001)  # Z only
    q.set_opcode(dns.opcode.NOTIFY)
    r = ask(fe, h, q)
    assert r is not None and r.rcode() == 4 and (r.edns, r.ednsflags) == (0, 0)  # no DO


def test_nsid_is_sent_only_when_asked_and_do_only_when_set(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A", use_edns=0, ednsflags=0x0001)  # a Z bit
    r = ask(fe, h, q)
    assert r is not None and r.rcode() == 0 and r.answer
    assert (r.edns, r.payload, r.ednsflags, nsid(r)) == (0, 1232, 0, [])
    r = ask(fe, h, nsid_query("www.example.test.", "A"))
    assert r is not None and nsid(r) == [b"dns.nyu.edu"] and r.ednsflags == 0


def test_two_questions_are_formerr_with_the_first_one_kept(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A")
    q.question.append(dns.message.make_query("mail.example.test.", "MX").question[0])
    for _ in range(2):
        r = ask(fe, h, q)
        assert r is not None and r.rcode() == dns.rcode.FORMERR and h.sent == []
        assert flags(r) == dns.flags.QR | dns.flags.RA | dns.flags.RD
        assert [str(rr.name) for rr in r.question] == ["www.example.test."]
    assert h.stats.formerr == 2


def test_two_opt_records_are_formerr(h: Harness) -> None:
    fe = frontend(h)
    q = DNSRecord(DNSHeader(id=7, rd=1), q=DNSQuestion("www.example.test.", QTYPE.A))
    q.add_ar(EDNS0(udp_len=1232))
    q.add_ar(EDNS0(udp_len=1232))
    data = bytes(q.pack())
    step = fe.begin(data, CLIENT, question_key(data), 512, h.now)
    assert isinstance(step, Answered) and step.wire is not None and step.problem is None
    assert dns.message.from_wire(step.wire).rcode() == dns.rcode.FORMERR
    assert h.stats.formerr == 1 and h.sent == []


def edns_query(version: int, ext_rcode: int = 0) -> bytes:
    q = DNSRecord(DNSHeader(id=9, rd=1), q=DNSQuestion("www.example.test.", QTYPE.A))
    q.add_ar(EDNS0(udp_len=1400, version=version, ext_rcode=ext_rcode))
    return bytes(q.pack())


@pytest.mark.parametrize("version", [1, 255])
def test_an_edns_version_other_than_0_is_badvers(h: Harness, version: int) -> None:
    fe = frontend(h)
    step = fe.begin(edns_query(version), CLIENT, None, 512, h.now)
    assert isinstance(step, Answered) and step.wire is not None and step.problem is None
    r = dns.message.from_wire(step.wire)
    assert (r.rcode(), r.edns, r.payload) == (dns.rcode.BADVERS, 0, 1232)
    assert not r.answer and h.sent == []


def test_edns_version_0_with_extended_rcode_bits_is_answered(h: Harness) -> None:
    fe = frontend(h)
    data = edns_query(0, ext_rcode=1)
    step = fe.begin(data, CLIENT, None, 512, h.now)
    assert isinstance(step, Resolve) and step.name == name_of("www.example.test")


def test_refused_clients_are_counted(h: Harness) -> None:
    fe = frontend(h)
    data = dns.message.make_query("www.example.test.", "A").to_wire()
    for _ in range(2):
        fe.begin(data, "192.0.2.1", None, 512, h.now)
    assert (h.stats.refused, h.stats.servfail, h.sent) == (2, 0, [])


# -- CHAOS and other classes, refused types --------------------------------------------------------


def test_a_chaos_answer_is_one_ch_txt_record_of_ttl_0_without_aa(h: Harness) -> None:
    q = dns.message.make_query("version.bind.", "TXT", rdclass=dns.rdataclass.CH)
    r = ask(frontend(h), h, q)
    assert r is not None and r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AA
    assert [(str(rs.name), rs.rdclass, rs.rdtype, rs.ttl) for rs in r.answer] == [
        ("version.bind.", dns.rdataclass.CH, dns.rdatatype.TXT, 0)
    ]
    assert r.answer[0][0].strings == (b"minternet test",)


@pytest.mark.parametrize(("name", "rdtype"), [("nothing.bind.", "TXT"), ("id.server.", "A")])
def test_other_chaos_questions_are_refused(h: Harness, name: str, rdtype: str) -> None:
    q = dns.message.make_query(name, rdtype, rdclass=dns.rdataclass.CH)
    r = ask(frontend(h), h, q)
    assert r is not None and r.rcode() == dns.rcode.REFUSED and not r.answer and h.sent == []


def test_a_chaos_answer_too_big_for_the_client_is_truncated(h: Harness) -> None:
    # the longest identity (255 octets) in TXT and in NSID does not fit 512 octets
    fe = frontend(h)
    fe.identity = Identity(identity="i" * 255, version="v")
    q = nsid_query("id.server.", "TXT", rdclass=dns.rdataclass.CH)
    r = ask(fe, h, q, limit=512)
    assert r is not None and r.flags & dns.flags.TC and not r.answer
    assert nsid(r) == [b"i" * 255] and r.question == q.question
    r = ask(fe, h, q, limit=None)
    assert r is not None and not r.flags & dns.flags.TC
    assert r.answer[0][0].strings == (b"i" * 255,)


def test_opt_as_a_question_type_is_refused_and_any_is_resolved(h: Harness) -> None:
    fe = frontend(h)
    r = ask(fe, h, dns.message.make_query("www.example.test.", dns.rdatatype.OPT))
    assert r is not None and r.rcode() == dns.rcode.REFUSED and h.sent == []
    data = dns.message.make_query("www.example.test.", "ANY").to_wire()
    step = fe.begin(data, CLIENT, question_key(data), 512, h.now)
    assert isinstance(step, Resolve) and step.qtype == dns.rdatatype.ANY


# -- our own data, the cache, RD=0 -----------------------------------------------------------------


def test_our_own_data_is_not_kept_as_a_packed_answer(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("localhost.", "A")
    r = ask(fe, h, q)
    assert r is not None and r.answer[0].ttl == 10800
    assert not fe.answers and not fe.hot
    h.now += 10
    assert fe.fast_answer(q.to_wire(), CLIENT, h.now)[0] is None
    r = ask(fe, h, q)
    assert r is not None and r.answer[0].ttl == 10800  # never counted down


def test_an_answer_from_the_cache_is_a_hit_not_a_miss(h: Harness) -> None:
    fe = frontend(h)
    ask(fe, h, dns.message.make_query("www.example.test.", "A"))
    fe.flush()  # no whole answers: the full path, from the record cache
    h.now += 5
    q = dns.message.make_query("www.example.test.", "A")
    r = ask(fe, h, q)
    assert r is not None and r.answer[0].ttl == 295
    assert (h.stats.cache_hits, h.stats.cache_misses, len(h.sent)) == (1, 1, 3)
    out, _ = fe.fast_answer(q.to_wire(), CLIENT, h.now)  # kept whole again
    assert out is not None and dns.message.from_wire(out).answer == r.answer
    fe.flush()
    ask(fe, h, q)
    assert (h.stats.cache_hits, h.stats.cache_misses, len(h.sent)) == (3, 1, 3)


def test_rd0_gets_a_referral_to_the_closest_cached_zone_with_its_glue(h: Harness) -> None:
    fe = frontend(h)
    ask(fe, h, dns.message.make_query("www.example.test.", "A"))
    sent = len(h.sent)
    q = dns.message.make_query("other.example.test.", "A")
    q.flags &= ~dns.flags.RD
    r = ask(fe, h, q)
    assert r is not None and len(h.sent) == sent and r.rcode() == dns.rcode.NOERROR
    assert flags(r) == dns.flags.QR | dns.flags.RA and not r.answer
    assert [rr.to_text() for rr in r.authority] == ["example.test. 3599 IN NS ns.example.test."]
    assert [rr.to_text() for rr in r.additional] == ["ns.example.test. 3599 IN A 127.0.0.12"]
    assert fe.fast_answer(q.to_wire(), CLIENT, h.now)[0] is None  # a referral is not kept


def test_rd0_with_the_answer_cached_gets_it_without_rd(h: Harness) -> None:
    # the keyed path's own writer (`_direct`), from the record cache
    fe = frontend(h)
    first = ask(fe, h, dns.message.make_query("www.example.test.", "A"))
    assert first is not None and flags(first) == dns.flags.QR | dns.flags.RD | dns.flags.RA
    sent = len(h.sent)
    q = dns.message.make_query("www.example.test.", "A")
    q.flags &= ~dns.flags.RD
    r = ask(fe, h, q)
    assert r is not None and len(h.sent) == sent and r.id == q.id
    assert flags(r) == dns.flags.QR | dns.flags.RA and r.rcode() == dns.rcode.NOERROR
    assert [rr.to_text() for rr in r.answer] == [rr.to_text() for rr in first.answer]


def test_rd1_with_a_cname_chain_cut_short_resolves_the_rest(h: Harness) -> None:
    fe = frontend(h)
    cname = RRset(
        name_of("alias.example.test"), QTYPE.CNAME, 300, (b"\x03www\x07example\x04test\x00",)
    )
    h.resolver.cache.put_rrset(cname, Rank.ANSWER, h.now)
    data = dns.message.make_query("alias.example.test.", "A").to_wire()
    step = fe.begin(data, CLIENT, question_key(data), 512, h.now)
    assert isinstance(step, Resolve) and step.name == name_of("alias.example.test")
    assert (h.stats.cache_hits, h.stats.cache_misses) == (0, 1)


def test_rd0_gets_a_cname_chain_cut_short_as_it_is(h: Harness) -> None:
    fe = frontend(h)
    cname = RRset(
        name_of("alias.example.test"), QTYPE.CNAME, 300, (b"\x03www\x07example\x04test\x00",)
    )
    h.resolver.cache.put_rrset(cname, Rank.ANSWER, h.now)
    q = dns.message.make_query("alias.example.test.", "A")
    q.flags &= ~dns.flags.RD
    r = ask(fe, h, q)
    assert r is not None and r.rcode() == dns.rcode.NOERROR and h.sent == []
    assert [rr.to_text() for rr in r.answer] == [
        "alias.example.test. 300 IN CNAME www.example.test."
    ]
    assert not r.authority


def test_a_referral_given_for_rd0_is_not_served_to_rd1(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A")
    q.flags &= ~dns.flags.RD
    r = ask(fe, h, q)  # primes the root: a referral to it
    assert r is not None and not r.answer
    assert [rr.to_text() for rr in r.authority] == [". 3600 IN NS a.root.test."]
    again = ask(fe, h, q)  # from the cache alone now
    assert again is not None and again.authority == r.authority
    q.flags |= dns.flags.RD
    assert fe.fast_answer(q.to_wire(), CLIENT, h.now)[0] is None
    r = ask(fe, h, q)
    assert r is not None and [rd.address for rs in r.answer for rd in rs] == ["127.1.0.1"]


def test_priming_that_fails_is_servfail(h: Harness) -> None:
    for s in h.net.values():
        s.down = True
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A")
    q.flags &= ~dns.flags.RD
    r = ask(fe, h, q)
    assert r is not None and r.rcode() == dns.rcode.SERVFAIL and not r.authority
    assert h.stats.servfail == 1 and not fe.answers


# -- which answers are kept whole, and served again ------------------------------------------------


def test_nxdomain_is_kept_and_served_again_counted(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("nope.example.test.", "A")
    r = ask(fe, h, q)
    assert r is not None and r.rcode() == dns.rcode.NXDOMAIN and h.stats.nxdomain == 1
    h.now += 3
    out, qk = fe.fast_answer(q.to_wire(), CLIENT, h.now)
    assert out is not None and qk is not None and h.stats.cache_hits == 1
    fast = dns.message.from_wire(out)
    assert fast.rcode() == dns.rcode.NXDOMAIN and fast.authority[0].ttl == 297


def test_every_local_nxdomain_is_counted_once_and_nothing_else_is(h: Harness) -> None:
    # our own data (RFC 6303: nothing below 1.0.0.127.in-addr.arpa.) goes through dnslib
    fe = frontend(h)
    for _ in range(2):
        r = ask(fe, h, dns.message.make_query("x.1.0.0.127.in-addr.arpa.", "PTR"))
        assert r is not None and r.rcode() == dns.rcode.NXDOMAIN
    for name, rdtype in [
        ("localhost.", "A"),
        ("localhost.", "AAAA"),
        ("1.0.0.127.in-addr.arpa.", "PTR"),
    ]:
        r = ask(fe, h, dns.message.make_query(name, rdtype))
        assert r is not None and r.rcode() == dns.rcode.NOERROR and r.answer
    assert (h.stats.nxdomain, h.stats.servfail, h.sent) == (2, 0, [])


def test_servfail_and_stale_answers_are_not_kept(h: Harness) -> None:
    h = Harness(default_net(), cache_config=CacheConfig(serve_stale=True))
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A")
    ask(fe, h, q)
    fe.flush()
    h.now += 7200
    for s in h.net.values():
        s.down = True
    r = ask(fe, h, q)
    assert r is not None and r.rcode() == 0 and r.answer[0].ttl == 30
    assert not fe.answers and h.stats.stale_answers == 1
    r = ask(fe, h, dns.message.make_query("mail.example.test.", "A"))
    assert r is not None and r.rcode() == dns.rcode.SERVFAIL
    assert not fe.answers and h.stats.servfail == 1


def test_a_query_the_fast_path_cannot_key_is_answered_but_not_kept(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A", use_edns=0, payload=1232)
    q.additional.append(dns.rrset.from_text("x.example.test.", 60, "IN", "A", "192.0.2.1"))
    data = q.to_wire()
    step = fe.begin(data, CLIENT, question_key(data), 1232, h.now)
    assert isinstance(step, Resolve)
    res = h.resolve("www.example.test")
    assert dns.message.from_wire(fe.finish(step, res, h.now)).answer
    assert not fe.answers and not fe.hot


def test_an_answer_with_ttl_0_is_not_kept(h: Harness) -> None:
    fe = frontend(h)
    h.net["127.0.0.12"].zones[0].rrs[-1].ttl = 0  # one of big.example.test's TXT records
    q = dns.message.make_query("big.example.test.", "TXT")
    r = ask(fe, h, q, limit=None)
    assert r is not None and min(rs.ttl for rs in r.answer) == 0
    assert not fe.answers and not fe.hot


def test_the_packed_cache_drops_the_least_recently_used(h: Harness) -> None:
    fe = frontend(h, answer_cache_size=2)
    www, mail, alias = (
        dns.message.make_query(n, "A")
        for n in ("www.example.test.", "mail.example.test.", "alias.example.test.")
    )
    ask(fe, h, www)
    ask(fe, h, mail)
    assert fe.fast_answer(www.to_wire(), CLIENT, h.now)[0] is not None  # www is used again
    ask(fe, h, alias)  # mail goes
    assert fe.fast_answer(www.to_wire(), CLIENT, h.now)[0] is not None
    assert fe.fast_answer(mail.to_wire(), CLIENT, h.now)[0] is None


def test_a_packed_answer_expires_at_its_smallest_ttl(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.other.test.", "A")  # TTL 60
    ask(fe, h, q)
    start = h.now
    out, _ = fe.fast_answer(q.to_wire(), CLIENT, start + 59.5)
    assert out is not None and dns.message.from_wire(out).answer[0].ttl == 1
    assert fe.fast_answer(q.to_wire(), CLIENT, start + 60)[0] is None
    assert not fe.answers


def test_fast_answers_copy_the_clients_id_rd_and_spelling(h: Harness) -> None:
    fe = frontend(h)
    ask(fe, h, dns.message.make_query("www.example.test.", "A"))
    q = dns.message.make_query("WWW.Example.TEST.", "A", id=999)
    q.flags &= ~dns.flags.RD
    out, _ = fe.fast_answer(q.to_wire(), CLIENT, h.now)
    assert out is not None
    r = dns.message.from_wire(out)
    assert r.id == 999 and flags(r) == dns.flags.QR | dns.flags.RA
    assert str(r.question[0].name) == "WWW.Example.TEST."


# -- truncation ------------------------------------------------------------------------------------


def sizes(fe: Frontend, h: Harness, q: dns.message.Message) -> tuple[int, int]:
    """The size of the whole answer, and of it without its additional section."""
    full = ask(fe, h, q, limit=None)
    assert full is not None and full.additional
    whole = len(full.to_wire())
    full.additional = []
    return whole, len(full.to_wire())


def test_additional_data_goes_first_then_everything_but_the_question(h: Harness) -> None:
    fe = frontend(h)
    ask(fe, h, dns.message.make_query("mail.example.test.", "A"))  # the MX target's address
    q = dns.message.make_query("example.test.", "MX", use_edns=0, payload=4096)
    whole, bare = sizes(fe, h, q)
    r = ask(fe, h, q, limit=whole)  # exactly fits
    assert r is not None and not r.flags & dns.flags.TC and r.additional and r.edns == 0
    r = ask(fe, h, q, limit=whole - 1)
    assert r is not None and not r.flags & dns.flags.TC and r.answer and not r.additional
    assert len(r.to_wire()) == bare and r.edns == 0
    r = ask(fe, h, q, limit=bare)
    assert r is not None and not r.flags & dns.flags.TC and r.answer
    r = ask(fe, h, q, limit=bare - 1)
    assert r is not None and r.id == q.id and r.rcode() == dns.rcode.NOERROR
    assert flags(r) == dns.flags.QR | dns.flags.RD | dns.flags.RA | dns.flags.TC
    assert not r.answer and not r.authority
    assert r.question == q.question and r.edns == 0 and r.payload == 1232


def test_a_referral_without_its_glue_fits_at_exactly_the_clients_size(h: Harness) -> None:
    # a referral is written by dnslib (`_respond`), not by the direct writer
    fe = frontend(h)
    ask(fe, h, dns.message.make_query("www.example.test.", "A"))
    q = dns.message.make_query("other.example.test.", "A")
    q.flags &= ~dns.flags.RD
    whole, bare = sizes(fe, h, q)
    r = ask(fe, h, q, limit=bare)
    assert r is not None and not r.flags & dns.flags.TC and len(r.to_wire()) == bare
    assert [rr.to_text() for rr in r.authority] == ["example.test. 3599 IN NS ns.example.test."]
    assert not r.additional and whole > bare
    r = ask(fe, h, q, limit=bare - 1)
    assert r is not None and r.flags & dns.flags.TC and not r.authority


# -- the hot map of exact queries, as the UDP listener serves it -----------------------------------


class FakeStub:
    """What StubUdp needs of the daemon; a query for the full path is recorded, not run."""

    def __init__(self, fe: Frontend) -> None:
        self.frontend = fe
        self.stats = fe.stats
        self.tasks = self
        self.slow: list[str] = []

    def spawn(self, coro: Any, what: str) -> None:
        coro.close()
        self.slow.append(what)

    def admit(self, client: str, now: float) -> bool:
        return True

    def shed_early(self, data: bytes, qk: Any, client: str, now: float) -> bytes | None:
        return None

    def begin(
        self, data: bytes, client: str, qk: Any, limit: int | None, now: float
    ) -> bytes | Pending | None:
        step = self.frontend.begin(data, client, qk, limit, now)
        return step.wire if isinstance(step, Answered) else Pending(step, Ticket(0, client, now))

    async def complete(self, pending: Pending, reply: Any) -> None:
        raise AssertionError("not run")

    def throttle(self, *args: Any) -> None:
        pass


def udp(fe: Frontend, data: bytes, now: float) -> bytes | None:
    """One datagram through the resolver's UDP handler: its answer, or None (the full path)."""
    stub = FakeStub(fe)
    out: list[Any] = []
    StubUdp(stub).datagrams([(data, (CLIENT, 5353))], now, out)  # type: ignore[arg-type]
    assert len(out) + len(stub.slow) == 1
    return out[0][0] if out else None


def ttl_of(wire: bytes) -> int:
    return dns.message.from_wire(wire).answer[0].ttl


def test_an_exact_repeat_is_served_hot_and_counted_down_once_a_second(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.other.test.", "A", id=1)  # TTL 60
    ask(fe, h, q)
    t0 = h.now  # the answer was made now
    data = q.to_wire()
    assert data[2:] in fe.hot
    hits = h.stats.cache_hits
    for dt, ttl in [(0.0, 60), (0.99, 60), (1.0, 59), (1.5, 59), (2.25, 58), (59.0, 1)]:
        out = udp(fe, b"\x00\x07" + data[2:], t0 + dt)
        assert out is not None and out[:2] == b"\x00\x07" and ttl_of(out) == ttl, dt
    assert h.stats.cache_hits == hits + 6


def test_a_hot_entry_refreshed_serves_its_ttls_until_the_next_second(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.other.test.", "A", id=1)
    ask(fe, h, q)
    t0 = h.now  # the answer was made now
    data = q.to_wire()
    hot = fe.hot[data[2:]]
    out = fe.hot_refresh(b"\x00\x05" + data[2:], hot, t0 + 10.25)
    assert out is not None and out[:2] == b"\x00\x05" and ttl_of(out) == 50
    assert (hot[0], hot[1]) == (out[2:], t0 + 11)
    out = fe.hot_refresh(data, hot, t0 + 59.5)
    assert out is not None and ttl_of(out) == 1 and hot[1] == t0 + 60
    r = dns.message.from_wire(out)
    assert flags(r) == dns.flags.QR | dns.flags.RD | dns.flags.RA and r.question == q.question


def test_a_hot_entry_goes_when_its_answer_expires(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.other.test.", "A", id=1)
    ask(fe, h, q)
    t0 = h.now  # the answer was made now
    data = q.to_wire()
    assert fe.hot_refresh(data, fe.hot[data[2:]], t0 + 60) is None
    assert data[2:] not in fe.hot
    assert udp(fe, data, t0 + 60) is None  # to the full path, to be resolved again


def test_an_answer_too_big_for_the_client_is_never_hot(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("big.example.test.", "TXT")
    ask(fe, h, q, limit=None)  # over TCP: kept whole
    data = q.to_wire()
    assert fe.answers and not fe.hot
    out = udp(fe, data, h.now)  # 512 octets: the full path truncates it, in the same callback
    assert out is not None and dns.message.from_wire(out).flags & dns.flags.TC and not fe.hot
    out, _ = fe.fast_answer(data, CLIENT, h.now)
    assert out is not None and len(out) > 512 and not fe.hot
    r = ask(fe, h, q, limit=512)
    assert r is not None and r.flags & dns.flags.TC and not fe.hot
    assert udp(fe, data, h.now) == out[:2] + r.to_wire()[2:] and not fe.hot


def test_a_fast_answer_that_fits_becomes_hot(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.other.test.", "A", id=1)
    ask(fe, h, q)
    t0 = h.now  # the answer was made now
    fe.hot.clear()
    out = udp(fe, q.to_wire(), t0 + 2.5)
    assert out is not None and ttl_of(out) == 58
    assert fe.hot[q.to_wire()[2:]][1] == t0 + 3


def test_an_answer_that_cannot_be_served_again_evicts_nothing(h: Harness) -> None:
    # TTL 0, or no records at all (an authoritative empty answer without SOA): nothing to keep
    h.net["127.0.0.12"].zones[0].rrs.extend(RR.fromZone("zero.example.test. 0 IN A 127.1.0.7"))
    fe = frontend(h, answer_cache_size=1)
    www = dns.message.make_query("www.example.test.", "A")
    ask(fe, h, www)
    r = ask(fe, h, dns.message.make_query("zero.example.test.", "A"))
    assert r is not None and r.answer[0].ttl == 0
    h.net["127.0.0.12"].handler = lambda q: DNSRecord(DNSHeader(id=q.header.id, qr=1, aa=1), q=q.q)
    r = ask(fe, h, dns.message.make_query("empty.example.test.", "A"))
    assert r is not None and r.rcode() == 0 and not r.answer and not r.authority
    assert fe.fast_answer(www.to_wire(), CLIENT, h.now)[0] is not None
    assert len(fe.answers) == 1


def test_a_fast_answer_of_exactly_the_clients_size_becomes_hot(h: Harness) -> None:
    fe = frontend(h)
    r = ask(fe, h, dns.message.make_query("big.example.test.", "TXT", use_edns=0), limit=None)
    assert r is not None
    size = len(r.to_wire())
    assert size > 512
    for payload, hot in [(size - 1, False), (size, True)]:
        data = dns.message.make_query("big.example.test.", "TXT", use_edns=0, payload=payload)
        wire = data.to_wire()
        out, _ = fe.fast_answer(wire, CLIENT, h.now)
        assert out is not None and len(out) == size
        assert (wire[2:] in fe.hot) is hot


def test_packed_answers_are_not_for_clients_outside_the_allowed_networks(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A")
    ask(fe, h, q)
    assert fe.fast_answer(q.to_wire(), CLIENT, h.now)[0] is not None
    out, qk = fe.fast_answer(q.to_wire(), "192.0.2.1", h.now)
    assert out is None and qk is not None and h.stats.cache_hits == 1


def test_every_fast_answer_and_nxdomain_is_counted_and_rd_copied(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("nope.example.test.", "A")
    for _ in range(2):
        ask(fe, h, dns.message.make_query("nope.example.test.", "MX"))
    assert h.stats.nxdomain == 2
    ask(fe, h, q)
    for _ in range(2):
        out, _ = fe.fast_answer(q.to_wire(), CLIENT, h.now)
        assert out is not None
        assert flags(dns.message.from_wire(out)) == dns.flags.QR | dns.flags.RD | dns.flags.RA
    assert (h.stats.cache_hits, h.stats.nxdomain) == (4, 3)  # the second MX: the record cache


def test_a_full_answer_of_exactly_the_clients_size_becomes_hot(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("big.example.test.", "TXT")
    r = ask(fe, h, q, limit=None)
    assert r is not None and not fe.hot
    size = len(r.to_wire())
    for limit, hot in [(size - 1, False), (size, True)]:
        fe.flush()
        r = ask(fe, h, q, limit=limit)
        assert r is not None and bool(r.flags & dns.flags.TC) is not hot
        assert (q.to_wire()[2:] in fe.hot) is hot


def test_a_full_answer_the_direct_writer_leaves_to_dnslib_is_hot_at_exactly_the_size(
    h: Harness,
) -> None:
    # CAA is not a type `_direct` writes: this answer is packed by dnslib (`_respond`)
    h.net["127.0.0.12"].zones[0].rrs.extend(
        RR.fromZone(f'caa.example.test. 300 IN CAA 0 issue "{i:02d}{"x" * 60}.test"')[0]
        for i in range(10)
    )
    fe = frontend(h)
    q = dns.message.make_query("caa.example.test.", "CAA")
    r = ask(fe, h, q, limit=None)
    assert r is not None and len(r.answer[0]) == 10 and not fe.hot
    size = len(r.to_wire())
    assert size > 512
    for limit, hot in [(size - 1, False), (size, True)]:
        fe.flush()
        got = ask(fe, h, q, limit=limit)  # from the record cache, through dnslib
        assert got is not None and bool(got.flags & dns.flags.TC) is not hot
        assert (q.to_wire()[2:] in fe.hot) is hot
    assert h.stats.cache_hits == 2


def test_a_referral_to_many_root_servers_is_fitted_to_the_client(h: Harness) -> None:
    root = h.net["127.0.0.10"].zones[0]
    for i in range(13):
        letter = "abcdefghijklm"[i]
        root.rrs.extend(RR.fromZone(f". 3600 IN NS {letter}.root-servers.test."))
        root.rrs.extend(RR.fromZone(f"{letter}.root-servers.test. 3600 IN A 127.0.9.{i}"))
        root.rrs.extend(RR.fromZone(f"{letter}.root-servers.test. 3600 IN AAAA ::{i + 1}"))
    answer = root.answer
    root.answer = lambda q: with_glue(answer(q), root)  # type: ignore[method-assign]
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A")
    q.flags &= ~dns.flags.RD
    r = ask(fe, h, q, limit=512)  # primes: the root's NS set, and its addresses as glue
    assert r is not None and not r.flags & dns.flags.TC and len(r.to_wire()) <= 512
    assert len(r.authority[0]) == 14 and not r.additional
    r = ask(fe, h, q, limit=None)
    assert r is not None and len(r.additional) == 27
    r = ask(fe, h, q, limit=512)  # from the cache this time
    assert r is not None and not r.flags & dns.flags.TC and len(r.to_wire()) <= 512
    assert len(r.authority[0]) == 14 and not r.additional


def with_glue(r: DNSRecord, zone: Any) -> DNSRecord:
    """The root's answer to `. NS` with the addresses of its servers, as real roots give."""
    if r.q.qtype == QTYPE.NS and str(r.q.qname) == ".":
        targets = {str(rr.rdata) for rr in r.rr}
        for rr in zone.rrs:
            if rr.rtype in (QTYPE.A, QTYPE.AAAA) and str(rr.rname) in targets:
                r.add_ar(rr)
    return r


def test_rd0_into_a_cname_loop_is_servfail_from_the_cache(h: Harness) -> None:
    h.net["127.0.0.12"].zones[0].rrs.extend(
        RR.fromZone(
            "into.example.test. 300 IN CNAME loop1.example.test.\n"
            "loop1.example.test. 300 IN CNAME loop2.example.test.\n"
            "loop2.example.test. 300 IN CNAME loop1.example.test."
        )
    )
    fe = frontend(h)
    q = dns.message.make_query("into.example.test.", "A")
    r = ask(fe, h, q)
    assert r is not None and r.rcode() == dns.rcode.SERVFAIL and len(r.answer) == 3
    sent = len(h.sent)
    q.flags &= ~dns.flags.RD
    again = ask(fe, h, q)  # the loop does not include the name asked for
    assert again is not None and again.rcode() == dns.rcode.SERVFAIL and len(h.sent) == sent
    assert again.answer == r.answer and not again.authority  # the chain, as the first time


def longest(name: str) -> str:
    """`name` under as many labels as make it 255 octets on the wire."""
    while (room := 255 - (len(name) + 1) - 1) > 0:
        name = "a" * min(63, room) + "." + name
    return name


@pytest.mark.parametrize(
    ("client", "name", "rdclass"),
    [
        ("192.0.2.1", "www.example.test.", dns.rdataclass.IN),  # not allowed
        (CLIENT, "www.example.test.", dns.rdataclass.HS),  # class IN only
        (CLIENT, "localhost.", dns.rdataclass.IN),  # ANY below localhost: A and AAAA
    ],
)
def test_refusals_and_our_own_data_are_fitted_to_the_client_too(
    h: Harness, client: str, name: str, rdclass: int
) -> None:
    # a long name and a 255-octet identity in NSID do not fit 512 octets
    fe = frontend(h)
    fe.identity = Identity(identity="i" * 255, version="v")
    q = nsid_query(longest(name), "ANY" if name == "localhost." else "A", rdclass=rdclass)
    for limit, tc in [(512, True), (None, False)]:
        r = ask(fe, h, q, client=client, limit=limit)
        assert r is not None and bool(r.flags & dns.flags.TC) is tc
        assert nsid(r) == [b"i" * 255] and h.sent == []


def test_every_miss_is_counted(h: Harness) -> None:
    fe = frontend(h)
    for name in ("www.example.test.", "mail.example.test."):
        data = dns.message.make_query(name, "A").to_wire()
        assert isinstance(fe.begin(data, CLIENT, question_key(data), 512, h.now), Resolve)
    assert (h.stats.cache_misses, h.stats.cache_hits) == (2, 0)


# -- shedding: what a query that gets no resolution is answered -------------------------------


def keyed(q: dns.message.Message) -> tuple[bytes, Any]:
    data = q.to_wire()
    qk = question_key(data)
    assert qk is not None
    return data, qk


def answerable(fe: Frontend, q: dns.message.Message, now: float) -> bool:
    name, qtype = question(keyed(q)[1])
    return fe.answerable(name, qtype, now)


def test_a_keyed_query_s_question_is_its_lowercased_name_and_type() -> None:
    q = dns.message.make_query("WWW.Example.TEST.", "MX", use_edns=0)
    assert question(keyed(q)[1]) == ((b"www", b"example", b"test"), 15)
    assert question(keyed(dns.message.make_query(".", "NS"))[1]) == ((), 2)


def test_answerable_means_the_cache_or_our_own_data_answers_it(h: Harness) -> None:
    fe = frontend(h)
    www = dns.message.make_query("WWW.Example.TEST.", "A")
    assert not answerable(fe, www, h.now)
    ask(fe, h, dns.message.make_query("www.example.test.", "A"))
    assert answerable(fe, www, h.now)  # the cache, whatever the case
    assert not answerable(fe, dns.message.make_query("www.example.test.", "MX"), h.now)
    ask(fe, h, dns.message.make_query("nope.example.test.", "A"))
    nope = dns.message.make_query("nope.example.test.", "TXT")
    assert answerable(fe, nope, h.now)  # a cached NXDOMAIN answers every type
    assert not answerable(fe, nope, h.now + 3600)  # once it expired, no more
    assert answerable(fe, dns.message.make_query("localhost.", "A"), h.now)
    assert answerable(fe, dns.message.make_query("1.0.0.127.in-addr.arpa.", "PTR"), 0)


def test_a_cached_servfail_is_not_an_answer_that_spares_a_query(h: Harness) -> None:
    fe = frontend(h)
    h.net["127.0.0.13"].down = True
    r = ask(fe, h, dns.message.make_query("www.other.test.", "A"))
    assert r is not None and r.rcode() == dns.rcode.SERVFAIL
    assert not answerable(fe, dns.message.make_query("www.other.test.", "A"), h.now)


@pytest.mark.parametrize(
    ("edns", "do", "rd", "nsid"),
    [
        (False, False, True, False),
        (True, False, False, False),
        (True, True, True, False),
        (True, False, True, True),
        (True, True, True, True),
    ],
)
def test_a_shed_query_is_answered_servfail_from_its_own_bytes(
    h: Harness, edns: bool, do: bool, rd: bool, nsid: bool
) -> None:
    fe = frontend(h)
    q = dns.message.make_query("Shed.Example.TEST.", "AAAA", use_edns=0 if edns else False, id=4242)
    opts = [dns.edns.GenericOption(dns.edns.NSID, b"")] if nsid else []
    if edns:
        q.use_edns(0, dns.flags.DO if do else 0, 4096, options=opts)
    if not rd:
        q.flags &= ~dns.flags.RD
    data, qk = keyed(q)
    before = h.stats.servfail
    fe.shed_keyed(data, qk)
    out = fe.shed_keyed(data, qk)
    r = dns.message.from_wire(out)
    assert r.id == 4242 and r.rcode() == dns.rcode.SERVFAIL
    assert flags(r) == dns.flags.QR | dns.flags.RA | (dns.flags.RD if rd else 0)
    assert r.question == q.question and r.question[0].name.to_text() == "Shed.Example.TEST."
    assert not r.answer and not r.authority
    if edns:
        assert (r.edns, r.payload, r.ednsflags) == (0, 1232, dns.flags.DO if do else 0)
        assert not r.options
    else:
        assert r.edns == -1
    assert h.stats.servfail == before + 2
    slow = DNSRecord.parse(out)  # and dnslib reads the same message
    assert (slow.header.id, slow.header.rcode, len(slow.questions)) == (4242, 2, 1)
    assert len(out) == 12 + len(qk.qname_wire) + 4 + (11 if edns else 0)


def test_a_shed_step_is_answered_servfail_through_the_encoder(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("x.example.test.", "A", use_edns=0, id=9)
    step = fe.begin(q.to_wire(), CLIENT, None, 512, h.now)
    assert isinstance(step, Resolve)
    r = dns.message.from_wire(fe.shed(step, h.now))
    assert (r.id, r.rcode(), r.question, r.edns) == (9, dns.rcode.SERVFAIL, q.question, 0)
    assert not fe.answers  # a SERVFAIL is never kept


def test_rates_are_what_each_counter_grew_over_the_last_second() -> None:
    from dnsserver.resolver.stats import PER_SECOND, Rates, Stats

    stats, rates = Stats(), Rates()
    stats.queries = 10
    rates.tick(stats, {"resolutions": 3})
    assert rates.last_second == {}  # one snapshot is no rate yet
    stats.queries, stats.answers, stats.shed_zone, stats.jostled = 25, 9, 4, 1
    rates.tick(stats, {"resolutions": 5})
    assert rates.last_second == dict.fromkeys(PER_SECOND, 0) | {
        "queries": 15,
        "answers": 9,
        "shed_zone": 4,
        "jostled": 1,
        "resolutions": 5,
    }
    stats.queries = 26
    rates.tick(stats, {"resolutions": 0})
    assert rates.last_second["queries"] == 1 and rates.last_second["answers"] == 0
