"""Hostile stub clients against the resolver daemon: illegal names, TCP abuse, the control port."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import struct
import time
from typing import Any

import dns.message
import dns.rcode
import pytest
from dnslib import DNSHeader, DNSRecord

from dnsserver.resolver import control as control_mod
from minternet import dnsclient as upstream_mod  # where the upstream sockets are made
from minternet.control import request as control
from minternet.stream import Connection, StreamListener
from tests.dnsserver.rawclient import (
    dribble_until_closed,
    send_without_reading,
    tcp_exchange,
    udp_exchange,
)

from .conftest import Hierarchy

Start = Any


def raw_query(name_wire: bytes, qtype: int = 1, qid: int = 0x4242) -> bytes:
    return (
        struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name_wire + struct.pack("!HH", qtype, 1)
    )


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


def _pipelined(name: str, count: int) -> bytes:
    wire = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    one = raw_query(wire, qtype=16)
    return (struct.pack("!H", len(one)) + one) * count


async def test_pipelining_client_that_never_reads_costs_bounded_memory(
    start_resolver: Start,
) -> None:
    d, ports = await start_resolver()
    await tcp_exchange(ports["dns"], raw_query(b"\x03big\x07example\x04test\x00", 16))  # cached
    # 4000 queries for a 1.4 kB answer: 5.6 MB of answers nobody reads
    s = await send_without_reading(ports["dns"], _pipelined("big.example.test", 4000), 2.0)
    try:
        worst = 0
        for _ in range(20):
            await asyncio.sleep(0.05)
            for conn in d.tcp_connections:
                assert conn.transport is not None and conn.handler is not None
                buffered = conn.handler.framer.pending()
                worst = max(worst, conn.transport.get_write_buffer_size(), buffered)
        assert 0 < worst < 512 * 1024
    finally:
        s.close()


async def test_tcp_client_that_dribbles_or_never_reads_is_dropped_at_the_idle_timeout(
    start_resolver: Start,
) -> None:
    d, ports = await start_resolver(tcp_idle_timeout=0.5)
    loop = asyncio.get_running_loop()
    # slowloris: one byte of a query every 0.1 s never makes a whole query
    query = raw_query(b"\x03www\x07example\x04test\x00")
    closed = await dribble_until_closed(ports["dns"], struct.pack("!H", len(query)) + query)
    assert closed, "a connection that never completes a query outlived the idle timeout"
    # a client that never reads: aborted, so its slot of the connection cap comes back
    await tcp_exchange(ports["dns"], raw_query(b"\x03big\x07example\x04test\x00", 16))
    s = await send_without_reading(ports["dns"], _pipelined("big.example.test", 2000), 0.5)
    try:
        deadline = loop.time() + 2
        while not d.tcp_connections and loop.time() < deadline:
            await asyncio.sleep(0.01)
        assert d.tcp_connections
        deadline = loop.time() + 5
        while d.tcp_connections and loop.time() < deadline:
            await asyncio.sleep(0.1)
        assert not d.tcp_connections
    finally:
        s.close()


async def test_half_closed_tcp_client_gets_its_answers(start_resolver: Start) -> None:
    _, ports = await start_resolver()
    reader, writer = await asyncio.open_connection("127.0.0.1", ports["dns"])
    try:
        for qid, name in (
            (1, b"\x03www\x07example\x04test\x00"),
            (2, b"\x04mail\x07example\x04test\x00"),
        ):
            q = raw_query(name, qid=qid)
            writer.write(struct.pack("!H", len(q)) + q)
        writer.write_eof()  # cache misses: the answers come after the client's FIN
        async with asyncio.timeout(5):
            data = await reader.read()  # until the resolver closes
    finally:
        writer.close()
    answers = []
    while data:
        (n,) = struct.unpack_from("!H", data)
        answers.append(dns.message.from_wire(data[2 : 2 + n]))
        data = data[2 + n :]
    assert sorted(a.id for a in answers) == [1, 2]
    assert all(a.rcode() == 0 and a.answer for a in answers)


async def test_upstream_truncating_even_over_tcp_is_no_answer(
    start_resolver: Start, hierarchy: Hierarchy
) -> None:
    def always_truncated(q: DNSRecord) -> DNSRecord:
        r = DNSRecord(DNSHeader(id=q.header.id, qr=1, aa=1, tc=1), q=q.q)
        return r

    hierarchy.net["127.0.0.13"].handler = always_truncated
    _, ports = await start_resolver()
    q = raw_query(b"\x03www\x05other\x04test\x00")
    answer = dns.message.from_wire(await udp_exchange(ports["dns"], q, timeout=10))
    assert answer.rcode() == dns.rcode.SERVFAIL  # not NOERROR with no data, and not cached
    dump = await asyncio.to_thread(control, f"127.0.0.1:{ports['control']}", "dump www.other.test.")
    assert dump["entries"] == []


class _OutOfDescriptors:
    """The `socket` module as the upstream exchange sees it when the process has no fd left."""

    def __getattr__(self, name: str) -> Any:
        return getattr(socket, name)

    def socket(self, *args: Any, **kwargs: Any) -> socket.socket:
        raise OSError(errno.EMFILE, "Too many open files")


async def test_no_descriptor_left_is_servfail_and_one_log_line(
    start_resolver: Start, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ports = await start_resolver()
    monkeypatch.setattr(upstream_mod, "socket", _OutOfDescriptors())
    with caplog.at_level(logging.WARNING):
        for name in (b"\x03www\x07example\x04test\x00", b"\x04mail\x07example\x04test\x00"):
            answer = dns.message.from_wire(await udp_exchange(ports["dns"], raw_query(name)))
            assert answer.rcode() == dns.rcode.SERVFAIL
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert sum("upstream socket" in r.getMessage() for r in caplog.records) <= 1  # throttled


async def test_tcp_queries_respect_the_bound_on_queries_in_progress(
    start_resolver: Start, hierarchy: Hierarchy
) -> None:
    for server in hierarchy.net.values():
        server.delay = 0.5  # every resolution takes a while
    d, ports = await start_resolver(max_pending=4)
    _reader, writer = await asyncio.open_connection("127.0.0.1", ports["dns"])
    try:
        for i in range(12):  # distinct names (n0 .. nb): no sharing of one resolution
            q = raw_query(bytes([2]) + b"n%x" % i + b"\x07example\x04test\x00", qid=i)
            writer.write(struct.pack("!H", len(q)) + q)
        worst = 0
        for _ in range(10):
            await asyncio.sleep(0.02)
            worst = max(worst, len(d.tasks))
        assert worst <= 2  # one client holds half of the places at most
        assert d.stats.shed_client >= 10
    finally:
        writer.close()


async def test_idle_control_connections_are_bounded_and_never_lock_the_operator_out(
    start_resolver: Start,
) -> None:
    _, ports = await start_resolver()
    idle = [await asyncio.open_connection("127.0.0.1", ports["control"]) for _ in range(60)]

    async def closed_by_server(reader: asyncio.StreamReader) -> bool:
        try:
            return await asyncio.wait_for(reader.read(), 1.0) == b""
        except (TimeoutError, OSError):
            return isinstance(reader.exception(), OSError)

    try:
        reply = await control_exchange(ports["control"], b"stats\n")
        assert b'"stats"' in reply  # the newest connection is served
        closed = await asyncio.gather(*(closed_by_server(r) for r, _ in idle))
        assert sum(closed) >= 60 - 16  # the oldest idle ones were closed by the resolver
    finally:
        for _, w in idle:
            w.close()


async def test_port_zero_retries_when_the_udp_port_is_taken_for_tcp(
    start_resolver: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_start = StreamListener.start
    failures = []

    async def busy_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:  # another process holds this port for TCP
            failures.append(args[2])
            raise OSError(errno.EADDRINUSE, "address already in use")
        return await real_start(*args, **kwargs)

    monkeypatch.setattr(StreamListener, "start", busy_once)
    _, ports = await start_resolver()  # the first UDP socket must not leak either
    assert failures and ports["dns"] != failures[0]
    query = raw_query(b"\x03www\x07example\x04test\x00")
    for answer in (
        await udp_exchange(ports["dns"], query),
        await tcp_exchange(ports["dns"], query),
    ):
        assert dns.message.from_wire(answer).rcode() == dns.rcode.NOERROR


async def test_dump_of_a_huge_cache_does_not_stop_resolution(
    start_resolver: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ports = await start_resolver()
    query = raw_query(b"\x03www\x07example\x04test\x00")
    await udp_exchange(ports["dns"], query)  # cached
    real_execute = control_mod.execute
    finished: list[str] = []

    def slow_execute(line: str, **kw: Any) -> Any:
        out = real_execute(line, **kw)
        if line.startswith("dump"):
            time.sleep(1.0)  # what formatting 100,000 cached RRsets costs
            finished.append("dump")
        return out

    monkeypatch.setattr(control_mod, "execute", slow_execute)
    dump = asyncio.ensure_future(control_exchange(ports["control"], b"dump\n", timeout=10))
    await asyncio.sleep(0.1)  # the dump is under way
    answer = await udp_exchange(ports["dns"], query)
    assert finished == []  # answered while the dump was still being formatted
    assert dns.message.from_wire(answer).rcode() == dns.rcode.NOERROR
    assert b"www.example.test." in await dump


async def test_tcp_connection_reset_before_it_is_accepted_is_dropped_not_refused(
    start_resolver: Start, caplog: pytest.LogCaptureFixture
) -> None:
    d, _ = await start_resolver()

    class ResetTransport(asyncio.Transport):
        aborted = False

        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return None  # getpeername() failed: the client is gone

        def abort(self) -> None:
            self.aborted = True

        def is_closing(self) -> bool:
            return self.aborted

        def write(self, data: Any) -> None:
            pass

        def close(self) -> None:
            pass

        def pause_reading(self) -> None:
            pass

        def resume_reading(self) -> None:
            pass

    transport = ResetTransport()
    assert d._tcp is not None
    conn = Connection(d._tcp)
    with caplog.at_level(logging.WARNING):
        conn.connection_made(transport)
        q = raw_query(b"\x03www\x07example\x04test\x00")
        if not transport.aborted:
            conn.data_received(struct.pack("!H", len(q)) + q)
            await asyncio.sleep(0.1)
    assert transport.aborted and conn not in d.tcp_connections
    assert not [r for r in caplog.records if "allow list" in r.getMessage()]  # no bogus REFUSED
