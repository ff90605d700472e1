"""Counters a running resolver exposes (control endpoint, `dnsserver stats`, `minternet status`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(slots=True)
class Stats:
    queries: int = 0  # client queries received (UDP + TCP)
    cache_hits: int = 0  # answered from the cache without an upstream query
    cache_misses: int = 0
    upstream_queries: int = 0  # queries sent to authoritative servers (or the forwarder)
    upstream_timeouts: int = 0
    upstream_tcp: int = 0  # retries over TCP after TC=1
    servfail: int = 0  # SERVFAIL answers sent to clients
    nxdomain: int = 0
    refused: int = 0  # clients outside the ACL
    ratelimited: int = 0  # client queries dropped by the per-client rate limit
    answers: int = 0  # responses sent to clients (UDP + TCP)
    # queries shed, answered SERVFAIL at once (dnsserver/resolver/admission.py), by reason:
    shed_client: int = 0  # the client's resolution budget was spent
    shed_zone: int = 0  # the zone's resolution budget was spent
    shed_capacity: int = 0  # every place for a resolution was taken by a young query
    jostled: int = 0  # pushed out of its place by a newer query after the jostle timeout
    upstream_tcp_capped: int = 0  # TCP retries not made: that server's TCP pool was full
    unwanted_flushes: int = 0  # caches flushed after unwanted_reply_threshold unmatched answers
    formerr: int = 0  # malformed client queries
    dropped_forged: int = 0  # upstream datagrams whose ID/source/question did not match
    dropped_malformed: int = 0  # upstream responses that did not parse
    bailiwick_rejected: int = 0  # out-of-bailiwick records ignored
    stale_answers: int = 0  # RFC 8767 answers served from expired data

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


#: The counters of queries shed, one per reason of dnsserver/resolver/admission.py (REASONS).
SHED_COUNTERS = ("shed_client", "shed_zone", "shed_capacity", "jostled")

#: The counters `last_second` reports as rates.
PER_SECOND = (
    "queries",
    "answers",
    "cache_hits",
    "upstream_queries",
    "upstream_tcp",
    *SHED_COUNTERS,
)


class Rates:
    """Counters per second: `tick` once a second with the counters and the gauges of now;
    `last_second` holds how much each counter grew over the last second, and the gauges."""

    def __init__(self) -> None:
        self._last: dict[str, int] | None = None
        self.last_second: dict[str, int] = {}

    def tick(self, stats: Stats, gauges: dict[str, int]) -> None:
        now = {k: getattr(stats, k) for k in PER_SECOND}
        if self._last is not None:
            self.last_second = {k: now[k] - self._last[k] for k in PER_SECOND} | gauges
        self._last = now
