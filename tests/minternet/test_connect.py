"""The outgoing connector over real loopback sockets: source address, caps, queue, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator

import pytest
import trustme

from minternet.connect import ConnectError, Connector

pytestmark = pytest.mark.both_loops


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[str]]]:
    """A server that answers each client with the address it sees, and then holds on."""
    peers: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[0]
        peers.append(peer)
        writer.write(peer.encode() + b"\n")
        await reader.read()  # until the client closes
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield srv.sockets[0].getsockname()[1], peers
    srv.close()


async def test_connections_come_from_the_hosts_own_address(server) -> None:
    port, _ = server
    connector = Connector(source="127.0.0.41")
    async with connector.connection("127.0.0.1", port) as (reader, _writer):
        assert await reader.readline() == b"127.0.0.41\n"
    async with connector.socket("127.0.0.1", port) as sock:
        assert sock.getsockname()[0] == "127.0.0.41"


async def test_over_the_per_destination_cap_a_caller_waits_its_turn(server) -> None:
    port, peers = server
    connector = Connector(source="127.0.0.1", max_per_destination=2)
    release = asyncio.Event()
    order: list[int] = []
    two_in = asyncio.Event()

    async def client(i: int) -> None:
        async with connector.connection("127.0.0.1", port) as (reader, _):
            await reader.readline()
            order.append(i)
            if len(order) == 2:
                two_in.set()
            await release.wait()

    # Waits for events, not for a fixed time: a loaded machine only makes the test slower.
    tasks = [asyncio.ensure_future(client(i)) for i in range(3)]
    try:
        await asyncio.wait_for(two_in.wait(), 10)
        await asyncio.sleep(0.2)  # room for the third to connect, were the cap not kept
        assert sorted(order) == [0, 1] and connector.open == 2  # the third is queued
        assert len(peers) == 2  # the server never saw it
        release.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert order[-1] == 2 and connector.open == 0 and len(peers) == 3
        assert not connector._per  # nothing is kept for a destination nobody uses
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_total_cap_spans_destinations_and_the_queue_has_a_timeout(server) -> None:
    port, _ = server
    connector = Connector(source=None, max_total=1, queue_timeout=0.3)
    async with connector.connection("127.0.0.1", port):
        with pytest.raises(ConnectError, match=r"waited 0\.3 s for a free connection"):
            async with connector.connection("127.0.0.2", port):
                pass
    async with connector.connection("127.0.0.1", port):  # free again
        assert connector.open == 1


async def test_a_refused_connection_says_where() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(ConnectError, match=f"127.0.0.1:{port}"):
            async with Connector(source=None).connection("127.0.0.1", port):
                pass


async def test_a_server_that_never_accepts_times_out() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        port = s.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for f in fillers:  # fill the accept queue: further SYNs are dropped
            f.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                f.connect(("127.0.0.1", port))
        try:
            connector = Connector(source=None, connect_timeout=0.5)
            with pytest.raises(ConnectError, match=r"no answer within 0\.5 s"):
                async with connector.connection("127.0.0.1", port):
                    pass
        finally:
            for f in fillers:
                f.close()


async def test_tls_with_the_topologys_ca() -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("mail.hamburger.edu").configure_cert(server_ctx)

    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hello\r\n")
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(hello, "127.0.0.1", 0, ssl=server_ctx)
    port = srv.sockets[0].getsockname()[1]
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    try:
        connector = Connector(source="127.0.0.40")
        async with connector.connection(
            "127.0.0.1", port, tls=client_ctx, server_hostname="mail.hamburger.edu"
        ) as (reader, _):
            assert await reader.readline() == b"220 hello\r\n"
        with pytest.raises(ConnectError, match="certificate"):
            async with connector.connection(
                "127.0.0.1", port, tls=client_ctx, server_hostname="mail.crepes.fr"
            ):
                pass
    finally:
        srv.close()
