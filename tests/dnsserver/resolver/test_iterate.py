"""The resolution core against an in-memory hierarchy, with an injected clock."""

from __future__ import annotations

import random

from dnslib import QTYPE, RCODE, RR, DNSHeader, DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsserver.resolver.cache import CacheConfig
from dnsserver.resolver.iterate import IterConfig
from dnsserver.resolver.rrset import RRset, group, is_within, name_of

from .fakes import FakeServer, Harness, default_net


def queries_for(h: Harness, fn: object) -> int:
    before = len(h.sent)
    fn()  # type: ignore[operator]
    return len(h.sent) - before


def test_walks_root_tld_authoritative_then_answers_from_cache() -> None:
    h = Harness(default_net())
    res = h.resolve("www.example.test")
    assert res.rcode == RCODE.NOERROR
    assert h.addresses(res) == ["127.1.0.1"]
    assert [q.server for q in h.sent] == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
    assert [s.outcome for s in res.steps] == ["referral", "referral", "answer"]
    n = len(h.sent)
    again = h.resolve("WWW.Example.TEST")
    assert h.addresses(again) == ["127.1.0.1"] and len(h.sent) == n
    # a sibling name skips root and TLD: the delegation is cached
    h.resolve("mail.example.test")
    assert [q.server for q in h.sent[n:]] == ["127.0.0.12"]


def test_ns_name_without_glue_is_resolved_elsewhere() -> None:
    h = Harness(default_net())
    res = h.resolve("host.noglue.alt")
    assert h.addresses(res) == ["127.1.0.6"]
    asked = [(q.server, q.qname) for q in h.sent]
    assert ("127.0.0.13", name_of("ns.alt-servers.test")) in asked


def test_ns_loop_is_detected_and_fails_within_budget() -> None:
    h = Harness(default_net())
    res = h.resolve("x.loopa.alt")
    assert res.rcode == RCODE.SERVFAIL
    assert len(h.sent) < h.config.max_queries


def test_cname_in_zone_and_across_zones() -> None:
    h = Harness(default_net())
    res = h.resolve("alias.example.test")
    assert [s.rtype for s in res.answer] == [QTYPE.CNAME, QTYPE.A]
    assert h.addresses(res) == ["127.1.0.1"]
    res = h.resolve("far.example.test")
    assert [s.rtype for s in res.answer] == [QTYPE.CNAME, QTYPE.A]
    assert h.addresses(res) == ["127.1.0.4"]
    assert h.sent[-1].server == "127.0.0.13"


def test_steps_show_the_cnames_they_were_answered_with() -> None:
    # `dnsserver trace` prints each step's outcome and detail: a CNAME must not be hidden
    h = Harness(default_net())
    res = h.resolve("alias.example.test")  # CNAME and its target in one answer
    assert (res.steps[-1].outcome, res.steps[-1].detail) == (
        "answer",
        "CNAME www.example.test. -> A 127.1.0.1",
    )
    res = Harness(default_net()).resolve("far.example.test")  # the target is in another zone
    shown = [(s.outcome, s.detail) for s in res.steps]
    assert ("cname", "CNAME host.glueless.test.") in shown
    assert shown[-1] == ("answer", "A 127.1.0.4")


def test_cname_to_missing_name_is_nxdomain_with_the_chain() -> None:
    h = Harness(default_net())
    res = h.resolve("nx.example.test")
    assert res.rcode == RCODE.NXDOMAIN
    assert [s.rtype for s in res.answer] == [QTYPE.CNAME]
    assert [s.rtype for s in res.authority] == [QTYPE.SOA]


def test_lame_server_is_skipped() -> None:
    h = Harness(default_net())
    h.resolver.selector.on_rtt("127.0.0.14", 0.0001)  # make the lame server look fastest
    res = h.resolve("www.lame.test")
    assert h.addresses(res) == ["127.1.0.5"]
    assert h.net["127.0.0.14"].queries == 1
    assert h.resolve("other.lame.test").rcode == RCODE.NXDOMAIN


