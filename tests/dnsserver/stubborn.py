"""A hostile TCP client for the DNS servers' tests: it pushes queries and never reads."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

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
