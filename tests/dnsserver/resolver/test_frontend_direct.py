"""The keyed query's response, written without dnslib, is byte for byte the dnslib path's."""

from __future__ import annotations

import struct

from dnslib import CNAME, MX, NS, PTR, QTYPE, RR, SOA, SRV, TXT, A, DNSLabel
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver.chaos import Identity
from dnsserver.resolver.cache import Rank
from dnsserver.resolver.frontend import Answered, Frontend, Resolve
from dnsserver.resolver.iterate import Result
from dnsserver.resolver.packed import question_key
from dnsserver.resolver.policy import Policy, PolicyConfig
from dnsserver.resolver.rrset import RRset, group

from .fakes import Harness, default_net

_LABELS = [b"a", b"B", b"ns", b"x", b"test", b"Mail"]
_NAME = st.lists(st.sampled_from(_LABELS), min_size=1, max_size=3)

_RDATA = st.one_of(
    st.builds(lambda b: A(".".join(map(str, b))), st.binary(min_size=4, max_size=4)),
    st.builds(lambda n: NS(DNSLabel(n)), _NAME),
    st.builds(lambda n: CNAME(DNSLabel(n)), _NAME),
    st.builds(lambda n: PTR(DNSLabel(n)), _NAME),
    st.builds(lambda n, p: MX(DNSLabel(n), p), _NAME, st.integers(0, 65535)),
    st.builds(lambda n: SRV(1, 2, 3, DNSLabel(n)), _NAME),
    st.builds(lambda t: TXT(t), st.lists(st.binary(max_size=120), min_size=1, max_size=2)),
    st.builds(lambda m, r: SOA(DNSLabel(m), DNSLabel(r), (1, 2, 3, 4, 5)), _NAME, _NAME),
)


def _sets(records: list[tuple[list[bytes], object, int]]) -> tuple[RRset, ...]:
    rrs = [RR(DNSLabel(n), QTYPE.reverse[type(rd).__name__], 1, ttl, rd) for n, rd, ttl in records]
    return tuple(group(rrs).values())


_SECTION = st.lists(st.tuples(_NAME, _RDATA, st.integers(0, 86400)), max_size=6).map(_sets)


def _query(qname: list[bytes], qtype: int, rd: bool, edns: int, size: int) -> bytes:
    wire = struct.pack("!HHHHHH", 0xBEEF, 0x0100 if rd else 0, 1, 0, 0, 1 if edns else 0)
    wire += b"".join(bytes((len(x),)) + x for x in qname) + b"\x00" + struct.pack("!HH", qtype, 1)
    if edns:  # 1: EDNS, 2: with DO, 3: asking NSID, 4: both
        options = b"\x00\x03\x00\x00" if edns >= 3 else b""
        ttl = 0x8000 if edns in (2, 4) else 0
        wire += b"\x00" + struct.pack("!HHIH", 41, size, ttl, len(options)) + options
    return wire


def _frontend(h: Harness, nsid: bool) -> Frontend:
    return Frontend(
        core=h.resolver,
        policy=Policy(PolicyConfig()),
        identity=Identity(identity="dns.nyu.edu" if nsid else None, version="t"),
        stats=h.stats,
        edns_size=1232,
        answer_cache_size=100,
    )


