"""The resolver daemon over real sockets, against fake authoritative servers, with dnspython."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
from dnslib import RCODE, RR, DNSHeader, DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minternet.control import request as control
from tests.dnsserver.rawclient import udp_exchange

from .conftest import Hierarchy

Start = Any


def addresses(resp: dns.message.Message) -> list[str]:
    return sorted(
        rd.address for rrset in resp.answer if rrset.rdtype == dns.rdatatype.A for rd in rrset
    )


async def ask(
    port: int,
    name: str,
    rdtype: str = "A",
    *,
    rd: bool = True,
    tcp: bool = False,
    timeout: float = 5.0,
) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, use_edns=0)
    if not rd:
        q.flags &= ~dns.flags.RD
    if tcp:
        return await dns.asyncquery.tcp(q, "127.0.0.1", port=port, timeout=timeout)
    return await dns.asyncquery.udp(q, "127.0.0.1", port=port, timeout=timeout)


async def test_resolves_through_the_hierarchy_and_caches(start_resolver: Start) -> None:
    d, ports = await start_resolver()
    resp = await ask(ports["dns"], "WwW.ExAmple.TEST.")
    assert resp.rcode() == dns.rcode.NOERROR
    assert addresses(resp) == ["127.1.0.1"]
    assert resp.flags & dns.flags.RA and not resp.flags & dns.flags.AA
    assert resp.question[0].name.to_text() == "WwW.ExAmple.TEST."  # the client's case
    sent = d.stats.upstream_queries
    assert sent == 3
    for name in ("www.example.test.", "WWW.EXAMPLE.TEST."):
        again = await ask(ports["dns"], name)
        assert addresses(again) == ["127.1.0.1"]
        assert again.question[0].name.to_text() == name
        assert 0 < again.answer[0].ttl <= 300
    assert d.stats.upstream_queries == sent
    assert d.stats.cache_hits >= 2


async def test_cname_across_zones_nxdomain_and_nodata(start_resolver: Start) -> None:
    _, ports = await start_resolver()
    resp = await ask(ports["dns"], "far.example.test.")
    assert addresses(resp) == ["127.1.0.4"]
    resp = await ask(ports["dns"], "nope.example.test.")
    assert resp.rcode() == dns.rcode.NXDOMAIN
    assert resp.authority and resp.authority[0].rdtype == dns.rdatatype.SOA
    resp = await ask(ports["dns"], "www.example.test.", "AAAA")
    assert resp.rcode() == dns.rcode.NOERROR and not resp.answer


async def test_tcp_clients_and_norec_cache_only(start_resolver: Start) -> None:
    d, ports = await start_resolver()
    resp = await ask(ports["dns"], "www.other.test.", tcp=True)
    assert addresses(resp) == ["127.1.0.3"]
    sent = d.stats.upstream_queries
    cached = await ask(ports["dns"], "www.other.test.", rd=False)
    assert addresses(cached) == ["127.1.0.3"]
    missing = await ask(ports["dns"], "mail.example.test.", rd=False)
    assert missing.rcode() == dns.rcode.NOERROR and not missing.answer
    assert d.stats.upstream_queries == sent
    # the cache-only reply is not what a recursive query gets afterwards
    assert addresses(await ask(ports["dns"], "mail.example.test.")) == ["127.1.0.2"]


def section(rrsets: list[Any]) -> list[str]:
    """Each record as "owner class type rdata" (TTLs count down: left out)."""
    lines = [line.split() for rrset in rrsets for line in rrset.to_text().splitlines()]
    return [" ".join([f[0], *f[2:]]) for f in lines]


async def test_norec_cache_miss_is_a_referral_to_the_closest_cached_delegation(
    start_resolver: Start,
) -> None:
    d, ports = await start_resolver()
    # nothing cached: the root is primed (one `. NS` query), then it is the referral
    cold = await ask(ports["dns"], "www.example.test.", rd=False)
    assert cold.rcode() == dns.rcode.NOERROR and not cold.answer
    assert section(cold.authority) == [". IN NS a.root.test."]
    assert d.stats.upstream_queries == 1
    again = await ask(ports["dns"], "www.other.test.", rd=False)
    assert section(again.authority)[0].startswith(". ") and d.stats.upstream_queries == 1
    # after a resolution under example.test., its delegation, with the glue the cache has
    await ask(ports["dns"], "www.example.test.")
    sent = d.stats.upstream_queries
    miss = await ask(ports["dns"], "mail.example.test.", rd=False)
    assert miss.rcode() == dns.rcode.NOERROR and not miss.answer
    assert section(miss.authority) == ["example.test. IN NS ns.example.test."]
    assert section(miss.additional) == ["ns.example.test. IN A 127.0.0.12"]
    assert miss.flags & dns.flags.RA and not miss.flags & (dns.flags.AA | dns.flags.RD)
    assert d.stats.upstream_queries == sent


async def test_norec_with_the_root_unreachable_is_servfail(
    start_resolver: Start, hierarchy: Hierarchy
) -> None:
    hierarchy.net["127.0.0.10"].down = True
    _, ports = await start_resolver(max_time=1.0)
    resp = await ask(ports["dns"], "www.example.test.", rd=False)
    assert resp.rcode() == dns.rcode.SERVFAIL and not resp.authority


async def test_truncated_upstream_answer_is_retried_over_tcp(
    start_resolver: Start, hierarchy: Hierarchy
) -> None:
    hierarchy.net["127.0.0.13"].truncate_udp = True
    d, ports = await start_resolver()
    resp = await ask(ports["dns"], "www.other.test.")
    assert addresses(resp) == ["127.1.0.3"]
    assert d.stats.upstream_tcp == 1


async def test_control_stats_dump_and_flush(start_resolver: Start) -> None:
    d, ports = await start_resolver()
    ctl = f"127.0.0.1:{ports['control']}"
    await ask(ports["dns"], "www.example.test.")
    stats = await asyncio.to_thread(control, ctl, "stats")
    assert stats["stats"]["upstream_queries"] == 3
    dump = await asyncio.to_thread(control, ctl, "dump www.example.test")
    assert any("127.1.0.1" in row for row in dump["entries"])
    flushed = await asyncio.to_thread(control, ctl, "flush www.example.test")
    assert flushed["flushed"] >= 1
    await ask(ports["dns"], "www.example.test.")
    assert d.stats.upstream_queries == 4  # only the flushed name was asked again
    bad = await asyncio.to_thread(control, ctl, "frobnicate")
    assert "error" in bad


async def test_clients_outside_the_acl_are_refused(start_resolver: Start) -> None:
    d, ports = await start_resolver(allow=("10.0.0.0/8",))
    resp = await ask(ports["dns"], "www.example.test.")
    assert resp.rcode() == dns.rcode.REFUSED
    assert d.stats.upstream_queries == 0


async def test_rate_limited_clients_are_dropped(start_resolver: Start) -> None:
    d, ports = await start_resolver(rate_limit=5.0)
    answered = 0
    for i in range(20):
        try:
            await ask(ports["dns"], f"n{i}.example.test.", timeout=0.2)
            answered += 1
        except dns.exception.Timeout:
            pass
    assert answered < 20 and d.stats.ratelimited > 0


async def test_server_answering_another_question_is_rejected(
    start_resolver: Start, hierarchy: Hierarchy
) -> None:
    def other_question(q: DNSRecord) -> DNSRecord:
        r = DNSRecord(DNSHeader(id=q.header.id, qr=1, aa=1))
        r.add_question(*DNSRecord.question("www.example.test", "A").questions)
        r.add_answer(*RR.fromZone("www.example.test. 300 IN A 127.0.0.66"))
        return r

    hierarchy.net["127.0.0.13"].handler = other_question
    d, ports = await start_resolver(max_time=2.0)
    resp = await ask(ports["dns"], "www.other.test.")
    assert resp.rcode() == dns.rcode.SERVFAIL
    assert d.stats.dropped_forged >= 1
    # the answer to the question nobody asked was not cached either
    dump = await asyncio.to_thread(control, f"127.0.0.1:{ports['control']}", "dump")
    assert not any("127.0.0.66" in row for row in dump["entries"])


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_garbage_from_clients_never_stops_the_resolver(
    start_resolver: Start, data: st.DataObject
) -> None:
    # One resolver for all examples: hypothesis reuses the fixture's instance.
    global _live
    if _live is None or _live[0].loop is not asyncio.get_running_loop():
        _live = await start_resolver()
    _d, ports = _live
    good = bytes(DNSRecord.question("www.example.test", "A").pack())
    raw = data.draw(
        st.one_of(
            st.binary(max_size=600),
            st.builds(
                lambda i, b: good[:i] + bytes([b]) + good[i + 1 :],
                st.integers(0, len(good) - 1),
                st.integers(0, 255),
            ),
            st.builds(lambda n: good[:n], st.integers(0, len(good))),
        )
    )
    with_reply = None
    with contextlib.suppress(TimeoutError):
        with_reply = await udp_exchange(ports["dns"], raw, timeout=0.2)
    if with_reply is not None and len(with_reply) >= 12:
        assert with_reply[2] & 0x80  # only ever responses
    resp = await ask(ports["dns"], "www.example.test.")
    assert addresses(resp) == ["127.1.0.1"]


_live: Any = None


async def test_big_answers_truncate_for_small_udp_and_go_whole_over_tcp(
    start_resolver: Start,
) -> None:
    _, ports = await start_resolver()
    q = dns.message.make_query("big.example.test.", "TXT")  # no EDNS: 512 bytes at most
    udp = await dns.asyncquery.udp(q, "127.0.0.1", port=ports["dns"], timeout=5)
    assert udp.flags & dns.flags.TC and not udp.answer
    assert udp.question[0].name.to_text() == "big.example.test."
    tcp = await dns.asyncquery.tcp(q, "127.0.0.1", port=ports["dns"], timeout=5)
    assert not tcp.flags & dns.flags.TC and sum(len(rr) for rr in tcp.answer) == 20
    again = await dns.asyncquery.udp(q, "127.0.0.1", port=ports["dns"], timeout=5)
    assert again.flags & dns.flags.TC  # the cached answer is not sent whole over UDP either


async def test_case_randomisation_upstream(start_resolver: Start) -> None:
    d, ports = await start_resolver(randomize_case=True)
    assert addresses(await ask(ports["dns"], "far.example.test.")) == ["127.1.0.4"]
    assert d.stats.dropped_forged == 0


async def test_flood_of_unique_names_is_bounded(
    start_resolver: Start, hierarchy: Hierarchy
) -> None:
    hierarchy.net["127.0.0.12"].delay = 0.2
    d, ports = await start_resolver(max_pending=4, cache_size=50, message_cache_size=50)
    loop = asyncio.get_running_loop()
    got: list[bytes] = []

    class Collect(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            got.append(data)

    tr, _ = await loop.create_datagram_endpoint(Collect, remote_addr=("127.0.0.1", ports["dns"]))
    try:
        for i in range(200):
            tr.sendto(bytes(DNSRecord.question(f"u{i}.example.test", "A").pack()))
        await asyncio.sleep(0.5)
        # four places, one client holds two at most, each for 0.2 s (the slow server): the
        # rest are shed, each with an answer
        assert d.stats.shed_client > 150
        assert len(d.tasks) <= 2 and len(d.admission) <= 2 and len(d.cache) <= 50
        shed = d.stats.shed_client

        def servfails() -> int:
            return sum(DNSRecord.parse(r).header.rcode == RCODE.SERVFAIL for r in got)

        for _ in range(100):  # every shed query's answer arrives (a loaded loop reads them late)
            if servfails() >= shed:
                break
            await asyncio.sleep(0.05)
        assert servfails() >= shed
    finally:
        tr.close()
    hierarchy.net["127.0.0.12"].delay = 0.0
    for _ in range(50):  # the flood drains; then everyone is served again
        if not len(d.tasks):
            break
        await asyncio.sleep(0.1)
    assert addresses(await ask(ports["dns"], "www.example.test.")) == ["127.1.0.1"]


async def test_cached_answers_count_their_ttls_down(start_resolver: Start) -> None:
    d, ports = await start_resolver()
    first = await ask(ports["dns"], "www.example.test.")
    assert first.answer[0].ttl == 300
    await ask(ports["dns"], "www.example.test.")  # now an exact-repeat ("hot") entry
    # Age every cached copy by 100 s instead of sleeping: packed answers and RRsets.
    for entry in d.frontend.answers.values():
        entry.created -= 100
        entry.expires -= 100
    for hot in d.frontend.hot.values():
        hot[1] = 0.0
    later = await ask(ports["dns"], "www.example.test.")
    assert later.answer[0].ttl == 200
    other_case = await ask(ports["dns"], "WWW.EXAMPLE.TEST.")
    assert other_case.answer[0].ttl == 200
    assert other_case.question[0].name.to_text() == "WWW.EXAMPLE.TEST."


async def test_forwarding_mode_sends_everything_to_another_resolver(
    start_resolver: Start,
) -> None:
    upstream, up_ports = await start_resolver()
    fwd, ports = await start_resolver(forward=(f"127.0.0.1:{up_ports['dns']}",))
    assert addresses(await ask(ports["dns"], "far.example.test.")) == ["127.1.0.4"]
    assert fwd.stats.upstream_queries == 1  # one recursive query, the other walked the tree
    assert upstream.stats.upstream_queries > 1
    nx = await ask(ports["dns"], "nope.example.test.")
    assert nx.rcode() == dns.rcode.NXDOMAIN


async def test_reload_rereads_root_hints_and_keeps_old_ones_on_error(
    start_resolver: Start, hints_file: Any
) -> None:
    d, _ = await start_resolver()
    hints_file.write_text(". 3600 IN NS a.root.test.\na.root.test. 3600 IN A 127.0.0.99\n")
    d.reload()
    assert d.core.hints.all_addresses() == ["127.0.0.99"]
    hints_file.write_text("this is not a hints file\n")
    d.reload()
    assert d.core.hints.all_addresses() == ["127.0.0.99"]


async def test_edns_do_bit_is_echoed(start_resolver: Start) -> None:
    _, ports = await start_resolver()
    for _ in range(2):  # resolved, then from the packed-answer cache
        for want_do in (True, False):
            q = dns.message.make_query("www.example.test.", "A", want_dnssec=want_do)
            r = await dns.asyncquery.udp(q, "127.0.0.1", port=ports["dns"], timeout=5)
            assert bool(r.ednsflags & dns.flags.DO) == want_do
            assert addresses(r) == ["127.1.0.1"]
