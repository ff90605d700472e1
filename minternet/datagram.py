"""Datagram listeners: one batched UDP reader and sender for every daemon, and the UDP+TCP pair
bound on one port (DNS and the tracker serve both on the same number).

A non-blocking socket is drained from one reader callback (`loop.add_reader`): no transport
or protocol object per datagram, up to `batch` datagrams per wake-up. The daemon's handler
gets the whole batch and the clock read once, and appends its answers; they are sent back to
back at the end (see `minternet.listen.send_batch` for why: 65% -> 79% of NSD's rate for the
DNS server, 61k -> 72k announces/s for the tracker). A full send buffer drops an answer, as
a lossy network would; the client retries.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

from minternet.listen import Datagram, bind_udp, send_batch
from minternet.logs import Throttle

log = logging.getLogger(__name__)

#: handler(datagrams of one wake-up, loop time, answers to send) -> None
BatchHandler = Callable[[list[Datagram], float, list[Datagram]], None]

BIND_ATTEMPTS = 20  # port 0: the UDP port the kernel picks may be taken for TCP


class DatagramListener:
    """A bound UDP socket whose datagrams go to `handler` in batches."""

    def __init__(
        self,
        sock: socket.socket,
        handler: BatchHandler,
        *,
        throttle: Throttle,
        batch: int = 64,
        max_datagram: int = 4096,
    ) -> None:
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self.handler = handler
        self.throttle = throttle
        self.batch = batch
        self.max_datagram = max_datagram  # longer datagrams are read truncated
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.sock.fileno(), self._readable)

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        """One datagram now (an answer computed later than its batch)."""
        if self.sock.fileno() >= 0:
            try:
                self.sock.sendto(data, addr)
            except OSError as e:
                self.throttle(log, "udp-send", "UDP answer to %s not sent: %s", addr[0], e)

    def close(self) -> None:
        if self.loop is not None and self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _readable(self) -> None:
        sock = self.sock
        recvfrom = sock.recvfrom
        size = self.max_datagram
        batch: list[Datagram] = []
        append = batch.append
        for _ in range(self.batch):
            try:
                append(recvfrom(size))
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:  # e.g. an ICMP port unreachable reported on a later read
                self.throttle(log, "udp-error", "UDP receive error: %s", e)
                continue
        if not batch:
            return
        out: list[Datagram] = []
        assert self.loop is not None
        try:
            self.handler(batch, self.loop.time(), out)
        except Exception:  # a bug must cost one batch, never the listener
            log.exception("internal error answering %d UDP datagrams", len(batch))
        finally:
            if out:
                dropped, error = send_batch(sock, out)
                if dropped:
                    self.throttle(log, "udp-send", "%d UDP answers not sent: %s", dropped, error)


async def bind_pair(
    host: str,
    port: int,
    start_stream: Callable[[int], Awaitable[object]],
    *,
    rcvbuf: int = 1 << 21,
    sndbuf: int | None = None,
) -> socket.socket:
    """Bind UDP on (host, port) and start the stream listener on the same port number.

    With port 0 the kernel picks the UDP port, which may be taken for TCP: then that socket is
    closed and another tried. Returns the UDP socket; `start_stream(port)` binds the TCP side.
    """
    for attempt in range(BIND_ATTEMPTS):
        sock = bind_udp(host, port, rcvbuf=rcvbuf, sndbuf=sndbuf)
        try:
            await start_stream(sock.getsockname()[1])
        except OSError:
            sock.close()
            if port != 0 or attempt == BIND_ATTEMPTS - 1:
                raise
            continue
        return sock
    raise AssertionError("not reached")
