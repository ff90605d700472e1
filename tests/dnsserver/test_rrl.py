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


def test_slip_three_sends_every_third_limited_response_truncated() -> None:
    rrl = RateLimiter(RrlConfig(rate=1, slip=3))
    assert run(rrl, "192.0.2.1", b"k", 8, 0.0) == [ALLOW, DROP, DROP, SLIP, DROP, DROP, SLIP, DROP]


def test_slip_one_sends_every_limited_response_truncated() -> None:
    rrl = RateLimiter(RrlConfig(rate=1, slip=1))
    assert run(rrl, "192.0.2.1", b"k", 4, 0.0) == [ALLOW, SLIP, SLIP, SLIP]


def test_slip_zero_drops_everything_over_rate() -> None:
    rrl = RateLimiter(RrlConfig(rate=2, slip=0))
    assert run(rrl, "192.0.2.1", b"k", 5, 0.0) == [ALLOW, ALLOW, DROP, DROP, DROP]


def test_a_fractional_rate_allows_whole_responses_below_it() -> None:
    rrl = RateLimiter(RrlConfig(rate=2.5, slip=0))
    assert run(rrl, "192.0.2.1", b"k", 4, 0.0) == [ALLOW, ALLOW, DROP, DROP]


def test_each_second_starts_a_new_window() -> None:
    rrl = RateLimiter(RrlConfig(rate=4, slip=0))
    assert run(rrl, "192.0.2.1", b"k", 6, 10.0) == [ALLOW] * 4 + [DROP] * 2
    assert rrl.check("192.0.2.1", b"k", 10.99) == DROP  # the same second
    assert run(rrl, "192.0.2.1", b"k", 5, 11.0) == [ALLOW] * 4 + [DROP]


def test_the_slip_count_starts_anew_each_second_too() -> None:
    rrl = RateLimiter(RrlConfig(rate=1, slip=2))
    assert run(rrl, "192.0.2.1", b"k", 2, 0.0) == [ALLOW, DROP]  # one limited response
    # a new second: the first limited response is again the one dropped, the second slips
    assert run(rrl, "192.0.2.1", b"k", 3, 1.0) == [ALLOW, DROP, SLIP]


def test_exempt_clients_are_never_limited_and_their_neighbours_still_are() -> None:
    rrl = RateLimiter(
        RrlConfig(rate=2, slip=2, ipv4_prefix=32, exempt=("192.0.2.1", "2001:db8::/64"))
    )
    assert run(rrl, "192.0.2.1", b"k", 50, 0.0) == [ALLOW] * 50
    assert run(rrl, "2001:db8::7", b"k", 50, 0.0) == [ALLOW] * 50
    assert run(rrl, "192.0.2.2", b"k", 4, 0.0) == [ALLOW, ALLOW, DROP, SLIP]
    assert run(rrl, "2001:db8:0:1::7", b"k", 3, 0.0) == [ALLOW, ALLOW, DROP]
    assert rrl.prefix("192.0.2.1") == ""
    assert rrl.prefix("192.0.2.2") == "192.0.2.2/32"


def test_an_exempt_network_covers_every_address_in_it() -> None:
    rrl = RateLimiter(RrlConfig(rate=1, slip=0, exempt=("10.1.0.0/16",)))
    assert run(rrl, "10.1.200.3", b"k", 5, 0.0) == [ALLOW] * 5
    assert run(rrl, "10.2.0.1", b"k", 2, 0.0) == [ALLOW, DROP]
    # written with host bits, as an address in its network: the network it names
    loose = RateLimiter(RrlConfig(rate=1, slip=0, exempt=("10.1.2.3/16",)))
    assert run(loose, "10.1.200.3", b"k", 5, 0.0) == [ALLOW] * 5
    assert run(loose, "10.2.0.1", b"k", 2, 0.0) == [ALLOW, DROP]


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


@pytest.mark.parametrize(
    ("config", "host", "network"),
    [
        (RrlConfig(), "192.0.2.77", "192.0.2.0/24"),
        (RrlConfig(), "2001:db8:aa:bbcc::1", "2001:db8:aa:bb00::/56"),
        (RrlConfig(ipv4_prefix=32), "192.0.2.77", "192.0.2.77/32"),
        (RrlConfig(ipv4_prefix=0), "192.0.2.77", "0.0.0.0/0"),
        (RrlConfig(ipv6_prefix=64), "2001:db8:aa:bbcc::1", "2001:db8:aa:bbcc::/64"),
        (RrlConfig(ipv6_prefix=128), "2001:db8::1", "2001:db8::1/128"),
        (RrlConfig(ipv6_prefix=0), "2001:db8::1", "::/0"),
        (RrlConfig(), "fe80::1%eth0", "fe80::/56"),  # a link-local source: its zone is no network
        (RrlConfig(ipv6_prefix=128), "fe80::1%eth0", "fe80::1/128"),
    ],
)
def test_the_network_a_client_is_accounted_under(
    config: RrlConfig, host: str, network: str
) -> None:
    rrl = RateLimiter(config)
    assert rrl.prefix(host) == network
    assert rrl._prefixes == {host: network}  # remembered
    assert rrl.prefix(host) == network  # and the same


