"""Listeners for a protocol that is an asyncio Protocol of its own (aiosmtpd's SMTP): the stream
layer's connection cap, accounting, implicit TLS, stall rule and shutdown, without its framer.

minternet/stream.py frames bytes for a handler; aiosmtpd's SMTP class reads its own stream and
upgrades its own transport for STARTTLS, so it cannot take a framer. What the layer owes every
daemon still applies, and is given here to any `asyncio.Protocol` factory:

- **The cap.** At most `max_connections` at once; over it, the new connection gets `refusal`
  (SMTP's 421) and a close (a FIN), with one rate-limited log line, and no protocol object is
  built for it (aiosmtpd's costs about half a millisecond). It counts from
  `connection_made`, so with implicit TLS a connection counts once its handshake is done (the
  event loop's, bounded by `handshake_timeout`); one that failed its handshake never counted.
- **Accounting** that survives a transport change: the protocol's own `connection_made` and
  `connection_lost` are wrapped on the instance, so a protocol that moves itself behind a TLS
  layer (aiosmtpd's STARTTLS does `set_protocol`) is still seen leaving, and one that is made
  again over the new layer is not counted twice (nor refused as one too many).
- **Stalls.** A connection whose write buffer holds data and has not shrunk for
  `stall_timeout` is aborted: its peer does not read, and a polite close would wait for it
  forever (stream.py found uvloop's loop.close() hanging on such a transport).
- **Shutdown.** `close` stops accepting and closes every connection (aborting those that do
  not read); `wait_closed` aborts whatever is left after its timeout.

Deadlines on what the peer sends stay the protocol's own (aiosmtpd times a command, and a whole
DATA, itself); this layer cannot see its commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable

from minternet.listen import tcp_server
from minternet.logs import Throttle

log = logging.getLogger(__name__)


class _Open:
    """One admitted connection: its transport and when its write buffer last made progress."""

    __slots__ = ("buffered", "since", "transport")

    def __init__(self, transport: asyncio.Transport, now: float) -> None:
        self.transport = transport
        self.buffered = 0
        self.since = now


class _Refusal(asyncio.Protocol):
    """A connection that found the listener at its cap when it was accepted."""

    def __init__(self, listener: ProtocolListener) -> None:
        self.listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.listener._admit(transport, over=True)  # type: ignore[arg-type]  # uvloop's too


def _buffered(transport: asyncio.WriteTransport) -> int:
    """Octets waiting to be sent; 0 once the connection is gone (asyncio's TLS transport then
    has no buffer to ask about and raises AttributeError: a listener with implicit TLS met it
    closing a connection whose peer had just left)."""
    try:
        return transport.get_write_buffer_size()
    except AttributeError:
        return 0


class ProtocolListener:
    """One bound TCP endpoint whose connections are protocols from `factory`, under a cap."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        *,
        max_connections: int,
        throttle: Throttle,
        refusal: bytes | None = None,
        ssl: ssl.SSLContext | None = None,
        handshake_timeout: float = 10.0,
        stall_timeout: float = 30.0,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if not (handshake_timeout > 0 and stall_timeout > 0):  # also refuses NaN
            raise ValueError("timeouts must be positive")
        self.factory = factory
        self.max_connections = max_connections
        self.throttle = throttle
        self.refusal = refusal
        self.ssl = ssl
        self.handshake_timeout = handshake_timeout
        self.stall_timeout = stall_timeout
        self.loop = asyncio.get_running_loop()
        self.server: asyncio.Server | None = None
        self.port = 0
        self.refused = 0  # connections turned away at the cap, since start
        self.accepted = 0
        self._open: dict[asyncio.Protocol, _Open] = {}  # in the order they came
        self._tick = min(1.0, stall_timeout / 4)
        self._sweeper: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        """Connections open now."""
        return len(self._open)

    async def start(
        self, host: str, port: int, *, backlog: int = 1024, sock: socket.socket | None = None
    ) -> int:
        """Listen on exactly (host, port), or on `sock`; returns the real port."""
        self.server = await tcp_server(
            self._accept, host, port, sock=sock, backlog=backlog, tls=self.ssl,
            handshake_timeout=self.handshake_timeout,
        )  # fmt: skip
        self.port = int(self.server.sockets[0].getsockname()[1])
        self._sweeper = self.loop.call_later(self._tick, self._sweep)
        return self.port

    def _accept(self) -> asyncio.Protocol:
        if len(self._open) >= self.max_connections:
            return _Refusal(self)  # not even built: a flood costs no protocol objects
        proto = self.factory()
        made, lost = proto.connection_made, proto.connection_lost

        def connection_made(transport: asyncio.BaseTransport) -> None:
            if proto in self._open:  # made again over TLS (aiosmtpd's STARTTLS): counted once,
                made(transport)  # and watched on the socket's own transport
                return
            t: asyncio.Transport = transport  # type: ignore[assignment]  # uvloop's too
            if self._admit(t):
                self._open[proto] = _Open(t, self.loop.time())
                self.accepted += 1
                made(transport)

        def connection_lost(exc: Exception | None) -> None:
            if self._open.pop(proto, None) is not None:
                lost(exc)

        proto.connection_made = connection_made  # type: ignore[method-assign]
        proto.connection_lost = connection_lost  # type: ignore[method-assign]
        return proto

    def _admit(self, transport: asyncio.Transport, *, over: bool = False) -> bool:
        """Count `transport` in, or refuse it (`over`: it was refused when accepted)."""
        if not over and len(self._open) < self.max_connections:
            return True
        self.refused += 1
        peer = transport.get_extra_info("peername")
        self.throttle(log, "cap", "refusing a connection from %s: %d connections open",
                      peer[0] if peer else "?", len(self._open))  # fmt: skip
        if self.refusal:
            transport.write(self.refusal)
        transport.close()
        return False

    def _sweep(self) -> None:
        now = self.loop.time()
        for conn in list(self._open.values()):
            size = _buffered(conn.transport)
            if size == 0 or size < conn.buffered:
                conn.since = now  # drained, or draining: the peer reads
            elif now - conn.since >= self.stall_timeout:
                peer = conn.transport.get_extra_info("peername")
                self.throttle(log, "stalled", "%s does not read what it is sent; aborting",
                              peer[0] if peer else "?")  # fmt: skip
                conn.transport.abort()
            conn.buffered = size
        self._sweeper = self.loop.call_later(self._tick, self._sweep)

    def close(self) -> None:
        """Stop accepting, and close every connection (what was written is still sent; a peer
        that does not read is dropped)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self.server is not None:
            self.server.close()
        for conn in list(self._open.values()):
            if _buffered(conn.transport):
                conn.transport.abort()
            else:
                conn.transport.close()

    async def wait_closed(self, timeout: float = 5.0) -> bool:
        """Wait up to `timeout` for the connections to go, then abort what is left (no
        transport may outlive its event loop); False if some had to be."""
        if self.server is None:
            return True
        deadline = self.loop.time() + timeout
        while self._open and self.loop.time() < deadline:
            await asyncio.sleep(0.02)
        left = list(self._open.values())
        for conn in left:
            conn.transport.abort()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.server.wait_closed(), max(0.1, deadline - self.loop.time()))
        return not left
