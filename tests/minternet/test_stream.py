"""The stream listener over real loopback sockets: cap, deadlines, flow control, half-close, TLS."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
import trustme

from minternet.framing import FramingError, Lines
from minternet.logs import Throttle
from minternet.stream import Connection, StreamHandler, StreamLimits, StreamListener

#: Every test on both loops: the daemons run on uvloop, whose transports differ from asyncio's.
pytestmark = pytest.mark.both_loops


class Echo(StreamHandler[bytes]):
    """A line protocol to exercise the listener: ECHO, SLOW (async), BIG, STARTTLS, DEFLATE,
    QUIT."""

    tls_context: ssl.SSLContext | None = None
    lost: list[str] = []

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.framer = Lines(max_line=64)

    def started(self) -> None:
        self.conn.write(b"HELLO\r\n")

    def frame_received(self, frame: bytes) -> Coroutine[Any, Any, None] | None:
        cmd, _, arg = frame.rstrip(b"\r\n").partition(b" ")
        if cmd == b"ECHO":
            self.conn.write(arg + b"\r\n")
        elif cmd == b"SLOW":
            return self.slow(arg)
        elif cmd == b"BIG":
            self.conn.write(b"x" * int(arg) + b"\r\n")
        elif cmd == b"STARTTLS":
            return self.starttls()
        elif cmd == b"DEFLATE":
            self.conn.write(b"GO\r\n")
            self.conn.start_compress()
        elif cmd == b"QUIT":
            self.conn.write(b"BYE\r\n")
            self.conn.close()
        elif cmd == b"CRASH":
            raise RuntimeError("a bug in the protocol")
        return None

    async def slow(self, arg: bytes) -> None:
        await asyncio.sleep(float(arg))
        self.conn.write(b"SLOW " + arg + b"\r\n")

    async def starttls(self) -> None:
        self.conn.write(b"GO\r\n")
        assert self.tls_context is not None
        if await self.conn.start_tls(self.tls_context):
            self.conn.write(b"SECURE " + (self.conn.tls_version() or "").encode() + b"\r\n")

    def framing_error(self, error: FramingError) -> None:
        self.conn.write(b"ERR " + error.reason.encode() + b"\r\n")

    def timed_out(self, partial: bool) -> None:
        self.conn.write(b"TIMEOUT PARTIAL\r\n" if partial else b"TIMEOUT\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        Echo.lost.append(self.conn.peer)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    return ctx


@pytest.fixture
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


Start = Callable[..., Coroutine[Any, Any, StreamListener[bytes]]]


@pytest.fixture
async def start(server_tls: ssl.SSLContext) -> AsyncIterator[Start]:
    listeners: list[StreamListener[bytes]] = []
    Echo.tls_context = server_tls
    Echo.lost = []

    async def make(
        tls: bool = False, refusal: bytes | None = None, **limits: Any
    ) -> StreamListener[bytes]:
        settings: dict[str, Any] = {"max_connections": 8, "idle_timeout": 5.0, **limits}
        listener = StreamListener(
            Echo, StreamLimits(**settings), throttle=Throttle(),
            ssl=server_tls if tls else None, refusal=refusal,
        )  # fmt: skip
        await listener.start("127.0.0.1", 0)
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        listener.close()
        await listener.wait_closed()


_writers: list[asyncio.StreamWriter] = []


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    for w in _writers:
        w.close()
    _writers.clear()
    await asyncio.sleep(0)


async def connect(
    listener: StreamListener[bytes], tls: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client; every one is closed when the test ends."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", listener.port, ssl=tls, server_hostname="127.0.0.1" if tls else None
    )
    _writers.append(writer)
    return reader, writer


async def line(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.readline(), timeout)


async def test_greets_answers_in_order_and_closes_on_quit(start: Start) -> None:
    listener = await start()
    reader, writer = await connect(listener)
    assert await line(reader) == b"HELLO\r\n"
    writer.write(b"ECHO one\r\nECHO two\r\nQUIT\r\nECHO never\r\n")
    assert [await line(reader) for _ in range(3)] == [b"one\r\n", b"two\r\n", b"BYE\r\n"]
    assert await reader.read() == b""  # closed after QUIT: the frame after it is not answered
    writer.close()


async def test_async_answers_keep_their_order_with_one_in_flight(start: Start) -> None:
    listener = await start()
    reader, writer = await connect(listener)
    await line(reader)
    writer.write(b"SLOW 0.2\r\nECHO after\r\n")
    assert await line(reader) == b"SLOW 0.2\r\n"
    assert await line(reader) == b"after\r\n"
    writer.close()


async def test_with_several_in_flight_fast_answers_overtake_slow_ones(start: Start) -> None:
    listener = await start(max_inflight=4)
    reader, writer = await connect(listener)
    await line(reader)
    writer.write(b"SLOW 0.3\r\nSLOW 0.05\r\n")
    assert await line(reader) == b"SLOW 0.05\r\n"
    assert await line(reader) == b"SLOW 0.3\r\n"
    writer.close()


async def test_over_the_cap_a_connection_gets_the_refusal_and_a_close(start: Start) -> None:
    listener = await start(max_connections=2, refusal=b"421 too busy\r\n")
    clients = [await connect(listener) for _ in range(2)]
    for reader, _ in clients:
        assert await line(reader) == b"HELLO\r\n"
    reader, writer = await connect(listener)
    assert await line(reader) == b"421 too busy\r\n"
    assert await reader.read() == b""
    assert len(listener.connections) == 2
    clients[0][1].close()  # one leaves: the next one is let in
    await asyncio.sleep(0.1)
    reader, writer = await connect(listener)
    assert await line(reader) == b"HELLO\r\n"
    for _, w in [*clients, (reader, writer)]:
        w.close()


async def test_evict_oldest_keeps_the_newest_connection(start: Start) -> None:
    listener = await start(max_connections=2, at_cap="evict-oldest")
    first = await connect(listener)
    await line(first[0])
    second = await connect(listener)
    await line(second[0])
    third = await connect(listener)
    assert await line(third[0]) == b"HELLO\r\n"
    assert await asyncio.wait_for(first[0].read(), 5) == b""  # the oldest was closed
    second[1].write(b"ECHO still here\r\n")
    assert await line(second[0]) == b"still here\r\n"
    for _, w in (first, second, third):
        w.close()


async def test_an_idle_connection_is_told_and_closed(start: Start) -> None:
    listener = await start(idle_timeout=0.3)
    reader, writer = await connect(listener)
    await line(reader)
    t0 = time.monotonic()
    assert await line(reader) == b"TIMEOUT\r\n"
    assert await reader.read() == b""
    assert 0.25 < time.monotonic() - t0 < 5.0  # its deadline, not never
    writer.close()


async def test_a_frame_dribbled_a_byte_at_a_time_does_not_hold_the_connection(
    start: Start,
) -> None:
    listener = await start(idle_timeout=30.0, frame_timeout=0.4)
    reader, writer = await connect(listener)
    await line(reader)
    t0 = time.monotonic()
    for byte in b"ECHO slowloris":
        writer.write(bytes([byte]))
        await asyncio.sleep(0.05)  # 14 bytes over 0.7 s: past the 0.4 s frame deadline
        if reader.at_eof() or reader._buffer:  # type: ignore[attr-defined]
            break
    assert await line(reader) == b"TIMEOUT PARTIAL\r\n"
    assert time.monotonic() - t0 < 10.0  # the frame deadline, not the 30 s idle one
    writer.close()


async def test_work_in_progress_keeps_a_connection_past_its_idle_deadline(start: Start) -> None:
    listener = await start(idle_timeout=0.2)
    reader, writer = await connect(listener)
    await line(reader)
    writer.write(b"SLOW 0.6\r\n")
    assert await line(reader) == b"SLOW 0.6\r\n"  # not closed while it was being worked on
    writer.close()


async def test_a_client_that_never_reads_stops_being_read_and_is_aborted(start: Start) -> None:
    listener = await start(idle_timeout=1.0)
    sock = socket.create_connection(("127.0.0.1", listener.port))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        request = b"BIG 60\r\n" * 64
        paused: Connection | None = None
        deadline = time.monotonic() + 5
        while paused is None and time.monotonic() < deadline:
            try:  # pipeline requests for big answers, and read nothing
                sock.send(request)
            except BlockingIOError:
                await asyncio.sleep(0.02)
            conn = next(iter(listener.connections), None)
            if conn is not None and conn.read_paused:
                paused = conn
        assert paused is not None, "the listener never stopped reading the client"
        assert paused.write_paused  # because the client does not read what it is sent
        buffered = paused.transport.get_write_buffer_size() if paused.transport else 0
        assert buffered < 1 << 20  # bounded: about the high-water mark plus one batch
        deadline = time.monotonic() + 5  # the idle deadline passes: aborted, not closed
        while listener.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not listener.connections
    finally:
        sock.close()


async def test_a_half_closed_client_gets_every_answer(start: Start) -> None:
    listener = await start()
    reader, writer = await connect(listener)
    await line(reader)
    writer.write(b"ECHO a\r\nSLOW 0.2\r\nECHO b\r\nECHO partial-never-ends")
    writer.write_eof()
    rest = await asyncio.wait_for(reader.read(), 5)
    assert rest == b"a\r\nSLOW 0.2\r\nb\r\n"  # then closed: the partial frame never ends
    writer.close()


async def test_a_frame_that_cannot_be_framed_gets_the_reason_then_a_close(start: Start) -> None:
    listener = await start()
    reader, writer = await connect(listener)
    await line(reader)
    writer.write(b"ECHO " + b"y" * 100 + b"\r\n")
    assert await line(reader) == b"ERR line longer than 64 octets\r\n"
    assert await reader.read() == b""
    writer.close()


async def test_a_bug_in_the_protocol_costs_one_frame(start: Start, caplog) -> None:
    listener = await start()
    reader, writer = await connect(listener)
    await line(reader)
    writer.write(b"CRASH\r\nECHO alive\r\n")
    assert await line(reader) == b"alive\r\n"
    assert "internal error on a frame from 127.0.0.1" in caplog.text
    writer.close()


async def test_starttls_upgrades_and_discards_what_was_sent_before_the_handshake(
    start: Start, client_tls: ssl.SSLContext
) -> None:
    listener = await start()
    reader, writer = await connect(listener)
    await line(reader)
    # A command pipelined behind STARTTLS in the clear must never run (RFC 3207 §4.2).
    writer.write(b"STARTTLS\r\nECHO injected\r\n")
    assert await line(reader) == b"GO\r\n"
    await writer.start_tls(client_tls, server_hostname="127.0.0.1")
    secure = await line(reader)
    assert secure.startswith(b"SECURE TLSv1."), secure
    writer.write(b"ECHO over tls\r\n")
    assert await line(reader) == b"over tls\r\n"
    conn = next(iter(listener.connections))
    assert conn.tls
    writer.close()


async def test_implicit_tls_greets_after_the_handshake(
    start: Start, client_tls: ssl.SSLContext
) -> None:
    listener = await start(tls=True)
    reader, writer = await connect(listener, client_tls)
    assert await line(reader) == b"HELLO\r\n"
    writer.write(b"ECHO tls\r\n")
    assert await line(reader) == b"tls\r\n"
    assert writer.get_extra_info("ssl_object").version().startswith("TLSv1.")
    writer.close()


async def test_a_handshake_that_never_completes_is_dropped_at_its_timeout(
    start: Start, client_tls: ssl.SSLContext
) -> None:
    listener = await start(tls=True, max_connections=2, handshake_timeout=0.5)
    reader, _ = await connect(listener)  # plain TCP: it never says ClientHello
    t0 = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert 0.4 < time.monotonic() - t0 < 5.0
    assert not listener.connections
    reader, _writer = await connect(listener, client_tls)
    assert await line(reader) == b"HELLO\r\n"


async def test_a_failed_handshake_frees_its_place(start: Start) -> None:
    listener = await start(tls=True, max_connections=1)
    reader, writer = await connect(listener)
    writer.write(b"this is not a TLS ClientHello\r\n" * 4)
    with pytest.raises(ConnectionResetError):  # aborted at once, no waiting for a timeout
        assert await asyncio.wait_for(reader.read(), 2) == b""
        raise ConnectionResetError("closed cleanly")  # a close counts as well
    await asyncio.sleep(0.1)
    assert not listener.connections


def test_limits_refuse_what_cannot_work() -> None:
    with pytest.raises(ValueError, match="must be at least 1"):
        StreamLimits(max_connections=0, idle_timeout=1.0)
    with pytest.raises(ValueError, match="timeouts must be positive"):
        StreamLimits(max_connections=1, idle_timeout=float("nan"))
    with pytest.raises(ValueError, match="must be at least 1"):
        StreamLimits(max_connections=1, idle_timeout=1.0, max_inflight=0)


async def test_closing_the_listener_drops_a_peer_that_does_not_read() -> None:
    # A polite close of a connection whose peer reads nothing waits for it forever: the
    # transport then outlives its event loop, and uvloop's loop.close() hung on it.
    listener = StreamListener(
        Echo, StreamLimits(max_connections=4, idle_timeout=60.0), throttle=Throttle()
    )
    await listener.start("127.0.0.1", 0)
    sock = socket.create_connection(("127.0.0.1", listener.port))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:  # pipeline requests for big answers as fast as it takes them; read nothing
                sock.send(b"BIG 60\r\n" * 64)
            except BlockingIOError:
                await asyncio.sleep(0.01)
            if any(c.write_paused for c in listener.connections):
                break
        assert any(c.write_paused for c in listener.connections)
        listener.close()
        t0 = time.monotonic()
        await listener.wait_closed(timeout=5.0)
        assert not listener.connections and time.monotonic() - t0 < 4.0
    finally:
        listener.close()
        await listener.wait_closed(timeout=1.0)
        sock.close()


class Deflated:
    """The client's side of a compressed connection (raw DEFLATE both ways)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.z = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.unz = zlib.decompressobj(-15)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.writer.write(self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH))

    async def line(self, timeout: float = 5.0) -> bytes:
        while b"\n" not in self.buf:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                return self.buf  # closed
            self.buf += self.unz.decompress(data)
        out, _, self.buf = self.buf.partition(b"\n")
        return out + b"\n"


