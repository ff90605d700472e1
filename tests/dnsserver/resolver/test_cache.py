"""The cache, packed answers and client policy: pure tests with an injected clock."""

from __future__ import annotations

import contextlib

import dns.edns
import dns.message
from dnslib import EDNS0, QTYPE, RR, DNSRecord
from hypothesis import given
from hypothesis import strategies as st

from dnsserver.resolver.cache import NXDOMAIN_KEY, Cache, CacheConfig, Negative, Rank
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


# -- the cache's edges: TTL 0 and 1, the second of expiry, serve-stale, negative entries -----

SOA_T = "t. 3600 IN SOA ns.t. h.t. 1 2 3 4 900"


def soa_set(text: str = SOA_T) -> RRset:
    return next(iter(group(RR.fromZone(text)).values()))


def addrs(s: RRset | None) -> list[str]:
    assert s is not None
    return [rr.rdata.toZone() for rr in s.to_rrs()]


def test_ttl_zero_is_never_cached_and_ttl_one_lives_exactly_one_second() -> None:
    c = Cache()
    c.put_rrset(a_set("zero.t.", ttl=0), Rank.ANSWER, 10.0)
    assert len(c) == 0 and c.get(name_of("zero.t."), QTYPE.A, 10.0) is None
    c.put_rrset(a_set("one.t.", ttl=1), Rank.ANSWER, 10.0)
    got = c.get(name_of("one.t."), QTYPE.A, 10.0)
    assert got is not None and got.ttl == 1 and addrs(got) == ["127.0.0.1"]
    late = c.get(name_of("one.t."), QTYPE.A, 10.999)
    assert late is not None and late.ttl == 0  # still live; its TTL rounds down
    assert c.get(name_of("one.t."), QTYPE.A, 11.0) is None  # expired at its very second
    assert len(c) == 0  # and dropped: serve-stale is off


def test_remaining_ttl_counts_down_in_whole_seconds() -> None:
    c = Cache()
    c.put_rrset(a_set("w.t.", ttl=300), Rank.ANSWER, 100.0)
    ttls = [c.get(name_of("w.t."), QTYPE.A, t) for t in (100.0, 100.5, 101.0, 399.5)]
    assert [s.ttl if s else None for s in ttls] == [300, 299, 299, 0]


def test_ttl_limits_clamp_what_is_stored() -> None:
    c = Cache(CacheConfig(max_ttl=100, min_ttl=20))
    c.put_rrset(a_set("long.t.", ttl=5000), Rank.ANSWER, 0.0)
    c.put_rrset(a_set("short.t.", ttl=1), Rank.ANSWER, 0.0)
    assert c.get(name_of("long.t."), QTYPE.A, 0.0).ttl == 100  # type: ignore[union-attr]
    assert c.get(name_of("short.t."), QTYPE.A, 0.0).ttl == 20  # type: ignore[union-attr]
    assert c.get(name_of("short.t."), QTYPE.A, 19.5) is not None
    assert c.get(name_of("short.t."), QTYPE.A, 20.0) is None
    # min_ttl lifts a TTL of 0 too: such a record is then cached
    c.put_rrset(a_set("zero.t.", ttl=0), Rank.ANSWER, 0.0)
    assert c.get(name_of("zero.t."), QTYPE.A, 0.0).ttl == 20  # type: ignore[union-attr]


def test_serve_stale_window_and_ttl() -> None:
    c = Cache(CacheConfig(serve_stale=True, stale_window=100, stale_ttl=7))
    name = name_of("s.t.")
    c.put_rrset(a_set("s.t.", ttl=10), Rank.ANSWER, 0.0)
    assert c.get(name, QTYPE.A, 9.9, stale=True).ttl == 0  # type: ignore[union-attr]
    assert c.get(name, QTYPE.A, 10.0) is None  # expired: not an answer any more...
    stale = c.get(name, QTYPE.A, 10.0, stale=True)  # ...but kept for serve-stale
    assert stale is not None and stale.ttl == 7 and addrs(stale) == ["127.0.0.1"]
    assert c.get(name, QTYPE.A, 109.9, stale=True).ttl == 7  # type: ignore[union-attr]
    assert len(c) == 1
    assert c.get(name, QTYPE.A, 110.0, stale=True) is None  # the window has closed
    assert len(c) == 0