def test_dead_server_times_out_then_the_fast_one_is_preferred() -> None:
    net = default_net()
    net["127.0.0.14"].down = True
    h = Harness(net)
    h.resolver.selector.on_rtt("127.0.0.14", 0.0001)
    t0 = h.now
    res = h.resolve("www.lame.test")
    assert h.addresses(res) == ["127.1.0.5"]
    assert [s.outcome for s in res.steps] == ["referral", "referral", "timeout", "answer"]
    assert h.now - t0 < 2 * h.resolver.selector.config.max_rto
    n = net["127.0.0.14"].queries
    for i in range(5):
        h.resolve(f"h{i}.lame.test")
    assert net["127.0.0.14"].queries == n  # its SRTT went up: the live server is asked


def test_every_server_down_is_servfail_within_bounded_time() -> None:
    net = default_net()
    net["127.0.0.12"].down = True
    h = Harness(net)
    t0 = h.now
    res = h.resolve("www.example.test")
    assert res.rcode == RCODE.SERVFAIL
    assert h.now - t0 <= h.config.max_time + h.resolver.selector.config.max_rto
    assert h.stats.upstream_timeouts >= 2


def test_negative_answers_cached_for_soa_minimum() -> None:
    h = Harness(default_net())
    res = h.resolve("nope.example.test")
    assert res.rcode == RCODE.NXDOMAIN and res.authority[0].rtype == QTYPE.SOA
    assert queries_for(h, lambda: h.resolve("nope.example.test")) == 0
    # RFC 8020: nothing exists below an NXDOMAIN name either
    assert queries_for(h, lambda: h.resolve("deep.nope.example.test")) == 0
    res = h.resolve("www.example.test", "AAAA")
    assert res.rcode == RCODE.NOERROR and not res.answer
    assert queries_for(h, lambda: h.resolve("www.example.test", "AAAA")) == 0
    h.now += 299
    cached = h.resolve("nope.example.test")
    assert cached.authority[0].ttl <= 1
    h.now += 2  # SOA MINIMUM is 300 s
    assert queries_for(h, lambda: h.resolve("nope.example.test")) == 1
    assert queries_for(h, lambda: h.resolve("www.example.test", "AAAA")) == 1


def test_ttl_counts_down_and_expires() -> None:
    h = Harness(default_net())
    h.resolve("www.other.test")  # TTL 60
    h.now += 25
    res = h.resolve("www.other.test")
    assert res.answer[0].ttl in (34, 35)
    h.now += 36
    assert queries_for(h, lambda: h.resolve("www.other.test")) == 1


def test_ttl_caps() -> None:
    h = Harness(default_net(), cache_config=CacheConfig(max_ttl=100, min_ttl=120))
    res = h.resolve("www.example.test")  # TTL 300
    assert res.answer[0].ttl <= 120
    h.now += 119
    assert queries_for(h, lambda: h.resolve("www.example.test")) == 0


def test_serve_stale_when_all_servers_are_down() -> None:
    for stale in (True, False):
        net = default_net()
        h = Harness(net, cache_config=CacheConfig(serve_stale=stale))
        assert h.addresses(h.resolve("www.example.test")) == ["127.1.0.1"]
        h.now += 3600 * 2  # every TTL, delegations included, has run out
        for s in net.values():
            s.down = True
        res = h.resolve("www.example.test")
        if stale:
            assert res.rcode == RCODE.NOERROR and res.stale
            assert h.addresses(res) == ["127.1.0.1"] and res.answer[0].ttl == 30
        else:
            assert res.rcode == RCODE.SERVFAIL


def test_query_budget_exhaustion_is_servfail() -> None:
    h = Harness(default_net(), config=IterConfig(max_queries=2))
    res = h.resolve("www.example.test")
    assert res.rcode == RCODE.SERVFAIL
    assert len(h.sent) == 2
    assert "budget" in res.reason


