"""The UDP listener: a non-blocking socket drained from one reader callback (no task, no
transport, no protocol object per query).

Fast path: the answer cache is consulted with the query bytes after the ID and a hit is sent
with the client's ID prefixed -- no parsing. Misses go through the engine. Reading the socket
directly (`loop.add_reader`) and answering up to BATCH datagrams per wake-up measured about 12%
more queries per second than a DatagramProtocol on uvloop. The answers of one wake-up are
sent back to back at its end (a delay of at most BATCH queries' work, a fraction of a
millisecond): a client reading them finds the next one queued instead of sleeping and being
woken for each, which costs both sides a context switch. A full send buffer drops the
answer, as a lost datagram would: the client retries.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from dnsserver.engine import Engine
from dnsserver.rrl import ALLOW, SLIP, RateLimiter
from minternet.listen import send_batch
from minternet.logs import Throttle

log = logging.getLogger(__name__)

BATCH = 64  # datagrams answered per wake-up before yielding to the event loop
MAX_QUERY = 4096  # larger UDP queries are read truncated and answered FORMERR


class UdpListener:
    def __init__(
        self,
        sock: socket.socket,
        engine: Engine,
        rrl: RateLimiter | None,
        throttle: Throttle,
    ) -> None:
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self.engine = engine
        self.rrl = rrl
        self.throttle = throttle
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._on_readable)

    def close(self) -> None:
        if self._loop is not None and self.sock.fileno() >= 0:
            self._loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _on_readable(self) -> None:
        recvfrom = self.sock.recvfrom
        get = self.engine.udp_cache.get
        rrl = self.rrl
        now = time.monotonic()  # one clock read per batch is precise enough for RRL
        out: list[tuple[bytes, tuple[str, int]]] = []
        append = out.append
        try:
            for _ in range(BATCH):
                try:
                    data, addr = recvfrom(MAX_QUERY)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as e:
                    self.throttle(log, "udp-error", "UDP receive error: %s", e)
                    break
                entry = get(data[2:])
                if entry is not None:
                    verdict = ALLOW if rrl is None else rrl.check(addr[0], entry[1], now)
                    if verdict == ALLOW:
                        append((data[:2] + entry[0], addr))
                        continue
                    wire = self._limited(data, addr, entry[1], verdict)
                else:
                    try:
                        wire = self._miss(data, addr, now)
                    except Exception:  # a bug must cost one query, never the listener
                        log.exception("internal error answering a UDP query from %s", addr[0])
                        continue
                if wire is not None:
                    append((wire, addr))
        finally:
            send_batch(self.sock, out)  # a full send buffer drops, like a lost datagram

    def _miss(self, data: bytes, addr: tuple[str, int], now: float) -> bytes | None:
        reply = self.engine.handle(data, tcp=False)
        if reply.problem is not None:
            self.throttle(log, "bad-udp", "bad query from %s: %s", addr[0], reply.problem)
        if reply.wire is None:
            return None
        if self.rrl is not None:
            verdict = self.rrl.check(addr[0], reply.kind, now)
            if verdict != ALLOW:
                return self._limited(data, addr, reply.kind, verdict)
        return reply.wire

    def _limited(
        self, data: bytes, addr: tuple[str, int], kind: bytes, verdict: int
    ) -> bytes | None:
        """What RRL sends instead of the answer: nothing, or (slip) a truncated response."""
        assert self.rrl is not None
        self.throttle(
            log,
            "rrl",
            "rate limiting responses to %s (%s)",
            self.rrl.prefix(addr[0]),
            kind.decode("ascii", "replace"),
        )
        if verdict == SLIP:
            return self.engine.slip(data)
        return None
