"""The TCP listener (RFC 7766): 2-byte length framing, several queries per connection answered
in order (pipelining), an idle timeout, a cap on concurrent connections, flow control.

Flow control (RFC 7766 §6.2.3): while the client does not read its answers (the transport's
write buffer is over its high-water mark) no further query is answered and the socket is not
read, so a client that pipelines queries for big answers and never reads costs at most about
FLUSH_AT plus the high-water mark. The idle timer counts from the last whole query, so a query
dribbled in a byte at a time does not keep a connection (one of the capped few) open; a client
that reads nothing for a whole timeout is aborted rather than closed (close would wait for it
to read).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import cast

from dnsserver.engine import Engine
from minternet.logs import Throttle

log = logging.getLogger(__name__)

MIN_QUERY = 12  # a DNS header
FLUSH_AT = 16 * 1024  # answers are written in batches of about this size (one write per read)


class TcpLimits:
    """Shared state of one TCP listener: its connections and limits."""

    def __init__(self, *, max_connections: int, idle_timeout: float, max_message: int) -> None:
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.max_message = max_message
        self.connections: set[TcpConnection] = set()


class TcpConnection(asyncio.Protocol):
    def __init__(self, engine: Engine, limits: TcpLimits, throttle: Throttle) -> None:
        self.engine = engine
        self.limits = limits
        self.throttle = throttle
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self._buf = bytearray()
        self._paused = False  # the client is not reading its answers
        self._eof = False  # the client has sent everything it will send
        self._timer: asyncio.TimerHandle | None = None
        self._last = 0.0
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop: no subclass
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else "?"
        if len(self.limits.connections) >= self.limits.max_connections:
            self.throttle(
                log,
                "tcp-cap",
                "refusing TCP connection from %s: %d connections open",
                self.peer,
                len(self.limits.connections),
            )
            transport.abort()
            return
        self.limits.connections.add(self)
        log.debug("TCP connection from %s", self.peer)
        self._last = self._loop.time()
        self._timer = self._loop.call_later(self.limits.idle_timeout, self._check_idle)

    def _check_idle(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        idle = self._loop.time() - self._last
        if idle >= self.limits.idle_timeout:
            if self._paused or self.transport.get_write_buffer_size():
                log.debug("aborting TCP connection from %s: answers not read", self.peer)
                self.transport.abort()
            else:
                log.debug("closing idle TCP connection from %s", self.peer)
                self.transport.close()
        else:
            self._timer = self._loop.call_later(self.limits.idle_timeout - idle, self._check_idle)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._process()

    def _process(self) -> None:
        """Answer the whole queries in the buffer, in order, while the client reads answers."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        buf = self._buf
        out: list[bytes] = []
        pending = 0
        get = self.engine.tcp_cache.get
        while len(buf) >= 2 and not self._paused:
            (n,) = struct.unpack_from("!H", buf)
            if n < MIN_QUERY or n > self.limits.max_message:
                self.throttle(
                    log, "tcp-bad", "bad TCP message length %d from %s; closing", n, self.peer
                )
                self._flush(out)
                transport.close()
                return
            if len(buf) < 2 + n:
                break
            msg = bytes(buf[2 : 2 + n])
            del buf[: 2 + n]
            self._last = self._loop.time()  # a whole query: the connection is in use
            entry = get(msg[2:])
            if entry is not None:
                wire: bytes | None = msg[:2] + entry[0]
            else:
                try:
                    reply = self.engine.handle(msg, tcp=True)
                except Exception:  # a bug must cost one query, never the listener
                    log.exception("internal error answering a TCP query from %s", self.peer)
                    continue
                if reply.problem is not None:
                    self.throttle(log, "bad-tcp", "bad query from %s: %s", self.peer, reply.problem)
                wire = reply.wire
            if wire is not None:
                out.append(struct.pack("!H", len(wire)))
                out.append(wire)
                pending += len(wire)
                if pending >= FLUSH_AT:
                    self._flush(out)  # may pause writing: then the loop stops here
                    pending = 0
        self._flush(out)
        if self._eof and not self._paused:
            transport.close()  # every whole query the client sent is answered

    def _flush(self, out: list[bytes]) -> None:
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
            out.clear()

    # Flow control: a client that does not read its answers stops being read (RFC 7766 §6.2.3).
    def pause_writing(self) -> None:
        self._paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        self._process()
        if self.transport is not None and not self.transport.is_closing() and not self._paused:
            self.transport.resume_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._process()  # answer what is buffered; close once it is written
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.limits.connections:
            self.limits.connections.discard(self)
            log.debug("TCP connection from %s closed%s", self.peer, f" ({exc})" if exc else "")
        if self._timer is not None:
            self._timer.cancel()
        self.transport = None
