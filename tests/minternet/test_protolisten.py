"""The protocol listener over real loopback sockets: cap, accounting across a TLS upgrade,
implicit TLS, the stall rule and shutdown, on both event loops."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
import trustme

from minternet.logs import Throttle
from minternet.protolisten import ProtocolListener

pytestmark = pytest.mark.both_loops


class Lines(asyncio.Protocol):
    """A line protocol of its own: HI greeting; TLS upgrades itself; BIG n writes n octets;
    BYE closes. It records what the listener let through to it."""

    tls: ssl.SSLContext | None = None
    built = 0
    made: list[Lines] = []
    lost: list[Lines] = []

    def __init__(self) -> None:
        Lines.built += 1
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgrading: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        Lines.made.append(self)
        self.transport = transport  # type: ignore[assignment]
        transport.write(b"HI\n")  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            line, _, self.buffer = self.buffer.partition(b"\n")
            self.command(line)

    def command(self, line: bytes) -> None:
        assert self.transport is not None
        if line == b"TLS":
            self.transport.write(b"GO\n")
            self.upgrading = asyncio.ensure_future(self.upgrade())
        elif line.startswith(b"BIG "):
            self.transport.write(b"x" * int(line[4:]) + b"\n")
        elif line == b"BYE":
            self.transport.close()
        else:
            self.transport.write(b"ECHO " + line + b"\n")

    async def upgrade(self) -> None:
        assert self.transport is not None and self.tls is not None
        loop = asyncio.get_running_loop()
        new = await loop.start_tls(self.transport, self, self.tls, server_side=True)
        self.transport = new  # type: ignore[assignment]
        self.transport.write(b"SECURE\n")

    def connection_lost(self, exc: Exception | None) -> None:
        Lines.lost.append(self)


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


Start = Callable[..., Coroutine[Any, Any, ProtocolListener]]


@pytest.fixture
async def start(server_tls: ssl.SSLContext) -> AsyncIterator[Start]:
    listeners: list[ProtocolListener] = []
    Lines.tls, Lines.made, Lines.lost, Lines.built = server_tls, [], [], 0

    async def make(tls: bool = False, **kw: Any) -> ProtocolListener:
        settings: dict[str, Any] = {"max_connections": 8, "refusal": b"BUSY\n", **kw}
        listener = ProtocolListener(
            Lines, throttle=Throttle(), ssl=server_tls if tls else None, **settings
        )
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
        # abort, not close: a close waits for a write buffer that a stalled test left full,
        # and the loop would end with the transport open (a ResourceWarning in a later test)
        w.transport.abort()
    _writers.clear()
    await asyncio.sleep(0)


async def connect(
    listener: ProtocolListener, tls: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", listener.port, ssl=tls, server_hostname="127.0.0.1" if tls else None
    )
    _writers.append(writer)
    return reader, writer


async def line(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.readline(), timeout)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition never met"
        await asyncio.sleep(0.01)


async def test_over_the_cap_a_connection_gets_the_refusal_and_a_close(start: Start) -> None:
    listener = await start(max_connections=2)
    clients = [await connect(listener) for _ in range(2)]
    for reader, _ in clients:
        assert await line(reader) == b"HI\n"
    reader, _ = await connect(listener)
    assert await asyncio.wait_for(reader.read(), 5) == b"BUSY\n"
    assert (len(listener), listener.accepted, listener.refused) == (2, 2, 1)
    assert (Lines.built, len(Lines.made)) == (2, 2)  # no protocol was built for the refused one
    clients[0][1].write(b"BYE\n")
    await until(lambda: len(listener) == 1)
    assert len(Lines.lost) == 1
    reader, writer = await connect(listener)
    assert await line(reader) == b"HI\n"
    writer.write(b"ping\n")
    assert await line(reader) == b"ECHO ping\n"


async def test_without_a_refusal_an_extra_connection_is_just_closed(start: Start) -> None:
    listener = await start(max_connections=1, refusal=None)
    reader, _ = await connect(listener)
    assert await line(reader) == b"HI\n"
    extra, _ = await connect(listener)
    assert await asyncio.wait_for(extra.read(), 5) == b""


async def test_a_connection_is_counted_out_after_the_protocol_moved_behind_tls(
    start: Start, client_tls: ssl.SSLContext
) -> None:
    listener = await start(max_connections=1)
    reader, writer = await connect(listener)
    assert await line(reader) == b"HI\n"
    writer.write(b"TLS\n")
    assert await line(reader) == b"GO\n"
    await writer.start_tls(client_tls, server_hostname="127.0.0.1")
    assert await line(reader) == b"SECURE\n"
    writer.write(b"secret\n")
    assert await line(reader) == b"ECHO secret\n"
    assert len(listener) == 1
    writer.write(b"BYE\n")
    await until(lambda: len(listener) == 0)
    assert Lines.lost == Lines.made
    again, _ = await connect(listener)  # its place is free again
    assert await line(again) == b"HI\n"


class Remade(Lines):
    """Upgrades as aiosmtpd's STARTTLS does: an SSLProtocol of its own over the same socket,
    which calls connection_made on this protocol again once the handshake is done."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:
            super().connection_made(transport)
        else:
            self.transport = transport  # type: ignore[assignment]
            self.transport.write(b"SECURE\n")

    async def upgrade(self) -> None:
        import asyncio.sslproto as sslproto

        assert self.transport is not None and self.tls is not None
        loop = asyncio.get_running_loop()
        tls = sslproto.SSLProtocol(loop, self, self.tls, loop.create_future(), server_side=True)
        self.transport.set_protocol(tls)
        tls.connection_made(self.transport)


