"""The resolver's stub-facing core without a loop: query bytes in, response bytes out."""

from __future__ import annotations

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
from dnslib import RR
from hypothesis import given
from hypothesis import strategies as st

from dnsserver.chaos import Identity
from dnsserver.resolver.drive import run
from dnsserver.resolver.frontend import Answered, Frontend, Resolve
from dnsserver.resolver.packed import question_key
from dnsserver.resolver.policy import Policy, PolicyConfig

from .fakes import Harness, default_net

CLIENT = "127.0.0.1"


@pytest.fixture
def h() -> Harness:
    return Harness(default_net())


def frontend(h: Harness, **kw: object) -> Frontend:
    return Frontend(
        core=h.resolver,
        policy=Policy(PolicyConfig()),
        identity=Identity(identity="dns.nyu.edu", version="minternet test"),
        stats=h.stats,
        edns_size=1232,
        answer_cache_size=int(kw.get("answer_cache_size", 100)),  # type: ignore[call-overload]
    )


def ask(
    fe: Frontend, h: Harness, q: dns.message.Message, client: str = CLIENT, limit: int | None = 512
) -> dns.message.Message | None:
    """One query through begin/finish, resolving against the fake hierarchy."""
    data = q.to_wire()
    step = fe.begin(data, client, question_key(data), limit, h.now)
    if isinstance(step, Resolve):
        res = run(h.resolver.resolve(step.name, step.qtype, h.now), h.exchange)
        wire = fe.finish(step, res, h.now)
    else:
        assert isinstance(step, Answered)
        if step.wire is None:
            return None
        wire = step.wire
    return dns.message.from_wire(wire)


