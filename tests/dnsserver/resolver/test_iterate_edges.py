"""The resolution core at its edges: every step as `dnsserver trace` shows it, the budgets at
their limits, glueless name servers, serve-stale, and what each kind of response is taken for
(issue 17)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from dnslib import QTYPE, RCODE, RR, DNSHeader, DNSRecord

from dnsserver.resolver.cache import Cache, CacheConfig, Rank
from dnsserver.resolver.iterate import IterConfig, Resolver, Step
from dnsserver.resolver.rrset import ROOT, RRset, name_of

from .fakes import HINTS, FakeServer, Harness, default_net, zone
from .test_iterate import _add, _texts, queries_for

EXAMPLE = "127.0.0.12"
OTHER = "127.0.0.13"


def steps(res: object) -> list[tuple[str, str, str, str]]:
    """(server, zone, outcome, detail) of each step."""
    return [
        (s.server, ".".join(p.decode() for p in s.zone) + ".", s.outcome, s.detail)
        for s in res.steps  # type: ignore[attr-defined]
    ]


# -- the steps of a resolution ---------------------------------------------------------------------


def test_each_step_names_server_zone_question_and_time() -> None:
    h = Harness(default_net())
    res = h.resolve("www.example.test")
    www = name_of("www.example.test")
    assert tuple(replace(s, elapsed=round(s.elapsed, 6)) for s in res.steps) == (
        Step(
            server="127.0.0.10",
            zone=ROOT,
            qname=www,
            qtype=QTYPE.A,
            elapsed=0.002,
            outcome="referral",
            detail="test. NS ns1.tld.test. (1 glue)",
        ),
        Step(
            server="127.0.0.11",
            zone=name_of("test"),
            qname=www,
            qtype=QTYPE.A,
            elapsed=0.002,
            outcome="referral",
            detail="example.test. NS ns.example.test. (1 glue)",
        ),
        Step(
            server=EXAMPLE,
            zone=name_of("example.test"),
            qname=www,
            qtype=QTYPE.A,
            elapsed=0.002,
            outcome="answer",
            detail="A 127.1.0.1",
        ),
    )
    assert (res.upstream_queries, h.stats.upstream_queries) == (3, 3)
    assert [(q.zone, q.qname, q.qtype, q.recursion_desired) for q in h.sent] == [
        (ROOT, www, QTYPE.A, False),
        (name_of("test"), www, QTYPE.A, False),
        (name_of("example.test"), www, QTYPE.A, False),
    ]
    again = h.resolve("www.example.test")
    assert (again.upstream_queries, again.steps, h.stats.upstream_queries) == (0, (), 3)


def test_a_timeout_step_lasts_the_servers_timeout() -> None:
    net = default_net()
    net[EXAMPLE].down = True
    h = Harness(net)
    res = h.resolve("www.example.test")
    timeouts = [s for s in res.steps if s.outcome == "timeout"]
    assert [(s.server, s.detail) for s in timeouts] == [(EXAMPLE, "no answer")] * 2
    assert [s.elapsed for s in timeouts] == [pytest.approx(0.4), pytest.approx(0.8)]  # doubled
    assert h.stats.upstream_timeouts == 2 and res.upstream_queries == 4
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "no usable server for zone example.test.")


def test_an_answer_of_many_records_is_summed_up_by_its_first_four() -> None:
    res = Harness(default_net()).resolve("big.example.test", "TXT")
    shown = ", ".join(f'"{i:02d}{"x" * 60}"' for i in range(4))
    assert res.steps[-1].detail == f"TXT {shown} ..."
    assert len(res.answer[0].rdatas) == 20
    net = default_net()
    for i in range(4):
        _add(net, EXAMPLE, f"four.example.test. 300 IN A 127.1.1.{i}")
    for i in range(5):
        _add(net, EXAMPLE, f"five.example.test. 300 IN A 127.1.2.{i}")
    res = Harness(net).resolve("four.example.test")
    assert res.steps[-1].detail == "A 127.1.1.0, 127.1.1.1, 127.1.1.2, 127.1.1.3"
    res = Harness(net).resolve("five.example.test")
    assert res.steps[-1].detail == "A 127.1.2.0, 127.1.2.1, 127.1.2.2, 127.1.2.3 ..."


# -- budgets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3])
def test_the_query_budget_is_exact(limit: int) -> None:
    h = Harness(default_net(), config=IterConfig(max_queries=limit))
    res = h.resolve("www.example.test")
    assert (res.rcode, len(h.sent)) == (RCODE.SERVFAIL, limit) if limit < 3 else (0, 3)
    if limit < 3:
        assert res.reason == f"budget of {limit} upstream queries exhausted"


def test_the_time_budget_is_exact() -> None:
    # root and TLD answer in 0.5 s each: a second is gone before example.test is asked
    h = Harness(default_net(), rtt=0.5, config=IterConfig(max_time=1.0))
    res = h.resolve("www.example.test")
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "time budget of 1s exhausted")
    assert len(h.sent) == 2
    h = Harness(default_net(), rtt=0.5, config=IterConfig(max_time=1.5))
    assert h.resolve("www.example.test").rcode == RCODE.NOERROR


@pytest.mark.parametrize("attempts", [1, 3])
def test_each_server_is_tried_attempts_per_server_times(attempts: int) -> None:
    net = default_net()
    net[EXAMPLE].down = True
    h = Harness(net, config=IterConfig(attempts_per_server=attempts))
    h.resolve("www.example.test")
    assert [q.server for q in h.sent] == ["127.0.0.10", "127.0.0.11"] + [EXAMPLE] * attempts


def test_a_lame_server_is_not_asked_again_in_that_resolution() -> None:
    net = default_net()
    h = Harness(net)
    h.resolver.selector.on_rtt("127.0.0.14", 0.0001)  # the lame server looks fastest
    res = h.resolve("www.lame.test")
    assert steps(res)[1][3] == "lame.test. NS ns1.lame.test., ns2.lame.test. (2 glue)"
    assert steps(res)[2:] == [
        ("127.0.0.14", "lame.test.", "lame", "rcode REFUSED"),
        (EXAMPLE, "lame.test.", "answer", "A 127.1.0.5"),
    ]


# -- forwarding ------------------------------------------------------------------------------------


def test_forwarders_that_do_not_answer_are_servfail() -> None:
    net = default_net()
    net["127.0.0.53"] = FakeServer(down=True)
    net["127.0.0.54"] = FakeServer(down=True)
    h = Harness(net, config=IterConfig(forwarders=("127.0.0.53", "127.0.0.54")))
    res = h.resolve("www.example.test")
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "no forwarder answered")
    assert sorted(q.server for q in h.sent) == ["127.0.0.53"] * 2 + ["127.0.0.54"] * 2


def test_a_forwarders_nodata_without_soa_is_taken_and_its_referral_is_not_followed() -> None:
    net = default_net()

    def forwarder(q: DNSRecord) -> DNSRecord:
        r = DNSRecord(DNSHeader(id=q.header.id, qr=1, ra=1), q=q.q)
        r.add_auth(*RR.fromZone("example.test. 300 IN NS ns.example.test."))
        return r

    net["127.0.0.53"] = FakeServer(handler=forwarder)
    h = Harness(net, config=IterConfig(forwarders=("127.0.0.53",)))
    res = h.resolve("www.example.test")
    assert (res.rcode, res.answer, res.authority) == (RCODE.NOERROR, (), ())
    assert steps(res) == [("127.0.0.53", ".", "nodata", "no data of that type")]


def test_a_forwarder_is_asked_as_the_root_below_an_ns_set_it_gave_before() -> None:
    # the forwarder answers for every zone: an NS set it gave for example.test. does not make
    # its later answers for names below it out of bailiwick
    net = default_net()
    auth = net[EXAMPLE].zones[0]

    def forwarder(q: DNSRecord) -> DNSRecord:
        if q.q.qtype == QTYPE.NS:
            return auth.answer(q)
        r = DNSRecord(DNSHeader(id=q.header.id, qr=1, ra=1), q=q.q)
        r.add_answer(*RR.fromZone("far.example.test. 300 IN CNAME host.glueless.test."))
        r.add_answer(*RR.fromZone("host.glueless.test. 300 IN A 127.1.0.4"))
        return r

    net["127.0.0.53"] = FakeServer(handler=forwarder)
    h = Harness(net, config=IterConfig(forwarders=("127.0.0.53",)))
    assert h.resolve("example.test", "NS").rcode == RCODE.NOERROR  # the NS set is cached
    res = h.resolve("far.example.test")
    assert h.addresses(res) == ["127.1.0.4"]
    assert steps(res) == [("127.0.0.53", ".", "answer", "CNAME host.glueless.test. -> A 127.1.0.4")]
    assert [q.zone for q in h.sent] == [ROOT, ROOT]


# -- glueless name servers -------------------------------------------------------------------------


def test_a_glueless_name_server_is_looked_up_one_level_deep() -> None:
    h = Harness(default_net(), config=IterConfig(max_depth=1))
    res = h.resolve("host.noglue.alt")
    assert h.addresses(res) == ["127.1.0.6"]
    h = Harness(default_net(), config=IterConfig(max_depth=0))
    res = h.resolve("host.noglue.alt")
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "no usable server for zone alt.")
    assert [q.server for q in h.sent] == ["127.0.0.10"]


def test_a_name_server_loop_fails_without_asking_twice() -> None:
    h = Harness(default_net())
    res = h.resolve("x.loopa.alt")
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "no usable server for zone loopa.alt.")
    asked = [(q.server, ".".join(p.decode() for p in q.qname)) for q in h.sent]
    assert len(asked) == len(set(asked))


def test_a_name_server_loop_is_found_even_when_its_referrals_are_not_cached() -> None:
    # loopa.alt. and loopb.test. delegated with TTL 0: each lookup walks down from the root
    # again, and the lookups in progress are what tells the loop (each question asked once)
    net = default_net()
    for server in net.values():
        for z in server.zones:
            for rr in z.rrs:
                if rr.rtype == QTYPE.NS and str(rr.rname) in ("loopa.alt.", "loopb.test."):
                    rr.ttl = 0
    h = Harness(net)
    res = h.resolve("x.loopa.alt")
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "no usable server for zone loopa.alt.")
    assert [(q.server, q.qname) for q in h.sent] == [
        ("127.0.0.10", name_of("x.loopa.alt")),
        ("127.0.0.10", name_of("ns.alt-servers.test")),
        ("127.0.0.11", name_of("ns.alt-servers.test")),
        (OTHER, name_of("ns.alt-servers.test")),
        ("127.0.0.15", name_of("x.loopa.alt")),
        ("127.0.0.11", name_of("ns.loopb.test")),
        ("127.0.0.15", name_of("ns.loopa.alt")),
    ]


def test_a_root_server_named_for_another_zone_is_reached_at_its_hints_address() -> None:
    # test. delegates by-root.test. to a.root.test. without glue (test. has no address for
    # it): the address in the root hints is used, not looked up (test. has no such name)
    net = default_net()
    _add(net, "127.0.0.11", "by-root.test. 3600 IN NS a.root.test.")
    net["127.0.0.10"].zones.append(zone("by-root.test.", "x.by-root.test. 300 IN A 127.1.0.11"))
    h = Harness(net)
    h.resolve("www.example.test")  # test.'s NS set is cached: the root is not asked again
    res = h.resolve("x.by-root.test")
    assert h.addresses(res) == ["127.1.0.11"]
    assert steps(res) == [
        ("127.0.0.11", "test.", "referral", "by-root.test. NS a.root.test. (0 glue)"),
        ("127.0.0.10", "by-root.test.", "answer", "A 127.1.0.11"),
    ]


def test_a_glueless_address_of_ttl_0_is_used_for_that_resolution() -> None:
    net = default_net()
    net[OTHER].zones[3].rrs[-1].ttl = 0  # ns.alt-servers.test. A, asked for without glue
    h = Harness(net)
    res = h.resolve("host.noglue.alt")
    assert h.addresses(res) == ["127.1.0.6"]
    glue = h.resolver.cache.get(name_of("ns.alt-servers.test"), QTYPE.A, h.now)
    assert glue is not None and glue.rdatas == (b"\x7f\x00\x00\x0f",)  # kept a second, as glue
    assert h.resolver.cache.get(name_of("ns.alt-servers.test"), QTYPE.A, h.now + 1) is None
    assert (
        h.resolver.cache.get(name_of("ns.alt-servers.test"), QTYPE.A, h.now, min_rank=Rank.ANSWER)
        is None
    )


def test_name_servers_with_addresses_are_not_looked_up() -> None:
    # glueless.test. NS ns.other.test.: its address is known from the referral to other.test.
    h = Harness(default_net())
    h.resolve("www.other.test")
    n = len(h.sent)
    res = h.resolve("host.glueless.test")
    assert h.addresses(res) == ["127.1.0.4"]
    assert [(q.server, q.qname) for q in h.sent[n:]] == [
        ("127.0.0.11", name_of("host.glueless.test")),
        (OTHER, name_of("host.glueless.test")),
    ]


def test_glue_is_never_an_answer() -> None:
    h = Harness(default_net())
    h.resolve("www.example.test")  # ns.example.test. A came as glue
    n = len(h.sent)
    res = h.resolve("ns.example.test")
    assert h.addresses(res) == ["127.0.0.12"] and len(h.sent) == n + 1


# -- serve-stale -----------------------------------------------------------------------------------


def test_a_stale_answer_keeps_the_fresh_cname_that_led_to_it() -> None:
    net = default_net()
    h = Harness(net, cache_config=CacheConfig(serve_stale=True))
    h.resolve("host.glueless.test")
    h.now += 7200
    for s in net.values():
        s.down = True
    cname = RRset(
        name_of("far.example.test"), QTYPE.CNAME, 300, (b"\x04host\x08glueless\x04test\x00",)
    )
    h.resolver.cache.put_rrset(cname, Rank.ANSWER, h.now)
    res = h.resolve("far.example.test")
    assert (res.rcode, res.stale, h.stats.stale_answers) == (RCODE.NOERROR, True, 1)
    assert _texts(res.answer) == [
        "far.example.test. 300 IN CNAME host.glueless.test.",
        "host.glueless.test. 30 IN A 127.1.0.4",
    ]


def test_a_stale_answer_is_never_given_for_a_name_servers_address() -> None:
    # only the client's question may be answered stale, not a lookup on the way
    net = default_net()
    h = Harness(net, cache_config=CacheConfig(serve_stale=True))
    assert h.addresses(h.resolve("host.noglue.alt")) == ["127.1.0.6"]
    h.now += 7200
    net["127.0.0.13"].down = True
    res = h.resolve("host.noglue.alt")
    assert (res.rcode, res.stale) == (RCODE.NOERROR, True)
    assert h.stats.stale_answers == 1


# -- the cache alone -------------------------------------------------------------------------------


def chain_net(n: int) -> dict[str, FakeServer]:
    net = default_net()
    for i in range(n):
        _add(net, EXAMPLE, f"c{i}.example.test. 300 IN CNAME c{i + 1}.example.test.")
    _add(net, EXAMPLE, f"c{n}.example.test. 300 IN A 127.1.0.99")
    return net


def test_the_cache_follows_as_many_cnames_as_a_resolution() -> None:
    h = Harness(chain_net(2), config=IterConfig(max_restarts=2))
    assert h.resolve("c0.example.test").rcode == RCODE.NOERROR
    c0 = name_of("c0.example.test")
    res = h.resolver.from_cache(c0, QTYPE.A, h.now)
    assert res is not None and [s.rtype for s in res.answer] == [5, 5, 1] and not res.stale
    h.resolver.config = IterConfig(max_restarts=1)
    assert h.resolver.from_cache(c0, QTYPE.A, h.now) is None
    assert h.resolver.from_cache(c0, QTYPE.A, h.now, partial=True) is None
    h.resolver.cache.flush()
    h.resolver.config = IterConfig(max_restarts=2)
    h.resolve("c1.example.test")  # c1 -> c2 -> A cached, c0 not
    assert h.resolver.from_cache(c0, QTYPE.A, h.now, partial=True) is None


def test_the_cache_answers_a_chain_to_a_missing_name_as_nxdomain() -> None:
    h = Harness(default_net())
    h.resolve("nx.example.test")
    res = h.resolver.from_cache(name_of("nx.example.test"), QTYPE.A, h.now)
    assert res is not None and res.rcode == RCODE.NXDOMAIN
    assert [s.rtype for s in res.answer] == [QTYPE.CNAME]
    assert [s.rtype for s in res.authority] == [QTYPE.SOA]
    h.now += 7200
    assert h.resolver.from_cache(name_of("nx.example.test"), QTYPE.A, h.now) is None


def test_stale_from_the_cache_is_marked_stale() -> None:
    h = Harness(default_net(), cache_config=CacheConfig(serve_stale=True))
    h.resolve("nope.example.test")
    h.resolve("www.example.test", "AAAA")
    h.resolve("www.example.test")
    h.now += 7200
    www = h.resolver.from_cache(name_of("www.example.test"), QTYPE.A, h.now, stale=True)
    assert www is not None and (www.rcode, www.stale, www.answer[0].ttl) == (0, True, 30)
    nx = h.resolver.from_cache(name_of("nope.example.test"), QTYPE.A, h.now, stale=True)
    assert nx is not None and (nx.rcode, nx.stale) == (RCODE.NXDOMAIN, True)
    nodata = h.resolver.from_cache(name_of("www.example.test"), QTYPE.AAAA, h.now, stale=True)
    assert nodata is not None and (nodata.rcode, nodata.stale, nodata.answer) == (0, True, ())
    # RFC 8020 is not applied to stale data
    below = h.resolver.from_cache(name_of("a.nope.example.test"), QTYPE.A, h.now, stale=True)
    assert below is None


def test_the_closest_delegation_is_the_cached_one_and_the_root_counts() -> None:
    cache = Cache(CacheConfig())
    r = Resolver(HINTS, cache, rng=random.Random(1))
    www = name_of("www.example.test")
    assert r.closest_delegation(www, 0) == (ROOT, HINTS.ns_names)
    root_ns = RRset(ROOT, QTYPE.NS, 3600, (b"\x01b\x04root\x04test\x00",))
    cache.put_rrset(root_ns, Rank.AUTHORITY, 0)
    assert r.closest_delegation(www, 0) == (ROOT, (name_of("b.root.test"),))
    test_ns = RRset(name_of("test"), QTYPE.NS, 3600, (b"\x02ns\x04test\x00",))
    cache.put_rrset(test_ns, Rank.AUTHORITY, 0)
    assert r.closest_delegation(www, 0) == (name_of("test"), (name_of("ns.test"),))
    assert r.closest_delegation(name_of("test"), 0) == (name_of("test"), (name_of("ns.test"),))


def test_additional_addresses_of_ns_mx_and_srv_targets_once_each() -> None:
    cache = Cache(CacheConfig())
    r = Resolver(HINTS, cache, rng=random.Random(1))
    mx = RRset(
        name_of("example.test"),
        QTYPE.MX,
        300,
        (
            b"\x00\x0a\x04mail\x07example\x04test\x00",
            b"\x00\x14\x04mail\x07example\x04test\x00",
            b"\x00\x1e\x03mx2\x07example\x04test\x00",
        ),
    )
    cname = RRset(
        name_of("a.example.test"), QTYPE.CNAME, 300, (b"\x04mail\x07example\x04test\x00",)
    )
    a = RRset(name_of("mail.example.test"), QTYPE.A, 300, (b"\x7f\x01\x00\x02",))
    aaaa = RRset(name_of("mail.example.test"), QTYPE.AAAA, 300, (b"\x00" * 15 + b"\x02",))
    a2 = RRset(name_of("mx2.example.test"), QTYPE.A, 300, (b"\x7f\x01\x00\x03",))
    for s in (a, aaaa, a2):
        cache.put_rrset(s, Rank.GLUE, 0)
    want = (a.with_ttl(299), aaaa.with_ttl(299), a2.with_ttl(299))
    assert r.additional((mx,), 1) == want
    assert r.additional((cname,), 1) == ()
    assert r.additional((cname, mx), 1) == want  # an MX behind a CNAME


# -- what a response is taken for ------------------------------------------------------------------


def answered_by(handler: object, name: str = "www.example.test", qtype: str = "A") -> Harness:
    net = default_net()
    net[EXAMPLE].handler = handler  # type: ignore[assignment]
    h = Harness(net)
    h.result = h.resolve(name, qtype)  # type: ignore[attr-defined]
    return h


def response(
    q: DNSRecord, *, aa: int = 1, rcode: int = 0, opcode: int = 0, qr: int = 1
) -> DNSRecord:
    return DNSRecord(DNSHeader(id=q.header.id, qr=qr, aa=aa, rcode=rcode, opcode=opcode), q=q.q)


@pytest.mark.parametrize(
    ("kw", "detail"),
    [
        ({"qr": 0}, "not a response"),
        ({"opcode": 4}, "not a response"),
        ({"rcode": RCODE.SERVFAIL}, "rcode SERVFAIL"),
        ({"rcode": RCODE.NOTIMP}, "rcode NOTIMP"),
        ({"aa": 0}, "neither answer, referral nor negative answer"),
    ],
)
def test_what_is_lame(kw: dict[str, int], detail: str) -> None:
    h = answered_by(lambda q: response(q, **kw))
    res = h.result  # type: ignore[attr-defined]
    assert res.rcode == RCODE.SERVFAIL
    assert [s[2:] for s in steps(res)[2:]] == [("lame", detail)]


def test_an_authoritative_empty_answer_without_soa_is_nodata_not_cached() -> None:
    h = answered_by(lambda q: response(q))
    res = h.result  # type: ignore[attr-defined]
    assert (res.rcode, res.answer, res.authority) == (RCODE.NOERROR, (), ())
    assert steps(res)[-1][2:] == ("nodata", "no data of that type")
    assert queries_for(h, lambda: h.resolve("www.example.test")) == 1


def test_an_nxdomain_without_soa_is_passed_on_and_not_cached() -> None:
    h = answered_by(lambda q: response(q, rcode=RCODE.NXDOMAIN))
    res = h.result  # type: ignore[attr-defined]
    assert (res.rcode, res.authority) == (RCODE.NXDOMAIN, ())
    assert steps(res)[-1][2:] == ("nxdomain", "no such name")
    assert queries_for(h, lambda: h.resolve("www.example.test")) == 1


def test_any_takes_every_set_at_the_name_and_caches_none() -> None:
    def any_answer(q: DNSRecord) -> DNSRecord:
        r = response(q)
        r.add_answer(*RR.fromZone("www.example.test. 300 IN A 127.1.0.1"))
        r.add_answer(*RR.fromZone('www.example.test. 300 IN TXT "t"'))
        r.add_answer(*RR.fromZone("other.example.test. 300 IN A 127.1.0.9"))
        return r

    h = answered_by(any_answer, qtype="ANY")
    res = h.result  # type: ignore[attr-defined]
    assert _texts(res.answer) == [
        "www.example.test. 300 IN A 127.1.0.1",
        'www.example.test. 300 IN TXT "t"',
    ]
    assert steps(res)[-1][2:] == ("answer", "ANY")
    assert h.resolver.cache.get(name_of("other.example.test"), QTYPE.A, h.now) is None


def test_a_referral_sideways_or_upwards_is_lame_and_the_deepest_cut_is_taken() -> None:
    def refer(q: DNSRecord) -> DNSRecord:
        r = response(q, aa=0)
        if str(q.q.qname) == "up.example.test.":
            r.add_auth(*RR.fromZone("example.test. 300 IN NS ns.example.test."))
        elif str(q.q.qname) == "side.example.test.":
            r.add_auth(*RR.fromZone("elsewhere.example.test. 300 IN NS ns.example.test."))
        else:
            r.add_auth(*RR.fromZone("b.example.test. 300 IN NS ns.other.test."))
            r.add_auth(*RR.fromZone("a.b.example.test. 300 IN NS ns.other.test."))
        return r

    net = default_net()
    net[EXAMPLE].handler = refer
    h = Harness(net)
    for name in ("up.example.test", "side.example.test"):
        res = h.resolve(name)
        assert res.rcode == RCODE.SERVFAIL
        assert steps(res)[-1][2:] == ("lame", "neither answer, referral nor negative answer")
    res = h.resolve("x.a.b.example.test")
    assert ("a.b.example.test. NS ns.other.test. (0 glue)") in [s[3] for s in steps(res)]


def test_a_referral_with_an_soa_is_a_negative_answer() -> None:
    def refer(q: DNSRecord) -> DNSRecord:
        r = response(q, aa=0)
        r.add_auth(*RR.fromZone("sub.example.test. 300 IN NS ns.other.test."))
        r.add_auth(*RR.fromZone("example.test. 300 IN SOA ns h 1 2 3 4 60"))
        return r

    h = answered_by(refer, "x.sub.example.test")
    res = h.result  # type: ignore[attr-defined]
    assert (res.rcode, [s.rtype for s in res.authority]) == (RCODE.NOERROR, [QTYPE.SOA])
    assert res.authority[0].ttl == 60


def test_an_soa_for_another_branch_is_ignored() -> None:
    def nodata(q: DNSRecord) -> DNSRecord:
        r = response(q, aa=0)
        r.add_auth(*RR.fromZone("else.example.test. 300 IN SOA ns h 1 2 3 4 60"))
        return r

    h = answered_by(nodata)
    res = h.result  # type: ignore[attr-defined]
    assert res.rcode == RCODE.SERVFAIL


def test_answer_ttls_are_capped_and_so_are_referrals_and_glue() -> None:
    net = default_net()
    h = Harness(net, cache_config=CacheConfig(max_ttl=100))
    res = h.resolve("www.example.test")
    assert res.answer[0].ttl == 100
    cache = h.resolver.cache
    for name, rtype in [("example.test", QTYPE.NS), ("ns.example.test", QTYPE.A)]:
        got = cache.get(name_of(name), rtype, h.now)
        assert got is not None and got.ttl == 99, name
    h = Harness(default_net(), cache_config=CacheConfig(max_ttl=300))
    assert h.resolve("www.example.test").answer[0].ttl == 300  # exactly the cap: kept


def test_in_zone_addresses_of_mx_targets_are_cached_and_others_counted() -> None:
    def mx(q: DNSRecord) -> DNSRecord:
        r = response(q)
        r.add_answer(*RR.fromZone("example.test. 300 IN MX 10 mail.example.test."))
        r.add_answer(*RR.fromZone("example.test. 300 IN MX 20 mx.other.test."))
        r.add_ar(*RR.fromZone('mail.example.test. 300 IN TXT "x"'))
        r.add_ar(*RR.fromZone("mail.example.test. 300 IN A 127.1.0.2"))
        r.add_ar(*RR.fromZone("mail.example.test. 300 IN AAAA ::2"))
        r.add_ar(*RR.fromZone("mx.other.test. 300 IN A 127.0.0.66"))
        r.add_ar(*RR.fromZone("www.example.test. 300 IN A 127.0.0.66"))
        return r

    h = answered_by(mx, "example.test", "MX")
    cache = h.resolver.cache
    assert cache.get(name_of("mail.example.test"), QTYPE.A, h.now) is not None
    assert cache.get(name_of("mail.example.test"), QTYPE.AAAA, h.now) is not None
    assert cache.get(name_of("mx.other.test"), QTYPE.A, h.now) is None
    assert cache.get(name_of("www.example.test"), QTYPE.A, h.now) is None
    assert cache.get(name_of("mail.example.test"), QTYPE.TXT, h.now) is None
    assert h.stats.bailiwick_rejected == 2


def test_records_outside_the_servers_zone_are_counted_one_set_each() -> None:
    def poison(q: DNSRecord) -> DNSRecord:
        r = response(q)
        r.add_answer(*RR.fromZone("www.example.test. 300 IN A 127.1.0.1"))
        r.add_answer(*RR.fromZone("www.other.test. 300 IN A 127.0.0.66"))
        r.add_answer(*RR.fromZone("www.other.test. 300 IN A 127.0.0.67"))
        r.add_auth(*RR.fromZone("test. 300 IN NS ns.evil.alt."))
        return r

    h = answered_by(poison)
    assert h.addresses(h.result) == ["127.1.0.1"]  # type: ignore[attr-defined]
    assert h.stats.bailiwick_rejected == 2


def test_a_cname_loop_inside_one_response_stops() -> None:
    def loop(q: DNSRecord) -> DNSRecord:
        r = response(q)
        r.add_answer(*RR.fromZone("www.example.test. 300 IN CNAME a.example.test."))
        r.add_answer(*RR.fromZone("a.example.test. 300 IN CNAME www.example.test."))
        return r

    h = answered_by(loop)
    res = h.result  # type: ignore[attr-defined]
    assert (res.rcode, res.reason, res.upstream_queries) == (RCODE.SERVFAIL, "CNAME loop", 3)


def test_a_cname_to_nodata_in_the_same_zone_is_one_step() -> None:
    res = Harness(default_net()).resolve("alias.example.test", "AAAA")
    assert (res.rcode, [s.rtype for s in res.answer]) == (RCODE.NOERROR, [QTYPE.CNAME])
    assert [s.rtype for s in res.authority] == [QTYPE.SOA]
    assert steps(res)[-1][2:] == ("nodata", "CNAME www.example.test. -> no data of that type")
    res = Harness(default_net()).resolve("nx.example.test")
    assert steps(res)[2][2:] == ("cname", "CNAME missing.other.test.")


def two_ns_net(first: str, first_glue: str | None) -> dict[str, FakeServer]:
    """alt's child zone `two.alt.` with the name servers `first` and then ns2.other.test.
    (glueless, on the other.test server, which serves two.alt too)."""
    net = default_net()
    alt = net["127.0.0.15"].zones[0]
    alt.rrs.extend(RR.fromZone(f"two.alt. 3600 IN NS {first}\ntwo.alt. 3600 IN NS ns2.other.test."))
    if first_glue is not None:
        alt.rrs.extend(RR.fromZone(f"{first} 3600 IN A {first_glue}"))
    _add(net, OTHER, "ns2.other.test. 3600 IN A 127.0.0.13")
    net[OTHER].zones.append(
        zone("two.alt.", "host.two.alt. 300 IN A 127.1.0.8\nns.two.alt. 300 IN A 127.1.0.9")
    )
    return net


def test_a_glueless_name_server_is_looked_up_after_one_with_a_dead_address() -> None:
    h = Harness(two_ns_net("ns.dead.two.alt.", "127.0.0.99"))  # nothing answers there
    res = h.resolve("host.two.alt")
    assert h.addresses(res) == ["127.1.0.8"]
    assert [q.server for q in h.sent].count("127.0.0.99") == 2


def test_a_name_server_that_needs_its_own_address_is_passed_over() -> None:
    h = Harness(two_ns_net("ns.two.alt.", None))
    res = h.resolve("ns.two.alt")  # its address needs this very lookup: ns2.other.test. then
    assert h.addresses(res) == ["127.1.0.9"]


def test_a_glueless_address_of_ttl_0_on_a_dead_server_is_looked_up_once() -> None:
    net = default_net()
    net[OTHER].zones[3].rrs[-1].ttl = 0  # ns.alt-servers.test. A 127.0.0.15, asked for
    net["127.0.0.15"].down = True
    h = Harness(net)
    res = h.resolve("host.noglue.alt")
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "no usable server for zone alt.")
    assert [q.server for q in h.sent] == ["127.0.0.10"] * 2 + ["127.0.0.11", OTHER] + [
        "127.0.0.15"
    ] * 2


def test_a_name_server_loop_through_the_name_asked_for_is_found_when_it_comes_round() -> None:
    # ns.loopb.test: loopb.test is served by ns.loopa.alt, and loopa.alt by ns.loopb.test
    h = Harness(default_net())
    res = h.resolve("ns.loopb.test")
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "no usable server for zone loopb.test.")
    assert [(q.server, q.qname) for q in h.sent] == [
        ("127.0.0.10", name_of("ns.loopb.test")),
        ("127.0.0.11", name_of("ns.loopb.test")),
        ("127.0.0.10", name_of("ns.loopa.alt")),
        ("127.0.0.11", name_of("ns.alt-servers.test")),
        (OTHER, name_of("ns.alt-servers.test")),
        ("127.0.0.15", name_of("ns.loopa.alt")),
    ]


def test_glueless_lookups_nest_up_to_max_depth() -> None:
    # deep.test. NS ns.noglue.alt. (no glue): its address needs alt's name server's address
    net = default_net()
    _add(net, "127.0.0.11", "deep.test. 3600 IN NS ns.noglue.alt.")
    net[OTHER].zones[2].rrs.extend(RR.fromZone("ns.noglue.alt. 3600 IN A 127.0.0.13"))
    net[OTHER].zones.append(zone("deep.test.", "host.deep.test. 300 IN A 127.1.0.10"))
    res = Harness(net, config=IterConfig(max_depth=2)).resolve("host.deep.test")
    assert h_addresses(res) == ["127.1.0.10"]
    res = Harness(net, config=IterConfig(max_depth=1)).resolve("host.deep.test")
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "no usable server for zone deep.test.")


def h_addresses(res: object) -> list[str]:
    return Harness(default_net()).addresses(res)  # type: ignore[arg-type]


def test_a_cname_to_a_missing_name_in_the_same_zone_is_one_cached_nxdomain() -> None:
    net = default_net()
    _add(net, EXAMPLE, "dangling.example.test. 300 IN CNAME missing.example.test.")
    h = Harness(net)
    res = h.resolve("dangling.example.test")
    assert (res.rcode, [s.rtype for s in res.answer]) == (RCODE.NXDOMAIN, [QTYPE.CNAME])
    assert [(s.name, s.rtype, s.ttl) for s in res.authority] == [
        (name_of("example.test"), QTYPE.SOA, 300)
    ]
    assert steps(res)[-1][2:] == ("nxdomain", "CNAME missing.example.test. -> no such name")
    assert queries_for(h, lambda: h.resolve("dangling.example.test")) == 0
    assert queries_for(h, lambda: h.resolve("missing.example.test", "MX")) == 0
    again = h.resolve("missing.example.test", "MX")
    assert (again.rcode, again.authority[0].ttl) == (RCODE.NXDOMAIN, 300)


def test_a_cname_to_nodata_in_the_same_zone_is_cached_for_that_type() -> None:
    h = Harness(default_net())
    first = h.resolve("alias.example.test", "AAAA")
    assert queries_for(h, lambda: h.resolve("alias.example.test", "AAAA")) == 0
    again = h.resolve("alias.example.test", "AAAA")
    assert (again.rcode, again.answer, again.authority) == (0, first.answer, first.authority)
    assert h.addresses(h.resolve("www.example.test")) == ["127.1.0.1"]


def test_a_failure_after_a_cname_keeps_the_chain() -> None:
    net = default_net()
    net[OTHER].down = True  # host.glueless.test's server
    res = Harness(net).resolve("far.example.test")
    assert res.rcode == RCODE.SERVFAIL
    assert _texts(res.answer) == ["far.example.test. 300 IN CNAME host.glueless.test."]


def test_a_cname_loop_across_zones_not_through_the_name_asked_for_is_a_loop() -> None:
    net = default_net()
    _add(net, EXAMPLE, "into.example.test. 300 IN CNAME a.other.test.")
    _add(net, OTHER, "a.other.test. 300 IN CNAME b.example.test.")
    _add(net, EXAMPLE, "b.example.test. 300 IN CNAME a.other.test.")
    res = Harness(net).resolve("into.example.test")
    assert (res.rcode, res.reason, len(res.answer)) == (RCODE.SERVFAIL, "CNAME loop", 3)


def test_root_servers_without_addresses_fall_back_to_the_hints() -> None:
    h = Harness(default_net())
    root_ns = RRset(ROOT, QTYPE.NS, 3600, (b"\x01b\x04root\x04test\x00",))  # no address known
    h.resolver.cache.put_rrset(root_ns, Rank.AUTHORITY, h.now)
    res = h.resolve("www.example.test")
    assert h.addresses(res) == ["127.1.0.1"] and h.sent[0].server == "127.0.0.10"


def test_each_answer_times_its_server() -> None:
    h = Harness(default_net(), rtt=0.05)
    h.resolve("www.example.test")
    seen = h.resolver.selector.snapshot()
    assert sorted(seen) == ["127.0.0.10", "127.0.0.11", EXAMPLE]
    assert all(s["srtt"] == pytest.approx(0.05) for s in seen.values())


def test_case_randomisation_flips_letters_only() -> None:
    h = Harness(default_net(), config=IterConfig(randomize_case=True), seed=7)
    name = "az" * 20 + ".`{09-_@[." + "a" * 30 + ".test"
    h.resolve(name)
    sent = str(h.sent[0].qlabel)
    assert sent.lower() == name.lower() + "." and sent != name.lower() + "."
    assert "A" in sent and "Z" in sent and "a" in sent and "z" in sent
    assert ".`{09-_@[." in sent
    assert sent == GOLDEN_0X20


#: what case randomisation makes of that name with the seed 7 (one random bit per letter)
GOLDEN_0X20 = (
    "AzaZAzaZaZAzazazazaZazAZaZaZAZAzAZazAzaZ.`{09-_@[.AaaaaAaAaAAAaaAAAaaaAAaAaAaaAA.tEst."
)
