"""Hostile input into the core: random bytes and mutated queries never raise, and every answer
is a well-formed response to the query it answers (or nothing)."""

from __future__ import annotations

import struct

import dns.message
import dns.rcode
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsserver.engine import Engine
from dnsserver.errors import FormatError
from dnsserver.wire import read_name

HEADER = struct.Struct("!HHHHHH")
SEEDS = [
    dns.message.make_query(name, rdtype, use_edns=edns, want_dnssec=do).to_wire()
    for name, rdtype, edns, do in [
        ("www.networkutopia.com", "A", False, False),
        ("networkutopia.com", "MX", 0, True),
        ("x.users.networkutopia.com", "ANY", 0, False),
        ("www.amazon.com", "A", 0, False),
        ("nope.crepes.fr", "AAAA", False, False),
    ]
]


def check(engine: Engine, data: bytes) -> None:
    for tcp in (False, True):
        reply = engine.handle(data, tcp=tcp)
        if reply.wire is None:
            continue
        wire = reply.wire
        assert len(wire) >= 12
        assert wire[:2] == data[:2]  # the client's ID
        assert HEADER.unpack_from(wire)[1] & 0x8000  # QR
        if not tcp:
            assert len(wire) <= 1232
        dns.message.from_wire(wire)  # a real client can parse it


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(engine: Engine, data: bytes) -> None:
    check(engine, data)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
    st.integers(0, 200),
    st.binary(max_size=20),
)
def test_mutated_queries_never_raise(
    engine: Engine, seed: bytes, flips: list[tuple[int, int]], cut: int, tail: bytes
) -> None:
    data = bytearray(seed)
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    check(engine, bytes(data[: max(cut, 2)]) + tail)
    check(engine, bytes(data))


def test_compression_loop_is_formerr(engine: Engine) -> None:
    # the question name is a pointer to itself (offset 12)
    data = HEADER.pack(0x1234, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    reply = engine.handle(data, tcp=False)
    assert reply.wire is not None and reply.wire[3] & 0xF == dns.rcode.FORMERR
    assert "pointer" in (reply.problem or "")


def test_two_pointer_cycle_is_rejected() -> None:
    # label "a" then a pointer back to it: a loop that only forward-jump checks would miss
    data = b"\x00" * 12 + b"\x01a\xc0\x0c"
    with pytest.raises(FormatError, match="pointer loop"):
        read_name(data, 12)


def test_label_over_63_octets_is_formerr(engine: Engine) -> None:
    name = b"\x40" + b"a" * 64 + b"\x00"  # 0x40 is not a length: the 01 label type
    data = HEADER.pack(1, 0, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01"
    reply = engine.handle(data, tcp=False)
    assert reply.wire is not None and reply.wire[3] & 0xF == dns.rcode.FORMERR


def test_name_over_255_octets_is_formerr(engine: Engine) -> None:
    name = (b"\x3f" + b"a" * 63) * 5 + b"\x00"
    data = HEADER.pack(1, 0, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01"
    reply = engine.handle(data, tcp=False)
    assert reply.wire is not None and reply.wire[3] & 0xF == dns.rcode.FORMERR


def test_truncated_header_and_question(engine: Engine) -> None:
    q = SEEDS[0]
    assert engine.handle(q[:11], tcp=False).wire is None  # not even a header: drop
    reply = engine.handle(q[:20], tcp=False)  # header, half a name: FORMERR
    assert reply.wire is not None and reply.wire[3] & 0xF == dns.rcode.FORMERR


def test_valid_compression_pointer_in_question_is_followed() -> None:
    data = b"\x00" * 12 + b"\x03com\x00" + b"\x03www\xc0\x0c"
    labels, end = read_name(data, 17)
    assert labels == (b"www", b"com") and end == len(data)
