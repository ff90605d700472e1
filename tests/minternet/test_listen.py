"""ADDR:PORT parsing and binding with the real port read back."""

from __future__ import annotations

import asyncio
import errno
import os
import socket

import pytest

from minternet import listen
from minternet.listen import (
    AddressError,
    BindError,
    bind_udp,
    binding,
    parse_hostport,
)
from minternet.logs import Throttle
from minternet.stream import StreamHandler, StreamLimits, StreamListener


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


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("localhost:53", "'localhost' is not an IP address"),
        ("127.0.0.1:99999", "bad port in '127.0.0.1:99999'"),
        ("127.0.0.1:x", "bad port in '127.0.0.1:x'"),
        ("[::1", r"bad address '\[::1': missing '\]'"),
        ("::1", "'::1' has no port"),
    ],
)
def test_parse_rejects(text, why):
    with pytest.raises(AddressError, match=why):
        parse_hostport(text)


def test_bind_udp_is_non_blocking_on_exactly_that_address():
    sock = bind_udp("127.0.0.3", 0, rcvbuf=1 << 20, sndbuf=1 << 20)
    try:
        host, port = sock.getsockname()
        assert host == "127.0.0.3" and port > 0
        assert not sock.getblocking()
        with pytest.raises(BlockingIOError):
            sock.recvfrom(512)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"hi", (host, port))
        sock.settimeout(2)
        assert sock.recvfrom(512)[0] == b"hi"
    finally:
        sock.close()


def test_bind_udp_refuses_a_taken_port():
    first = bind_udp("127.0.0.3", 0)
    try:
        with pytest.raises(OSError):
            bind_udp("127.0.0.3", first.getsockname()[1])
    finally:
        first.close()


def stream_listener() -> StreamListener[bytes]:
    limits = StreamLimits(max_connections=4, idle_timeout=5.0)
    return StreamListener(StreamHandler, limits, throttle=Throttle())


async def test_tcp_reports_the_bound_port():
    listener = stream_listener()
    tport = await listener.start("127.0.0.1", 0)
    try:
        assert tport > 0
        _, writer = await asyncio.open_connection("127.0.0.1", tport)
        writer.close()
    finally:
        listener.close()
        await listener.wait_closed()


def test_a_taken_udp_port_is_named_in_the_error():
    first = bind_udp("127.0.0.3", 0)
    port = first.getsockname()[1]
    try:
        with pytest.raises(BindError) as e:
            bind_udp("127.0.0.3", port)
        assert str(e.value) == f"UDP 127.0.0.3:{port}: address already in use"
        assert e.value.errno == errno.EADDRINUSE
    finally:
        first.close()


async def test_a_taken_tcp_port_is_named_in_the_error():
    first = stream_listener()
    port = await first.start("127.0.0.3", 0)
    try:
        with pytest.raises(BindError) as e:
            await stream_listener().start("127.0.0.3", port)
        assert str(e.value) == f"TCP 127.0.0.3:{port}: address already in use"
    finally:
        first.close()
        await first.wait_closed()


@pytest.mark.parametrize(
    ("host", "port", "code", "text"),
    [
        ("::1", 53, errno.EADDRINUSE, "UDP [::1]:53: address already in use"),
        (
            "127.0.0.2",
            53,
            errno.EACCES,
            "UDP 127.0.0.2:53: permission denied (ports below 1024 need root)",
        ),
        ("127.0.0.2", 5353, errno.EACCES, "UDP 127.0.0.2:5353: permission denied"),
    ],
)
def test_binding_names_protocol_address_and_port(host, port, code, text):
    with pytest.raises(BindError) as e, binding("UDP", host, port):
        raise OSError(code, os.strerror(code))
    assert str(e.value) == text and e.value.errno == code


def test_family_of_an_address_and_of_anything_else() -> None:
    assert listen.family_of("127.0.0.1") == socket.AF_INET
    assert listen.family_of("::1") == socket.AF_INET6
    assert listen.family_of("127.0.0.1") == socket.AF_INET  # (remembered)
    for bad in ("localhost", "", "1.2.3"):
        with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
            listen.family_of(bad)