def test_cname_restart_limit() -> None:
    net = default_net()
    h = Harness(net, config=IterConfig(max_restarts=0))
    res = h.resolve("far.example.test")
    assert res.rcode == RCODE.SERVFAIL


def _referral_with_poison(q: DNSRecord) -> DNSRecord:
    """A TLD that adds glue for names outside its zone and for names not in the NS set."""
    r = DNSRecord(DNSHeader(id=q.header.id, qr=1), q=q.q)
    r.add_auth(*RR.fromZone("example.test. 3600 IN NS ns.example.test."))
    r.add_auth(*RR.fromZone("example.test. 3600 IN NS ns.victim.alt."))
    r.add_ar(*RR.fromZone("ns.example.test. 3600 IN A 127.0.0.12"))
    r.add_ar(*RR.fromZone("ns.victim.alt. 3600 IN A 127.0.0.66"))  # out of bailiwick
    r.add_ar(*RR.fromZone("www.other.test. 3600 IN A 127.0.0.66"))  # not an NS name
    return r


def test_tld_glue_for_another_zone_is_rejected() -> None:
    net = default_net()
    net["127.0.0.11"].handler = _referral_with_poison
    h = Harness(net)
    res = h.resolve("www.example.test")
    assert h.addresses(res) == ["127.1.0.1"]
    cache = h.resolver.cache
    assert cache.get(name_of("ns.victim.alt"), QTYPE.A, h.now) is None
    assert cache.get(name_of("www.other.test"), QTYPE.A, h.now) is None
    assert h.stats.bailiwick_rejected >= 2
    assert "127.0.0.66" not in [q.server for q in h.sent]


def test_answer_for_a_name_outside_the_servers_zone_is_ignored() -> None:
    net = default_net()
    honest = net["127.0.0.12"]

    def poison(q: DNSRecord) -> DNSRecord | None:
        if str(q.q.qname).lower() != "evil.example.test.":
            return honest.zones[0].answer(q)
        r = DNSRecord(DNSHeader(id=q.header.id, qr=1, aa=1), q=q.q)
        r.add_answer(*RR.fromZone("evil.example.test. 300 IN CNAME www.other.test."))
        r.add_answer(*RR.fromZone("www.other.test. 300 IN A 127.0.0.66"))
        r.add_answer(*RR.fromZone("www.example.test. 300 IN A 127.0.0.66"))  # not asked
        return r

    net["127.0.0.12"].handler = poison
    h = Harness(net)
    res = h.resolve("evil.example.test")
    assert h.addresses(res) == ["127.1.0.3"]  # the true data, from other.test's server
    assert h.sent[-1].server == "127.0.0.13"
    assert h.addresses(h.resolve("www.example.test")) == ["127.1.0.1"]


def test_forwarding_mode_asks_the_forwarder_with_rd() -> None:
    net = default_net()
    auth = net["127.0.0.12"]

    def forwarder(q: DNSRecord) -> DNSRecord | None:
        return auth.zones[0].answer(q)

    net["127.0.0.53"] = FakeServer(handler=forwarder)
    h = Harness(net, config=IterConfig(forwarders=("127.0.0.53",)))
    res = h.resolve("www.example.test")
    assert h.addresses(res) == ["127.1.0.1"]
    assert [(q.server, q.recursion_desired) for q in h.sent] == [("127.0.0.53", True)]


def test_case_randomisation_changes_the_wire_name_only() -> None:
    h = Harness(default_net(), config=IterConfig(randomize_case=True), seed=7)
    res = h.resolve("www.example.test")
    assert h.addresses(res) == ["127.1.0.1"]
    spelled = {str(q.qlabel) for q in h.sent}
    assert any(s != s.lower() for s in spelled)


