"""The UDP tracker listener (BEP 15): one datagram in, at most one datagram out."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from minternet.logs import Throttle
from tracker.udp_app import UdpTrackerApp

log = logging.getLogger(__name__)


class UdpTrackerProtocol(asyncio.DatagramProtocol):
    def __init__(self, app: UdpTrackerApp, throttle: Throttle) -> None:
        self.app = app
        self.throttle = throttle
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the asyncio interface without subclassing it.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        ip, port = str(addr[0]), int(addr[1])  # type: ignore[call-overload]
        out = self.app.handle(data, ip, port, self.loop.time())
        if out.fault is not None:
            self.throttle(log, "udp-" + out.fault.kind, "udp %s port %d: %s", ip, port, out.fault.reason)
        if out.note is not None:
            log.info("udp %s %s", ip, out.note)
        if out.reply is not None and self.transport is not None:
            self.transport.sendto(out.reply, addr)

    def error_received(self, exc: Exception) -> None:
        self.throttle(log, "udp-socket", "udp socket error: %s", exc)
