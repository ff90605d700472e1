"""The authoritative server over TCP (RFC 7766): 2-octet length framing on the stream layer.

Several queries per connection are answered in order (pipelining), from the TCP answer cache
when it holds the question. Everything else a TCP listener needs comes from the shared stream
layer (minternet/stream.py): the connection cap, the idle deadline counted from the last whole
query (a query dribbled in a byte at a time does not keep a connection), flow control (while
the client does not read its answers no further query is answered and the socket is not read,
so a client that pipelines queries for big answers and never reads costs at most about a
16 kB batch plus the high-water mark; it is aborted at the deadline), and half-close (a client
that shuts down its side still gets every answer).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable, Coroutine
from typing import Any

from dnsserver.aio.transfer import Transfers, is_transfer
from dnsserver.aio.udp import NotifySink, UpdateSink, is_notify
from dnsserver.dynamic import is_update
from dnsserver.engine import Engine
from minternet.framing import LengthPrefixed
from minternet.logs import Throttle
from minternet.stream import Connection, StreamHandler, StreamLimits

log = logging.getLogger(__name__)

MIN_QUERY = 12  # a DNS header


class DnsTcp(StreamHandler[bytes]):
    """One client connection of the authoritative server."""

    def __init__(
        self,
        conn: Connection,
        engine: Engine,
        throttle: Throttle,
        max_message: int,
        updates: UpdateSink | None = None,
        transfers: Transfers | None = None,
        notifies: NotifySink | None = None,
        signed: Callable[[bytes, str], bytes | None] | None = None,
    ) -> None:
        super().__init__(conn)
        self.engine = engine
        self.updates = updates
        self.transfers = transfers
        self.notifies = notifies
        self.signed = signed  # answers a query signed with TSIG (None: not signed)
        self.throttle = throttle
        self.framer = LengthPrefixed(2, min_message=MIN_QUERY, max_message=max_message)

    def frame_received(self, frame: bytes) -> Coroutine[Any, Any, None] | None:
        entry = self.engine.tcp_cache.get(frame[2:])
        if entry is None:
            if self.updates is not None and is_update(frame):
                return self._update(frame)
            if self.transfers is not None and is_transfer(frame):
                return self.transfers.serve(frame, self.conn)
            if self.notifies is not None and is_notify(frame):
                answer = self.notifies(frame, self.conn.peer)
                if answer is not None:
                    self.conn.write(struct.pack("!H", len(answer)) + answer)
                return None
            if self.signed is not None and frame[10:12] != b"\0\0":
                answer = self.signed(frame, self.conn.peer)
                if answer is not None:
                    self.conn.write(struct.pack("!H", len(answer)) + answer)
                    return None
        if entry is not None:
            wire: bytes | None = frame[:2] + entry[0]
        else:
            reply = self.engine.handle(frame, tcp=True)
            if reply.problem is not None:
                self.throttle(log, "bad-tcp", "bad query from %s: %s", self.conn.peer,
                              reply.problem)  # fmt: skip
            wire = reply.wire
        if wire is not None:
            self.conn.write(struct.pack("!H", len(wire)) + wire)
        return None

    async def _update(self, frame: bytes) -> None:
        """An UPDATE: answered once it is applied and on disk (the next frame waits for it)."""
        assert self.updates is not None
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        def reply(wire: bytes) -> None:
            if not answer.done():
                answer.set_result(wire)

        self.updates(frame, self.conn.peer, reply)
        wire = await answer
        self.conn.write(struct.pack("!H", len(wire)) + wire)


def limits(*, max_connections: int, idle_timeout: float) -> StreamLimits:
    """RFC 7766 §6.2.3: the idle timeout runs from the last whole query, partial or not."""
    return StreamLimits(max_connections=max_connections, idle_timeout=idle_timeout)
