"""Upstream queries: UDP with EDNS0, a fresh socket (random source port) and random ID each.

RFC 5452 §9: a response is accepted only if its source address and port, its ID and its
question (name, type, class) all match what was sent; every other datagram is dropped and
counted, and waiting goes on until the timeout. TC=1 retries the same question over TCP
(RFC 7766 §5), at most `tcp_per_server` at once to one server (Unbound's outgoing-num-tcp):
past that, a truncated answer counts as no answer, and the server selection backs off.
With 0x20 on, the question name must match case for case. The socket work is the shared
exchange of minternet/dnsclient.py; this module adds the resolver's checks and counters.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable

from dnsserver.errors import FormatError
from dnsserver.resolver.iterate import UpstreamQuery, UpstreamReply
from dnsserver.resolver.message import Message, read_message
from dnsserver.resolver.stats import Stats
from dnsserver.wire import HEADER, name_wire
from minternet.dnsclient import Dropped, new_id, tcp_exchange, udp_exchange
from minternet.logs import Throttle

log = logging.getLogger(__name__)

_TYPE_IN = struct.Struct("!HH")
_U16 = struct.Struct("!H")


def _question_matches(msg: Message, q: UpstreamQuery, exact_case: bool) -> bool:
    if len(msg.questions) != 1:
        return False
    name, qtype, qclass = msg.questions[0]
    if qtype != q.qtype or qclass != 1:
        return False
    sent = tuple(bytes(x) for x in q.qlabel.label)
    if exact_case:
        return name == sent
    return len(name) == len(sent) and all(
        a.lower() == b.lower() for a, b in zip(name, sent, strict=True)
    )


class Upstream:
    """Sends one `UpstreamQuery` and returns the matching response (or None on timeout)."""

    def __init__(
        self,
        *,
        port: int,
        stats: Stats,
        throttle: Throttle | None = None,
        source: str | None = None,
        edns_size: int = 1232,
        randomize_case: bool = False,
        ports: dict[str, int] | None = None,
        tcp_per_server: int = 10,
        unwanted_threshold: int = 0,
        on_unwanted: Callable[[int], None] | None = None,
    ) -> None:
        self.port = port
        self.stats = stats
        self.throttle = throttle or Throttle()
        self.source = source
        self.edns_size = edns_size
        self.randomize_case = randomize_case
        self.ports = ports or {}  # per-address port overrides (forwarders)
        self.active_ports: set[int] = set()  # local ports of queries in flight
        self.tcp_per_server = tcp_per_server  # Unbound's outgoing-num-tcp
        self.tcp_in_flight: dict[str, int] = {}  # server address -> TCP retries open to it
        # Unbound's unwanted-reply-threshold: after this many unmatched datagrams (0: never),
        # `on_unwanted(count)` takes the defensive action (the daemon flushes its caches)
        self.unwanted_threshold = unwanted_threshold
        self.on_unwanted = on_unwanted
        self.unwanted = 0  # unmatched datagrams since the last defensive action

    def forged(self, what: str) -> None:
        self.stats.dropped_forged += 1
        self.throttle(log, "forged", "dropped an unmatched upstream datagram (%s)", what)
        self.unwanted += 1
        if self.unwanted_threshold and self.unwanted >= self.unwanted_threshold:
            count, self.unwanted = self.unwanted, 0
            if self.on_unwanted is not None:
                self.on_unwanted(count)

    def _wire(self, q: UpstreamQuery, qid: int, edns: bool) -> bytes:
        """The query's bytes, written directly (the bytes dnslib would pack, without it: this
        is on the path of every cache miss)."""
        flags = 0x0100 if q.recursion_desired else 0
        out = HEADER.pack(qid, flags, 1, 0, 0, 1 if edns else 0)
        out += name_wire(q.qlabel.label) + _TYPE_IN.pack(q.qtype, 1)
        if edns:  # OPT: root owner, type 41, class = our UDP size, version 0, no flags
            out += b"\x00\x00\x29" + _U16.pack(self.edns_size) + bytes(6)
        return out

    def _accept(self, q: UpstreamQuery) -> Callable[[bytes], Message]:
        """The check of a datagram that came from the right place with the right ID."""

        def accept(data: bytes) -> Message:
            try:
                msg = read_message(data)
            except FormatError:
                raise Dropped("malformed", "unparsable response") from None
            if not msg.qr or not _question_matches(msg, q, self.randomize_case):
                raise Dropped("forged", "question mismatch")
            return msg

        return accept

    def _dropped(self, peer: tuple[str, int]) -> Callable[[Dropped], None]:
        def report(d: Dropped) -> None:
            if d.kind == "malformed":
                self.stats.dropped_malformed += 1
                self.throttle(log, "malformed", "malformed response from %s:%s dropped", *peer)
            else:
                self.forged(f"{d.why} ({peer[0]}:{peer[1]})")

        return report

    async def exchange(self, q: UpstreamQuery) -> UpstreamReply:
        """What the resolution core is sent back for `q` (dnsserver/resolver/drive.py)."""
        message, rtt = await self.query(q)
        return UpstreamReply(now=asyncio.get_running_loop().time(), message=message, rtt=rtt)

    async def query(self, q: UpstreamQuery) -> tuple[Message | None, float]:
        loop = asyncio.get_running_loop()
        peer = (q.server, self.ports.get(q.server, self.port))
        t0 = loop.time()
        try:
            msg = await udp_exchange(
                self._wire(q, new_id(), True),
                peer,
                self._accept(q),
                timeout=q.timeout,
                source=self.source,
                on_drop=self._dropped(peer),
                ports=self.active_ports,
            )
        except OSError as e:  # out of descriptors under a flood: this query fails, quietly
            self.throttle(log, "socket", "cannot open an upstream socket: %s", e)
            return None, 0.0
        if msg is None:
            return None, loop.time() - t0
        if msg.tc:
            busy = self.tcp_in_flight.get(q.server, 0)
            if busy >= self.tcp_per_server:
                # a flood through us must not become a flood of TCP connections to a server
                # (RRL answers TC=1 when it limits us): no answer, which backs the server off
                self.stats.upstream_tcp_capped += 1
                self.throttle(log, "tcp-cap", "%d TCP retries open to %s already: not another",
                              busy, q.server)  # fmt: skip
                return None, loop.time() - t0
            self.stats.upstream_tcp += 1
            self.tcp_in_flight[q.server] = busy + 1
            try:
                return await self._tcp(q, peer, t0, max(q.timeout, 1.0))
            finally:
                left = self.tcp_in_flight[q.server] - 1
                if left:
                    self.tcp_in_flight[q.server] = left
                else:
                    del self.tcp_in_flight[q.server]
        return msg, loop.time() - t0

    async def _tcp(
        self, q: UpstreamQuery, peer: tuple[str, int], t0: float, timeout: float
    ) -> tuple[Message | None, float]:
        loop = asyncio.get_running_loop()
        wire = self._wire(q, new_id(), True)
        data = await tcp_exchange(wire, peer, timeout=timeout, source=self.source)
        if data is None:
            return None, loop.time() - t0
        if len(data) < 12 or data[:2] != wire[:2]:
            self.forged(f"TCP answer with a wrong ID from {peer[0]}:{peer[1]}")
            return None, loop.time() - t0
        try:
            msg = self._accept(q)(data)
        except Dropped as d:
            self._dropped(peer)(d)
            return None, loop.time() - t0
        if msg.tc:
            # Truncated even over TCP: whatever it holds is incomplete (an empty one would be
            # cached as NODATA), so it is no answer at all (RFC 7766 §6.2.1: TCP is the retry).
            self.stats.dropped_malformed += 1
            self.throttle(log, "tc-tcp", "truncated TCP response from %s:%s dropped", *peer)
            return None, loop.time() - t0
        return msg, loop.time() - t0
