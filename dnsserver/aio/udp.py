"""The authoritative server over UDP: each batch of datagrams from the shared reader
(minternet/datagram.py), answered from the answer cache when it can be.

Fast path: the answer cache is consulted with the query bytes after the ID and a hit is sent
with the client's ID prefixed -- no parsing. Misses go through the engine. Response rate
limiting (RRL) sees every answer; a limited one is dropped or, every `slip`-th, sent
truncated so that a real client retries over TCP.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from dnsserver.dynamic import is_update
from dnsserver.engine import Engine
from dnsserver.rrl import ALLOW, SLIP, RateLimiter
from minternet.listen import Datagram
from minternet.logs import Throttle

log = logging.getLogger(__name__)

#: Takes an UPDATE: (message, client address, how to send the answer later).
UpdateSink = Callable[[bytes, str, Callable[[bytes], None]], None]
#: Answers a NOTIFY: (message, sender's address) -> the answer, or None.
NotifySink = Callable[[bytes, str], bytes | None]


def is_notify(data: bytes) -> bool:
    """The opcode is NOTIFY (4) and it is a request."""
    return len(data) >= 12 and data[2] & 0xF8 == 4 << 3


MAX_QUERY = 4096  # larger UDP queries are read truncated and answered FORMERR


class DnsUdp:
    """The batch handler of the authoritative server's UDP listeners."""

    def __init__(self, engine: Engine, rrl: RateLimiter | None, throttle: Throttle) -> None:
        self.engine = engine
        self.rrl = rrl
        self.throttle = throttle
        self.queries = 0  # datagrams read, for the control endpoint's stats
        self.updates: UpdateSink | None = None  # where UPDATEs go (dynamic zones), if anywhere
        self.updates_done: Callable[[], None] | None = None  # called after a batch's UPDATEs
        # answers a query signed with TSIG (None: not signed), when the server holds keys
        self.signed: Callable[[bytes, str], bytes | None] | None = None
        self.notifies: NotifySink | None = None  # who answers NOTIFY (secondary zones), if anyone

    def datagrams(
        self,
        batch: list[Datagram],
        now: float,
        out: list[Datagram],
        send: Callable[[bytes, tuple[str, int]], None] | None = None,
    ) -> None:
        """Answer a batch; `send` is the listener's, for UPDATE answers that come later."""
        get = self.engine.udp_cache.get
        rrl = self.rrl
        append = out.append
        self.queries += len(batch)
        updates = False
        for data, addr in batch:
            entry = get(data[2:])
            if entry is not None:
                verdict = ALLOW if rrl is None else rrl.check(addr[0], entry[1], now)
                if verdict == ALLOW:
                    append((data[:2] + entry[0], addr))
                    continue
                wire = self._limited(data, addr, entry[1], verdict)
            elif self.updates is not None and send is not None and is_update(data):
                self.updates(data, addr[0], functools.partial(_send_to, send, addr))
                updates = True
                continue
            elif self.notifies is not None and is_notify(data):
                wire = self.notifies(data, addr[0])
            else:
                try:
                    if self.signed is not None and data[10:12] != b"\0\0":
                        wire = self.signed(data, addr[0])
                        if wire is not None:
                            append((wire, addr))
                            continue
                    wire = self._miss(data, addr, now)
                except Exception:  # a bug must cost one query, never the listener
                    log.exception("internal error answering a UDP query from %s", addr[0])
                    continue
            if wire is not None:
                append((wire, addr))
        if updates and self.updates_done is not None:
            self.updates_done()

    def _miss(self, data: bytes, addr: tuple[str, int], now: float) -> bytes | None:
        reply = self.engine.handle(data, tcp=False)
        if reply.problem is not None:
            self.throttle(log, "bad-udp", "bad query from %s: %s", addr[0], reply.problem)
        if reply.wire is None:
            return None
        if self.rrl is not None:
            verdict = self.rrl.check(addr[0], reply.kind, now)
            if verdict != ALLOW:
                return self._limited(data, addr, reply.kind, verdict)
        return reply.wire

    def _limited(
        self, data: bytes, addr: tuple[str, int], kind: bytes, verdict: int
    ) -> bytes | None:
        """What RRL sends instead of the answer: nothing, or (slip) a truncated response."""
        assert self.rrl is not None
        self.throttle(
            log,
            "rrl",
            "rate limiting responses to %s (%s)",
            self.rrl.prefix(addr[0]),
            kind.decode("ascii", "replace"),
        )
        if verdict == SLIP:
            return self.engine.slip(data)
        return None


def _send_to(
    send: Callable[[bytes, tuple[str, int]], None], addr: tuple[str, int], wire: bytes
) -> None:
    send(wire, addr)
