"""ADDR:PORT parsing and binding with the real port read back."""

from __future__ import annotations

import asyncio
import socket

import pytest

from minternet.listen import AddressError, open_tcp, open_udp, parse_hostport


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.10:10053", ("127.0.0.10", 10053)),
        ("[::1]:53", ("::1", 53)),
        ("127.0.0.2", ("127.0.0.2", 99)),
        ("[::1]", ("::1", 99)),
    ],
)
def test_parse(text, expected):
    assert parse_hostport(text, default_port=99) == expected


@pytest.mark.parametrize("text", ["localhost:53", "127.0.0.1:99999", "127.0.0.1:x", "[::1", "::1"])
def test_parse_rejects(text):
    with pytest.raises(AddressError):
        parse_hostport(text)


async def test_udp_and_tcp_report_the_bound_port():
    received: list[bytes] = []

    class Echo(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            received.append(data)

    transport, _, uport = await open_udp(Echo, "127.0.0.1", 0)
    server, tport = await open_tcp(asyncio.Protocol, "127.0.0.1", 0)
    try:
        assert uport > 0 and tport > 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"hi", ("127.0.0.1", uport))
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.01)
        assert received == [b"hi"]
        _, writer = await asyncio.open_connection("127.0.0.1", tport)
        writer.close()
    finally:
        transport.close()
        server.close()
        await server.wait_closed()