async def test_compression_deflates_both_ways_after_the_go_ahead(start: Start) -> None:
    listener = await start()
    reader, writer = await connect(listener)
    await line(reader)
    writer.write(b"DEFLATE\r\n")
    assert await line(reader) == b"GO\r\n"  # the go-ahead itself is not compressed
    client = Deflated(reader, writer)
    client.send(b"ECHO packed\r\nBIG 100000\r\n")
    assert await client.line() == b"packed\r\n"
    assert await client.line() == b"x" * 100_000 + b"\r\n"
    conn = next(iter(listener.connections))
    assert conn.compressed
    client.send(b"QUIT\r\n")
    assert await client.line() == b"BYE\r\n"
    writer.close()


async def test_compression_after_starttls_goes_inside_tls(
    start: Start, client_tls: ssl.SSLContext
) -> None:
    listener = await start()
    reader, writer = await connect(listener)
    await line(reader)
    writer.write(b"STARTTLS\r\n")
    await line(reader)
    await writer.start_tls(client_tls, server_hostname="127.0.0.1")
    await line(reader)
    writer.write(b"DEFLATE\r\n")
    assert await line(reader) == b"GO\r\n"
    client = Deflated(reader, writer)
    client.send(b"ECHO secret and small\r\n")
    assert await client.line() == b"secret and small\r\n"
    writer.close()


async def test_a_deflate_bomb_meets_the_line_limit_and_a_close(start: Start) -> None:
    """A megabyte of one octet in about a kilobyte: the framer's limit stops it after one
    inflate step; the reason goes out compressed, then the connection closes."""
    listener = await start()
    reader, writer = await connect(listener)
    await line(reader)
    writer.write(b"DEFLATE\r\n")
    await line(reader)
    client = Deflated(reader, writer)
    client.send(b"x" * (1 << 20))
    assert await client.line() == b"ERR line longer than 64 octets\r\n"
    assert await client.line() == b""  # closed
    writer.close()


async def test_bytes_that_are_not_deflate_close_the_connection(start: Start, caplog) -> None:
    listener = await start()
    reader, writer = await connect(listener)
    await line(reader)
    writer.write(b"DEFLATE\r\n")
    await line(reader)
    writer.write(b"ECHO not compressed\r\n\xff\xff\xff\xff")
    client = Deflated(reader, writer)
    assert (await client.line()).startswith(b"ERR not DEFLATE data")
    assert await client.line() == b""
    assert "not DEFLATE data" in caplog.text
    writer.close()