def test_without_serve_stale_expired_data_is_gone() -> None:
    c = Cache(CacheConfig(serve_stale=False))
    c.put_rrset(a_set("s.t.", ttl=10), Rank.ANSWER, 0.0)
    assert c.get(name_of("s.t."), QTYPE.A, 10.0, stale=True) is None
    assert len(c) == 0


def test_nodata_is_per_type_and_nxdomain_is_for_every_type() -> None:
    c = Cache()
    soa = soa_set()
    c.put_negative(name_of("nodata.t."), QTYPE.AAAA, False, soa, 0.0)
    c.put_negative(name_of("nx.t."), QTYPE.AAAA, True, soa, 0.0)
    nodata = c.get_negative(name_of("nodata.t."), QTYPE.AAAA, 100.0)
    assert nodata is not None and not nodata.nxdomain and not nodata.stale
    assert nodata.soa == soa.with_ttl(800)  # the SOA, its TTL counted down from 900
    assert c.get_negative(name_of("nodata.t."), QTYPE.A, 100.0) is None  # another type: unknown
    for rtype in (QTYPE.AAAA, QTYPE.A, QTYPE.MX):
        nx = c.get_negative(name_of("nx.t."), rtype, 100.0)
        assert nx is not None and nx.nxdomain and nx.soa == soa.with_ttl(800)
    # a negative entry is no positive answer, whatever the type
    assert c.get(name_of("nodata.t."), QTYPE.AAAA, 0.0) is None
    assert c.get(name_of("nx.t."), -1, 0.0) is None


def test_negative_ttl_is_the_smaller_of_soa_ttl_and_minimum_within_limits() -> None:
    c = Cache(CacheConfig(min_negative_ttl=30, max_negative_ttl=600))
    short_ttl = soa_set("t. 100 IN SOA ns.t. h.t. 1 2 3 4 900")
    c.put_negative(name_of("a.t."), QTYPE.A, False, short_ttl, 0.0)
    assert c.get_negative(name_of("a.t."), QTYPE.A, 0.0).soa.ttl == 100  # type: ignore[union-attr]
    assert c.get_negative(name_of("a.t."), QTYPE.A, 99.9) is not None
    assert c.get_negative(name_of("a.t."), QTYPE.A, 100.0) is None  # the exact second
    tiny = soa_set("t. 3600 IN SOA ns.t. h.t. 1 2 3 4 5")
    c.put_negative(name_of("b.t."), QTYPE.A, True, tiny, 0.0)
    assert c.get_negative(name_of("b.t."), QTYPE.A, 0.0).soa.ttl == 30  # type: ignore[union-attr]


def test_a_negative_ttl_of_one_second_is_cached_for_one_second() -> None:
    c = Cache()
    c.put_negative(name_of("z.t."), QTYPE.A, True, soa_set("t. 1 IN SOA ns.t. h.t. 1 2 3 4 900"), 0)
    neg = c.get_negative(name_of("z.t."), QTYPE.A, 0.5)
    assert neg is not None and neg.soa is not None and neg.soa.ttl == 0
    assert c.get_negative(name_of("z.t."), QTYPE.A, 1.0) is None


def test_a_negative_ttl_of_zero_is_not_cached() -> None:
    c = Cache()
    c.put_negative(name_of("z.t."), QTYPE.A, True, soa_set("t. 0 IN SOA ns.t. h.t. 1 2 3 4 900"), 0)
    c.put_negative(name_of("y.t."), QTYPE.A, True, soa_set("t. 60 IN SOA ns.t. h.t. 1 2 3 4 0"), 0)
    assert len(c) == 0 and c.get_negative(name_of("z.t."), QTYPE.A, 0.0) is None