@settings(max_examples=300, deadline=None)
@given(
    qname=_NAME,
    qtype=st.sampled_from([QTYPE.A, QTYPE.MX, QTYPE.NS, QTYPE.TXT, QTYPE.DS, 256, 65280]),
    rd=st.booleans(),
    ds=st.booleans(),
    edns=st.integers(0, 4),
    size=st.sampled_from([512, 600, 1232, 4096]),
    tcp=st.booleans(),
    rcode=st.sampled_from([0, 2, 3]),
    answer=_SECTION,
    authority=_SECTION,
    glue=st.lists(st.tuples(_NAME, st.binary(min_size=4, max_size=4)), max_size=4),
    nsid=st.booleans(),
)
def test_a_resolved_answer_is_written_as_dnslib_packs_it(
    qname: list[bytes],
    qtype: int,
    edns: int,
    size: int,
    tcp: bool,
    rcode: int,
    answer: tuple[RRset, ...],
    authority: tuple[RRset, ...],
    glue: list[tuple[list[bytes], bytes]],
    nsid: bool,
    rd: bool,
    ds: bool,
) -> None:
    h = Harness(default_net())
    for name, addr in glue:  # the additional section comes from the cache
        owner = tuple(x.lower() for x in name)
        h.resolver.cache.put_rrset(RRset(owner, QTYPE.A, 300, (addr,)), Rank.GLUE, h.now)
    fe = _frontend(h, nsid)
    data = _query(qname, qtype, True, edns, size)
    qk = question_key(data)
    assert qk is not None
    limit = None if tcp else qk.udp_size
    if ds:  # a type the direct writer leaves to dnslib: the keyed step falls back
        answer += (RRset(tuple(x.lower() for x in qname), QTYPE.DS, 60, (bytes(range(8)),)),)
    steps = []
    for _ in range(2):  # (a step is finished or shed, once: dnslib's reply is filled in)
        fast = fe.begin(data, "127.0.0.1", qk, limit, h.now)
        slow = fe.begin(data, "127.0.0.1", None, limit, h.now)
        assert isinstance(fast, Resolve) and isinstance(slow, Resolve)
        assert fast.reply is None and slow.reply is not None
        steps.append((fast, slow))
    res = Result(rcode=rcode, answer=answer, authority=authority)
    (fast, slow), (fast2, slow2) = steps
    out = fe.finish(fast, res, h.now)
    assert out == fe.finish(slow, res, h.now)
    kept = fe.answers.get(qk.key)  # a complete answer is kept packed, whichever way written
    ttls = [s.ttl for s in answer + authority]
    if rcode == 2 or not ttls:  # a SERVFAIL, or nothing with a TTL to count down
        assert kept is None
    elif min(ttls) > 0:
        assert kept is not None and kept.data == out
    assert fe.shed(fast2, h.now) == fe.shed(slow2, h.now)
    # and a cache hit, RD=1 or 0, is the same both ways too
    for s in answer + authority:
        h.resolver.cache.put_rrset(s, Rank.ANSWER, h.now)
    data = _query(qname, qtype, rd, edns, size)
    qk = question_key(data)
    assert qk is not None
    hits = h.stats.cache_hits
    fast = fe.begin(data, "127.0.0.1", qk, limit, h.now)
    counted = h.stats.cache_hits - hits
    slow = fe.begin(data, "127.0.0.1", None, limit, h.now)
    assert h.stats.cache_hits - hits == 2 * counted  # counted alike
    if isinstance(fast, Answered):
        assert isinstance(slow, Answered) and fast.wire == slow.wire
        assert fast.wire is not None and fast.wire[2] & 1 == rd  # RD copied


def test_a_cache_hit_is_written_directly_and_kept() -> None:
    h = Harness(default_net())
    h.resolver.cache.put_rrset(
        RRset((b"www", b"x"), QTYPE.A, 300, (bytes([10, 0, 0, 7]),)), Rank.ANSWER, h.now
    )
    fe = _frontend(h, False)
    data = _query([b"WWW", b"x"], QTYPE.A, True, 2, 1232)
    qk = question_key(data)
    assert qk is not None
    fast = fe.begin(data, "127.0.0.1", qk, 1232, h.now)
    assert isinstance(fast, Answered) and fast.wire is not None
    assert fast.wire == fe.begin(data, "127.0.0.1", None, 1232, h.now).wire  # type: ignore[union-attr]
    assert fast.wire[2:4] == b"\x81\x80"  # QR RD RA, NOERROR
    assert b"\x03WWW\x01x\x00" in fast.wire  # the client's spelling
    assert qk.key in fe.answers  # kept packed for the next client
    assert h.stats.cache_hits == 2


