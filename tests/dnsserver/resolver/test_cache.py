"""The cache, packed answers and client policy: pure tests with an injected clock."""

from __future__ import annotations

import contextlib

import dns.edns
import dns.message
from dnslib import EDNS0, QTYPE, RR, DNSRecord
from hypothesis import given
from hypothesis import strategies as st

from dnsserver.resolver.cache import Cache, CacheConfig, Rank
from dnsserver.resolver.packed import PackedAnswer, question_key, ttl_offsets
from dnsserver.resolver.policy import Policy, PolicyConfig
from dnsserver.resolver.rrset import RRset, group, name_of


def a_set(name: str, ttl: int = 300, addr: str = "127.0.0.1") -> RRset:
    return next(iter(group(RR.fromZone(f"{name} {ttl} IN A {addr}")).values()))


def test_lru_cap_holds_under_a_flood_of_unique_names() -> None:
    c = Cache(CacheConfig(max_entries=100))
    keep = a_set("keep.test.")
    c.put_rrset(keep, Rank.ANSWER, 0.0)
    for i in range(1000):
        c.put_rrset(a_set(f"n{i}.flood.test."), Rank.ANSWER, 0.0)
        if i % 10 == 0:
            assert c.get(keep.name, QTYPE.A, 0.0) is not None  # recently used: survives
    assert len(c) == 100 and c.evictions == 901
    assert c.get(name_of("n0.flood.test."), QTYPE.A, 0.0) is None


def test_glue_does_not_replace_an_answer_but_an_answer_replaces_glue() -> None:
    c = Cache()
    c.put_rrset(a_set("ns.test.", addr="127.0.0.1"), Rank.ANSWER, 0.0)
    c.put_rrset(a_set("ns.test.", addr="127.0.0.66"), Rank.GLUE, 1.0)
    got = c.get(name_of("ns.test."), QTYPE.A, 2.0)
    assert got is not None and got.to_rrs()[0].rdata.toZone() == "127.0.0.1"
    c.put_rrset(a_set("g.test.", addr="127.0.0.2"), Rank.GLUE, 0.0)
    assert c.get(name_of("g.test."), QTYPE.A, 0.0, min_rank=Rank.ANSWER) is None
    c.put_rrset(a_set("g.test.", addr="127.0.0.3"), Rank.ANSWER, 0.0)
    assert c.get(name_of("g.test."), QTYPE.A, 0.0, min_rank=Rank.ANSWER) is not None


def test_negative_ttl_is_the_soa_minimum_capped() -> None:
    soa = next(iter(group(RR.fromZone("t. 3600 IN SOA ns.t. h.t. 1 2 3 4 900")).values()))
    c = Cache(CacheConfig(max_negative_ttl=600))
    c.put_negative(name_of("x.t."), QTYPE.A, True, soa, 0.0)
    neg = c.get_negative(name_of("x.t."), QTYPE.AAAA, 10.0)
    assert neg is not None and neg.nxdomain and neg.soa is not None and neg.soa.ttl == 590
    assert c.get_negative(name_of("x.t."), QTYPE.A, 600.5) is None
    c.put_negative(name_of("y.t."), QTYPE.A, False, None, 0.0)  # no SOA: not cached
    assert c.get_negative(name_of("y.t."), QTYPE.A, 0.0) is None


def test_flush_name_and_subtree() -> None:
    c = Cache()
    for n in ("a.t.", "b.a.t.", "c.t."):
        c.put_rrset(a_set(n), Rank.ANSWER, 0.0)
    assert c.flush(name_of("a.t.")) == 1
    assert c.flush(name_of("t."), subtree=True) == 2
    assert len(c) == 0


