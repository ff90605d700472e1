"""Response rate limiting with an injected clock: buckets per client prefix and class, slip."""

from __future__ import annotations

import pytest

from dnsserver.rrl import ALLOW, DROP, SLIP, RateLimiter, RrlConfig


def run(rrl: RateLimiter, host: str, kind: bytes, n: int, now: float) -> list[int]:
    return [rrl.check(host, kind, now) for _ in range(n)]


def test_within_rate_everything_is_allowed() -> None:
    rrl = RateLimiter(RrlConfig(rate=10))
    for second in range(5):
        assert run(rrl, "192.0.2.1", b"answer www", 10, float(second)) == [ALLOW] * 10


def test_over_rate_drops_and_slips_every_second_one() -> None:
    rrl = RateLimiter(RrlConfig(rate=5, slip=2))
    verdicts = run(rrl, "192.0.2.1", b"answer www", 11, 100.0)
    assert verdicts[:5] == [ALLOW] * 5
    assert verdicts[5:] == [DROP, SLIP, DROP, SLIP, DROP, SLIP]


def test_slip_zero_drops_everything_over_rate() -> None:
    rrl = RateLimiter(RrlConfig(rate=2, slip=0))
    assert run(rrl, "192.0.2.1", b"k", 5, 0.0) == [ALLOW, ALLOW, DROP, DROP, DROP]


def test_each_second_starts_a_new_window() -> None:
    rrl = RateLimiter(RrlConfig(rate=4, slip=0))
    assert run(rrl, "192.0.2.1", b"k", 6, 10.0) == [ALLOW] * 4 + [DROP] * 2
    assert rrl.check("192.0.2.1", b"k", 10.99) == DROP  # the same second
    assert run(rrl, "192.0.2.1", b"k", 5, 11.0) == [ALLOW] * 4 + [DROP]


def test_same_slash24_shares_a_bucket_other_networks_do_not() -> None:
    rrl = RateLimiter(RrlConfig(rate=3, slip=0))
    assert run(rrl, "192.0.2.1", b"k", 3, 0.0) == [ALLOW] * 3
    assert rrl.check("192.0.2.200", b"k", 0.0) == DROP  # same /24
    assert rrl.check("192.0.3.1", b"k", 0.0) == ALLOW  # another /24
    assert rrl.check("192.0.2.1", b"other", 0.0) == ALLOW  # another response class


def test_ipv6_is_accounted_per_slash56() -> None:
    rrl = RateLimiter(RrlConfig(rate=1, slip=0))
    assert rrl.check("2001:db8:0:1::1", b"k", 0.0) == ALLOW
    assert rrl.check("2001:db8:0:ff::2", b"k", 0.0) == DROP  # same /56
    assert rrl.check("2001:db8:0:100::1", b"k", 0.0) == ALLOW
    assert rrl.prefix("2001:db8:0:1::1") == "2001:db8::/56"


def test_table_is_bounded() -> None:
    rrl = RateLimiter(RrlConfig(rate=1, table_size=8))
    for i in range(1000):
        rrl.check(f"10.{i // 256 % 256}.{i % 256}.1", b"k", 0.0)
    assert len(rrl._table) == 8


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError):
        RrlConfig(rate=0)
    with pytest.raises(ValueError):
        RrlConfig(ipv4_prefix=33)