def test_what_the_direct_path_leaves_to_dnslib() -> None:
    h = Harness(default_net())
    h.resolver.cache.put_rrset(RRset((b"x",), QTYPE.DS, 300, (bytes(5),)), Rank.ANSWER, h.now)
    fe = _frontend(h, False)
    data = _query([b"x"], QTYPE.DS, True, 0, 512)
    qk = question_key(data)
    assert qk is not None
    assert fe._begin_keyed(data, "127.0.0.1", qk, 512, h.now) is None  # a DS set: dnslib's
    for other in (
        _query([b"\xc3\xa9"], QTYPE.A, True, 0, 512),  # not ASCII
        _query([b"x"], QTYPE.AXFR, True, 0, 512),  # refused type
        _query([b"localhost"], QTYPE.A, True, 0, 512),  # our own data
        _query([b"x"], QTYPE.A, False, 0, 512),  # RD=0 and not cached: a referral
    ):
        qk = question_key(other)
        assert qk is not None
        assert fe._begin_keyed(other, "127.0.0.1", qk, 512, h.now) is None, other
    chaos = _query([b"x"], QTYPE.A, True, 0, 512)[:-2] + b"\x00\x03"
    qk = question_key(chaos)
    assert qk is not None and fe._begin_keyed(chaos, "127.0.0.1", qk, 512, h.now) is None
    refused = Frontend(
        core=h.resolver,
        policy=Policy(PolicyConfig(allow=("10.0.0.0/8",))),
        identity=Identity(identity="x", version="t"),
        stats=h.stats,
        edns_size=1232,
        answer_cache_size=10,
    )
    data = _query([b"x"], QTYPE.A, True, 0, 512)
    qk = question_key(data)
    assert qk is not None and refused._begin_keyed(data, "127.0.0.1", qk, 512, h.now) is None


def test_too_big_for_the_client_sheds_glue_then_truncates_as_dnslib_does() -> None:
    h = Harness(default_net())
    ns = _sets([([b"x"], NS(DNSLabel([b"ns%d" % i, b"x"])), 300) for i in range(12)])
    for i in range(12):
        owner = (b"ns%d" % i, b"x")
        h.resolver.cache.put_rrset(RRset(owner, QTYPE.A, 300, (bytes(4),)), Rank.GLUE, h.now)
    fe = _frontend(h, False)
    txt = _sets([([b"x"], TXT([bytes(200), bytes(200)]), 300)])
    for answer, limit, glue, tc in (
        (ns, 4096, 12, False),  # everything fits
        (ns, 300, 0, False),  # the glue does not: it goes, the NS set stays
        (txt + ns, 512, 0, True),  # not even the answer: TC=1, the question alone
    ):
        data = _query([b"x"], QTYPE.NS, True, 1, limit)
        qk = question_key(data)
        assert qk is not None
        fast = fe.begin(data, "127.0.0.1", qk, limit, h.now)
        slow = fe.begin(data, "127.0.0.1", None, limit, h.now)
        assert isinstance(fast, Resolve) and isinstance(slow, Resolve)
        res = Result(rcode=0, answer=answer)
        out = fe.finish(fast, res, h.now)
        assert out == fe.finish(slow, res, h.now)
        _, flags, qd, an, ns_count, ar = struct.unpack_from("!HHHHHH", out)
        assert (bool(flags & 0x0200), qd, ar) == (tc, 1, glue + 1), limit  # (+ the OPT)
        assert an == (0 if tc else sum(len(s.rdatas) for s in answer)) and ns_count == 0
        assert len(out) <= limit


def test_a_miss_not_asked_by_key_is_counted() -> None:
    h = Harness(default_net())
    fe = _frontend(h, False)
    data = _query([b"nowhere", b"x"], QTYPE.A, True, 0, 512)
    misses = h.stats.cache_misses
    assert isinstance(fe.begin(data, "127.0.0.1", None, 512, h.now), Resolve)
    assert isinstance(fe.begin(data, "127.0.0.1", question_key(data), 512, h.now), Resolve)
    assert h.stats.cache_misses == misses + 2
