"""Per-source-IP announce rate limit: a token bucket per address, in bounded memory."""

from __future__ import annotations


class RateLimiter:
    """`rate` announces per second per key, bursts up to `burst`; rate 0 means unlimited.

    At most `max_keys` addresses are tracked: past that, buckets that have refilled are
    forgotten, and if none have the table is cleared (a flood from many addresses resets it
    rather than growing memory).
    """

    __slots__ = ("_buckets", "burst", "max_keys", "rate")

    def __init__(self, rate: float, burst: float, max_keys: int) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[bytes, list[float]] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: bytes, now: float) -> bool:
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

    def prune(self, now: float) -> None:
        """Forget buckets that are full again (they behave exactly like a new one)."""
        full = [
            k
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate >= self.burst
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()
