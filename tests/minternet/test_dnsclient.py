"""The DNS client daemons use: asks its one resolver, follows CNAMEs, retries over TCP, and
drops what is not the answer (RFC 5452)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Callable

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from minternet.dnsclient import DnsClient, Dropped, LookupFailed, udp_exchange

pytestmark = pytest.mark.both_loops

ZONE = {
    ("crepes.fr.", "MX"): [
        "crepes.fr. 300 IN MX 20 backup.crepes.fr.",
        "crepes.fr. 300 IN MX 10 mail.crepes.fr.",
    ],
    ("mail.crepes.fr.", "A"): ["mail.crepes.fr. 300 IN A 127.0.0.40"],
    ("mail.crepes.fr.", "AAAA"): [],
    ("smtp.crepes.fr.", "A"): [
        "smtp.crepes.fr. 300 IN CNAME mail.crepes.fr.",
        "mail.crepes.fr. 300 IN A 127.0.0.40",
    ],
    ("big.crepes.fr.", "TXT"): [f'big.crepes.fr. 300 IN TXT "{"x" * 200}"'] * 1
    + [f'big.crepes.fr. 300 IN TXT "{i:03d}{"y" * 200}"' for i in range(8)],
}


class FakeResolver(asyncio.DatagramProtocol):
    """Answers from ZONE; `before` may send something first (a forgery) to the client."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        self.before: Callable[[bytes, tuple[str, int]], None] | None = None
        self.silent = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def answer(self, wire: bytes, tcp: bool) -> bytes:
        q = dns.message.from_wire(wire)
        r = dns.message.make_response(q)
        question = q.question[0]
        key = (question.name.to_text(), dns.rdatatype.to_text(question.rdtype))
        if key not in ZONE:
            r.set_rcode(dns.rcode.NXDOMAIN)
        for text in ZONE.get(key, []):
            r.answer.append(dns.rrset.from_text(*text.split(" ", 4)))
        out = r.to_wire(max_size=65535)
        if not tcp and len(out) > 512:
            r.answer = []
            r.flags |= dns.flags.TC
            out = r.to_wire()
        return out

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.seen.append(addr)
        if self.silent:
            return
        if self.before is not None:
            self.before(data, addr)
        self.transport.sendto(self.answer(data, tcp=False), addr)  # type: ignore[attr-defined]


@pytest.fixture
async def resolver() -> AsyncIterator[tuple[FakeResolver, int]]:
    loop = asyncio.get_running_loop()

    async def tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
        out = proto.answer(await reader.readexactly(n), tcp=True)
        writer.write(struct.pack("!H", len(out)) + out)
        await writer.drain()
        writer.close()

    # UDP on a port the kernel picks, TCP on the same number: that may be taken for TCP by a
    # connection of another test, so another port is tried (closing the UDP side first)
    for attempt in range(20):
        transport, proto = await loop.create_datagram_endpoint(
            FakeResolver, local_addr=("127.0.0.1", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        try:
            server = await asyncio.start_server(tcp, "127.0.0.1", port)
            break
        except OSError:
            transport.close()
            if attempt == 19:
                raise
    yield proto, port
    transport.close()
    server.close()


async def test_mx_in_the_order_given_and_addresses(resolver) -> None:
    proto, port = resolver
    client = DnsClient("127.0.0.1", port, source="127.0.0.40")
    assert await client.mx("crepes.fr") == (0, [(20, "backup.crepes.fr."), (10, "mail.crepes.fr.")])
    assert await client.addresses("mail.crepes.fr") == (0, ["127.0.0.40"])
    assert {addr[0] for addr in proto.seen} == {"127.0.0.40"}  # from the host's own address


async def test_cnames_in_the_answer_are_followed(resolver) -> None:
    _, port = resolver
    ans = await DnsClient("127.0.0.1", port).resolve("smtp.crepes.fr", "A")
    assert ans.canonical == "mail.crepes.fr."
    assert [rd.address for rs in ans.records for rd in rs] == ["127.0.0.40"]


async def test_nxdomain_is_an_answer_not_a_failure(resolver) -> None:
    _, port = resolver
    ans = await DnsClient("127.0.0.1", port).resolve("nosuch.crepes.fr", "A")
    assert ans.rcode == dns.rcode.NXDOMAIN and ans.records == ()


async def test_a_truncated_answer_is_asked_again_over_tcp(resolver) -> None:
    _, port = resolver
    ans = await DnsClient("127.0.0.1", port).resolve("big.crepes.fr", "TXT")
    assert sum(len(rs) for rs in ans.records) == 9


async def test_a_forged_answer_from_another_port_is_dropped(resolver) -> None:
    proto, port = resolver
    forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    forger.bind(("127.0.0.1", 0))

    def forge(data: bytes, addr: tuple[str, int]) -> None:
        r = dns.message.make_response(dns.message.from_wire(data))
        r.answer.append(dns.rrset.from_text("mail.crepes.fr.", 300, "IN", "A", "127.0.0.66"))
        forger.sendto(r.to_wire(), addr)

    proto.before = forge
    try:
        assert await DnsClient("127.0.0.1", port).addresses("mail.crepes.fr") == (0, ["127.0.0.40"])
    finally:
        forger.close()


async def test_a_silent_resolver_is_a_lookup_failure_after_the_attempts(resolver) -> None:
    proto, port = resolver
    proto.silent = True
    client = DnsClient("127.0.0.1", port, timeout=0.2, attempts=2)
    with pytest.raises(LookupFailed, match=f"127.0.0.1:{port} for mail.crepes.fr A"):
        await client.resolve("mail.crepes.fr", "A")
    assert len(proto.seen) == 2


async def test_the_exchange_reports_what_it_drops(resolver) -> None:
    _, port = resolver
    drops: list[str] = []

    def accept(data: bytes) -> bytes:
        raise Dropped("forged", "question mismatch")

    q = dns.message.make_query("mail.crepes.fr", "A")
    out = await udp_exchange(
        q.to_wire(), ("127.0.0.1", port), accept, timeout=0.3, on_drop=lambda d: drops.append(d.why)
    )
    assert out is None and drops == ["question mismatch"]
