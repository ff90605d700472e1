"""Cache poisoning attempts while the resolver waits for a slow authoritative answer."""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from typing import Any

import dns.asyncquery
import dns.message
import dns.rdatatype
from dnslib import RR, DNSHeader, DNSRecord

from minternet.control import request as control

from .conftest import Hierarchy

POISON = "127.0.0.66"


def forged(qid: int, qname: str, *, extra_out_of_zone: bool = False) -> bytes:
    r = DNSRecord(DNSHeader(id=qid, qr=1, aa=1), q=DNSRecord.question(qname, "A").q)
    r.add_answer(*RR.fromZone(f"www.example.test. 3600 IN A {POISON}"))
    if extra_out_of_zone:
        r.add_ar(*RR.fromZone(f"www.other.test. 3600 IN A {POISON}"))
        r.add_ar(*RR.fromZone(f"ns.example.test. 3600 IN A {POISON}"))
    return bytes(r.pack())


def _spoofed(src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> bytes:
    """An IPv4+UDP datagram with a forged source (the kernel fills the IP checksum)."""
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        0,
        0,
        64,
        socket.IPPROTO_UDP,
        0,
        socket.inet_aton(src[0]),
        socket.inet_aton(dst[0]),
    )
    return ip + udp


def flood(server: tuple[str, int], target: tuple[str, int], true_id: int) -> tuple[int, bool]:
    """Forged answers at the resolver's real upstream port.

    Returns how many were sent, and whether spoofed sources could be among them (a raw socket
    needs root: a normal user sends only the 100 from the wrong address or port).
    """
    sent = 0
    wrong_ids = [i for i in random.Random(5).sample(range(65536), 1000) if i != true_id]
    # 1. spoofed from the real server's address and port, every ID but the right one
    try:
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    except PermissionError:
        raw = None
    if raw is not None:
        with raw:
            for qid in wrong_ids:
                raw.sendto(_spoofed(server, target, forged(qid, "www.example.test")), target)
                sent += 1
            # the right ID but a different question (and out-of-zone extras)
            pkt = forged(true_id, "www2.example.test", extra_out_of_zone=True)
            raw.sendto(_spoofed(server, target, pkt), target)
            sent += 1
    # 2. the right ID and question from the wrong address, and from the wrong port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((POISON, 0))
        for _ in range(50):
            s.sendto(forged(true_id, "www.example.test", extra_out_of_zone=True), target)
            sent += 1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((server[0], 0))
        for _ in range(50):
            s.sendto(forged(true_id, "www.example.test", extra_out_of_zone=True), target)
            sent += 1
    return sent, raw is not None


async def test_forged_answers_never_reach_the_cache(
    start_resolver: Any, hierarchy: Hierarchy
) -> None:
    example = hierarchy.net["127.0.0.12"]
    example.delay = 0.5  # the flood has that long; the resolver waits up to 2 s
    zone = example.zones[0]

    def honest_but_chatty(q: DNSRecord) -> DNSRecord:
        r = zone.answer(q)  # the true answer, plus additional data outside its zone
        r.add_ar(*RR.fromZone(f"www.other.test. 3600 IN A {POISON}"))
        return r

    example.handler = honest_but_chatty
    d, ports = await start_resolver(upstream_timeout=2.0)
    q = dns.message.make_query("www.example.test.", "A")
    task = asyncio.ensure_future(dns.asyncquery.udp(q, "127.0.0.1", port=ports["dns"], timeout=5))
    for _ in range(200):  # until the query to the slow server is in flight
        if example.seen_ids and d.upstream.active_ports:
            break
        await asyncio.sleep(0.01)
    assert example.seen_ids and d.upstream.active_ports
    port = next(iter(d.upstream.active_ports))
    sent, spoofed = await asyncio.to_thread(
        flood, ("127.0.0.12", hierarchy.port), ("127.0.0.1", port), example.seen_ids[-1]
    )
    resp = await task
    got = sorted(rd.address for rr in resp.answer if rr.rdtype == dns.rdatatype.A for rd in rr)
    assert got == ["127.1.0.1"]
    assert sent >= (1100 if spoofed else 100) and d.stats.dropped_forged > 50
    dump = await asyncio.to_thread(control, f"127.0.0.1:{ports['control']}", "dump")
    assert not any(POISON in row for row in dump["entries"])
    other = dns.message.make_query("www.other.test.", "A")
    resp = await dns.asyncquery.udp(other, "127.0.0.1", port=ports["dns"], timeout=5)
    assert [rd.address for rr in resp.answer for rd in rr] == ["127.1.0.3"]
