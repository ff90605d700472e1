"""The resolver's cache: RRsets, delegations and negative answers, expired by TTL, LRU-capped.

Time is passed in (`now`), never read. Limits follow Unbound's defaults: cache-max-ttl 86400,
cache-min-ttl 0, cache-max-negative-ttl 3600; serve-stale (RFC 8767) is off by default and,
when on, serves data up to `stale_window` seconds past expiry with a TTL of `stale_ttl`.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from dnsserver.resolver.rrset import Name, RRset, is_within

#: Key type for the NXDOMAIN entry of a name (no real RR type is negative).
NXDOMAIN_KEY = -1


class Rank(enum.IntEnum):
    """Trustworthiness of cached data, RFC 2181 §5.4.1 (higher replaces lower, not the reverse)."""

    GLUE = 1  # additional-section addresses from a referral
    AUTHORITY = 2  # NS sets from a referral's authority section
    ANSWER = 3  # answer-section data (authoritative answers, or a forwarder's)


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheConfig:
    max_entries: int = 100_000
    max_ttl: int = 86400
    min_ttl: int = 0
    max_negative_ttl: int = 3600
    min_negative_ttl: int = 0
    serve_stale: bool = False
    stale_window: int = 86400  # RFC 8767 §5: 1 to 3 days is recommended
    stale_ttl: int = 30  # RFC 8767 §4: the TTL of a stale answer


class _Entry:
    """Cached data; a negative entry has no rdatas, and the SOA (its TTL set when read)."""

    __slots__ = ("expires", "rank", "rdatas", "soa")

    def __init__(
        self, rdatas: tuple[bytes, ...], expires: float, rank: int, soa: RRset | None
    ) -> None:
        self.rdatas = rdatas
        self.expires = expires
        self.rank = rank
        self.soa = soa


@dataclass(frozen=True, slots=True)
class Negative:
    """A cached NXDOMAIN or NODATA (RFC 2308), with the SOA for the authority section."""

    nxdomain: bool
    soa: RRset | None
    stale: bool = False


class Cache:
    """RRset / negative cache keyed by (name, type); one LRU order across all entries."""

    def __init__(self, config: CacheConfig | None = None) -> None:
        self.config = config or CacheConfig()
        self._d: OrderedDict[tuple[Name, int], _Entry] = OrderedDict()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._d)

    # -- storing -------------------------------------------------------------------------

    def _clamp(self, ttl: int, negative: bool) -> int:
        c = self.config
        lo, hi = (c.min_negative_ttl, c.max_negative_ttl) if negative else (c.min_ttl, c.max_ttl)
        return max(lo, min(hi, ttl))

    def _put(self, key: tuple[Name, int], entry: _Entry) -> None:
        d = self._d
        if key in d:
            d.move_to_end(key)
        d[key] = entry
        while len(d) > self.config.max_entries:
            d.popitem(last=False)
            self.evictions += 1

    def _replaceable(self, key: tuple[Name, int], rank: int, now: float) -> bool:
        old = self._d.get(key)
        return old is None or old.expires <= now or old.rank <= rank

    def put_rrset(self, rrset: RRset, rank: Rank, now: float) -> None:
        ttl = self._clamp(rrset.ttl, negative=False)
        key = (rrset.name, rrset.rtype)
        if ttl <= 0 or not self._replaceable(key, rank, now):
            return
        self._put(key, _Entry(rrset.rdatas, now + ttl, int(rank), None))
        # Positive data for a name supersedes a cached NXDOMAIN for it.
        self._d.pop((rrset.name, NXDOMAIN_KEY), None)

    def negative_ttl(self, soa: RRset) -> int:
        """RFC 2308 §5: how long a negative answer with this SOA is cached (and told to clients,
        as the SOA's TTL): min(SOA TTL, SOA MINIMUM), within the configured limits."""
        return self._clamp(min(soa.ttl, soa.soa_minimum()), negative=True)

    def put_negative(
        self, name: Name, rtype: int, nxdomain: bool, soa: RRset | None, now: float
    ) -> None:
        """RFC 2308 §5: cache for min(SOA TTL, SOA MINIMUM); without an SOA, do not cache."""
        if soa is None:
            return
        ttl = self.negative_ttl(soa)
        if ttl <= 0:
            return
        key = (name, NXDOMAIN_KEY if nxdomain else rtype)
        self._put(key, _Entry((), now + ttl, int(Rank.ANSWER), soa))

    # -- looking up ----------------------------------------------------------------------

    def _live(self, key: tuple[Name, int], now: float, stale: bool) -> tuple[_Entry, bool] | None:
        e = self._d.get(key)
        if e is None:
            return None
        if e.expires > now:
            self._d.move_to_end(key)
            return e, False
        c = self.config
        if c.serve_stale and now < e.expires + c.stale_window:
            if stale:
                return e, True
            return None
        del self._d[key]
        return None

    def _ttl(self, e: _Entry, now: float, is_stale: bool) -> int:
        return self.config.stale_ttl if is_stale else max(0, int(e.expires - now))

    def get(
        self, name: Name, rtype: int, now: float, *, min_rank: int = 0, stale: bool = False
    ) -> RRset | None:
        """A live RRset with its remaining TTL (or a stale one when `stale` and serve-stale)."""
        hit = self._live((name, rtype), now, stale)
        if hit is None:
            return None
        e, is_stale = hit
        if not e.rdatas or e.rank < min_rank:
            return None
        return RRset(name, rtype, self._ttl(e, now, is_stale), e.rdatas)

    def get_negative(
        self, name: Name, rtype: int, now: float, *, stale: bool = False
    ) -> Negative | None:
        for key, nx in (((name, NXDOMAIN_KEY), True), ((name, rtype), False)):
            hit = self._live(key, now, stale)
            if hit is not None and not hit[0].rdatas:  # a live entry, and a negative one
                e, is_stale = hit
                assert e.soa is not None  # a negative entry always has one
                return Negative(nx, e.soa.with_ttl(self._ttl(e, now, is_stale)), is_stale)
        return None

    def get_nxdomain_above(self, name: Name, now: float) -> Negative | None:
        """RFC 8020: an NXDOMAIN cached for an ancestor means nothing exists below it."""
        for i in range(1, len(name)):
            hit = self._live((name[i:], NXDOMAIN_KEY), now, False)
            if hit is not None:
                e = hit[0]
                assert e.soa is not None  # a negative entry always has one
                return Negative(True, e.soa.with_ttl(self._ttl(e, now, False)))
        return None

    # -- control -------------------------------------------------------------------------

    def flush(self, name: Name | None = None, *, subtree: bool = False) -> int:
        """Remove every entry (name None), a name's entries, or a whole subtree; returns count."""
        if name is None:
            n = len(self._d)
            self._d.clear()
            return n
        doomed = [k for k in self._d if (is_within(k[0], name) if subtree else k[0] == name)]
        for k in doomed:
            del self._d[k]
        return len(doomed)

    def entries(self, now: float) -> Iterator[tuple[Name, int, int, int, tuple[bytes, ...], bool]]:
        """(name, type or -1 for NXDOMAIN, remaining ttl, rank, rdatas, negative) of live data."""
        for (name, rtype), e in list(self._d.items()):
            if e.expires <= now:
                continue
            yield name, rtype, int(e.expires - now), e.rank, e.rdatas, not e.rdatas
