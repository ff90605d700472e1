"""The UDP listener: answers from the datagram callback itself (no task per query).

Fast path: the answer cache is consulted with the query bytes after the ID, and a hit is sent
with the client's ID prefixed -- no parsing. Misses go through the engine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import cast

from dnsserver.engine import Engine
from dnsserver.rrl import ALLOW, SLIP, RateLimiter
from minternet.logs import Throttle

log = logging.getLogger(__name__)


class UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, engine: Engine, rrl: RateLimiter | None, throttle: Throttle) -> None:
        self.engine = engine
        self.rrl = rrl
        self.throttle = throttle
        self.transport: asyncio.DatagramTransport | None = None
        self._get = engine.udp_cache.get
        self._sendto: object = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is no subclass
        self._sendto = self.transport.sendto

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:  # type: ignore[override]
        entry = self._get(data[2:])
        if entry is not None:
            if self.rrl is None:
                self._sendto(data[:2] + entry[0], addr)  # type: ignore[operator]
                return
            wire: bytes | None = data[:2] + entry[0]
            kind = entry[1]
        else:
            try:
                reply = self.engine.handle(data, tcp=False)
            except Exception:  # a bug must cost one query, never the listener
                log.exception("internal error answering a UDP query from %s", addr[0])
                return
            if reply.problem is not None:
                self.throttle(log, "bad-udp", "bad query from %s: %s", addr[0], reply.problem)
            wire, kind = reply.wire, reply.kind
            if wire is None:
                return
        if self.rrl is not None:
            verdict = self.rrl.check(str(addr[0]), kind, time.monotonic())
            if verdict != ALLOW:
                self.throttle(
                    log,
                    "rrl",
                    "rate limiting responses to %s (%s)",
                    self.rrl.prefix(str(addr[0])),
                    kind.decode("ascii", "replace"),
                )
                if verdict != SLIP:
                    return
                wire = self.engine.slip(data)
                if wire is None:
                    return
        self._sendto(wire, addr)  # type: ignore[operator]

    def error_received(self, exc: Exception) -> None:
        self.throttle(log, "udp-error", "UDP socket error: %s", exc)
