"""The daemon in-process on 127.0.0.1 port 0, queried with dnspython over real UDP and TCP."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import pytest

from dnsserver.aio.server import DnsServer
from dnsserver.config import AuthConfig, Limits
from dnsserver.rrl import RrlConfig
from minternet.control import request as control_request
from tests.dnsserver.conftest import rrs
from tests.dnsserver.test_protocol import BIG_ZONE

HOST = "127.0.0.1"
T = 3.0  # client timeout per query


def zone_text(address: str) -> str:
    return (
        "$ORIGIN live.test.\n$TTL 60\n@ SOA ns1 hostmaster 1 7200 3600 1209600 30\n"
        f"@ NS ns1\nns1 A 127.0.0.1\nwww A {address}\n"
    )


@pytest.fixture
async def server(tmp_path: Path, zone_dir: Path) -> AsyncIterator[DnsServer]:
    live = tmp_path / "live.zone"
    live.write_text(zone_text("192.0.2.1"))
    big = tmp_path / "big.zone"
    big.write_text(BIG_ZONE)
    cfg = AuthConfig(
        zones=(str(live), str(big), str(zone_dir / "networkutopia.com.zone")),
        listen=(f"{HOST}:0",),
        rrl=RrlConfig(rate=20, slip=2),
        limits=Limits(tcp_max_connections=4, tcp_idle_timeout=0.5),
    )
    srv = DnsServer(cfg, name="test-dns")
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def port(srv: DnsServer) -> int:
    return srv.addresses[0][1]


async def udp(srv: DnsServer, name: str, rdtype: str = "A", **kw: object) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
    return await dns.asyncquery.udp(q, HOST, port=port(srv), timeout=T)


async def tcp(srv: DnsServer, name: str, rdtype: str = "A", **kw: object) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
    return await dns.asyncquery.tcp(q, HOST, port=port(srv), timeout=T)


async def test_udp_and_tcp_answer_on_the_same_port(server: DnsServer) -> None:
    for r in (await udp(server, "www.live.test"), await tcp(server, "www.live.test")):
        assert rrs(r.answer) == ["www.live.test. 60 IN A 192.0.2.1"]
        assert r.flags & dns.flags.AA and not r.flags & dns.flags.RA


async def test_truncated_over_udp_then_complete_over_tcp(server: DnsServer) -> None:
    q = dns.message.make_query("many.big.test", "TXT", use_edns=0, payload=1232)
    r, used_tcp = await dns.asyncquery.udp_with_fallback(q, HOST, port=port(server), timeout=T)
    assert used_tcp and not r.flags & dns.flags.TC
    assert len(r.answer[0]) == 60
    small = await dns.asyncquery.udp(q, HOST, port=port(server), timeout=T)
    assert small.flags & dns.flags.TC and small.question == q.question


async def test_edns_sizes(server: DnsServer) -> None:
    r = await udp(server, "networkutopia.com", "MX", use_edns=0, payload=4096)
    assert r.edns == 0 and r.payload == 1232
    r = await udp(server, "networkutopia.com", "MX", use_edns=False)
    assert r.edns == -1 and not r.flags & dns.flags.TC
    r = await udp(server, "www.live.test", use_edns=1)
    assert r.rcode() == dns.rcode.BADVERS


async def test_pipelined_queries_on_one_tcp_connection(server: DnsServer) -> None:
    reader, writer = await asyncio.open_connection(HOST, port(server))
    try:
        names = [f"n{i}.live.test" for i in range(10)] + ["www.live.test"]
        queries = [dns.message.make_query(n, "A") for n in names]
        writer.write(
            b"".join(struct.pack("!H", len(w)) + w for w in (q.to_wire() for q in queries))
        )
        await writer.drain()
        for q in queries:  # answered in order, on the same connection
            (n,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), T))
            r = dns.message.from_wire(await asyncio.wait_for(reader.readexactly(n), T))
            assert r.id == q.id
        assert r.rcode() == dns.rcode.NOERROR and r.answer
    finally:
        writer.close()


async def test_idle_tcp_connection_is_closed(server: DnsServer) -> None:
    reader, writer = await asyncio.open_connection(HOST, port(server))
    try:
        assert await asyncio.wait_for(reader.read(), 10) == b""  # EOF from the server
    finally:
        writer.close()


async def test_connection_cap(server: DnsServer) -> None:
    conns = [await asyncio.open_connection(HOST, port(server)) for _ in range(4)]
    try:
        extra_r, extra_w = await asyncio.open_connection(HOST, port(server))
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            extra_w.write(struct.pack("!H", 12) + b"\x00" * 12)
            await extra_w.drain()
            await asyncio.wait_for(extra_r.readexactly(2), T)
        extra_w.close()
    finally:
        for _, w in conns:
            w.close()


async def test_bad_tcp_length_closes_only_that_connection(server: DnsServer) -> None:
    reader, writer = await asyncio.open_connection(HOST, port(server))
    writer.write(b"\x00\x05hello")
    assert await asyncio.wait_for(reader.read(), T) == b""
    writer.close()
    assert (await tcp(server, "www.live.test")).answer


async def test_garbage_flood_does_not_stop_service(server: DnsServer) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        junk = [b"", b"\x00", b"\xff" * 12, b"\x00\x01\x00\x00\x00\x01" + b"\xc0\x0c" * 300]
        for i in range(2000):
            sock.sendto(junk[i % len(junk)] + bytes([i % 256]) * (i % 50), (HOST, port(server)))
            if i % 200 == 0:
                await asyncio.sleep(0)
    finally:
        sock.close()
    r = await udp(server, "www.live.test")
    assert rrs(r.answer) == ["www.live.test. 60 IN A 192.0.2.1"]


async def test_rrl_limits_a_flood_but_not_other_answers(server: DnsServer) -> None:
    loop = asyncio.get_running_loop()
    got: list[bytes] = []

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            got.append(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=(HOST, port(server)))
    try:
        q = dns.message.make_query("www.live.test", "A")
        for i in range(300):
            q.id = i
            transport.sendto(q.to_wire())
        await asyncio.sleep(0.5)
    finally:
        transport.close()
    replies = [dns.message.from_wire(w) for w in got]
    full = [r for r in replies if r.answer]
    slipped = [r for r in replies if r.flags & dns.flags.TC]
    assert len(full) < 150  # rate 20/s: the flood is mostly not answered ...
    assert slipped and all(r.question == q.question for r in slipped)  # ... some slip as TC
    assert (await udp(server, "networkutopia.com", "MX")).answer  # ... others still are
    assert (await tcp(server, "www.live.test")).answer  # ... and TCP is never limited


async def test_reload_good_then_bad_zone(server: DnsServer, tmp_path: Path) -> None:
    assert rrs((await udp(server, "www.live.test")).answer)[0].endswith("192.0.2.1")
    (tmp_path / "live.zone").write_text(zone_text("192.0.2.99"))
    assert await server.reload()
    assert rrs((await udp(server, "www.live.test")).answer)[0].endswith("192.0.2.99")
    (tmp_path / "live.zone").write_text("$ORIGIN live.test.\n@ SOA broken\n")
    assert not await server.reload()  # the error is logged; the old zone keeps serving
    assert rrs((await tcp(server, "www.live.test")).answer)[0].endswith("192.0.2.99")


async def test_reload_while_queries_are_in_flight(server: DnsServer, tmp_path: Path) -> None:
    (tmp_path / "live.zone").write_text(zone_text("192.0.2.7"))
    queries = [udp(server, f"h{i}.live.test") for i in range(15)]  # within the RRL burst
    results = await asyncio.gather(server.reload(), *queries)
    assert results[0] is True
    assert all(r.rcode() == dns.rcode.NXDOMAIN for r in results[1:])  # type: ignore[union-attr]


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
async def test_ipv6_listener(zone_dir: Path) -> None:
    cfg = AuthConfig(
        zones=(str(zone_dir / "networkutopia.com.zone"),), listen=("[::1]:0", f"{HOST}:0")
    )
    srv = DnsServer(cfg)
    await srv.start()
    try:
        (_, port6), (_, port4) = srv.addresses
        q = dns.message.make_query("www.networkutopia.com", "AAAA")
        for where, p in (("::1", port6), (HOST, port4)):
            r = await dns.asyncquery.udp(q, where, port=p, timeout=T)
            assert rrs(r.answer) == ["www.networkutopia.com. 3600 IN AAAA 2001:db8:212::80"]
            r = await dns.asyncquery.tcp(q, where, port=p, timeout=T)
            assert r.answer
    finally:
        await srv.stop()


async def test_each_zone_is_logged_with_its_serial_on_start_and_on_reload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dnsserver.aio.server")
    live = tmp_path / "live.zone"
    live.write_text(zone_text("192.0.2.1"))
    srv = DnsServer(AuthConfig(zones=(str(live),), listen=(f"{HOST}:0",)), name="t")
    assert caplog.messages == ["zone live.test/IN: loaded serial 1, 4 records"]
    caplog.clear()
    live.write_text(zone_text("192.0.2.2").replace(" 1 7200", " 2 7200") + "sub NS ns.sub\n")
    assert await srv.reload()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            f"{live}:7: delegation of sub.live.test. to ns.sub.live.test. has no glue: "
            "ns.sub.live.test. is inside sub.live.test., so this zone must give its A or AAAA "
            "record (glue), or no resolver can reach sub.live.test.",
        ),
        ("INFO", "zone live.test/IN: loaded serial 2, 5 records"),
        ("INFO", "reloaded live.test."),
    ]
    caplog.clear()
    live.write_text(zone_text("192.0.2.3").replace(" 1 7200", " 3 7200") + "@ NS ns2\n")
    assert not await srv.reload()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "ERROR",
            f"reload failed, still serving the old zones: {live}:7: name server "
            "ns2.live.test. (NS of live.test.) is in this zone but has no A or AAAA record: "
            "resolvers sent to it could not reach the zone",
        )
    ]
    assert srv.engine.zones.find((b"live", b"test")).serial == 2  # type: ignore[union-attr]


async def test_the_control_endpoint_counts_queries_and_connections(tmp_path) -> None:
    zone = tmp_path / "example.zone"
    zone.write_text("$ORIGIN example.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 127.0.0.1\n")
    config = AuthConfig(zones=(str(zone),), listen=("127.0.0.1:0",), control="127.0.0.1:0")
    server = DnsServer(config)
    ports = await server.start()
    try:
        q = dns.message.make_query("ns.example.", "A")
        for _ in range(3):
            await dns.asyncquery.udp(q, "127.0.0.1", port=ports["dns"], timeout=5)
        reply = await asyncio.to_thread(control_request, f"127.0.0.1:{ports['control']}", "stats")
        assert reply["stats"]["udp_queries"] == 3 and reply["stats"]["zones"] == 1
        assert reply["stats"]["tcp_connections"] == 0
    finally:
        await server.stop()