def test_stale_negative_answers_carry_the_stale_ttl() -> None:
    c = Cache(CacheConfig(serve_stale=True, stale_window=50, stale_ttl=9))
    c.put_negative(name_of("nx.t."), QTYPE.A, True, soa_set(), 0.0)
    assert c.get_negative(name_of("nx.t."), QTYPE.A, 900.0) is None
    neg = c.get_negative(name_of("nx.t."), QTYPE.A, 900.0, stale=True)
    assert neg is not None and neg.nxdomain and neg.stale and neg.soa == soa_set().with_ttl(9)


def test_a_positive_set_is_not_a_negative_answer() -> None:
    c = Cache()
    c.put_rrset(a_set("p.t."), Rank.ANSWER, 0.0)
    assert c.get_negative(name_of("p.t."), QTYPE.A, 0.0) is None


def test_nxdomain_above_a_name_rfc8020() -> None:
    c = Cache()
    soa = soa_set()
    c.put_negative(name_of("gone.t."), QTYPE.A, True, soa, 0.0)
    below = c.get_nxdomain_above(name_of("a.b.gone.t."), 100.0)
    assert below == Negative(True, soa.with_ttl(800))
    assert c.get_nxdomain_above(name_of("gone.t."), 100.0) is None  # only strictly above
    assert c.get_nxdomain_above(name_of("a.other.t."), 100.0) is None
    assert c.get_nxdomain_above(name_of("a.gone.t."), 900.0) is None  # expired
    c.put_negative(name_of("nodata.t."), QTYPE.A, False, soa, 0.0)
    assert c.get_nxdomain_above(name_of("a.nodata.t."), 0.0) is None  # NODATA says nothing


def test_nxdomain_above_a_name_is_never_stale() -> None:
    c = Cache(CacheConfig(serve_stale=True))
    c.put_negative(name_of("gone.t."), QTYPE.A, True, soa_set(), 0.0)
    assert c.get_nxdomain_above(name_of("a.gone.t."), 900.0) is None
    stale = c.get_negative(name_of("gone.t."), QTYPE.A, 900.0, stale=True)
    assert stale is not None and stale.stale  # the entry itself is kept for serve-stale


def test_an_answer_replaces_a_live_answer_of_the_same_rank() -> None:
    c = Cache()
    c.put_rrset(a_set("r.t.", ttl=300, addr="127.0.0.1"), Rank.ANSWER, 0.0)
    c.put_rrset(a_set("r.t.", ttl=100, addr="127.0.0.2"), Rank.ANSWER, 50.0)
    got = c.get(name_of("r.t."), QTYPE.A, 60.0)
    assert addrs(got) == ["127.0.0.2"] and got is not None and got.ttl == 90
    c.put_rrset(a_set("r.t.", ttl=100, addr="127.0.0.3"), Rank.AUTHORITY, 60.0)  # lower: kept
    assert addrs(c.get(name_of("r.t."), QTYPE.A, 60.0)) == ["127.0.0.2"]
    # once the answer has expired, anything may take its place
    c.put_rrset(a_set("r.t.", ttl=100, addr="127.0.0.4"), Rank.GLUE, 150.0)
    assert addrs(c.get(name_of("r.t."), QTYPE.A, 150.0)) == ["127.0.0.4"]


def test_positive_data_clears_a_cached_nxdomain_not_a_nodata() -> None:
    c = Cache()
    c.put_negative(name_of("n.t."), QTYPE.A, True, soa_set(), 0.0)
    c.put_negative(name_of("n.t."), QTYPE.AAAA, False, soa_set(), 0.0)
    c.put_rrset(a_set("n.t."), Rank.ANSWER, 1.0)
    assert addrs(c.get(name_of("n.t."), QTYPE.A, 1.0)) == ["127.0.0.1"]
    assert c.get_negative(name_of("n.t."), QTYPE.MX, 1.0) is None  # the NXDOMAIN is gone
    nodata = c.get_negative(name_of("n.t."), QTYPE.AAAA, 1.0)
    assert nodata is not None and not nodata.nxdomain


