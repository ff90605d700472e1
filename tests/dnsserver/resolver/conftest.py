"""Fixtures: the fake hierarchy on real sockets (127.0.0.x, one shared port) and the resolver."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dnslib import DNSRecord

from dnsserver.aio.resolver import ResolverDaemon
from dnsserver.resolver.config import ResolverConfig

from .fakes import FakeServer, default_net

HINTS_TEXT = ". 3600000 IN NS a.root.test.\na.root.test. 3600000 IN A 127.0.0.10\n"


class _FakeUDP(asyncio.DatagramProtocol):
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        t = asyncio.ensure_future(self._answer(data, addr))
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def _answer(self, data: bytes, addr: tuple[Any, ...]) -> None:
        try:
            q = DNSRecord.parse(data)
        except Exception:
            return
        self.server.seen_ids.append(q.header.id)
        resp = self.server.respond(q)
        if resp is None:
            return
        if self.server.delay:
            await asyncio.sleep(self.server.delay)
        if self.server.truncate_udp:
            resp = DNSRecord(resp.header, q=q.q)
            resp.header.tc = 1
        if self.transport is not None:
            self.transport.sendto(bytes(resp.pack()), addr)


async def _fake_tcp(server: FakeServer, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    try:
        while True:
            n = struct.unpack("!H", await r.readexactly(2))[0]
            q = DNSRecord.parse(await r.readexactly(n))
            resp = server.respond(q)
            if resp is None:
                break
            if server.tcp_delay:
                await asyncio.sleep(server.tcp_delay)
            out = bytes(resp.pack())
            w.write(struct.pack("!H", len(out)) + out)
            await w.drain()
    except (asyncio.IncompleteReadError, OSError):
        pass
    finally:
        w.close()


@dataclass
class Hierarchy:
    net: dict[str, FakeServer]
    port: int
    closers: list[Any]


def _free_port_on_all(addresses: list[str]) -> int:
    for _ in range(20):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addresses[0], 0))
        port = int(s.getsockname()[1])
        s.close()
        ok = True
        for a in addresses:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                t = socket.socket(socket.AF_INET, kind)
                try:
                    t.bind((a, port))
                except OSError:
                    ok = False
                finally:
                    t.close()
        if ok:
            return port
    raise RuntimeError("no port free on every fake server address")


async def start_hierarchy(net: dict[str, FakeServer]) -> Hierarchy:
    loop = asyncio.get_running_loop()
    port = _free_port_on_all(sorted(net))
    closers: list[Any] = []
    for addr, server in net.items():
        tr, _ = await loop.create_datagram_endpoint(
            lambda s=server: _FakeUDP(s),  # type: ignore[misc]
            local_addr=(addr, port),
        )
        closers.append(tr)
        srv = await asyncio.start_server(
            lambda r, w, s=server: _fake_tcp(s, r, w), addr, port, reuse_address=True
        )
        closers.append(srv)
    return Hierarchy(net, port, closers)


async def stop_hierarchy(h: Hierarchy) -> None:
    for c in h.closers:
        c.close()


@pytest.fixture
async def hierarchy() -> AsyncIterator[Hierarchy]:
    h = await start_hierarchy(default_net())
    try:
        yield h
    finally:
        await stop_hierarchy(h)


@pytest.fixture
def hints_file(tmp_path: Path) -> Path:
    p = tmp_path / "root.hints"
    p.write_text(HINTS_TEXT)
    return p


StartResolver = Callable[..., Any]


@pytest.fixture
async def start_resolver(
    hierarchy: Hierarchy, hints_file: Path
) -> AsyncIterator[Callable[..., Any]]:
    daemons: list[ResolverDaemon] = []

    async def start(**overrides: Any) -> tuple[ResolverDaemon, dict[str, int]]:
        cfg = ResolverConfig(
            listen="127.0.0.1:0",
            root_hints=str(hints_file),
            upstream_port=hierarchy.port,
            control="127.0.0.1:0",
            **overrides,
        )
        d = ResolverDaemon(cfg, name="test-resolver")
        ports = await d.start()
        daemons.append(d)
        return d, ports

    try:
        yield start
    finally:
        for d in daemons:
            with suppress(Exception):
                await d.stop()