async def test_a_protocol_made_again_over_tls_is_counted_once_even_at_the_cap(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    Remade.tls, Lines.made, Lines.lost = server_tls, [], []
    listener = ProtocolListener(Remade, max_connections=1, throttle=Throttle(), refusal=b"BUSY\n")
    await listener.start("127.0.0.1", 0)
    try:
        reader, writer = await connect(listener)
        assert await line(reader) == b"HI\n"
        writer.write(b"TLS\n")
        assert await line(reader) == b"GO\n"
        await writer.start_tls(client_tls, server_hostname="127.0.0.1")
        assert await line(reader) == b"SECURE\n"  # not BUSY: it is the same connection
        writer.write(b"ping\n")
        assert await line(reader) == b"ECHO ping\n"
        assert (len(listener), listener.accepted, listener.refused) == (1, 1, 0)
        writer.write(b"BYE\n")
        await until(lambda: len(listener) == 0)
    finally:
        listener.close()
        await listener.wait_closed()


async def test_implicit_tls_counts_a_connection_once_its_handshake_is_done(
    start: Start, client_tls: ssl.SSLContext
) -> None:
    listener = await start(tls=True, max_connections=1, handshake_timeout=0.3)
    _, raw_w = await connect(listener)  # no handshake: holds no place
    raw_w.write(b"not tls\n")
    reader, writer = await connect(listener, tls=client_tls)
    assert await line(reader) == b"HI\n"
    writer.write(b"ping\n")
    assert await line(reader) == b"ECHO ping\n"
    assert len(listener) == 1
    silent, _ = await connect(listener)  # never starts a handshake: dropped at its timeout
    assert await asyncio.wait_for(silent.read(), 5) == b""
    assert len(listener) == 1 and len(Lines.made) == 1


async def test_with_implicit_tls_the_cap_also_holds_for_handshakes_begun_below_it(
    start: Start, client_tls: ssl.SSLContext
) -> None:
    listener = await start(tls=True, max_connections=1)
    # Both are accepted while none has finished its handshake: the second is refused after it.
    clients = await asyncio.gather(*(connect(listener, tls=client_tls) for _ in range(2)))
    got = sorted([await asyncio.wait_for(r.readline(), 5) for r, _ in clients])
    assert got == [b"BUSY\n", b"HI\n"]
    assert (len(listener), listener.refused, len(Lines.made)) == (1, 1, 1)


async def test_a_peer_that_does_not_read_is_aborted_after_the_stall_timeout(
    start: Start,
) -> None:
    listener = await start(stall_timeout=0.3)
    reader, writer = await connect(listener)
    assert await line(reader) == b"HI\n"
    writer.transport.pause_reading()  # type: ignore[attr-defined]
    writer.write(b"BIG 20000000\n")  # far more than the socket buffers hold
    await until(lambda: len(listener) == 0)
    reading, reading_w = await connect(listener)  # a reader is never taken for stalled
    assert await line(reading) == b"HI\n"
    reading_w.write(b"BIG 3000000\n")
    assert len(await asyncio.wait_for(reading.readexactly(3000001), 10)) == 3000001
    assert len(listener) == 1


async def test_closing_ends_every_connection_and_a_non_reader_too(start: Start) -> None:
    listener = await start()
    reader, _ = await connect(listener)
    assert await line(reader) == b"HI\n"
    stuck, stuck_w = await connect(listener)
    assert await line(stuck) == b"HI\n"
    stuck_w.transport.pause_reading()  # type: ignore[attr-defined]
    stuck_w.write(b"BIG 20000000\n")
    await asyncio.sleep(0.2)
    listener.close()
    assert await listener.wait_closed(timeout=2.0)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert len(listener) == 0
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", listener.port)


async def test_wait_closed_aborts_what_is_left_at_its_timeout(start: Start) -> None:
    listener = await start()
    reader, _ = await connect(listener)
    assert await line(reader) == b"HI\n"
    assert listener.server is not None
    listener.server.close()  # stop accepting, but leave the connection open
    assert not await listener.wait_closed(timeout=0.2)
    await until(lambda: len(listener) == 0)


async def test_wait_closed_before_start_is_done_at_once() -> None:
    listener = ProtocolListener(Lines, max_connections=1, throttle=Throttle())
    assert await listener.wait_closed()
    listener.close()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"max_connections": 0}, "max_connections must be at least 1"),
        ({"handshake_timeout": 0.0}, "timeouts must be positive"),
        ({"stall_timeout": float("nan")}, "timeouts must be positive"),
    ],
)
async def test_settings_refuse_what_cannot_work(kw: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {"max_connections": 1, **kw}
    with pytest.raises(ValueError, match=message):
        ProtocolListener(Lines, throttle=Throttle(), **settings)