def _answer(qname: str, ttl: int, edns: bool) -> tuple[bytes, bytes]:
    q = DNSRecord.question(qname, "A")
    if edns:
        q.add_ar(EDNS0(udp_len=1232))
    r = q.reply(ra=1, aa=0)
    r.add_answer(*RR.fromZone(f"{qname} {ttl} IN A 127.0.0.9"))
    r.add_answer(*RR.fromZone(f"{qname} {ttl + 100} IN A 127.0.0.8"))
    if edns:
        r.add_ar(EDNS0(udp_len=1232))
    return bytes(q.pack()), bytes(r.pack())


def test_packed_answer_patches_id_case_rd_and_counts_ttls_down() -> None:
    query, answer = _answer("www.example.test", 300, edns=True)
    p = PackedAnswer(answer, 100.0)
    assert p.expires == 400.0
    client = DNSRecord.question("WWW.example.TEST", "A")
    client.header.id = 4242
    client.header.rd = 0
    client.add_ar(EDNS0(udp_len=4096))
    qk = question_key(bytes(client.pack()))
    assert qk is not None and qk.udp_size == 4096 and not qk.rd
    assert qk.key == question_key(query).key  # type: ignore[union-attr]
    out = DNSRecord.parse(p.render(4242, qk.qname_wire, qk.rd, 130.9))
    assert out.header.id == 4242 and out.header.rd == 0
    assert str(out.q.qname) == "WWW.example.TEST."
    assert [r.ttl for r in out.rr] == [270, 370]
    assert [r.rtype for r in out.ar] == [QTYPE.OPT]


def test_question_key_refuses_what_it_cannot_serve_fast() -> None:
    q = DNSRecord.question("x.test", "A")
    wire = bytes(q.pack())
    assert question_key(wire) is not None
    assert question_key(wire[:-1]) is None
    resp = bytearray(wire)
    resp[2] |= 0x80  # a response, not a query
    assert question_key(bytes(resp)) is None
    plain, do = DNSRecord.question("x.test", "A"), DNSRecord.question("x.test", "A")
    plain.add_ar(EDNS0(udp_len=1232))
    do.add_ar(EDNS0(udp_len=1232, flags="do"))
    kp, kd = question_key(bytes(plain.pack())), question_key(bytes(do.pack()))
    assert kp is not None and kd is not None and kp.key != kd.key  # DO is echoed: not shared
    q.add_ar(EDNS0(version=1))
    assert question_key(bytes(q.pack())) is None  # BADVERS is answered on the slow path


def test_question_key_tells_nsid_queries_apart() -> None:
    # RFC 5001: an answer carrying our NSID must never be served to a query without it
    plain = dns.message.make_query("x.test", "A", use_edns=0).to_wire()
    nsid = dns.message.make_query(
        "x.test", "A", use_edns=0, options=[dns.edns.GenericOption(dns.edns.NSID, b"")]
    ).to_wire()
    cookie = dns.message.make_query(
        "x.test", "A", use_edns=0, options=[dns.edns.GenericOption(dns.edns.COOKIE, b"c" * 8)]
    ).to_wire()
    kp, kn, kc = question_key(plain), question_key(nsid), question_key(cookie)
    assert kp is not None and kn is not None and kc is not None
    assert kn.key != kp.key and kc.key == kp.key
    assert question_key(nsid[:-1] + b"\x05") is None  # an option length past the end
    assert question_key(plain + b"\x00") is None  # something after the OPT record


@given(st.binary(max_size=300))
def test_wire_walkers_never_raise_unexpectedly(data: bytes) -> None:
    question_key(data)
    with contextlib.suppress(ValueError):
        ttl_offsets(data)


def test_acl_and_rate_limit() -> None:
    p = Policy(PolicyConfig(allow=("127.0.0.0/8",), rate_limit=10.0))
    assert p.allowed("127.0.0.5") and not p.allowed("192.0.2.1") and not p.allowed("nonsense")
    admitted = sum(p.admit("127.0.0.5", 0.0) for _ in range(50))
    assert admitted == 10
    assert p.admit("127.0.0.5", 0.5)  # half a second refills five tokens
    assert p.admit("127.0.0.6", 0.0)  # other clients are not affected
