"""The resolver's stub-facing listeners: a batch handler for UDP and a handler for TCP (RFC
7766), on the shared datagram and stream layers.

Both ask the daemon through the narrow `Stub` interface: the frontend core (the caches of
whole answers and the protocol rules), the rate limit, the admission of resolutions
(dnsserver/resolver/admission.py), and `complete` for a resolution. Over UDP, an exact repeat
of a query seen before (the same bytes after the ID) is answered from `hot` by prefixing the
client's ID; a question in the packed-answer cache is answered by patching ID, case and TTLs;
a query that would be shed (its client's or its zone's budget spent, every place taken) gets
SERVFAIL cut from its bytes unless the cache can answer it; everything else is answered by
`begin` in the same callback, cache hits included, and only a query admitted to a resolution
becomes a task, whose answer is sent when it is ready. No cached answer ever waits behind
resolution work. Over TCP, at most MAX_TCP_INFLIGHT queries of one connection are resolved at
once, and the stream layer stops reading a client that does not read its answers.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from dnsserver.resolver.admission import Ticket
from dnsserver.resolver.frontend import Frontend, Resolve, udp_limit
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


@dataclass(frozen=True, slots=True)
class Pending:
    """A query admitted to wait for a resolution: its step, and its place (the ticket)."""

    step: Resolve
    ticket: Ticket


class Stub(Protocol):
    """What the stub-facing listeners need from the resolver daemon."""

    frontend: Frontend
    stats: Stats
    tasks: Tasks
    throttle: Throttle

    def admit(self, client: str, now: float) -> bool:
        """Count a client query; False if the client's rate limit drops it."""

    def shed_early(self, data: bytes, qk: QuestionKey, client: str, now: float) -> bytes | None:
        """SERVFAIL at once, unparsed, to a keyed query that would be shed; else None."""

    def begin(
        self, data: bytes, client: str, qk: QuestionKey | None, limit: int | None, now: float
    ) -> bytes | Pending | None:
        """The answer now (None: send nothing), or the admitted resolution it waits for."""

    async def complete(self, pending: Pending, reply: Callable[[bytes | None], None]) -> None:
        """Run the resolution and `reply` with the answer (or SERVFAIL if it is shed)."""


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
        sent = len(out)
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
                if qk is not None and allowed(client):  # a flood: shed before any parsing
                    shed = stub.shed_early(data, qk, client, now)
                    if shed is not None:
                        append((shed, addr))
                        continue
                limit = qk.udp_size if qk is not None else udp_limit(data)
                step = stub.begin(data, client, qk, limit, now)
                if isinstance(step, Pending):
                    reply = self._replier(addr)
                    stub.tasks.spawn(stub.complete(step, reply), f"a query from {client}")
                elif step is not None:
                    append((step, addr))
            except Exception:  # a bug must cost one query, never the listener
                log.exception("internal error on a query from %s", client)
        stub.stats.cache_hits += hits
        stub.stats.answers += len(out) - sent

    def _replier(self, addr: tuple[str, int]) -> Callable[[bytes | None], None]:
        def reply(answer: bytes | None) -> None:
            if answer is not None and self.listener is not None:
                self.stub.stats.answers += 1
                self.listener.send(answer, addr)

        return reply


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
        now = self.conn.listener.loop.time()
        stub.stats.queries += 1
        if not stub.admit(peer, now):
            return None
        answer, qk = stub.frontend.fast_answer(frame, peer, now)
        if answer is None:
            step = stub.begin(frame, peer, qk, None, now)
            if isinstance(step, Pending):
                return stub.complete(step, self._write)
            answer = step
        self._write(answer)
        return None

    def _write(self, answer: bytes | None) -> None:
        if answer is not None:
            self.stub.stats.answers += 1
            self.conn.write(struct.pack("!H", len(answer)) + answer)
