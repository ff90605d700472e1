"""The one token bucket: rate, burst, refill by the clock passed in, bounded memory."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minternet.ratelimit import TokenBuckets


def test_a_new_key_has_a_full_bucket_then_runs_dry() -> None:
    tb = TokenBuckets(rate=2.0, burst=3.0, max_keys=10)
    assert [tb.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert tb.allow("b", 0.0)  # another key has its own bucket


def test_tokens_come_back_at_the_rate_and_never_past_the_burst() -> None:
    tb = TokenBuckets(rate=2.0, burst=3.0, max_keys=10)
    for _ in range(3):
        tb.allow("a", 0.0)
    assert not tb.allow("a", 0.49)  # 0.98 of a token
    assert tb.allow("a", 0.5)  # one whole token after 0.5 s at 2/s
    assert not tb.allow("a", 0.5)
    assert [tb.allow("a", 100.0) for _ in range(4)] == [True, True, True, False]  # burst caps


def test_rate_zero_allows_everything_and_tracks_nothing() -> None:
    tb = TokenBuckets(rate=0.0, burst=0.0, max_keys=1)
    assert all(tb.allow(i, 0.0) for i in range(1000))
    assert len(tb) == 0


def test_burst_zero_means_one_second_of_rate() -> None:
    assert TokenBuckets(rate=5.0, burst=0.0, max_keys=1).burst == 5.0
    assert TokenBuckets(rate=0.5, burst=0.0, max_keys=1).burst == 1.0


def test_a_burst_of_one_is_one_request_at_a_time() -> None:
    tb = TokenBuckets(rate=5.0, burst=1.0, max_keys=10)
    assert tb.burst == 1.0
    assert [tb.allow("a", 0.0), tb.allow("a", 0.0), tb.allow("a", 0.2)] == [True, False, True]
    assert [tb.allow("a", 10.0) for _ in range(2)] == [True, False]  # no more saved up


def test_a_full_table_forgets_refilled_buckets_first() -> None:
    tb = TokenBuckets(rate=1.0, burst=2.0, max_keys=3)
    tb.allow("idle", 0.0)  # refills by t=1
    for _ in range(2):
        tb.allow("busy1", 0.9)
        tb.allow("busy2", 0.9)
    tb.allow("new", 1.0)  # full: "idle" is full again and goes, the busy ones stay
    assert not tb.allow("busy1", 1.0) and not tb.allow("busy2", 1.0)
    assert len(tb) == 3


def test_a_flood_of_new_keys_stays_bounded_and_drops_the_oldest() -> None:
    tb = TokenBuckets(rate=1.0, burst=1.0, max_keys=100)
    for i in range(10_000):
        tb.allow(i, 0.0)
        assert len(tb) <= 100
    assert not tb.allow(9_999, 0.0)  # the newest keys are still limited
    assert tb.allow(0, 0.0)  # the oldest were forgotten: a fresh bucket


@pytest.mark.parametrize(("rate", "burst", "keys"), [(-1, 1, 1), (1, -1, 1), (1, 1, 0)])
def test_refuses_settings_that_cannot_work(rate: float, burst: float, keys: int) -> None:
    with pytest.raises(
        ValueError, match=r"^rate and burst must not be negative, max_keys at least 1$"
    ):
        TokenBuckets(rate, burst, keys)


@given(st.lists(st.tuples(st.integers(0, 20), st.floats(0, 0.5)), max_size=200))
def test_never_more_than_burst_plus_rate_times_elapsed(events: list[tuple[int, float]]) -> None:
    tb = TokenBuckets(rate=3.0, burst=4.0, max_keys=1000)
    now, allowed = 0.0, 0
    for _key, dt in events:
        now += dt
        allowed += tb.allow("k", now)
    assert allowed <= 4 + 3.0 * now + 1e-9


def test_a_full_table_forgets_exactly_the_refilled_buckets_then_the_oldest_to_ninety_percent():
    tb = TokenBuckets(rate=2.0, burst=2.0, max_keys=10)
    busy = [f"busy{n}" for n in range(9)]
    tb.allow(busy[0], 100.0)
    tb.allow("idle", 100.0)  # one token left: full again (2) at 100.5, to the last bit
    for key in busy:
        while tb.allow(key, 100.0):
            pass  # drained: 1 token back by 100.5, not full
    assert len(tb) == 10
    assert tb.allow("new", 100.5)  # the table is full: only "idle" goes, no busy key
    assert len(tb) == 10
    assert [tb.allow(busy[0], 100.5) for _ in range(2)] == [True, False]  # still remembered
    # The table is full and nothing has refilled: the oldest keys go, down to 9 of 10.
    assert tb.allow("newer", 100.5)
    assert len(tb) == 10
    assert [tb.allow(busy[1], 100.5) for _ in range(2)] == [True, False]  # the next one stays
    assert [tb.allow(busy[0], 100.5) for _ in range(2)] == [True, True]  # the oldest: fresh


def test_has_token_looks_without_taking() -> None:
    tb = TokenBuckets(rate=2.0, burst=2.0, max_keys=10)
    assert tb.has_token("a", 0.0) and len(tb) == 0  # an unseen key: full, and still unseen
    assert [tb.allow("a", 0.0), tb.has_token("a", 0.0)] == [True, True]
    assert [tb.allow("a", 0.0), tb.has_token("a", 0.0)] == [True, False]
    assert not tb.has_token("a", 0.49)  # 0.98 of a token
    assert tb.has_token("a", 0.5) and tb.has_token("a", 0.5)  # looking twice takes nothing
    assert tb.has_token("a", 100.0) and [tb.allow("a", 100.0) for _ in range(3)] == [
        True,
        True,
        False,
    ]  # the burst caps what a long wait brings
    assert TokenBuckets(rate=0.0, burst=0.0, max_keys=1).has_token("x", 0.0)
