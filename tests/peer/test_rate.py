"""RateMeter: exact rates at the window's edges, a young meter's floor, bounded memory."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peer.rate import MAX_BUCKETS, Pacer, RateMeter


def test_a_new_meter_reads_zero_and_knows_its_window() -> None:
    meter = RateMeter(100.0)
    assert meter.rate(100.0) == 0.0
    assert meter.rate(5000.0) == 0.0
    assert meter.total == 0
    assert meter.window == 20.0
    assert RateMeter(0.0, buckets=5, bucket=0.5).window == 2.5


def test_the_first_bucket_counts_as_a_whole_one() -> None:
    # 16 KiB in the first millisecond is 16 KiB/s, not 16 MiB/s.
    meter = RateMeter(100.0)
    meter.add(16384, 100.001)
    assert meter.rate(100.001) == 16384.0
    assert meter.rate(100.5) == 16384.0
    assert meter.rate(101.0) == 16384.0  # exactly one second old: the floor and the age agree
    assert meter.rate(102.0) == 8192.0  # then it divides by its age


def test_a_young_meter_divides_by_its_age_not_by_the_whole_window() -> None:
    meter = RateMeter(0.0)
    meter.add(1_000_000, 0.5)
    meter.add(1_000_000, 1.5)
    assert meter.rate(2.0) == 1_000_000.0  # 2 MB in 2 s, not 2 MB / 20 s
    assert meter.rate(4.0) == 500_000.0
    assert meter.rate(19.999) == pytest.approx(2_000_000 / 19.999)


def test_a_byte_counts_until_exactly_the_window_after_its_bucket_began() -> None:
    meter = RateMeter(0.0)  # 20 buckets of 1 s
    meter.add(2000, 0.75)  # bucket 0: [0, 1)
    assert meter.rate(19.5) == 2000 / 19.5
    assert meter.rate(19.999) == 2000 / 19.999
    assert meter.rate(20.0) == 0.0  # the window is now buckets 1..20: [1, 20]
    assert meter.total == 2000


def test_the_window_of_an_old_meter_spans_the_whole_buckets_and_the_current_part() -> None:
    meter = RateMeter(0.0, buckets=4)  # a 4 s window
    for t in range(10):
        meter.add(1000, t + 0.5)  # 1000 bytes in each second 0..9
    # At 10.0 the window is buckets 7, 8, 9 (whole) and 10 (just begun): [7, 10], 3 s, 3000 bytes.
    assert meter.rate(10.0) == 1000.0
    # At 10.25 the window is [7, 10.25]: 3000 bytes over 3.25 s.
    assert meter.rate(10.25) == 3000 / 3.25
    meter.add(500, 10.5)
    assert meter.rate(10.5) == 3500 / 3.5
    assert meter.rate(10.999) == 3500 / (10.999 - 7)
    assert meter.rate(11.0) == 2500 / 3.0  # bucket 7 is out: [8, 11]
    assert meter.total == 10500


def test_a_steady_sender_reads_its_true_rate_at_every_instant() -> None:
    meter = RateMeter(0.0, buckets=5)
    t = 0.0
    for _ in range(400):  # 1000 bytes every 0.25 s: 4000 B/s
        meter.add(1000, t)
        t += 0.25
        if t >= 6:
            # The bytes in the window [floor(t) - 4, t]: one add per quarter second.
            counted = int((t - (math.floor(t) - 4)) / 0.25) * 1000
            assert meter.rate(t) == counted / (t - (math.floor(t) - 4))
            assert 4000 <= meter.rate(t) <= 4000 * 4.25 / 4


def test_after_a_long_silence_only_the_new_bytes_count() -> None:
    meter = RateMeter(0.0, buckets=3)
    meter.add(9000, 0.0)
    meter.add(9000, 1.0)
    meter.add(9000, 2.0)
    meter.add(300, 1000.5)  # every old bucket is emptied, however long ago it was written
    assert meter.rate(1000.5) == 300 / 2.5
    assert meter.rate(1001.0) == 300 / 2.0  # [999, 1001]: bucket 998 is out
    assert meter.total == 27300


def test_a_silence_of_exactly_the_ring_reuses_every_bucket() -> None:
    meter = RateMeter(0.0, buckets=3)
    meter.add(100, 0.0)
    meter.add(200, 1.0)
    meter.add(400, 2.0)
    meter.add(800, 3.0)  # bucket 3 replaces bucket 0
    assert meter.rate(3.0) == 1400 / 2.0
    meter.add(1600, 5.0)  # buckets 4 and 5 replace 1 and 2
    assert meter.rate(5.0) == 2400 / 2.0
    meter.add(1, 8.0)  # three buckets on: 6, 7, 8 replace 3, 4, 5
    assert meter.rate(8.0) == 1 / 2.0


def test_a_one_bucket_meter_reads_the_current_bucket_over_at_least_one_bucket() -> None:
    meter = RateMeter(0.0, buckets=1, bucket=2.0)
    meter.add(1000, 2.5)
    assert meter.rate(2.5) == 1000 / 2.0  # 0.5 s into the bucket: the floor of one bucket
    assert meter.rate(3.999) == 1000 / 2.0
    assert meter.rate(4.0) == 0.0


def test_buckets_shorter_than_a_second() -> None:
    meter = RateMeter(10.0, buckets=4, bucket=0.25)  # a 1 s window
    meter.add(100, 10.0)
    meter.add(100, 10.5)
    assert meter.rate(10.75) == 200 / 0.75
    assert meter.rate(11.0) == 100 / 0.75  # bucket [10, 10.25) is out
    assert meter.rate(11.5) == 0.0


def test_a_clock_that_steps_back_counts_at_the_latest_time_seen() -> None:
    meter = RateMeter(0.0, buckets=3)
    meter.add(600, 5.0)
    meter.add(300, 1.0)  # earlier than 5.0: counted at 5.0, in bucket 5
    assert meter.rate(5.0) == 900 / 2.0
    assert meter.rate(2.0) == 900 / 2.0  # read at 5.0 as well
    assert meter.total == 900


def test_a_time_before_the_start_counts_at_the_start() -> None:
    meter = RateMeter(50.0)
    meter.add(700, 10.0)
    assert meter.rate(50.0) == 700.0
    assert meter.rate(0.0) == 700.0
    assert meter.rate(51.5) == 700 / 1.5


def test_rate_does_not_change_the_meter() -> None:
    meter = RateMeter(0.0, buckets=2)
    meter.add(100, 0.0)
    assert meter.rate(100.0) == 0.0
    assert meter.rate(1.0) == 100.0  # reading at 100 did not move the clock on


def test_zero_bytes_are_counted_as_time_only() -> None:
    meter = RateMeter(0.0, buckets=2)
    meter.add(100, 0.0)
    meter.add(0, 5.0)
    assert meter.rate(0.5) == 0.0  # the clock moved to 5.0
    assert meter.total == 100


@pytest.mark.parametrize("buckets", [1, MAX_BUCKETS])
def test_bucket_counts_at_their_limits_are_accepted(buckets: int) -> None:
    meter = RateMeter(0.0, buckets=buckets)
    meter.add(10, 0.0)
    assert meter.window == float(buckets)


@pytest.mark.parametrize("buckets", [0, -1, MAX_BUCKETS + 1])
def test_bucket_counts_past_their_limits_are_refused(buckets: int) -> None:
    with pytest.raises(ValueError, match=rf"needs 1\.\.3600 buckets, not {buckets}"):
        RateMeter(0.0, buckets=buckets)


@pytest.mark.parametrize("bucket", [0.0, -1.0, math.nan])
def test_a_bucket_must_last_some_time(bucket: float) -> None:
    with pytest.raises(ValueError, match="bucket must last more than 0 s"):
        RateMeter(0.0, bucket=bucket)


def test_negative_bytes_are_refused() -> None:
    meter = RateMeter(0.0)
    with pytest.raises(ValueError, match="-1 is negative"):
        meter.add(-1, 1.0)
    assert meter.total == 0


@given(
    st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 400)),  # bytes, quarter seconds on
        max_size=60,
    ),
    st.integers(1, 8),
    st.integers(0, 400),
)
def test_the_rate_is_the_bytes_in_the_window_over_its_length(
    adds: list[tuple[int, int]], buckets: int, later: int
) -> None:
    # A reference model that keeps every add: the same numbers, computed the long way.
    meter = RateMeter(0.0, buckets=buckets)
    t = 0.0
    log: list[tuple[float, int]] = []
    for nbytes, step in adds:
        t += step / 4
        meter.add(nbytes, t)
        log.append((t, nbytes))
    now = t + later / 4
    first = max(math.floor(now) - buckets + 1, 0)
    counted = sum(n for at, n in log if at >= first)
    assert meter.rate(now) == counted / max(now - first, 1.0)
    assert meter.total == sum(n for _, n in log)
    assert len(meter._ring) == buckets  # memory: the ring never grows


def test_a_meter_is_slotted_one_per_connection_and_direction_costs_little() -> None:
    assert not hasattr(RateMeter(0.0), "__dict__")


def test_a_pacer_lets_a_burst_through_then_spaces_the_rest() -> None:
    p = Pacer(1000.0, now=0.0)  # 1,000 bytes/s, a burst of 20 ms worth: 20 bytes
    assert p.burst == 20.0
    assert p.delay(12, 0.0) == 0.0
    assert p.delay(8, 0.0) == 0.0  # exactly the burst
    assert p.delay(500, 0.0) == 0.5  # 500 bytes of debt: half a second
    assert p.delay(500, 0.0) == 1.0
    assert p.delay(0, 1.0) == 0.0  # a second later the debt is paid
    assert p.delay(20, 100.0) == 0.0  # a long quiet spell refills no more than the burst
    assert p.delay(1, 100.0) == pytest.approx(0.001)


def test_a_pacer_holds_its_rate_over_any_second_from_the_start() -> None:
    # blocks of 16 KiB sent as soon as each delay allows: what went out by time t never
    # passes rate * t + burst, the first second included
    rate = 1 << 20
    p = Pacer(rate, now=0.0)
    now, sent = 0.0, 0
    while now < 3.0:
        now += p.delay(16384, now)
        sent += 16384
        assert sent <= rate * now + p.burst + 16384
    assert sent >= rate * 3.0 - 16384


def test_a_pacer_with_its_own_burst_and_a_clock_that_steps_back() -> None:
    p = Pacer(100.0, now=10.0, burst=50.0)
    assert p.delay(50, 10.0) == 0.0
    assert p.delay(50, 9.0) == 0.5  # an earlier `now` counts as no time passing
    assert p.delay(0, 11.0) == 0.0  # the debt paid, and no more than the burst saved up
    assert p.delay(100, 11.0) == 0.5  # 50 of the burst, 50 of debt


def test_a_pacer_may_be_slower_than_a_byte_a_second_and_leaves_no_fractional_debt() -> None:
    slow = Pacer(0.5, now=0.0, burst=0.5)  # half a byte a second: a rate, if an odd one
    assert slow.delay(1, 0.0) == 1.0  # half a byte of burst, half a byte of debt
    p = Pacer(1000.5, now=0.0, burst=1000.5)
    assert p.delay(1000, 0.0) == 0.0  # half a token left: no wait, not a negative one


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan")])
def test_a_pacer_needs_a_positive_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="a rate limit must be more than 0 bytes/s"):
        Pacer(rate, now=0.0)
