"""Upstream queries: UDP with EDNS0, a fresh socket (random source port) and random ID each.

RFC 5452 §9: a response is accepted only if its source address and port, its ID and its
question (name, type, class) all match what was sent; every other datagram is dropped and
counted, and waiting goes on until the timeout. TC=1 retries the same question over TCP
(RFC 7766 §5). With 0x20 on, the question name must match case for case.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import struct

from dnslib import EDNS0, DNSHeader, DNSQuestion, DNSRecord

from dnsserver.resolver.iterate import Query
from dnsserver.resolver.stats import Stats
from minternet.listen import family_of
from minternet.logs import Throttle

log = logging.getLogger(__name__)
_throttle = Throttle()


def _question_matches(msg: DNSRecord, q: Query, exact_case: bool) -> bool:
    if len(msg.questions) != 1:
        return False
    got = msg.questions[0]
    if got.qtype != q.qtype or got.qclass != 1:
        return False
    if exact_case:
        return tuple(bytes(x) for x in got.qname.label) == tuple(bytes(x) for x in q.qlabel.label)
    return bool(got.qname == q.qlabel)


class _Waiter(asyncio.DatagramProtocol):
    def __init__(self, upstream: Upstream, q: Query, peer: tuple[str, int], qid: int) -> None:
        self.upstream = upstream
        self.q = q
        self.peer = peer
        self.qid = qid
        self.done: asyncio.Future[DNSRecord] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        up = self.upstream
        if self.done.done():
            return
        if (addr[0], addr[1]) != self.peer:
            up.forged(f"from {addr[0]}:{addr[1]}, expected {self.peer[0]}:{self.peer[1]}")
            return
        if len(data) < 12 or data[:2] != self.qid.to_bytes(2):
            up.forged(f"wrong ID from {addr[0]}:{addr[1]}")
            return
        try:
            msg = DNSRecord.parse(data)
        except Exception:  # dnslib raises several kinds on garbage
            up.stats.dropped_malformed += 1
            _throttle(log, "malformed", "malformed response from %s:%s dropped", *self.peer)
            return
        if not msg.header.qr or not _question_matches(msg, self.q, up.randomize_case):
            up.forged(f"question mismatch from {addr[0]}:{addr[1]}")
            return
        self.done.set_result(msg)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP unreachable and the like: the timeout decides


class Upstream:
    """Sends one `Query` and returns the matching response (or None on timeout)."""

    def __init__(
        self,
        *,
        port: int,
        stats: Stats,
        source: str | None = None,
        edns_size: int = 1232,
        randomize_case: bool = False,
        ports: dict[str, int] | None = None,
    ) -> None:
        self.port = port
        self.stats = stats
        self.source = source
        self.edns_size = edns_size
        self.randomize_case = randomize_case
        self.ports = ports or {}  # per-address port overrides (forwarders)
        self.active_ports: set[int] = set()  # local ports of queries in flight

    def forged(self, what: str) -> None:
        self.stats.dropped_forged += 1
        _throttle(log, "forged", "dropped an unmatched upstream datagram (%s)", what)

    def _local(self, server: str) -> tuple[str, int] | None:
        if self.source and family_of(self.source) == family_of(server):
            return (self.source, 0)
        return None

    def _wire(self, q: Query, qid: int, edns: bool) -> bytes:
        rec = DNSRecord(
            DNSHeader(id=qid, rd=1 if q.recursion_desired else 0),
            q=DNSQuestion(q.qlabel, q.qtype),
        )
        if edns:
            rec.add_ar(EDNS0(udp_len=self.edns_size))
        return bytes(rec.pack())

    async def query(self, q: Query) -> tuple[DNSRecord | None, float]:
        loop = asyncio.get_running_loop()
        peer = (q.server, self.ports.get(q.server, self.port))
        qid = secrets.randbelow(65536)
        t0 = loop.time()
        fam = family_of(q.server)
        local = self._local(q.server)
        src = local[0] if local else None
        try:
            sock = socket.socket(fam, socket.SOCK_DGRAM)
        except OSError as e:  # out of descriptors under a flood: this query fails, quietly
            _throttle(log, "socket", "cannot open an upstream socket: %s", e)
            return None, 0.0
        try:
            sock.bind((src or ("::" if fam == socket.AF_INET6 else "0.0.0.0"), 0))
            sock.setblocking(False)
        except OSError as e:
            sock.close()
            _throttle(log, "socket", "cannot bind an upstream socket: %s", e)
            return None, 0.0
        local_port = sock.getsockname()[1]
        try:
            transport, proto = await loop.create_datagram_endpoint(
                lambda: _Waiter(self, q, peer, qid), sock=sock
            )
        except BaseException:  # cancelled (shutdown) or refused: never leak the socket
            sock.close()
            raise
        self.active_ports.add(local_port)
        try:
            transport.sendto(self._wire(q, qid, True), peer)
            msg = await asyncio.wait_for(proto.done, q.timeout)
        except (TimeoutError, OSError):
            return None, loop.time() - t0
        finally:
            self.active_ports.discard(local_port)
            transport.close()
        if msg.header.tc:
            self.stats.upstream_tcp += 1
            return await self._tcp(q, peer, t0, max(q.timeout, 1.0))
        return msg, loop.time() - t0

    async def _tcp(
        self, q: Query, peer: tuple[str, int], t0: float, timeout: float
    ) -> tuple[DNSRecord | None, float]:
        loop = asyncio.get_running_loop()
        qid = secrets.randbelow(65536)
        wire = self._wire(q, qid, True)
        writer = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    peer[0], peer[1], local_addr=self._local(peer[0])
                )
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()
                n = struct.unpack("!H", await reader.readexactly(2))[0]
                data = await reader.readexactly(n)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            return None, loop.time() - t0
        finally:
            if writer is not None:
                writer.close()
        if len(data) < 12 or data[:2] != qid.to_bytes(2):
            self.forged(f"TCP answer with a wrong ID from {peer[0]}:{peer[1]}")
            return None, loop.time() - t0
        try:
            msg = DNSRecord.parse(data)
        except Exception:
            self.stats.dropped_malformed += 1
            return None, loop.time() - t0
        if not msg.header.qr or not _question_matches(msg, q, self.randomize_case):
            self.forged(f"TCP question mismatch from {peer[0]}:{peer[1]}")
            return None, loop.time() - t0
        if msg.header.tc:
            # Truncated even over TCP: whatever it holds is incomplete (an empty one would be
            # cached as NODATA), so it is no answer at all (RFC 7766 §6.2.1: TCP is the retry).
            self.stats.dropped_malformed += 1
            _throttle(log, "tc-tcp", "truncated TCP response from %s:%s dropped", *peer)
            return None, loop.time() - t0
        return msg, loop.time() - t0
