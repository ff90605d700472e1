"""DNS over the wire for daemons: one query/response exchange (the resolver's upstream code
uses it too) and a small client that asks the topology's resolver.

The exchange follows RFC 5452 §9: each query goes from a fresh socket (a random source port)
with a random ID, and a response is accepted only if it comes from the address and port the
query went to, carries the same ID, and passes the caller's own check (the question matches);
anything else is dropped, reported, and waiting goes on until the timeout. A truncated answer
is asked again over TCP (RFC 7766 §5).

`DnsClient` is what the mail relay (MX, A) and the peers (the tracker's address) use. It asks
the one resolver it is given — the topology's local DNS server by default — and never the
system's (/etc/resolv.conf and getaddrinfo know nothing of the miniature Internet).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from minternet.listen import family_of

T = TypeVar("T")


class Dropped(Exception):
    """A response that is not the answer: `kind` is 'forged' or 'malformed', `why` says more."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(why)
        self.kind = kind
        self.why = why


def new_id() -> int:
    return secrets.randbelow(65536)


class _Waiter(asyncio.DatagramProtocol, Generic[T]):
    def __init__(
        self,
        peer: tuple[str, int],
        qid: bytes,
        accept: Callable[[bytes], T],
        on_drop: Callable[[Dropped], None],
    ) -> None:
        self.peer = peer
        self.qid = qid
        self.accept = accept
        self.on_drop = on_drop
        self.done: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self.done.done():
            return
        try:
            if (addr[0], addr[1]) != self.peer:
                expected = f"{self.peer[0]}:{self.peer[1]}"
                raise Dropped("forged", f"from {addr[0]}:{addr[1]}, expected {expected}")
            if len(data) < 12 or data[:2] != self.qid:
                raise Dropped("forged", f"wrong ID from {addr[0]}:{addr[1]}")
            self.done.set_result(self.accept(data))
        except Dropped as e:
            self.on_drop(e)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP unreachable and the like: the timeout decides


def _no_drop(_: Dropped) -> None:
    pass


async def udp_exchange(
    wire: bytes,
    peer: tuple[str, int],
    accept: Callable[[bytes], T],
    *,
    timeout: float,
    source: str | None = None,
    on_drop: Callable[[Dropped], None] = _no_drop,
    ports: set[int] | None = None,
) -> T | None:
    """Send `wire` from a fresh socket; the first datagram `accept` takes, or None on timeout.

    `accept(data)` parses and checks a datagram that passed the address and ID checks and
    raises Dropped if it is not the answer. `ports` holds the local port while waiting (the
    resolver reports the ones in use). OSError (no descriptor left, say) propagates.
    """
    loop = asyncio.get_running_loop()
    fam = family_of(peer[0])
    sock = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        local = source if source and family_of(source) == fam else None
        sock.bind((local or ("::" if fam == socket.AF_INET6 else "0.0.0.0"), 0))
        sock.setblocking(False)
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _Waiter(peer, wire[:2], accept, on_drop), sock=sock
        )
    except BaseException:  # cancelled (shutdown) or refused: never leak the socket
        sock.close()
        raise
    port = sock.getsockname()[1]
    if ports is not None:
        ports.add(port)
    try:
        transport.sendto(wire, peer)
        return await asyncio.wait_for(proto.done, timeout)
    except (TimeoutError, OSError):
        return None
    finally:
        if ports is not None:
            ports.discard(port)
        transport.close()


async def tcp_exchange(
    wire: bytes, peer: tuple[str, int], *, timeout: float, source: str | None = None
) -> bytes | None:
    """One length-prefixed query and its answer over a new TCP connection; None on failure.

    The caller checks the answer (ID and question) as it does for UDP.
    """
    local = (source, 0) if source and family_of(source) == family_of(peer[0]) else None
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(peer[0], peer[1], local_addr=local)
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            (n,) = struct.unpack("!H", await reader.readexactly(2))
            return await reader.readexactly(n)
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        return None
    finally:
        if writer is not None:
            writer.close()


class LookupFailed(Exception):
    """No answer from the resolver (a timeout or an unusable response): try again later."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What the resolver said: the rcode, and the records of the asked type (CNAMEs followed)."""

    rcode: int
    records: tuple[dns.rrset.RRset, ...]
    canonical: str  # the name the records belong to, after CNAMEs


class DnsClient:
    """Asks one resolver over UDP (TCP when truncated), with a timeout and a few attempts."""

    def __init__(
        self,
        server: str,
        port: int,
        *,
        source: str | None = None,
        timeout: float = 2.0,
        attempts: int = 2,
    ) -> None:
        self.peer = (server, port)
        self.source = source
        self.timeout = timeout
        self.attempts = attempts

    async def query(self, name: str, rdtype: str | int) -> dns.message.Message:
        """The resolver's response to NAME TYPE (RD=1, EDNS0); LookupFailed if none comes."""
        q = dns.message.make_query(
            name, dns.rdatatype.RdataType.make(rdtype), use_edns=0, payload=1232
        )
        q.id = new_id()
        wire = q.to_wire()

        def accept(data: bytes) -> dns.message.Message:
            try:
                r = dns.message.from_wire(data)
            except dns.exception.DNSException as e:
                raise Dropped("malformed", str(e)) from None
            if not q.is_response(r):
                raise Dropped("forged", "question mismatch")
            return r

        for _ in range(self.attempts):
            r = await udp_exchange(
                wire, self.peer, accept, timeout=self.timeout, source=self.source
            )
            if r is not None and r.flags & dns.flags.TC:
                data = await tcp_exchange(wire, self.peer, timeout=self.timeout, source=self.source)
                try:
                    r = accept(data) if data is not None else None
                except Dropped:
                    r = None
            if r is not None:
                return r
        raise LookupFailed(
            f"no answer from the resolver {self.peer[0]}:{self.peer[1]} for {name} "
            f"{dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))}"
        )

    async def resolve(self, name: str, rdtype: str | int) -> Answer:
        """The records of `rdtype` for `name`, following the CNAME chain in the answer."""
        rtype = dns.rdatatype.RdataType.make(rdtype)
        r = await self.query(name, rtype)
        owner = dns.name.from_text(name)
        for _ in range(16):  # a CNAME chain longer than this is a loop
            cname = r.get_rrset(r.answer, owner, dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None or rtype == dns.rdatatype.CNAME:
                break
            owner = cname[0].target
        records = tuple(rr for rr in r.answer if rr.name == owner and rr.rdtype == rtype)
        return Answer(r.rcode(), records, owner.to_text())

    async def mx(self, domain: str) -> tuple[int, list[tuple[int, str]]]:
        """(rcode, [(preference, exchange host)] in the order given)."""
        ans = await self.resolve(domain, "MX")
        return ans.rcode, [
            (rd.preference, rd.exchange.to_text()) for rs in ans.records for rd in rs
        ]

    async def addresses(self, host: str) -> tuple[int, list[str]]:
        """(rcode, the A then AAAA addresses of `host`)."""
        found: list[str] = []
        rcode: int = dns.rcode.NOERROR
        for rtype in ("A", "AAAA"):
            ans = await self.resolve(host, rtype)
            rcode = ans.rcode if not found else rcode
            found += [rd.address for rs in ans.records for rd in rs]
        return rcode, found
