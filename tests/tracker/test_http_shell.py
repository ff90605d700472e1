"""The tracker's HTTP handler on a stream connection, fed arbitrary bytes by a fake transport."""

from __future__ import annotations

import asyncio
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minternet.logs import Throttle
from minternet.stream import Connection, StreamListener
from tests.tracker.conftest import announce_query
from tracker.aio.http import HttpFront
from tracker.config import TrackerConfig
from tracker.http_app import TrackerApp
from tracker.registry import Registry


class FakeTransport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.out += data

    def get_extra_info(self, name: str) -> object:
        return ("10.0.0.1", 5555) if name == "peername" else None

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def listener(config: TrackerConfig) -> StreamListener:  # type: ignore[type-arg]
    front = HttpFront(TrackerApp(Registry(config, random.Random(1))), config, Throttle())
    return StreamListener(front.handler, front.limits, throttle=Throttle())


def connection(config: TrackerConfig) -> tuple[StreamListener, Connection, FakeTransport]:  # type: ignore[type-arg]
    server = listener(config)
    conn = Connection(server)
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return server, conn, transport


PIECES = st.sampled_from(
    [
        b"GET ",
        b"HEAD ",
        b"POST ",
        b"/announce?",
        announce_query().encode(),
        b"/scrape",
        b"/",
        b" HTTP/1.1",
        b" HTTP/1.0",
        b" HTTP/9",
        b"\r\n",
        b"\r\n\r\n",
        b"\n",
        b"Host: x\r\n",
        b"Connection: close\r\n",
        b"Content-Length: 3\r\n",
        b"Content-Length: x\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"X-Forwarded-For: 1.2.3.4\r\n",
        b"abc",
        b":",
        b" ",
        b"%",
        b"\x00\xff",
    ]
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(PIECES, max_size=12).map(b"".join) | st.binary(max_size=64), max_size=8))
async def test_arbitrary_bytes_get_http_replies_and_never_raise(chunks: list[bytes]) -> None:
    server, conn, transport = connection(TrackerConfig(rate_per_ip=0.0))
    try:
        for chunk in chunks:
            if transport.closed:
                break
            conn.data_received(chunk)
            await asyncio.sleep(0)  # let pipelining continuations run
        if transport.out:
            assert transport.out.startswith(b"HTTP/1.1 ")
            assert b" 500 " not in transport.out
    finally:
        conn.connection_lost(None)
        server.close()


async def test_requests_split_across_many_reads() -> None:
    server, conn, transport = connection(TrackerConfig(rate_per_ip=0.0))
    try:
        request = b"GET /announce?%s HTTP/1.1\r\nHost: t\r\n\r\n" % announce_query().encode()
        for i in range(len(request)):
            conn.data_received(request[i : i + 1])
        assert transport.out.startswith(b"HTTP/1.1 200 OK\r\n")
        assert transport.out.endswith(b"5:peers0:e") and not transport.closed
    finally:
        conn.connection_lost(None)
        server.close()


async def test_connection_limit() -> None:
    server = listener(TrackerConfig(http_max_connections=2))
    transports = [FakeTransport() for _ in range(3)]
    conns = [Connection(server) for _ in range(3)]
    try:
        for c, t in zip(conns, transports, strict=True):
            c.connection_made(t)  # type: ignore[arg-type]
        assert [t.closed for t in transports] == [False, False, True]
    finally:
        for c in conns:
            c.connection_lost(None)
        server.close()


async def test_conflicting_content_lengths_are_refused_not_guessed() -> None:
    # RFC 9112 6.3: differing Content-Length fields make the framing ambiguous; taking one of
    # them would let `abc` be read as the start of a second, smuggled request.
    server, conn, transport = connection(TrackerConfig(rate_per_ip=0.0))
    try:
        conn.data_received(
            b"GET /stats.json HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 0\r\n"
            b"\r\nabcGET / HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        assert transport.out.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert transport.out.count(b"HTTP/1.1 ") == 1 and transport.closed
        # The same length twice is one length (RFC 9110 8.6).
        server2, conn2, transport2 = connection(TrackerConfig(rate_per_ip=0.0))
        conn2.data_received(
            b"GET /stats.json HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n"
            b"\r\nabc"
        )
        assert transport2.out.startswith(b"HTTP/1.1 200 OK\r\n")
        conn2.connection_lost(None)
        server2.close()
    finally:
        conn.connection_lost(None)
        server.close()


async def test_bare_lf_line_endings_get_400_at_once_not_a_408_later() -> None:
    # `printf 'GET / HTTP/1.0\n\n' | nc` waited the whole request timeout for a 408.
    server, conn, transport = connection(TrackerConfig(rate_per_ip=0.0))
    try:
        conn.data_received(b"GET /stats.json HTTP/1.0\nHost: t\n\n")
        assert transport.out.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert b"bare LF" in transport.out and transport.closed
    finally:
        conn.connection_lost(None)
        server.close()


async def test_http10_keep_alive_is_confirmed_in_the_reply() -> None:
    # An HTTP/1.0 client keeps the connection only when the reply says keep-alive; without
    # it, it waits for the server to close (a keep-alive timeout later).
    server, conn, transport = connection(TrackerConfig(rate_per_ip=0.0))
    try:
        conn.data_received(b"GET /stats.json HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        head = bytes(transport.out).partition(b"\r\n\r\n")[0]
        assert b"\r\nConnection: keep-alive" in head and not transport.closed
        conn.data_received(b"POST /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert transport.out.count(b"Connection: keep-alive") == 2 and not transport.closed
        conn.data_received(b"GET /stats.json HTTP/1.1\r\nHost: t\r\n\r\n")  # 1.1: implied
        assert transport.out.count(b"Connection: keep-alive") == 2
        assert transport.out.count(b"HTTP/1.1 200 OK") == 2
    finally:
        conn.connection_lost(None)
        server.close()
