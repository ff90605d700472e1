"""The resolver's stub-facing listeners: a batch handler for UDP and a handler for TCP (RFC
7766), on the shared datagram and stream layers.

Both ask the daemon through the narrow `Stub` interface: the frontend core (the caches of
whole answers and the protocol rules), the rate limit, the bound on resolutions in progress,
and `answer` for the full path. Over UDP, an exact repeat of a query seen before (the same
bytes after the ID) is answered from `hot` by prefixing the client's ID; a question in the
packed-answer cache is answered by patching ID, case and TTLs; anything else becomes a task
on the full path, whose answer is sent when it is ready. Over TCP, at most MAX_TCP_INFLIGHT
queries of one connection are resolved at once, and the stream layer stops reading a client
that does not read its answers.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Coroutine
from typing import Any, Protocol

from dnsserver.resolver.frontend import Frontend, udp_limit
from dnsserver.resolver.packed import QuestionKey
from dnsserver.resolver.stats import Stats
from minternet.datagram import DatagramListener
from minternet.framing import LengthPrefixed
from minternet.listen import Datagram
from minternet.logs import Throttle
from minternet.stream import Connection, StreamHandler, StreamLimits
from minternet.tasks import Tasks

log = logging.getLogger(__name__)

MAX_TCP_INFLIGHT = 16  # queries of one TCP connection resolved at once
MAX_QUERY = 4096  # larger UDP queries are read truncated (and answered FORMERR)


class Stub(Protocol):
    """What the stub-facing listeners need from the resolver daemon."""

    frontend: Frontend
    stats: Stats
    tasks: Tasks
    throttle: Throttle

    def admit(self, client: str, now: float) -> bool:
        """Count a client query; False if the client's rate limit drops it."""

    def busy(self) -> bool:
        """True when as many queries are on the full path as the daemon allows."""

    async def answer(
        self, data: bytes, client: str, qk: QuestionKey | None, limit: int | None
    ) -> bytes | None:
        """The response to one query on the full path (None: send nothing)."""


class StubUdp:
    """The UDP batch handler (minternet/datagram.py) of the resolver."""

    def __init__(self, stub: Stub) -> None:
        self.stub = stub
        self.listener: DatagramListener | None = None

    def datagrams(self, batch: list[Datagram], now: float, out: list[Datagram]) -> None:
        stub = self.stub
        fe = stub.frontend
        hot_get = fe.hot.get
        known = fe.policy.known.get
        allowed = fe.policy.allowed
        limited = fe.policy.config.rate_limit > 0
        append = out.append
        hits = 0
        stub.stats.queries += len(batch)
        for data, addr in batch:
            client = addr[0]
            if limited and not stub.admit(client, now):
                continue
            hot = hot_get(data[2:])
            if hot is not None and (known(client) or allowed(client)):
                answer = data[:2] + hot[0] if now < hot[1] else fe.hot_refresh(data, hot, now)
                if answer is not None:
                    hits += 1
                    append((answer, addr))
                    continue
            try:
                answer, qk = fe.fast_answer(data, client, now)
                if answer is not None and qk is not None and len(answer) <= qk.udp_size:
                    append((answer, addr))
                    continue
                if stub.busy():
                    stub.stats.dropped_overload += 1
                    stub.throttle(log, "overload", "too many queries in progress; dropping")
                    continue
                stub.tasks.spawn(self._slow(data, addr, qk), f"a query from {client}")
            except Exception:  # a bug must cost one query, never the listener
                log.exception("internal error on a query from %s", client)
        stub.stats.cache_hits += hits

    async def _slow(self, data: bytes, addr: tuple[str, int], qk: QuestionKey | None) -> None:
        limit = qk.udp_size if qk is not None else udp_limit(data)
        answer = await self.stub.answer(data, addr[0], qk, limit)
        if answer is not None and self.listener is not None:
            self.listener.send(answer, addr)


def tcp_limits(*, max_connections: int, idle_timeout: float) -> StreamLimits:
    return StreamLimits(
        max_connections=max_connections, idle_timeout=idle_timeout, max_inflight=MAX_TCP_INFLIGHT
    )


class StubTcp(StreamHandler[bytes]):
    """One TCP client of the resolver: length-prefixed queries, answered as they are ready."""

    def __init__(self, conn: Connection, stub: Stub) -> None:
        super().__init__(conn)
        self.stub = stub
        self.framer = LengthPrefixed(2, max_message=65535)

    def frame_received(self, frame: bytes) -> Coroutine[Any, Any, None] | None:
        stub = self.stub
        peer = self.conn.peer
        stub.stats.queries += 1
        if not stub.admit(peer, self.conn.listener.loop.time()):
            return None
        if stub.busy():  # the same bound as for UDP queries
            stub.stats.dropped_overload += 1
            stub.throttle(log, "overload", "too many queries in progress; dropping")
            return None
        answer, qk = stub.frontend.fast_answer(frame, peer, self.conn.listener.loop.time())
        if answer is not None:
            self._write(answer)
            return None
        return self._slow(frame, qk)

    async def _slow(self, frame: bytes, qk: QuestionKey | None) -> None:
        answer = await self.stub.answer(frame, self.conn.peer, qk, None)
        if answer is not None:
            self._write(answer)

    def _write(self, answer: bytes) -> None:
        self.conn.write(struct.pack("!H", len(answer)) + answer)