def test_a_refused_lower_rank_set_leaves_the_nxdomain_alone() -> None:
    c = Cache()
    c.put_rrset(a_set("n.t."), Rank.ANSWER, 0.0)
    c.put_negative(name_of("n.t."), QTYPE.MX, True, soa_set(), 0.0)
    c.put_rrset(a_set("n.t.", addr="127.0.0.9"), Rank.GLUE, 1.0)  # refused: lower rank
    assert c.get_negative(name_of("n.t."), QTYPE.MX, 1.0) is not None


def test_min_rank_hides_glue_from_answers() -> None:
    c = Cache()
    c.put_rrset(a_set("g.t."), Rank.GLUE, 0.0)
    assert c.get(name_of("g.t."), QTYPE.A, 0.0, min_rank=Rank.AUTHORITY) is None
    assert addrs(c.get(name_of("g.t."), QTYPE.A, 0.0, min_rank=Rank.GLUE)) == ["127.0.0.1"]
    c.put_rrset(a_set("au.t."), Rank.AUTHORITY, 0.0)
    assert c.get(name_of("au.t."), QTYPE.A, 0.0, min_rank=Rank.AUTHORITY) is not None


def test_lru_order_follows_reads_and_rewrites() -> None:
    c = Cache(CacheConfig(max_entries=2))
    c.put_rrset(a_set("a.t."), Rank.ANSWER, 0.0)
    c.put_rrset(a_set("b.t."), Rank.ANSWER, 0.0)
    c.put_rrset(a_set("a.t.", addr="127.0.0.2"), Rank.ANSWER, 0.0)  # a rewrite: a is young
    c.put_rrset(a_set("c.t."), Rank.ANSWER, 0.0)
    assert c.get(name_of("b.t."), QTYPE.A, 0.0) is None and c.evictions == 1
    assert c.get(name_of("a.t."), QTYPE.A, 0.0) is not None  # a read: a is young again
    c.put_rrset(a_set("d.t."), Rank.ANSWER, 0.0)
    assert c.get(name_of("c.t."), QTYPE.A, 0.0) is None and c.evictions == 2
    assert len(c) == 2
    c.put_negative(name_of("e.t."), QTYPE.A, True, soa_set(), 0.0)  # negative entries count
    assert len(c) == 2 and c.evictions == 3


def test_flush_reports_what_it_removed() -> None:
    c = Cache()
    c.put_rrset(a_set("a.t."), Rank.ANSWER, 0.0)
    c.put_rrset(a_set("b.a.t."), Rank.ANSWER, 0.0)
    c.put_negative(name_of("a.t."), QTYPE.MX, False, soa_set(), 0.0)
    c.put_negative(name_of("x.t."), QTYPE.A, True, soa_set(), 0.0)
    assert c.flush(name_of("nothing.t.")) == 0
    assert c.flush(name_of("a.t.")) == 2  # the A and the NODATA, not b.a.t.
    assert c.get(name_of("b.a.t."), QTYPE.A, 0.0) is not None
    assert c.flush() == 2 and len(c) == 0
    assert c.flush() == 0


def test_entries_lists_live_data_with_remaining_ttls() -> None:
    c = Cache()
    soa = soa_set()
    c.put_rrset(a_set("a.t.", ttl=300), Rank.ANSWER, 0.0)
    c.put_rrset(a_set("glue.t.", ttl=10), Rank.GLUE, 0.0)
    c.put_negative(name_of("nx.t."), QTYPE.A, True, soa, 0.0)
    c.put_negative(name_of("a.t."), QTYPE.MX, False, soa, 0.0)
    rows = sorted(c.entries(10.0))
    assert rows == [
        (name_of("a.t."), QTYPE.A, 290, Rank.ANSWER, a_set("a.t.").rdatas, False),
        (name_of("a.t."), QTYPE.MX, 890, Rank.ANSWER, (), True),
        (name_of("nx.t."), NXDOMAIN_KEY, 890, Rank.ANSWER, (), True),
    ]  # glue.t. expired at 10.0 exactly
    glue = (name_of("glue.t."), QTYPE.A, 0, Rank.GLUE, a_set("glue.t.").rdatas, False)
    assert glue in c.entries(9.5)  # live for another half second
