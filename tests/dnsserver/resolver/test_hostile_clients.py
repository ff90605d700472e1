"""Hostile stub clients against the resolver daemon: illegal names, TCP abuse, the control port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import Any

import pytest

Start = Any


def raw_query(name_wire: bytes, qtype: int = 1, qid: int = 0x4242) -> bytes:
    return (
        struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name_wire + struct.pack("!HH", qtype, 1)
    )


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


ILLEGAL_NAMES = {
    # RFC 1035 §2.3.4: a label is at most 63 octets, a name at most 255
    "64-octet label": b"\x40" + b"a" * 64 + b"\x07example\x04test\x00",
    "256-octet name": (b"\x3f" + b"a" * 63) * 3 + b"\x3e" + b"b" * 62 + b"\x00",
}


@pytest.mark.parametrize("what", sorted(ILLEGAL_NAMES))
async def test_illegal_names_get_formerr_without_a_traceback(
    start_resolver: Start, caplog: pytest.LogCaptureFixture, what: str
) -> None:
    _, ports = await start_resolver()
    query = raw_query(ILLEGAL_NAMES[what])
    with caplog.at_level(logging.WARNING):
        for answer in (
            await udp_exchange(ports["dns"], query),
            await tcp_exchange(ports["dns"], query),
        ):
            qid, flags = struct.unpack_from("!HH", answer)
            assert qid == 0x4242 and flags & 0x8000 and flags & 0xF == 1  # FORMERR
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def control_exchange(port: int, data: bytes, timeout: float = 3.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        async with asyncio.timeout(timeout):
            return await reader.readline()
    finally:
        writer.close()


async def test_control_line_without_newline_gets_an_error_not_a_traceback(
    start_resolver: Start, caplog: pytest.LogCaptureFixture
) -> None:
    _, ports = await start_resolver()
    with caplog.at_level(logging.WARNING):
        reply = await control_exchange(ports["control"], b"x" * 10_000)  # no newline, ever
        assert b"error" in reply and b"line longer" in reply
        # far past the stream limit: the reply may be lost to a reset, the daemon must not care
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await control_exchange(ports["control"], b"y" * 200_000)
        await asyncio.sleep(0.1)
        assert b'"stats"' in await control_exchange(ports["control"], b"stats\n")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
