"""The batched UDP listener and the UDP+TCP pair on one port, over real loopback sockets."""

from __future__ import annotations

import asyncio
import errno
import socket

import pytest

from minternet.datagram import DatagramListener, bind_pair
from minternet.listen import Datagram, bind_udp
from minternet.logs import Throttle

pytestmark = pytest.mark.both_loops


async def test_a_batch_is_answered_back_to_back_and_a_bug_costs_only_its_batch() -> None:
    seen: list[int] = []

    def handler(batch: list[Datagram], now: float, out: list[Datagram]) -> None:
        seen.append(len(batch))
        for data, addr in batch:
            if data == b"crash":
                raise RuntimeError("bug")
            out.append((data.upper(), addr))

    listener = DatagramListener(bind_udp("127.0.0.1", 0), handler, throttle=Throttle(), batch=8)
    listener.start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(5)
    try:
        for i in range(20):
            client.sendto(b"ping%d" % i, ("127.0.0.1", listener.port))
        got = [await asyncio.to_thread(client.recv, 100) for _ in range(20)]
        assert sorted(got) == sorted(b"PING%d" % i for i in range(20))
        assert all(n <= 8 for n in seen) and sum(seen) == 20
        client.sendto(b"crash", ("127.0.0.1", listener.port))
        client.sendto(b"after", ("127.0.0.1", listener.port))
        await asyncio.sleep(0.1)
        client.sendto(b"again", ("127.0.0.1", listener.port))
        assert await asyncio.to_thread(client.recv, 100) in (b"AFTER", b"AGAIN")
        listener.send(b"later", client.getsockname())
    finally:
        listener.close()
        client.close()


async def test_bind_pair_puts_tcp_on_the_udp_port_and_retries_port_zero() -> None:
    servers: list[asyncio.Server] = []
    attempts: list[int] = []

    async def start_tcp(port: int) -> None:
        attempts.append(port)
        if len(attempts) == 1:
            # the kernel's first UDP port is taken for TCP. Said, not staged: a real listen on a
            # taken port makes uvloop leak a socket, whose ResourceWarning then fails whichever
            # test the garbage collector happens to run in
            raise OSError(errno.EADDRINUSE, "Address already in use")
        servers.append(await asyncio.start_server(lambda r, w: None, "127.0.0.1", port))

    sock = await bind_pair("127.0.0.1", 0, start_tcp)
    try:
        # the first port was refused for TCP: the kernel was asked again (it may even pick the
        # same number, now free), and the pair ended on the last port tried
        assert len(attempts) >= 2 and sock.getsockname()[1] == attempts[-1]
        assert servers[-1].sockets[0].getsockname()[1] == attempts[-1]
    finally:
        sock.close()
        for s in servers:
            s.close()


async def test_bind_pair_with_a_fixed_taken_port_fails_at_once() -> None:
    async def start_tcp(port: int) -> None:
        raise OSError(98, "Address already in use")

    with pytest.raises(OSError):
        await bind_pair("127.0.0.1", 0 + 45353, start_tcp)
