"""Raw DNS clients for the servers' tests: one exchange of bytes over UDP or TCP, and hostile
TCP clients (one that never reads, one that dribbles)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

import dns.message


def framed(name: str, rdtype: str, count: int) -> bytes:
    """`count` copies of one query for (name, rdtype), each with its RFC 7766 length prefix."""
    wire = dns.message.make_query(name, rdtype).to_wire()
    return (struct.pack("!H", len(wire)) + wire) * count


async def send_without_reading(port: int, data: bytes, seconds: float) -> socket.socket:
    """Push `data` to 127.0.0.1:port on a connection whose client never reads (small receive
    buffer), for at most `seconds`; returns the socket, still open."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(s, ("127.0.0.1", port))
    sent, deadline = 0, loop.time() + seconds
    while sent < len(data) and loop.time() < deadline:
        try:
            sent += s.send(data[sent : sent + 65536])
        except BlockingIOError:
            await asyncio.sleep(0.01)
    return s


async def dribble_until_closed(port: int, data: bytes, pause: float = 0.1) -> bool:
    """Send all but the last byte of `data` to 127.0.0.1:port one byte every `pause` seconds
    (a slowloris: never a whole query); True if the server closed the connection meanwhile."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for b in data[:-1]:
            writer.write(bytes([b]))
            await asyncio.sleep(pause)
            with contextlib.suppress(TimeoutError):
                if await asyncio.wait_for(reader.read(1), 0.001) == b"":
                    return True
            if reader.at_eof():
                return True
    except OSError:
        return True
    finally:
        writer.close()
    return False


async def udp_exchange(port: int, data: bytes, timeout: float = 3.0) -> bytes:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[bytes] = loop.create_future()

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, b: bytes, addr: Any) -> None:
            if not fut.done():
                fut.set_result(b)

    tr, _ = await loop.create_datagram_endpoint(P, remote_addr=("127.0.0.1", port))
    try:
        tr.sendto(data)
        return await asyncio.wait_for(fut, timeout)
    finally:
        tr.close()


async def tcp_exchange(port: int, data: bytes, timeout: float = 3.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        async with asyncio.timeout(timeout):
            (n,) = struct.unpack("!H", await reader.readexactly(2))
            return await reader.readexactly(n)
    finally:
        writer.close()
