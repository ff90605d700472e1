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
    dropped_overload: int = 0  # client queries dropped: too many resolutions in progress
    formerr: int = 0  # malformed client queries
    dropped_forged: int = 0  # upstream datagrams whose ID/source/question did not match
    dropped_malformed: int = 0  # upstream responses that did not parse
    bailiwick_rejected: int = 0  # out-of-bailiwick records ignored
    stale_answers: int = 0  # RFC 8767 answers served from expired data

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)