_names = st.sampled_from(
    [
        "www.example.test.",
        "example.test.",
        "ns.example.test.",
        "www.other.test.",
        ".",
        "test.",
        "evil.alt.",
        "a.b.example.test.",
    ]
)
_types = st.sampled_from(["A", "NS", "CNAME", "SOA", "MX", "AAAA", "TXT"])
_rdata = {
    "A": "127.0.0.66",
    "AAAA": "::66",
    "NS": "ns.evil.alt.",
    "CNAME": "www.other.test.",
    "SOA": "ns.evil.alt. h.evil.alt. 1 2 3 4 5",
    "MX": "10 mx.evil.alt.",
    "TXT": '"x"',
}
_rr = st.builds(
    lambda n, t, ttl: RR.fromZone(f"{n} {ttl} IN {t} {_rdata[t]}")[0],
    _names,
    _types,
    st.integers(0, 2**31),
)


def _honest_records() -> dict[tuple[tuple[bytes, ...], int], set[bytes]]:
    """Every record the honest servers of the fake hierarchy hold, as the cache stores them."""
    out: dict[tuple[tuple[bytes, ...], int], set[bytes]] = {}
    for server in default_net().values():
        for z in server.zones:
            for key, s in group(z.rrs).items():
                out.setdefault(key, set()).update(s.rdatas)
    return out


_HONEST = _honest_records()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rcode=st.sampled_from([0, 1, 2, 3, 4, 5, 9]),
    aa=st.booleans(),
    qr=st.booleans(),
    an=st.lists(_rr, max_size=4),
    ns=st.lists(_rr, max_size=4),
    ar=st.lists(_rr, max_size=4),
    raw=st.one_of(st.none(), st.binary(max_size=64)),
)
def test_garbage_from_an_authoritative_server_never_raises_nor_poisons(
    rcode: int, aa: bool, qr: bool, an: list[RR], ns: list[RR], ar: list[RR], raw: bytes | None
) -> None:
    net = default_net()

    def garbage(q: DNSRecord) -> DNSRecord | None:
        if raw is not None:
            try:
                return DNSRecord.parse(raw)
            except Exception:
                return None
        r = DNSRecord(DNSHeader(id=q.header.id, qr=int(qr), aa=int(aa), rcode=rcode), q=q.q)
        for rr in an:
            r.add_answer(rr)
        for rr in ns:
            r.add_auth(rr)
        for rr in ar:
            r.add_ar(rr)
        return r

    net["127.0.0.12"].handler = garbage
    h = Harness(net, seed=random.randrange(1000))
    res = h.resolve("www.example.test")
    assert res.rcode in (RCODE.NOERROR, RCODE.NXDOMAIN, RCODE.SERVFAIL)
    for owner, rtype, _ttl, _rank, rdatas, neg in h.resolver.cache.entries(h.now):
        # Only the example.test server was hostile: whatever it said stays inside its zone.
        # Everything cached outside it (answers, delegations, glue) is what an honest server
        # of the hierarchy holds, record for record.
        if is_within(owner, name_of("example.test")) or neg:
            continue
        assert all(b"evil" not in d and d != b"\x7f\x00\x00\x42" for d in rdatas), owner
        assert set(rdatas) <= _HONEST.get((owner, rtype), set()), (owner, rtype)


def _add(net: dict[str, FakeServer], server: str, text: str) -> None:
    """Records added to the first zone of the fake server at `server`."""
    net[server].zones[0].rrs.extend(RR.fromZone(text))


def _texts(sets: tuple[RRset, ...]) -> list[str]:
    return [" ".join(rr.toZone().split()) for s in sets for rr in s.to_rrs()]


