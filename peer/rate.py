"""Transfer rates: bytes per second over a sliding window, the numbers the choker ranks peers by.

A `RateMeter` counts the bytes of one direction of one connection in buckets of `bucket`
seconds (one second by default) kept in a ring of `buckets` entries, so its memory is fixed
whatever the traffic: twenty integers for the default 20 s window. Bucket k holds the bytes
added at times in [start + k*bucket, start + (k+1)*bucket).

The window at `now` is the current, partly elapsed bucket plus the `buckets - 1` whole ones
before it, and the rate is the bytes added in that interval divided by its exact length. So a
steady sender reads its true rate at every instant, a byte stops counting exactly `buckets`
buckets after the bucket it arrived in began, and the interval is between `window - bucket` and
`window` seconds long once the meter is older than the window.

A young meter divides by its age, not by the whole window (a peer two seconds old that sent
2 MB reads 1 MB/s, not the 100 kB/s a 20 s window would give: the choker should see a newcomer's
real rate). But the age counts as at least one bucket: 16 KiB that arrive in the first
millisecond read 16 KiB/s, not 16 MiB/s. Mainline BitTorrent's rate measure made the same call
(a one-second head start for every new measure).

Time comes in as `now` (the shell's monotonic clock). A `now` earlier than one seen before is
treated as that latest time, so a clock that steps back can neither resurrect old buckets nor
divide by a negative interval.
"""

from __future__ import annotations

MAX_BUCKETS = 3600  # ring entries: an hour of one-second buckets is ~30 KB, far past any use


class RateMeter:
    """Bytes per second over the last `buckets * bucket` seconds of one flow of data."""

    __slots__ = ("_bucket", "_last", "_newest", "_ring", "_start", "total")

    def __init__(self, start: float, *, buckets: int = 20, bucket: float = 1.0) -> None:
        if not 1 <= buckets <= MAX_BUCKETS:
            raise ValueError(f"a rate meter needs 1..{MAX_BUCKETS} buckets, not {buckets}")
        if not bucket > 0:
            raise ValueError(f"a rate meter's bucket must last more than 0 s, not {bucket}")
        self._start = start
        self._bucket = bucket
        self._ring = [0] * buckets
        self._newest = 0  # index of the newest bucket the ring holds
        self._last = start  # the latest `now` seen: time never runs backwards here
        self.total = 0  # every byte ever added (what announces report as uploaded/downloaded)

    @property
    def window(self) -> float:
        """The window's length in seconds: `buckets * bucket`."""
        return len(self._ring) * self._bucket

    def _index(self, now: float) -> tuple[float, int]:
        """`now` (never earlier than a time seen before) and the index of its bucket."""
        now = max(now, self._last)
        return now, int((now - self._start) / self._bucket)  # >= 0: truncation is floor

    def add(self, nbytes: int, now: float) -> None:
        """Count `nbytes` (>= 0) transferred at `now`."""
        if nbytes < 0:
            raise ValueError(f"a rate meter counts bytes, and {nbytes} is negative")
        now, index = self._index(now)
        self._last = now
        ring, n = self._ring, len(self._ring)
        # Empty the slots of the buckets after the newest, up to this one (at most all n slots).
        reused = min(index - self._newest, n)
        for k in range(index - reused + 1, index + 1):
            ring[k % n] = 0
        self._newest = index  # never less than before: `now` never goes back
        ring[index % n] += nbytes
        self.total += nbytes

    def rate(self, now: float) -> float:
        """Bytes per second over the window that ends at `now` (see the module docstring)."""
        now, index = self._index(now)
        ring, n = self._ring, len(self._ring)
        first = max(index - n + 1, 0)  # the oldest bucket in the window
        counted = sum(ring[k % n] for k in range(first, self._newest + 1))
        span = max(now - (self._start + first * self._bucket), self._bucket)
        return counted / span


BURST = 0.02  # seconds of a pacer's rate that may go at once after a quiet spell


class Pacer:
    """Keeps a flow under `rate` bytes per second (--max-up, --max-down): `delay(n, now)` books
    n bytes and says how long to wait before moving them. Up to `burst` bytes (BURST, 20 ms,
    of the rate unless given) may go at once after a quiet spell; past that the flow runs into
    debt, and each delay is the time the debt takes to clear at `rate`.

    The burst is small so that a cap holds over any second, not only on average: a burst of a
    second's worth would let a flow that starts, or resumes after a pause, move twice its rate
    in its first second (the file-distribution experiment's times would beat their bounds).
    Debt, not the burst, is what lets a 16 KiB block go at a rate below 16 KiB per 20 ms."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, now: float, burst: float | None = None) -> None:
        if not rate > 0:
            raise ValueError(f"a rate limit must be more than 0 bytes/s, not {rate}")
        self.rate = rate
        self.burst = rate * BURST if burst is None else burst
        self._tokens = self.burst
        self._last = now

    def delay(self, nbytes: int, now: float) -> float:
        elapsed = max(0.0, now - self._last)
        self._last = max(now, self._last)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate) - nbytes
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
