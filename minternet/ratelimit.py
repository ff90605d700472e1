"""Token buckets per key (a client address, a /24, an IPv6 /64) in bounded memory (sans-I/O)."""

from __future__ import annotations

import itertools
from collections.abc import Hashable


class TokenBuckets:
    """`rate` tokens per second per key, at most `burst` saved up; rate 0 allows everything.

    A key seen for the first time starts with a full bucket. At most `max_keys` keys are held:
    when the table is full, buckets that have refilled are forgotten (a full bucket behaves
    exactly like a new one), and if that leaves it over 90% full, the oldest keys go down to
    90% (so that the next few new keys cost no scan: a flood of new addresses is amortised
    O(1) per key). Memory stays bounded, and a flood never resets the buckets of the keys it
    did not push out. Time is passed in (`now`, any monotonic clock).
    """

    __slots__ = ("_buckets", "burst", "max_keys", "rate")

    def __init__(self, rate: float, burst: float, max_keys: int) -> None:
        if rate < 0 or burst < 0 or max_keys < 1:
            raise ValueError("rate and burst must not be negative, max_keys at least 1")
        self.rate = rate
        self.burst = burst if burst > 0 else max(rate, 1.0)
        self.max_keys = max_keys
        self._buckets: dict[Hashable, list[float]] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: Hashable, now: float) -> bool:
        """Take one token from `key`'s bucket; False if it has none."""
        if not self.rate:
            return True
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self.prune(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return True
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - 1.0
        return True

    def has_token(self, key: Hashable, now: float) -> bool:
        """True if `key`'s bucket holds a token now (nothing is taken: for limits on failures,
        where only a failure costs one)."""
        if not self.rate:
            return True
        bucket = self._buckets.get(key)
        return bucket is None or min(self.burst, bucket[0] + (now - bucket[1]) * self.rate) >= 1.0

    def prune(self, now: float) -> None:
        """Forget the buckets that are full again, then the oldest keys down to 90%."""
        buckets, rate, burst = self._buckets, self.rate, self.burst
        for k in [k for k, (t, last) in buckets.items() if t + (now - last) * rate >= burst]:
            del buckets[k]
        excess = len(buckets) - int(self.max_keys * 0.9)
        if excess > 0:
            for k in list(itertools.islice(buckets, excess)):
                del buckets[k]