def test_a_miss_is_resolved_then_served_from_the_packed_cache(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A")
    r = ask(fe, h, q)
    assert r is not None and r.rcode() == dns.rcode.NOERROR
    assert [rd.address for rs in r.answer for rd in rs] == ["127.1.0.1"]
    assert r.flags & dns.flags.RA and r.flags & dns.flags.RD
    sent = len(h.sent)
    h.now += 10
    q.id = 4242
    data = q.to_wire()
    answer, qk = fe.fast_answer(data, CLIENT, h.now)  # no parse, no upstream query
    assert answer is not None and qk is not None and len(h.sent) == sent
    fast = dns.message.from_wire(answer)
    assert fast.id == 4242 and fast.answer[0].ttl == r.answer[0].ttl - 10


def test_the_first_miss_is_a_resolve_step_for_the_name(h: Harness) -> None:
    fe = frontend(h)
    data = dns.message.make_query("www.example.test.", "MX").to_wire()
    step = fe.begin(data, CLIENT, question_key(data), 512, h.now)
    assert isinstance(step, Resolve) and not step.priming
    assert (step.name, step.qtype) == ((b"www", b"example", b"test"), dns.rdatatype.MX)
    assert h.stats.cache_misses == 1


def test_rd0_with_an_empty_cache_primes_the_root_and_refers(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A")
    q.flags &= ~dns.flags.RD
    data = q.to_wire()
    step = fe.begin(data, CLIENT, question_key(data), 512, h.now)
    assert isinstance(step, Resolve) and step.priming and step.qtype == dns.rdatatype.NS
    r = ask(fe, h, q)
    assert r is not None and r.rcode() == dns.rcode.NOERROR and not r.answer
    assert [rs.rdtype for rs in r.authority] == [dns.rdatatype.NS]


@pytest.mark.parametrize(
    ("make", "rcode", "rd"),
    [
        (lambda q: q.set_opcode(dns.opcode.STATUS), dns.rcode.NOTIMP, False),
        (lambda q: q.use_edns(1), dns.rcode.BADVERS, True),
    ],
)
def test_protocol_errors(h: Harness, make, rcode: int, rd: bool) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A")
    make(q)
    r = ask(fe, h, q)
    assert r is not None and r.rcode() == rcode
    assert bool(r.flags & dns.flags.RD) is rd  # RD is QUERY's alone
    assert h.sent == []


@pytest.mark.parametrize("rdtype", ["AXFR", "IXFR", "MAILB", "MAILA"])
def test_transfer_and_obsolete_types_are_refused(h: Harness, rdtype: str) -> None:
    q = dns.message.make_query("example.test.", rdtype)
    r = ask(frontend(h), h, q)
    assert r is not None and r.rcode() == dns.rcode.REFUSED and h.sent == []


def test_clients_outside_the_allowed_networks_are_refused(h: Harness) -> None:
    fe = frontend(h)
    data = dns.message.make_query("www.example.test.", "A").to_wire()
    step = fe.begin(data, "192.0.2.1", None, 512, h.now)
    assert isinstance(step, Answered) and step.problem == "REFUSED: not allowed"
    assert step.wire is not None
    assert dns.message.from_wire(step.wire).rcode() == dns.rcode.REFUSED
    assert fe.fast_answer(data, "192.0.2.1", h.now)[0] is None


def test_chaos_identity_and_other_classes(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("id.server.", "TXT", rdclass=dns.rdataclass.CH)
    r = ask(fe, h, q)
    assert r is not None and r.answer[0][0].strings == (b"dns.nyu.edu",)
    q = dns.message.make_query("www.example.test.", "A", rdclass=dns.rdataclass.HS)
    r = ask(fe, h, q)
    assert r is not None and r.rcode() == dns.rcode.REFUSED


def test_localhost_is_answered_from_our_own_data(h: Harness) -> None:
    r = ask(frontend(h), h, dns.message.make_query("localhost.", "A"))
    assert r is not None and r.flags & dns.flags.AA
    assert [rd.address for rs in r.answer for rd in rs] == ["127.0.0.1"] and h.sent == []


def test_an_answer_too_big_for_the_client_is_truncated(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("big.example.test.", "TXT")
    r = ask(fe, h, q, limit=512)
    assert r is not None and r.flags & dns.flags.TC and not r.answer
    r = ask(fe, h, q, limit=None)  # over TCP: all of it
    assert r is not None and not r.flags & dns.flags.TC and r.answer


def test_responses_get_no_response_and_garbage_a_header_only_formerr(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A")
    q.flags |= dns.flags.QR
    assert ask(fe, h, q) is None
    step = fe.begin(b"\x12\x34\x01\x00garbage!", CLIENT, None, 512, h.now)
    assert isinstance(step, Answered) and step.problem == "malformed query"
    assert step.wire is not None and step.wire[:2] == b"\x12\x34" and step.wire[3] & 0xF == 1
    assert fe.begin(b"\x00", CLIENT, None, 512, h.now) == Answered(None, "malformed query")


def test_flush_forgets_whole_answers(h: Harness) -> None:
    fe = frontend(h)
    q = dns.message.make_query("www.example.test.", "A")
    ask(fe, h, q)
    assert fe.answers
    fe.flush()
    assert not fe.answers and not fe.hot


def test_the_answer_caches_are_bounded(h: Harness) -> None:
    fe = frontend(h, answer_cache_size=2)
    for name in ("www.example.test.", "mail.example.test.", "alias.example.test."):
        ask(fe, h, dns.message.make_query(name, "A"))
    assert len(fe.answers) <= 2


@given(st.binary(max_size=80))
def test_garbage_never_raises(data: bytes) -> None:
    h = Harness(default_net())
    step = frontend(h).begin(data, CLIENT, question_key(data), 512, h.now)
    assert isinstance(step, Answered | Resolve)


def test_a_cname_loop_is_servfail_the_first_time_and_from_the_cache(h: Harness) -> None:
    h.net["127.0.0.12"].zones[0].rrs.extend(
        RR.fromZone(
            "loop1.example.test. 300 IN CNAME loop2.example.test.\n"
            "loop2.example.test. 300 IN CNAME loop1.example.test."
        )
    )
    fe = frontend(h)
    q = dns.message.make_query("loop1.example.test.", "A")
    for _ in range(2):
        r = ask(fe, h, q)
        assert r is not None and r.rcode() == dns.rcode.SERVFAIL
    sent = len(h.sent)
    norec = dns.message.make_query("loop2.example.test.", "A")
    norec.flags &= ~dns.flags.RD
    r = ask(fe, h, norec)  # RD=0: from the cache alone, the same verdict
    assert r is not None and r.rcode() == dns.rcode.SERVFAIL and len(h.sent) == sent
    assert h.stats.servfail == 3 and h.stats.cache_hits == 0