def test_an_ipv6_slash64_setting_separates_two_hosts_of_one_slash56() -> None:
    rrl = RateLimiter(RrlConfig(rate=1, slip=0, ipv6_prefix=64))
    assert rrl.check("2001:db8:0:1::1", b"k", 0.0) == ALLOW
    assert rrl.check("2001:db8:0:1::2", b"k", 0.0) == DROP  # same /64
    assert rrl.check("2001:db8:0:2::1", b"k", 0.0) == ALLOW  # same /56, another /64


def test_the_defaults_are_nsd_s_200_per_second_per_slash24_with_slip_2() -> None:
    rrl = RateLimiter(RrlConfig())
    assert run(rrl, "192.0.2.1", b"k", 200, 0.0) == [ALLOW] * 200
    assert run(rrl, "192.0.2.254", b"k", 4, 0.0) == [DROP, SLIP, DROP, SLIP]
    assert RrlConfig().enabled and RrlConfig().table_size == 65536


def test_table_is_bounded() -> None:
    rrl = RateLimiter(RrlConfig(rate=1, table_size=8))
    for i in range(1000):
        rrl.check(f"10.{i // 256 % 256}.{i % 256}.1", b"k", 0.0)
        assert len(rrl._counts) <= 8


def test_a_full_table_starts_counting_anew() -> None:
    # spoofed sources filling the table forgive every client for the rest of the second
    rrl = RateLimiter(RrlConfig(rate=1, slip=0, table_size=3))
    assert run(rrl, "192.0.2.1", b"k", 2, 0.0) == [ALLOW, DROP]
    assert rrl.check("198.51.100.1", b"k", 0.0) == ALLOW
    assert rrl.check("203.0.113.1", b"k", 0.0) == ALLOW  # three counters: the table is full
    assert rrl.check("192.0.2.1", b"k", 0.0) == ALLOW  # counted anew
    assert rrl.check("192.0.2.1", b"k", 0.0) == DROP
    one = RateLimiter(RrlConfig(rate=1, slip=0, table_size=1))
    assert run(one, "192.0.2.1", b"k", 3, 0.0) == [ALLOW, ALLOW, ALLOW]  # never two counters


def test_the_remembered_prefixes_are_bounded() -> None:
    rrl = RateLimiter(RrlConfig())
    sizes = []
    for i in range(10_050):
        rrl.prefix(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        sizes.append(len(rrl._prefixes))
    assert max(sizes) == 10_001  # then forgotten all at once
    assert sizes[10_001] == 1 and sizes[-1] == 10_050 - 10_001


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"rate": 0}, r"^rrl rate must be positive \(use enabled = false to turn RRL off\)$"),
        ({"rate": -1}, "rrl rate must be positive"),
        ({"slip": -1}, r"^rrl slip must be >= 0 and table_size >= 1$"),
        ({"table_size": 0}, r"^rrl slip must be >= 0 and table_size >= 1$"),
        ({"ipv4_prefix": 33}, r"^rrl prefix lengths must fit the address family$"),
        ({"ipv4_prefix": -1}, "rrl prefix lengths must fit the address family"),
        ({"ipv6_prefix": 129}, "rrl prefix lengths must fit the address family"),
        ({"ipv6_prefix": -1}, "rrl prefix lengths must fit the address family"),
        ({"exempt": ("127.0.0.300",)}, r"^rrl exempt: '127.0.0.300' is not an address or network$"),
    ],
)
def test_bad_config_is_rejected_saying_what_is_wrong(
    settings: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RrlConfig(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "settings",
    [
        {"rate": 0.5},
        {"slip": 0},
        {"table_size": 1},
        {"ipv4_prefix": 0},
        {"ipv4_prefix": 32},
        {"ipv6_prefix": 0},
        {"ipv6_prefix": 128},
    ],
)
def test_config_at_the_edges_of_the_valid_ranges_is_accepted(settings: dict[str, float]) -> None:
    config = RrlConfig(**settings)  # type: ignore[arg-type]
    assert [getattr(config, k) for k in settings] == list(settings.values())
