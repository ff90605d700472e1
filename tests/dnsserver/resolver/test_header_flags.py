"""The resolver's front end and query header flags: TC is ignored, NOTIMP does not copy RD."""

from __future__ import annotations

import struct
from typing import Any

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import pytest

from tests.dnsserver.rawclient import tcp_exchange, udp_exchange

Start = Any


@pytest.mark.parametrize("tcp", [False, True])
async def test_tc_bit_in_a_query_is_ignored(start_resolver: Start, tcp: bool) -> None:
    _, ports = await start_resolver()
    exchange = tcp_exchange if tcp else udp_exchange
    for _ in range(2):  # the full path, then the answer caches
        q = dns.message.make_query("www.example.test.", "A", use_edns=0)
        q.flags |= dns.flags.TC
        r = dns.message.from_wire(await exchange(ports["dns"], q.to_wire()))
        assert r.id == q.id and r.rcode() == dns.rcode.NOERROR
        assert not r.flags & dns.flags.TC and r.flags & dns.flags.RD
        assert [rd.address for rd in r.answer[0]] == ["127.1.0.1"]


async def test_notimp_does_not_copy_rd(start_resolver: Start) -> None:
    _, ports = await start_resolver()
    for opcode in (dns.opcode.NOTIFY, dns.opcode.UPDATE, dns.opcode.STATUS):
        q = dns.message.make_query("www.example.test.", "A")  # RD set
        q.set_opcode(opcode)
        wire = await udp_exchange(ports["dns"], q.to_wire())
        qid, flags = struct.unpack_from("!HH", wire)
        assert qid == q.id and flags & 0xF == dns.rcode.NOTIMP
        assert (flags >> 11) & 0xF == opcode and not flags & dns.flags.RD


async def test_formerr_keeps_rd_for_query_only(start_resolver: Start) -> None:
    _, ports = await start_resolver()
    unparsable = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x05abc"  # QUERY, RD
    flags = struct.unpack_from("!H", await udp_exchange(ports["dns"], unparsable), 2)[0]
    assert flags & 0xF == dns.rcode.FORMERR and flags & dns.flags.RD
    notify = struct.pack("!HHHHHH", 0x4243, 0x2100, 1, 0, 0, 0) + b"\x05abc"  # NOTIFY, RD
    flags = struct.unpack_from("!H", await udp_exchange(ports["dns"], notify), 2)[0]
    assert flags & 0xF == dns.rcode.FORMERR and (flags >> 11) & 0xF == 4
    assert not flags & dns.flags.RD
