"""The UDP tracker front (BEP 15): one datagram in, at most one datagram out.

It runs on the shared batched reader (minternet/datagram.py): up to BATCH datagrams per
wake-up, the clock read once, the replies sent back to back at the end (together with the
cheaper connection-id check this took bench/tracker_udp.py from ~24,000 to ~72,000
announces/s here). A reply that does not fit the socket buffer is dropped, as UDP would.
"""

from __future__ import annotations

import logging

from minternet.datagram import DatagramListener
from minternet.listen import Datagram, bind_udp
from minternet.logs import Throttle
from tracker.udp_app import UdpTrackerApp

log = logging.getLogger(__name__)

BATCH = 256  # datagrams handled per wake-up before other callbacks get a turn
MAX_DATAGRAM = 2048  # requests are at most 16 + 74*20 bytes; longer ones are truncated
BUFFER = 1 << 21


class UdpFront:
    """Hands each datagram of a batch to the BEP 15 core and collects the replies."""

    def __init__(self, app: UdpTrackerApp, throttle: Throttle) -> None:
        self.app = app
        self.throttle = throttle

    def listen(self, host: str, port: int) -> DatagramListener:
        sock = bind_udp(host, port, rcvbuf=BUFFER, sndbuf=BUFFER)
        listener = DatagramListener(
            sock, self.datagrams, throttle=self.throttle, batch=BATCH, max_datagram=MAX_DATAGRAM
        )
        listener.start()
        return listener

    def datagrams(self, batch: list[Datagram], now: float, out: list[Datagram]) -> None:
        handle = self.app.handle
        for data, addr in batch:
            result = handle(data, addr[0], addr[1], now)
            if result.fault is not None:
                self.throttle(log, "udp-" + result.fault.kind, "udp %s port %d: %s",
                              addr[0], addr[1], result.fault.reason)  # fmt: skip
            if result.note is not None:
                log.info("udp %s %s", addr[0], result.note)
            if result.reply is not None:
                out.append((result.reply, addr))