def test_a_cname_loop_in_one_zone_is_servfail_and_stays_so_from_the_cache() -> None:
    net = default_net()
    _add(
        net,
        "127.0.0.12",
        "loop1.example.test. 300 IN CNAME loop2.example.test.\n"
        "loop2.example.test. 300 IN CNAME loop1.example.test.",
    )
    h = Harness(net)
    res = h.resolve("loop1.example.test")
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "CNAME loop")
    assert _texts(res.answer) == [
        "loop1.example.test. 300 IN CNAME loop2.example.test.",
        "loop2.example.test. 300 IN CNAME loop1.example.test.",
    ]
    n = len(h.sent)
    again = h.resolve("loop2.example.test")  # the loop is cached: no query, the same verdict
    assert (again.rcode, again.reason, len(h.sent)) == (RCODE.SERVFAIL, "CNAME loop", n)
    cached = h.resolver.from_cache(name_of("loop1.example.test"), QTYPE.A, h.now)
    assert cached is not None and (cached.rcode, cached.reason) == (RCODE.SERVFAIL, "CNAME loop")


def test_a_cname_loop_across_zones_is_servfail() -> None:
    net = default_net()
    _add(net, "127.0.0.12", "out.example.test. 300 IN CNAME back.other.test.")
    _add(net, "127.0.0.13", "back.other.test. 300 IN CNAME out.example.test.")
    h = Harness(net)
    res = h.resolve("out.example.test")
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "CNAME loop")
    assert [s.name for s in res.answer] == [name_of("out.example.test"), name_of("back.other.test")]
    assert [s.outcome for s in res.steps] == ["referral", "referral", "cname", "referral", "cname"]


def test_a_long_cname_chain_is_cut_at_the_restart_limit() -> None:
    net = default_net()
    # c0 -> c1 (other.test) -> c2 (example.test) -> ... : a zone change, a restart, at each hop
    for i in range(6):
        server, zone = ("127.0.0.12", "example") if i % 2 == 0 else ("127.0.0.13", "other")
        nxt = "other" if zone == "example" else "example"
        _add(net, server, f"c{i}.{zone}.test. 300 IN CNAME c{i + 1}.{nxt}.test.")
    _add(net, "127.0.0.12", "c6.example.test. 300 IN A 127.1.0.66")
    res = Harness(net, config=IterConfig(max_restarts=6)).resolve("c0.example.test")
    assert res.rcode == RCODE.NOERROR and len(res.answer) == 7
    res = Harness(net, config=IterConfig(max_restarts=5)).resolve("c0.example.test")
    assert (res.rcode, res.reason) == (RCODE.SERVFAIL, "CNAME chain too long")
    assert len(res.answer) == 6


def test_a_cname_out_of_the_zone_is_followed_and_its_target_not_taken_from_that_server() -> None:
    # far.example.test. CNAME host.glueless.test.: example.test's server may not speak for it
    net = default_net()
    _add(net, "127.0.0.12", "host.glueless.test. 300 IN A 127.0.0.66")  # on the wrong server
    h = Harness(net)
    res = h.resolve("far.example.test")
    assert _texts(res.answer) == [
        "far.example.test. 300 IN CNAME host.glueless.test.",
        "host.glueless.test. 300 IN A 127.1.0.4",
    ]


def test_nodata_is_cached_and_answered_again_the_same_way() -> None:
    h = Harness(default_net())
    first = h.resolve("www.example.test", "AAAA")
    assert (first.rcode, first.answer) == (RCODE.NOERROR, ())
    assert _texts(first.authority) == [
        "example.test. 300 IN SOA ns.example.test. host.example.test. 1 7200 3600 1209600 300"
    ]
    assert first.steps[-1].outcome == "nodata"
    h.now += 100
    again = h.resolve("www.example.test", "AAAA")
    assert (again.rcode, again.answer, again.steps) == (RCODE.NOERROR, (), ())
    assert [s.ttl for s in again.authority] == [200]  # the SOA, counted down
    # a NODATA for AAAA says nothing about A
    assert h.addresses(h.resolve("www.example.test")) == ["127.1.0.1"]


