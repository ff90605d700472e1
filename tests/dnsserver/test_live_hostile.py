"""Hostile input into a live server (hypothesis): random and mutated datagrams and TCP streams;
after every example the server still answers a real query over UDP and TCP."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import dns.message
import dns.query
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsserver.aio.server import DnsServer
from dnsserver.config import AuthConfig, Limits
from dnsserver.rrl import RrlConfig
from tests.dnsserver.test_hostile import SEEDS

HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def live(zone_dir: Path) -> Iterator[int]:
    """A server on its own event loop in a thread, so that blocking clients can drive it."""
    cfg = AuthConfig(
        zones=(str(zone_dir / "networkutopia.com.zone"),),
        listen=(f"{HOST}:0",),
        rrl=RrlConfig(enabled=False),
        limits=Limits(tcp_idle_timeout=1.0),
    )
    loop = asyncio.new_event_loop()
    server = DnsServer(cfg, name="live")
    port = loop.run_until_complete(server.start())["dns"]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def still_answers(port: int) -> None:
    q = dns.message.make_query("www.networkutopia.com", "A")
    assert dns.query.udp(q, HOST, port=port, timeout=3).answer
    assert dns.query.tcp(q, HOST, port=port, timeout=3).answer


def mutate(seed: bytes, flips: list[tuple[int, int]], cut: int) -> bytes:
    data = bytearray(seed)
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    return bytes(data[:cut])


payloads = st.one_of(
    st.binary(max_size=300),
    st.builds(
        mutate,
        st.sampled_from(SEEDS),
        st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), max_size=5),
        st.integers(0, 120),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(payloads, min_size=1, max_size=20))
def test_garbage_over_udp_and_tcp_never_stops_the_server(live: int, batch: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        for data in batch:
            u.sendto(data, (HOST, live))
    with socket.create_connection((HOST, live), timeout=3) as t, suppress(ConnectionError):
        # framed garbage, then a raw tail that may leave a half message behind; the server
        # may close on a bad length while we still write
        t.sendall(b"".join(struct.pack("!H", len(d)) + d for d in batch) + batch[0][:3])
    still_answers(live)
