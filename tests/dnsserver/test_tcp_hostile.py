"""Hostile TCP clients against the authoritative daemon: pipelining without reading, slowloris,
half-closed connections. The daemon runs in-process on 127.0.0.1 port 0."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import dns.message
import pytest

from dnsserver.aio.server import DnsServer
from dnsserver.config import AuthConfig, Limits
from tests.dnsserver.rawclient import dribble_until_closed, framed, send_without_reading
from tests.dnsserver.test_protocol import BIG_ZONE

HOST = "127.0.0.1"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[DnsServer]:
    big = tmp_path / "big.zone"
    big.write_text(BIG_ZONE)
    cfg = AuthConfig(zones=(str(big),), listen=(f"{HOST}:0",), limits=Limits(tcp_idle_timeout=0.5))
    srv = DnsServer(cfg, name="test-dns")
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_pipelining_client_that_never_reads_costs_bounded_memory(
    server: DnsServer,
) -> None:
    port = server.addresses[0][1]
    # 3000 queries for a 4 kB answer: 12 MB of answers nobody reads
    s = await send_without_reading(port, framed("many.big.test", "TXT", 3000), 2.0)
    try:
        worst = 0
        for _ in range(20):
            await asyncio.sleep(0.05)
            for conn in server.tcp_connections:
                assert conn.transport is not None and conn.handler is not None
                buffered = conn.transport.get_write_buffer_size() + conn.handler.framer.pending()
                worst = max(worst, buffered)
        assert 0 < worst < 512 * 1024
    finally:
        s.close()


async def test_slowloris_is_closed_at_the_idle_timeout(server: DnsServer) -> None:
    port = server.addresses[0][1]
    closed = await dribble_until_closed(port, framed("many.big.test", "TXT", 1))
    assert closed, "a connection that never completes a query outlived the idle timeout"


async def test_client_that_never_reads_gives_its_connection_back(server: DnsServer) -> None:
    port = server.addresses[0][1]
    s = await send_without_reading(port, framed("many.big.test", "TXT", 2000), 0.5)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2
        while not server.tcp_connections and loop.time() < deadline:
            await asyncio.sleep(0.01)
        assert server.tcp_connections
        deadline = loop.time() + 5
        while server.tcp_connections and loop.time() < deadline:
            await asyncio.sleep(0.1)
        assert not server.tcp_connections  # aborted: its slot of the cap is free again
    finally:
        s.close()


async def test_half_closed_client_gets_every_answer(server: DnsServer) -> None:
    port = server.addresses[0][1]
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(framed("many.big.test", "TXT", 200))
        writer.write_eof()
        got = 0
        async with asyncio.timeout(10):
            while True:
                head = await reader.read(2)
                if not head:
                    break
                if len(head) < 2:
                    head += await reader.readexactly(1)
                (n,) = struct.unpack("!H", head)
                r = dns.message.from_wire(await reader.readexactly(n))
                assert len(r.answer[0]) == 60
                got += 1
        assert got == 200
    finally:
        writer.close()