def test_a_negative_answer_tells_the_ttl_it_is_cached_for() -> None:
    # RFC 2308 §5: the SOA goes out with min(its TTL, MINIMUM), capped as the cache caps it,
    # the first time as every time after (the server sends it with its own TTL, 3600)
    h = Harness(default_net(), cache_config=CacheConfig(max_negative_ttl=60))
    nx = h.resolve("nope.example.test")
    nodata = h.resolve("www.example.test", "AAAA")
    chained = h.resolve("nx.example.test")  # CNAME to a name that does not exist
    assert [r.authority[0].ttl for r in (nx, nodata, chained)] == [60, 60, 60]
    h = Harness(default_net())
    assert h.resolve("nx.example.test").authority[0].ttl == 300


def test_nxdomain_above_a_name_answers_below_it_without_asking() -> None:
    h = Harness(default_net())
    assert h.resolve("nope.example.test").rcode == RCODE.NXDOMAIN
    h.now += 10
    n = len(h.sent)
    res = h.resolve("deep.er.nope.example.test", "MX")
    assert (res.rcode, res.answer, len(h.sent)) == (RCODE.NXDOMAIN, (), n)
    assert [(s.name, s.rtype, s.ttl) for s in res.authority] == [
        (name_of("example.test"), QTYPE.SOA, 290)
    ]
    # a sibling of the missing name is asked for as usual
    assert h.addresses(h.resolve("mail.example.test")) == ["127.1.0.2"]


def test_a_query_at_the_delegation_point_is_answered_by_the_child() -> None:
    h = Harness(default_net())
    res = h.resolve("example.test", "MX")
    assert _texts(res.answer) == ["example.test. 300 IN MX 10 mail.example.test."]
    assert [q.server for q in h.sent] == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
    assert [s.detail for s in res.steps] == [
        "test. NS ns1.tld.test. (1 glue)",
        "example.test. NS ns.example.test. (1 glue)",
        "MX 10 mail.example.test.",
    ]


def test_serve_stale_never_serves_a_cname_loop() -> None:
    net = default_net()
    _add(
        net,
        "127.0.0.12",
        "loop1.example.test. 300 IN CNAME loop2.example.test.\n"
        "loop2.example.test. 300 IN CNAME loop1.example.test.",
    )
    h = Harness(net, cache_config=CacheConfig(serve_stale=True))
    assert h.resolve("loop1.example.test").reason == "CNAME loop"
    h.now += 7200
    for s in net.values():
        s.down = True
    res = h.resolve("loop1.example.test")
    assert (res.rcode, res.stale, h.stats.stale_answers) == (RCODE.SERVFAIL, False, 0)


def test_serve_stale_answers_a_negative_and_a_chain_from_expired_data() -> None:
    net = default_net()
    h = Harness(net, cache_config=CacheConfig(serve_stale=True, stale_ttl=5))
    h.resolve("nope.example.test")
    h.resolve("alias.example.test")
    h.now += 7200
    for s in net.values():
        s.down = True
    nx = h.resolve("nope.example.test")
    assert (nx.rcode, nx.stale, [s.ttl for s in nx.authority]) == (RCODE.NXDOMAIN, True, [5])
    alias = h.resolve("alias.example.test")
    assert alias.stale and _texts(alias.answer) == [
        "alias.example.test. 5 IN CNAME www.example.test.",
        "www.example.test. 5 IN A 127.1.0.1",
    ]
    assert h.stats.stale_answers == 2


def test_a_ttl_with_its_top_bit_set_is_zero_passed_on_and_never_cached() -> None:
    # RFC 2181 §8: it was taken as 2^31-1 and cached for a day (max_ttl)
    net = default_net()
    example = net["127.0.0.12"].zones[0]

    def top_bit(q: DNSRecord) -> DNSRecord | None:
        r = example.answer(q)
        for rr in r.rr:
            rr.ttl = 0x80000000 | 300
        return r

    net["127.0.0.12"].handler = top_bit
    h = Harness(net)
    res = h.resolve("www.example.test")
    assert [(s.ttl, h.addresses(res)) for s in res.answer] == [(0, ["127.1.0.1"])]
    assert queries_for(h, lambda: h.resolve("www.example.test")) == 1
