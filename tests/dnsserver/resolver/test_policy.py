"""Who may use the resolver: the ACL of client networks and the per-client rate limit."""

from __future__ import annotations

import pytest

from dnsserver.resolver.policy import Policy, PolicyConfig


@pytest.mark.parametrize(
    ("addr", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("::2", False),
        ("128.0.0.1", False),
        ("10.0.0.1", False),
        ("localhost", False),  # not an address
        ("", False),
    ],
)
def test_the_default_acl_is_loopback(addr: str, allowed: bool) -> None:
    p = Policy()
    assert p.allowed(addr) is allowed
    assert p.allowed(addr) is allowed  # the same verdict from the memo


def test_configured_networks_with_host_bits_and_scoped_addresses() -> None:
    p = Policy(PolicyConfig(allow=("10.1.2.3/16", "fe80::/10")))
    assert p.allowed("10.1.200.1") and not p.allowed("10.2.0.1")
    assert p.allowed("fe80::1%eth0")  # the zone index of a link-local client is ignored
    assert not p.allowed("127.0.0.1") and not p.allowed("fec0::1%eth0")


def test_rate_limit_and_burst() -> None:
    p = Policy(PolicyConfig(rate_limit=10.0, burst=3.0))
    assert [p.admit("127.0.0.5", 0.0) for _ in range(4)] == [True, True, True, False]
    assert not p.admit("127.0.0.5", 0.09)  # 0.9 tokens: not yet
    assert p.admit("127.0.0.5", 0.11)
    assert p.admit("127.0.0.6", 0.11)  # other clients are not affected


def test_no_rate_limit_admits_everything() -> None:
    p = Policy(PolicyConfig(rate_limit=0.0))
    assert all(p.admit("127.0.0.5", 0.0) for _ in range(10_000))


def test_the_rate_limit_table_is_bounded_by_max_clients() -> None:
    p = Policy(PolicyConfig(rate_limit=1.0, max_clients=2))
    assert p.admit("a", 0.0) and not p.admit("a", 0.0)
    assert p.admit("b", 0.0) and not p.admit("b", 0.0)
    assert p.admit("c", 0.0)  # the table was full: the oldest client, a, is forgotten
    assert len(p.buckets) == 2 and p.admit("a", 0.0)


def test_the_acl_remembers_a_bounded_number_of_clients() -> None:
    p = Policy()
    for i in range(20_000):  # a flood of spoofed sources
        assert p.allowed(f"127.{i >> 16}.{(i >> 8) & 255}.{i & 255}")
    assert len(p.known) == 10_000
