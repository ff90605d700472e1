"""Stub-facing listeners of the resolver: a batched UDP socket reader and RFC 7766 TCP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import TYPE_CHECKING, Any

from dnslib import QTYPE, DNSRecord

from dnsserver.resolver.packed import QuestionKey
from minternet.listen import Datagram, bind_udp, send_batch
from minternet.logs import Throttle

if TYPE_CHECKING:
    from dnsserver.aio.resolver import ResolverDaemon

log = logging.getLogger(__name__)
_throttle = Throttle()
_MAX_TCP_INFLIGHT = 16


class UDPReader:
    """The stub-facing UDP socket, drained from one reader callback in batches.

    An exact repeat of a query seen before (same bytes after the ID: name case, flags, EDNS)
    is answered from `hot` by prefixing the client's ID; everything else goes through
    `fast_answer` (packed answers, case-insensitive) or a task on the full path.
    """

    BATCH = 64
    MAX_QUERY = 4096

    def __init__(self, daemon: ResolverDaemon, host: str, port: int) -> None:
        self.d = daemon
        sock = bind_udp(host, port)
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.sock.fileno(), self._on_readable)

    def close(self) -> None:
        if self.loop is not None and self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _on_readable(self) -> None:
        d = self.d
        recvfrom = self.sock.recvfrom
        hot_get = d.hot.get
        known = d.policy.known.get
        allowed = d.policy.allowed
        limited = d.policy.config.rate_limit > 0
        assert self.loop is not None
        now = self.loop.time()
        n = hits = 0
        answers: list[Datagram] = []  # sent back to back at the end (see send_batch)
        append = answers.append
        try:
            for _ in range(self.BATCH):
                try:
                    data, addr = recvfrom(self.MAX_QUERY)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError as e:
                    _throttle(log, "udp-error", "UDP receive error: %s", e)
                    return
                n += 1
                client = addr[0]
                if limited and not d.policy.admit(client, now):
                    d.stats.ratelimited += 1
                    _throttle(log, "ratelimit", "rate limit: dropping %s", client)
                    continue
                hot = hot_get(data[2:])
                if hot is not None and (known(client) or allowed(client)):
                    if now < hot[1]:
                        out: bytes | None = data[:2] + hot[0]
                    else:
                        out = d.hot_refresh(data, hot, now)
                    if out is not None:
                        hits += 1
                        append((out, addr))
                        continue
                try:
                    out, qk = d.fast_answer(data, client)
                    if out is not None and qk is not None and len(out) <= qk.udp_size:
                        append((out, addr))
                        continue
                    if len(d._tasks) >= d.config.max_pending:
                        d.stats.dropped_overload += 1
                        _throttle(log, "overload", "too many queries in progress")
                        continue
                    d._spawn(self._slow(data, addr, qk))
                except Exception:  # a bug must cost one query, never the listener
                    log.exception("internal error on a query from %s", client)
        finally:
            send_batch(self.sock, answers)  # a full send buffer drops, like a lost datagram
            d.stats.queries += n
            d.stats.cache_hits += hits

    async def _slow(self, data: bytes, addr: tuple[Any, ...], qk: QuestionKey | None) -> None:
        limit = qk.udp_size if qk is not None else _udp_limit(data)
        try:
            out = await self.d.answer(data, addr[0], qk, limit)
        except Exception:  # a bug must cost one query, never an unretrieved task's traceback
            log.exception("internal error answering a query from %s", addr[0])
            return
        if out is not None and self.sock.fileno() >= 0:
            with contextlib.suppress(OSError):
                self.sock.sendto(out, addr)


def _udp_limit(data: bytes) -> int:
    try:
        req = DNSRecord.parse(data)
    except Exception:
        return 512
    for r in req.ar:
        if r.rtype == QTYPE.OPT:
            return max(512, min(4096, int(r.rclass)))
    return 512


class TCPConn(asyncio.Protocol):
    """RFC 7766: length-prefixed messages, several per connection, idle timeout, a cap.

    Flow control (RFC 7766 §6.2.3): at most _MAX_TCP_INFLIGHT queries of a connection are in
    progress, and none is started while its answers are not being read (the transport's write
    buffer is over its high-water mark); meanwhile the socket is not read either, so a client
    that pipelines queries and never reads costs a bounded amount of memory. The idle timer
    restarts on each whole query, not on each byte (a query dribbled in is not activity).
    """

    def __init__(self, daemon: ResolverDaemon) -> None:
        self.d = daemon
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.inflight = 0
        self.write_paused = False
        self.eof = False  # the client has sent everything it will send
        self.idle: asyncio.TimerHandle | None = None
        self.peer = "?"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if not peer:  # reset before we got to it: no address to answer or to check the ACL of
            transport.abort()  # type: ignore[attr-defined]
            return
        self.peer = peer[0]
        if len(self.d._tcp_conns) >= self.d.config.max_tcp_connections:
            _throttle(log, "tcpcap", "TCP connection cap; closing %s", self.peer)
            transport.close()
            return
        self.d._tcp_conns.add(self)
        self._arm()

    def _arm(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        assert self.d.loop is not None
        self.idle = self.d.loop.call_later(self.d.config.tcp_idle_timeout, self._timeout)

    def _timeout(self) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        if self.write_paused:
            # no whole query for a whole timeout and the client does not read its answers:
            # close() would wait for them forever, holding one of the connections of the cap
            log.debug("TCP client %s does not read its answers; aborting", self.peer)
            t.abort()
        elif self.inflight == 0:
            t.close()
        else:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.d._tcp_conns.discard(self)
        if self.idle is not None:
            self.idle.cancel()
        self.buf.clear()

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._process()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._process()

    def eof_received(self) -> bool:
        """A half-closed client still gets the answers of the queries it sent."""
        self.eof = True
        self._process()
        return True  # keep the transport: `_process` closes it when all is answered

    def _blocked(self) -> bool:
        return self.write_paused or self.inflight >= _MAX_TCP_INFLIGHT

    def _process(self) -> None:
        """Start the buffered queries as far as flow control allows; read more only then."""
        t = self.transport
        if t is None or t.is_closing():
            return
        while len(self.buf) >= 2 and not self._blocked():
            n = struct.unpack_from("!H", self.buf)[0]
            if len(self.buf) < 2 + n:
                break
            msg = bytes(self.buf[2 : 2 + n])
            del self.buf[: 2 + n]
            self._arm()  # a whole query: the connection is in use
            d = self.d
            if not d.admit(self.peer):
                continue
            if len(d._tasks) >= d.config.max_pending:  # the same bound as for UDP queries
                d.stats.dropped_overload += 1
                _throttle(log, "overload", "too many queries in progress")
                continue
            self.inflight += 1
            d._spawn(self._one(msg))
        if self.eof:
            if self.inflight == 0 and not self.write_paused:
                t.close()  # every whole query is answered; a partial one never will be
        elif self._blocked():
            t.pause_reading()
        else:
            t.resume_reading()

    async def _one(self, msg: bytes) -> None:
        try:
            out, qk = self.d.fast_answer(msg, self.peer)
            if out is None:
                out = await self.d.answer(msg, self.peer, qk, None)
            if out is not None and self.transport is not None and not self.transport.is_closing():
                self.transport.write(struct.pack("!H", len(out)) + out)
        except Exception:  # a bug must cost one query, never an unretrieved task's traceback
            log.exception("internal error answering a TCP query from %s", self.peer)
        finally:
            self.inflight -= 1
            self._process()
