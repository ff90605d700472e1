"""Stream listeners: the one accept path of every TCP protocol (caps, deadlines, flow control,
half-close, TLS and STARTTLS), into which a protocol plugs a framing core and a handler.

A protocol gives a `StreamHandler` subclass: one object per connection, holding a framer
(minternet/framing.py, minternet/http11.py) and answering frames. The listener owns everything
else, once for every daemon:

- **The cap.** At most `max_connections` connections at once. Over it, by default, the new
  connection gets the protocol's refusal (`refusal` bytes, e.g. SMTP's 421; none for DNS) and
  is closed at once (a FIN, not a reset), with one rate-limited log line. `at_cap="evict-oldest"`
  closes the oldest connection instead, for endpoints an operator must never be locked out of
  (the control endpoint). With implicit TLS a connection counts once its handshake is done; a
  handshake is the event loop's, and one not done within `handshake_timeout` is dropped.
- **Deadlines,** checked by one sweep per listener (at most once a second): no whole frame
  for `idle_timeout` closes the connection (the handler may say goodbye first); a frame begun
  and not finished within `frame_timeout` of its first byte does too (a request dribbled in a
  byte at a time cannot hold a connection). Work in progress (an answer being computed) keeps
  a connection open; a TLS handshake has `handshake_timeout`.
- **Flow control** (RFC 7766 §6.2.3 for DNS; the same for every protocol): while the peer
  does not read what we write (the transport's buffer is over its high-water mark) no further
  frame is handled and the socket is not read, so a peer that pipelines requests and never
  reads costs a bounded amount of memory; such a peer is aborted at its deadline (closing would
  wait for it to read).
- **Pipelining:** frames are handled in order; a handler may answer a frame at once (written in
  batches of about `flush_at` octets per read) or return a coroutine, which runs as a task:
  at most `max_inflight` of them per connection (1 keeps answers in order: HTTP, IMAP, SMTP).
  `frames_per_turn` makes a connection with many frames queued yield to the others.
- **Half-close:** a peer that shuts down its sending side still gets the answers to every
  whole frame it sent; the connection closes once they are written.
- **TLS:** implicit (the handshake at accept, by the event loop: IMAPS, submissions) and
  STARTTLS (`await conn.start_tls(context)` from a handler, after writing its "go ahead",
  through `loop.start_tls`); whatever the peer sent before the STARTTLS handshake is discarded
  (RFC 3207 §4.2). Implicit TLS does not go through `loop.start_tls` at accept: uvloop starts
  reading a new connection after `connection_made` whatever the protocol asks, so the client's
  first handshake bytes would reach the plain protocol before the upgrade.
- **Compression:** `conn.start_compress()` from a handler, after writing its "go ahead" (IMAP's
  COMPRESS DEFLATE, RFC 4978): from then on what is written is deflated (raw DEFLATE, each
  write flushed with Z_SYNC_FLUSH so the peer can act on it at once) and what is read is
  inflated by framing.Inflating, as much at a time as the framer's limits allow.
- **Logging context:** `conn.peer` is the peer's address; `conn.log` prefixes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import zlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

from minternet.framing import Framer, FramingError, Inflating
from minternet.listen import tcp_server
from minternet.logs import Throttle
from minternet.tasks import Tasks

log = logging.getLogger(__name__)

F = TypeVar("F")


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamLimits:
    max_connections: int
    idle_timeout: float
    frame_timeout: float | None = None  # None: the same as idle_timeout
    handshake_timeout: float = 10.0
    max_inflight: int = 1
    frames_per_turn: int = 0  # 0: handle every whole frame of a read before yielding
    flush_at: int = 16 * 1024
    at_cap: Literal["refuse", "evict-oldest"] = "refuse"

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.max_inflight < 1 or self.frames_per_turn < 0:
            raise ValueError("max_connections and max_inflight must be at least 1")
        timeouts = (self.idle_timeout, self.frame_timeout or 1.0, self.handshake_timeout)
        if not all(t > 0 for t in timeouts):  # also refuses NaN
            raise ValueError("timeouts must be positive")


class StreamHandler(Generic[F]):
    """A protocol's side of one connection: its framer, and what it does with each frame."""

    framer: Framer[F]

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def started(self) -> None:
        """The connection is ready (after the handshake, with implicit TLS): greet here."""

    def frame_received(self, frame: F) -> Coroutine[Any, Any, None] | None:
        """Answer `frame` now (through `conn.write`), or return a coroutine that will."""
        raise NotImplementedError

    def framing_error(self, error: FramingError) -> None:
        """Bytes that cannot be framed: say why, if the protocol can. The connection closes."""

    def timed_out(self, partial: bool) -> None:
        """No whole frame in time (`partial`: one was begun). Say goodbye; it then closes."""

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone (closed by either side)."""


class _PeerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(self, msg: object, kwargs: Any) -> tuple[object, Any]:
        return f"{self.extra['peer']}: {msg}", kwargs  # type: ignore[index]


class Connection(asyncio.Protocol):
    """One accepted connection: the listener's rules around the protocol's handler."""

    def __init__(self, listener: StreamListener[Any]) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.handler: StreamHandler[Any] | None = None
        self.peer = "?"
        self.log: logging.LoggerAdapter = _PeerLog(log, {"peer": "?"})  # type: ignore[type-arg]
        self.tls = False
        self.closing = False
        self.inflight = 0
        self.eof = False  # the peer has sent everything it will send
        self.write_paused = False  # the peer does not read what we write
        self.read_paused = False
        self.handshaking = False
        self.partial = False  # part of a frame is buffered: the frame deadline runs
        self.since = listener.loop.time()  # when the running deadline started
        self.now = self.since  # the loop's clock, read once per read of the socket
        self._batching = False  # frames of one read are being answered: writes wait in _out
        self._out: list[bytes] = []
        self._out_size = 0
        self._writable = asyncio.Event()  # clear while the peer does not read what we write
        self._writable.set()
        self._deflate: Any = None  # a zlib compressor once compression is on

    # -- what handlers use -----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send `data`: batched while frames of one read are being answered, else at once."""
        if self._batching:
            self._out.append(data)
            self._out_size += len(data)
            if self._out_size >= self.listener.limits.flush_at:
                self._flush()
        elif self.transport is not None and not self.closing:
            self.transport.write(self._deflated(data))

    async def drained(self) -> None:
        """Wait until the peer reads what we wrote (or the connection is gone): a handler that
        writes much (a zone transfer) writes a part, then waits here before the next."""
        self._flush()
        await self._writable.wait()
        self.since = self.listener.loop.time()  # it reads: the connection is in use

    def close(self) -> None:
        """Close after what was written is sent (answers already written still go out)."""
        self._flush()
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection now, unsent data with it."""
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    async def start_tls(self, context: ssl.SSLContext) -> bool:
        """Upgrade to TLS (STARTTLS). False, with the connection closed, if the handshake fails.

        Whatever the peer sent after the command and before the handshake is discarded: a
        command injected there would otherwise be run as if it had come over TLS (RFC 3207 §4.2;
        the CVE-2011-0411 family).
        """
        transport = self.transport
        if transport is None or self.closing:
            return False
        self._flush()
        if self.handler is not None:
            self.handler.framer.clear()
        self.partial = False
        loop = self.listener.loop
        self.handshaking = True
        try:
            new = await loop.start_tls(
                transport,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=self.listener.limits.handshake_timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError, RuntimeError) as e:
            self.listener.throttle(
                log, "tls-handshake", "TLS handshake with %s failed: %s", self.peer, _why(e)
            )
            transport.abort()
            self._lost(None)  # the TLS layer never tells us: it had not connected us yet
            return False
        finally:
            self.handshaking = False
            self.since = loop.time()
        if new is None or self.closing:
            return False
        self.transport = cast(asyncio.Transport, new)
        self.tls = True
        return True

    def start_compress(self, level: int = 6) -> None:
        """Compress the connection both ways from now on (raw DEFLATE: RFC 4978 §3). The
        handler has written its go-ahead, which goes out uncompressed. Bytes the peer sent
        before it saw the go-ahead are dropped: they were sent uncompressed, or too early."""
        handler = self.handler
        if handler is None or self._deflate is not None:
            return
        self._flush()
        handler.framer.clear()
        handler.framer = Inflating(handler.framer)
        self.partial = False
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)

    @property
    def compressed(self) -> bool:
        return self._deflate is not None

    def _deflated(self, data: bytes) -> bytes:
        z = self._deflate
        if z is None:
            return data
        return z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)

    def tls_version(self) -> str | None:
        """'TLSv1.3' and the cipher, for trace headers; None on a plain connection."""
        obj = self.transport.get_extra_info("ssl_object") if self.transport else None
        if obj is None:
            return None
        cipher = obj.cipher()
        return f"{obj.version()} {cipher[0]}" if cipher else str(obj.version())

    # -- asyncio callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = t = cast(asyncio.Transport, transport)
        peer = t.get_extra_info("peername")
        if not peer:  # reset before we got to it: no one to answer
            self.closing = True
            t.abort()
            return
        self.peer = str(peer[0])
        self.log = _PeerLog(log, {"peer": self.peer})
        listener = self.listener
        if not listener.admit(self):
            return
        self.tls = listener.ssl is not None
        self._begin()

    def _begin(self) -> None:
        self.handler = self.listener.factory(self)
        self._batching = True
        try:
            self.handler.started()
        finally:
            self._batching = False
            self._flush()

    def data_received(self, data: bytes) -> None:
        handler = self.handler
        if handler is None or self.closing:
            return
        handler.framer.feed(data)
        self.now = now = self.listener.loop.time()
        if not self.partial:
            self.partial = True
            self.since = now
        self._process(now)

    def eof_received(self) -> bool:
        self.eof = True
        self._process()  # answer what is buffered; close once it is written
        # Over TLS a half-close is not kept open (the TLS layer would warn and close anyway).
        return not self.tls

    def pause_writing(self) -> None:
        self.write_paused = True
        self._writable.clear()
        self._pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._writable.set()
        self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(exc)

    def _lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.transport = None
        self._writable.set()  # nobody waits for a reader that is gone
        if self.listener.connections.pop(self, False) is not False:
            handler = self.handler
            if handler is not None:
                handler.framer.clear()
                handler.connection_lost(exc)

    # -- frames ------------------------------------------------------------------------------

    def _process(self, now: float | None = None) -> None:
        """Handle the whole frames buffered, in order, as far as flow control allows.

        `now` is the loop's clock if the caller has just read it; handlers find it in
        `conn.now` (one clock read per read of the socket, not one per frame).
        """
        transport, handler = self.transport, self.handler
        if transport is None or handler is None or self.closing or self.handshaking:
            return
        listener = self.listener
        if now is None:
            self.now = now = listener.loop.time()
        limits = listener.limits
        framer = handler.framer
        next_frame = framer.next_frame
        frame_received = handler.frame_received
        max_inflight = limits.max_inflight
        budget = limits.frames_per_turn or -1
        handled = False
        self._batching = True
        try:
            while budget and not self.write_paused and self.inflight < max_inflight:
                try:
                    frame = next_frame()
                except FramingError as e:
                    listener.throttle(log, "framing", "%s: %s; closing", self.peer, e.reason)
                    handler.framing_error(e)
                    self.close()
                    return
                if frame is None:
                    break
                budget -= 1
                handled = True
                try:
                    work = frame_received(frame)
                except Exception:  # a bug must cost one frame, never the listener
                    log.exception("internal error on a frame from %s", self.peer)
                    continue
                if work is not None:
                    self.inflight += 1
                    listener.tasks.spawn(self._run(work), f"a frame from {self.peer}")
                if self.closing:
                    return
        finally:
            self._batching = False
            self._flush()
        if handled:
            self.since = now  # a whole frame: the connection is in use
        self.partial = framer.pending() > 0
        if self.eof:
            if self.inflight == 0 and not self.write_paused:
                self.close()  # every whole frame is answered; a partial one never will be
        elif self.write_paused or self.inflight >= max_inflight:
            self._pause_reading()
        elif budget == 0 and self.partial:
            self._pause_reading()  # more queued than one turn allows: let others run first
            listener.loop.call_soon(self._continue)
        elif self.read_paused:
            self._resume_reading()

    async def _run(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        finally:
            self.inflight -= 1
            self.since = self.listener.loop.time()  # an answer went out: activity
            self._process()

    def _continue(self) -> None:
        self._resume_reading()
        self._process()

    def _flush(self) -> None:
        out = self._out
        if out:
            if self.transport is not None:
                self.transport.write(self._deflated(b"".join(out) if len(out) > 1 else out[0]))
            out.clear()
            self._out_size = 0

    def _pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.read_paused and self.transport is not None and not self.write_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def expire(self) -> None:
        """The sweep found the connection past its deadline."""
        transport = self.transport
        if transport is None or self.closing:
            return
        if self.write_paused or transport.get_write_buffer_size():
            self.listener.throttle(
                log, "stalled", "%s does not read what it is sent; aborting", self.peer
            )
            self.abort()
            return
        if self.inflight:
            return  # an answer is being worked on
        if self.handler is not None:
            self._batching = True
            try:
                self.handler.timed_out(self.partial)
            finally:
                self._batching = False
                self._flush()
        self.close()


class StreamListener(Generic[F]):
    """One bound TCP endpoint: accepts connections and gives each a handler from `factory`."""

    def __init__(
        self,
        factory: Callable[[Connection], StreamHandler[F]],
        limits: StreamLimits,
        *,
        throttle: Throttle,
        ssl: ssl.SSLContext | None = None,
        refusal: bytes | None = None,
        tasks: Tasks | None = None,
    ) -> None:
        self.factory = factory
        self.limits = limits
        self.throttle = throttle
        self.ssl = ssl
        self.refusal = refusal
        self.loop = asyncio.get_running_loop()
        self.tasks = tasks if tasks is not None else Tasks(log)
        self.connections: dict[Connection, bool] = {}  # in the order they came: oldest first
        self.server: asyncio.Server | None = None
        self.port = 0
        frame = limits.frame_timeout or limits.idle_timeout
        self._tick = min(1.0, limits.idle_timeout / 4, frame / 4, limits.handshake_timeout / 4)
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(
        self,
        host: str,
        port: int,
        *,
        backlog: int = 1024,
        sock: socket.socket | None = None,
        reuse_port: bool = False,
    ) -> int:
        """Listen on exactly (host, port), or on `sock`; returns the real port. `reuse_port`:
        as tcp_server's."""
        self.server = await tcp_server(
            self._protocol, host, port, sock=sock, backlog=backlog, tls=self.ssl,
            handshake_timeout=self.limits.handshake_timeout, reuse_port=reuse_port,
        )  # fmt: skip
        self.port = int(self.server.sockets[0].getsockname()[1])
        self._sweeper = self.loop.call_later(self._tick, self._sweep)
        return self.port

    def _protocol(self) -> Connection:
        return Connection(self)

    def admit(self, conn: Connection) -> bool:
        """Count `conn` in, or apply the cap (see the module docstring)."""
        limits = self.limits
        if len(self.connections) >= limits.max_connections:
            if limits.at_cap == "evict-oldest":
                oldest = next(iter(self.connections))
                self.throttle(log, "cap", "%d connections open; closing the oldest (%s)",
                              len(self.connections), oldest.peer)  # fmt: skip
                oldest.abort()  # it leaves `connections` when the loop reports it lost
            else:
                self.throttle(log, "cap", "refusing a connection from %s: %d connections open",
                              conn.peer, len(self.connections))  # fmt: skip
                if self.refusal and conn.transport is not None:
                    conn.transport.write(self.refusal)
                conn.close()
                return False
        self.connections[conn] = True
        return True

    def _sweep(self) -> None:
        now = self.loop.time()
        limits = self.limits
        idle, frame = limits.idle_timeout, limits.frame_timeout or limits.idle_timeout
        for conn in [c for c in self.connections if not c.handshaking]:
            if now - conn.since >= (frame if conn.partial else idle):
                conn.expire()
        self._sweeper = self.loop.call_later(self._tick, self._sweep)

    def close(self) -> None:
        """Stop accepting, and close every connection (what was written is still sent; a peer
        that does not read is dropped: a polite close would wait for it forever)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            if conn.write_paused:
                conn.abort()
            else:
                conn.close()

    async def wait_closed(self, timeout: float = 5.0) -> bool:
        """Wait up to `timeout` for the listener and its connections to close, then abort what
        is left (so that no transport outlives its event loop); False if some had to be."""
        if self.server is None:
            return True
        deadline = self.loop.time() + timeout
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.server.wait_closed(), timeout)
        while self.connections and self.loop.time() < deadline:
            await asyncio.sleep(0.02)
        left = list(self.connections)
        for conn in left:
            conn.abort()
        return not left


def _why(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return text.splitlines()[0][:200]
