"""The resolver's defences over real sockets, against the fake hierarchy: who gets served when
one client floods new names, when a zone is flooded from many clients, when slow queries hold
every place, and when an authority answers everything truncated."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import pytest

from dnsserver.resolver.stats import PER_SECOND
from minternet.control import request as control

from .conftest import Hierarchy

Start = Any


class Client(asyncio.DatagramProtocol):
    """A stub on an address of its own; answers collected by ID."""

    def __init__(self) -> None:
        self.answers: dict[int, dns.message.Message] = {}
        self.order: list[int] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        msg = dns.message.from_wire(data)
        self.answers[msg.id] = msg
        self.order.append(msg.id)

    def ask(self, name: str, qid: int, *, edns: bool = False) -> None:
        q = dns.message.make_query(name, "A", use_edns=0 if edns else False, id=qid)
        if edns:
            q.use_edns(0, dns.flags.DO, 1232)
        assert self.transport is not None
        self.transport.sendto(q.to_wire())

    async def wait(self, ids: list[int], timeout: float = 5.0) -> None:
        for _ in range(int(timeout / 0.02)):
            if all(i in self.answers for i in ids):
                return
            await asyncio.sleep(0.02)


@pytest.fixture
async def stubs() -> AsyncIterator[Callable[[str, int], Awaitable[Client]]]:
    """Clients on addresses of their own, closed after the test."""
    made: list[Client] = []

    async def make(address: str, port: int) -> Client:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(
            Client, local_addr=(address, 0), remote_addr=("127.0.0.1", port)
        )
        made.append(proto)
        return proto

    yield make
    for c in made:
        if c.transport is not None:
            c.transport.close()


async def test_a_flooding_client_is_shed_at_once_and_still_gets_its_cached_names(
    start_resolver: Start, stubs: Any
) -> None:
    # five resolutions, and (at one per 1,000 s) none more however slow the machine is
    d, ports = await start_resolver(resolution_rate=0.001, resolution_burst=5)
    flooder = await stubs("127.0.0.101", ports["dns"])
    flooder.ask("www.example.test.", 1)  # cached from now on (two resolutions of five)
    flooder.ask("alias.example.test.", 3)
    await flooder.wait([1, 3])
    d.frontend.flush()  # no whole answers kept: the records are, in the cache
    for i in range(100):
        flooder.ask(f"u{i}.example.test.", 1000 + i, edns=i % 2 == 0)
    flooder.ask("www.example.test.", 2)  # cached: answered, budget or not
    flooder.ask("alias.example.test.", 4)  # a CNAME to it: in the cache too
    other = await stubs("127.0.0.102", ports["dns"])
    other.ask("www.other.test.", 7)  # another client: its own budget
    await flooder.wait([2, 4, *range(1000, 1100)])
    await other.wait([7])
    a = flooder.answers
    assert [rd.address for rr in a[2].answer for rd in rr] == ["127.1.0.1"]
    assert a[4].rcode() == dns.rcode.NOERROR and len(a[4].answer) == 2
    assert other.answers[7].rcode() == dns.rcode.NOERROR
    codes = [a[1000 + i].rcode() for i in range(100)]
    assert codes.count(dns.rcode.SERVFAIL) >= 97  # three resolutions left in its budget
    assert codes.count(dns.rcode.SERVFAIL) + codes.count(dns.rcode.NXDOMAIN) == 100
    assert d.stats.shed_client == codes.count(dns.rcode.SERVFAIL)
    for i in range(100):  # the shed answers: the question, RA, and EDNS if it was asked with
        r = a[1000 + i]
        if r.rcode() != dns.rcode.SERVFAIL:
            continue
        assert r.question[0].to_text() == f"u{i}.example.test. IN A"
        assert r.flags & dns.flags.QR and r.flags & dns.flags.RA and r.flags & dns.flags.RD
        assert not r.answer and not r.authority
        assert (r.edns, r.ednsflags) == ((0, dns.flags.DO) if i % 2 == 0 else (-1, 0))


async def test_a_query_held_too_long_gives_its_place_to_a_new_one(
    start_resolver: Start, hierarchy: Hierarchy, stubs: Any
) -> None:
    d, ports = await start_resolver(max_pending=2, jostle_timeout=0.1)
    first = await stubs("127.0.0.101", ports["dns"])
    first.ask("www.other.test.", 1)  # learn the delegations while everything is fast
    await first.wait([1])
    hierarchy.net["127.0.0.13"].delay = 1.5  # other.test.'s server turns slow
    first.ask("a.other.test.", 2)
    await asyncio.sleep(0.05)
    second = await stubs("127.0.0.102", ports["dns"])
    second.ask("b.other.test.", 3)
    await asyncio.sleep(0.2)
    third = await stubs("127.0.0.103", ports["dns"])
    third.ask("www.example.test.", 4)  # the table is full: the oldest query gives way
    await third.wait([4])
    await first.wait([2])
    assert third.answers[4].rcode() == dns.rcode.NOERROR
    assert first.answers[2].rcode() == dns.rcode.SERVFAIL  # at once, not after the slow server
    assert 3 not in second.answers  # still waiting for the slow server, in its place
    assert d.stats.jostled == 1 and d.stats.shed_capacity == 0
    await second.wait([3])  # (whatever the slow server's fate) it kept its place to the end
    assert 3 in second.answers and d.stats.jostled == 1 and len(d.admission) == 0


async def test_a_zone_flooded_from_many_clients_leaves_room_for_other_zones(
    start_resolver: Start, stubs: Any
) -> None:
    d, ports = await start_resolver(zone_rate=0.001, zone_burst=3, resolution_rate=0)
    warm = await stubs("127.0.0.100", ports["dns"])
    warm.ask("www.example.test.", 1)  # the root's budget is not limited: delegations learnt
    await warm.wait([1])
    flooders = [await stubs(f"127.0.0.{110 + i}", ports["dns"]) for i in range(8)]
    for i, c in enumerate(flooders):
        c.ask(f"n{i}.example.test.", 10 + i)
    for i, c in enumerate(flooders):
        await c.wait([10 + i])
    codes = [c.answers[10 + i].rcode() for i, c in enumerate(flooders)]
    # three resolutions of example.test. in its burst (www was asked while the cache knew
    # only the root: the root's budget, which is not limited)
    assert codes.count(dns.rcode.NXDOMAIN) == 3 and codes.count(dns.rcode.SERVFAIL) == 5
    assert d.stats.shed_zone == 5 and d.stats.shed_client == 0
    warm.ask("www.other.test.", 2)  # another zone, its own budget
    await warm.wait([2])
    assert warm.answers[2].rcode() == dns.rcode.NOERROR


async def test_tcp_retries_to_one_server_are_capped(
    start_resolver: Start, hierarchy: Hierarchy, stubs: Any
) -> None:
    d, ports = await start_resolver(upstream_tcp_per_server=1, max_upstream_timeout=0.4)
    warm = await stubs("127.0.0.100", ports["dns"])
    warm.ask("www.other.test.", 1)
    await warm.wait([1])
    ns = hierarchy.net["127.0.0.13"]
    ns.truncate_udp, ns.tcp_delay = True, 0.3
    worst = 0
    for i in range(4):
        warm.ask(f"t{i}.other.test.", 10 + i)
    for _ in range(50):
        worst = max(worst, d.upstream.tcp_in_flight.get("127.0.0.13", 0))
        if all(10 + i in warm.answers for i in range(4)):
            break
        await asyncio.sleep(0.02)
    await warm.wait([10, 11, 12, 13])
    assert worst == 1 and d.stats.upstream_tcp_capped >= 1
    assert d.upstream.tcp_in_flight == {}
    assert dns.rcode.NXDOMAIN in [warm.answers[10 + i].rcode() for i in range(4)]


async def test_stats_show_the_last_second(start_resolver: Start) -> None:
    _, ports = await start_resolver()
    ctl = f"127.0.0.1:{ports['control']}"
    first = await asyncio.to_thread(control, ctl, "stats")
    assert first["last_second"] == {} and first["resolutions_in_progress"] == 0
    for _ in range(30):
        await asyncio.sleep(0.1)
        reply = await asyncio.to_thread(control, ctl, "stats")
        if reply["last_second"]:
            break
    assert set(reply["last_second"]) == {*PER_SECOND, "resolutions"}
    assert all(v == 0 for v in reply["last_second"].values())
    assert set(reply["stats"]) >= {"answers", "shed_client", "shed_zone", "shed_capacity"}


def test_unwanted_answers_past_the_threshold_call_for_the_defence_once_each_time() -> None:
    from dnsserver.aio.upstream import Upstream
    from dnsserver.resolver.stats import Stats

    calls: list[int] = []
    up = Upstream(port=53, stats=Stats(), unwanted_threshold=3, on_unwanted=calls.append)
    for _ in range(7):
        up.forged("a test")
    assert calls == [3, 3] and up.unwanted == 1 and up.stats.dropped_forged == 7
    off = Upstream(port=53, stats=Stats(), on_unwanted=calls.append)  # 0: never
    for _ in range(50):
        off.forged("a test")
    assert calls == [3, 3] and off.stats.dropped_forged == 50


async def test_the_cache_is_flushed_after_too_many_unwanted_answers(
    start_resolver: Start, hierarchy: Hierarchy, caplog: pytest.LogCaptureFixture
) -> None:
    from dnslib import RR, DNSHeader, DNSRecord

    d, ports = await start_resolver(unwanted_reply_threshold=2, max_time=2.0)
    ctl = f"127.0.0.1:{ports['control']}"
    warm = dns.message.make_query("www.example.test.", "A")
    await dns.asyncquery.udp(warm, "127.0.0.1", port=ports["dns"], timeout=5)
    assert any(
        "www.example.test." in r for r in (await asyncio.to_thread(control, ctl, "dump"))["entries"]
    )

    def other_question(q: DNSRecord) -> DNSRecord:  # an answer to a question nobody asked
        r = DNSRecord(DNSHeader(id=q.header.id, qr=1, aa=1))
        r.add_question(*DNSRecord.question("www.example.test", "A").questions)
        r.add_answer(*RR.fromZone("www.example.test. 300 IN A 127.0.0.66"))
        return r

    hierarchy.net["127.0.0.13"].handler = other_question
    q = dns.message.make_query("www.other.test.", "A")
    r = await dns.asyncquery.udp(q, "127.0.0.1", port=ports["dns"], timeout=5)
    assert r.rcode() == dns.rcode.SERVFAIL
    assert d.stats.dropped_forged >= 2 and d.stats.unwanted_flushes >= 1
    dump = (await asyncio.to_thread(control, ctl, "dump"))["entries"]
    assert not any("www.example.test." in row for row in dump)  # flushed: nothing poisoned kept
    assert not d.frontend.answers and not d.frontend.hot
    assert any(
        "unmatched upstream answers (spoofing?): cache flushed" in m for m in caplog.messages
    )
