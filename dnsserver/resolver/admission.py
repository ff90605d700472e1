"""Who gets a resolution (sans-I/O): the resolver's defences against floods of uncached names.

A cache hit never comes here: it is answered before any of this (dnsserver/aio/stub.py). A
query that needs upstream work asks `admit`, which applies, in this order, Unbound's tools:

- `max_resolutions` (Unbound's num-queries-per-thread): client queries waiting for a
  resolution at once. When the table is full, a new query may take the place of the oldest
  one if that one has waited longer than `jostle_timeout` (Unbound's jostle-timeout, 200 ms:
  about one round trip to an authority): slow queries are given up for fresh ones, so a flood
  of names whose servers do not answer cannot hold every place. The query pushed out is
  answered SERVFAIL by the shell. When no query is old enough, the new one is shed.
- `client_rate` (Unbound's ip-ratelimit, counting resolutions only): a token bucket per
  client address for the resolutions it starts; and no client holds more than half of the
  places at once. One client flooding random names gets its share, and the others theirs;
  its cached names are still answered.
- `zone_rate` (Unbound's ratelimit): a token bucket per zone (the closest enclosing zone
  whose servers the cache knows), so that a flood spread over many clients and aimed at one
  zone cannot take the capacity every other zone needs. The root is not limited: every name
  starts there while the cache is cold.

A shed query is answered at once (SERVFAIL) rather than left to time out; the shell does
that, and counts the reasons. Time comes in as `now`.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from minternet.ratelimit import TokenBuckets

CLIENT = "client"  # the client's resolution budget is spent
ZONE = "zone"  # the zone's budget is spent
CAPACITY = "capacity"  # every place is taken by queries younger than the jostle timeout
JOSTLED = "jostled"  # pushed out of its place by a newer query
REASONS = (CLIENT, ZONE, CAPACITY, JOSTLED)


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionConfig:
    max_resolutions: int = 1024  # Unbound: num-queries-per-thread (1024 with libevent)
    jostle_timeout: float = 0.2  # Unbound: jostle-timeout (200 ms)
    client_rate: float = 200.0  # resolutions started per second per client address; 0 = off
    client_burst: float = 200.0
    zone_rate: float = 300.0  # resolutions started per second per zone; 0 = off
    zone_burst: float = 300.0
    max_keys: int = 100_000  # buckets kept per kind (bounded memory under spoofed floods)

    def __post_init__(self) -> None:
        if self.max_resolutions < 1:
            raise ValueError("max_resolutions must be at least 1")
        if not self.jostle_timeout >= 0:  # (also refuses nan)
            raise ValueError("jostle_timeout must not be negative")
        rates = (self.client_rate, self.client_burst, self.zone_rate, self.zone_burst)
        if not all(r >= 0 for r in rates):
            raise ValueError("admission rates and bursts must not be negative")


class Ticket:
    """One admitted query's place; `handle` is the shell's (its task and what to answer)."""

    __slots__ = ("client", "handle", "number", "started")

    def __init__(self, number: int, client: str, started: float) -> None:
        self.number = number
        self.client = client
        self.started = started
        self.handle: Any = None


@dataclass(frozen=True, slots=True)
class Admitted:
    ticket: Ticket
    jostled: Ticket | None = None  # the query whose place it took: answer it SERVFAIL


class Admission:
    def __init__(self, config: AdmissionConfig | None = None) -> None:
        self.config = config or AdmissionConfig()
        c = self.config
        self.clients = TokenBuckets(c.client_rate, c.client_burst, c.max_keys)
        self.zones = TokenBuckets(c.zone_rate, c.zone_burst, c.max_keys)
        self.active: dict[int, Ticket] = {}  # in the order they were admitted: oldest first
        self.held: dict[str, int] = {}  # client -> places it holds
        self.per_client = max(1, c.max_resolutions // 2)
        self._numbers = itertools.count()

    def __len__(self) -> int:
        return len(self.active)

    def admit(self, client: str, zone: Hashable | None, now: float) -> Admitted | str:
        """A place for a query of `client` needing a resolution in `zone` (None: the root,
        never limited), or the reason it is shed."""
        oldest = self._oldest_if_full(now)
        if isinstance(oldest, str):
            return oldest
        if self.held.get(client, 0) >= self.per_client or not self.clients.allow(client, now):
            return CLIENT
        if zone is not None and not self.zones.allow(zone, now):
            return ZONE
        if oldest is not None:
            self.done(oldest)
        ticket = Ticket(next(self._numbers), client, now)
        self.active[ticket.number] = ticket
        self.held[client] = self.held.get(client, 0) + 1
        return Admitted(ticket, oldest)

    def would_shed(self, client: str, zone: Hashable | None, now: float) -> str | None:
        """The reason `admit` would shed this query now, or None; takes nothing (the shell
        asks it first, to shed a flood before parsing it)."""
        full = self._oldest_if_full(now)
        if isinstance(full, str):
            return full
        if self.held.get(client, 0) >= self.per_client or not self.clients.has_token(client, now):
            return CLIENT
        if zone is not None and not self.zones.has_token(zone, now):
            return ZONE
        return None

    def _oldest_if_full(self, now: float) -> Ticket | str | None:
        """None while there is a free place; when there is none, the oldest query if it has
        waited past the jostle timeout (a new query may take its place), else CAPACITY."""
        if len(self.active) < self.config.max_resolutions:
            return None
        oldest = next(iter(self.active.values()))
        return oldest if now - oldest.started > self.config.jostle_timeout else CAPACITY

    def holds(self, ticket: Ticket) -> bool:
        """Whether `ticket` still has its place (it was not jostled out)."""
        return ticket.number in self.active

    def done(self, ticket: Ticket) -> None:
        """The query has its answer (or was jostled out: then this does nothing)."""
        if self.active.pop(ticket.number, None) is None:
            return
        left = self.held[ticket.client] - 1
        if left:
            self.held[ticket.client] = left
        else:
            del self.held[ticket.client]
