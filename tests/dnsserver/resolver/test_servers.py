"""Upstream server selection: RFC 6298 SRTT and RTO, back-off on timeouts, the fastest first."""

from __future__ import annotations

import random

from pytest import approx

from dnsserver.resolver.servers import SelectionConfig, ServerSelector


def selector(**kw: float) -> ServerSelector:
    return ServerSelector(random.Random(1), SelectionConfig(**kw))  # type: ignore[arg-type]


def test_an_unknown_server_gets_the_initial_timeout_and_a_small_random_srtt() -> None:
    s = selector(initial_rto=0.5)
    assert s.timeout("127.0.0.1") == 0.5
    s2 = ServerSelector(random.Random(2))
    for i in range(50):
        s2.timeout(f"127.0.0.{i}")
    srtts = [v["srtt"] for v in s2.snapshot().values()]
    assert all(0.0 <= x <= 0.032 for x in srtts) and len(set(srtts)) == 50
    assert all(v["rto"] == 0.4 for v in s2.snapshot().values())  # Unbound's 376 ms, rounded


def test_rtt_samples_follow_rfc6298() -> None:
    s = selector()
    s.on_rtt("a", 0.1)  # first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR
    assert s.snapshot() == {"a": {"srtt": approx(0.1), "rto": approx(0.3)}}
    s.on_rtt("a", 0.02)  # RTTVAR = 3/4 0.05 + 1/4 0.08; SRTT = 7/8 0.1 + 1/8 0.02
    assert s.snapshot() == {"a": {"srtt": approx(0.09), "rto": approx(0.09 + 4 * 0.0575)}}
    assert s.timeout("a") == approx(0.32)


def test_the_timeout_stays_within_its_limits() -> None:
    s = selector(min_rto=0.15, max_rto=2.0)
    s.on_rtt("fast", 0.01)
    s.on_rtt("slow", 1.0)
    assert (s.timeout("fast"), s.timeout("slow")) == (0.15, 2.0)


def test_a_timeout_doubles_the_timer_and_sends_the_server_to_the_back() -> None:
    s = selector(max_rto=2.0)
    s.on_rtt("a", 0.1)
    s.on_rtt("b", 0.2)
    assert s.choose(["a", "b"]) == "a"
    s.on_timeout("a")
    assert s.snapshot()["a"] == {"srtt": approx(0.6), "rto": approx(0.6)}
    assert s.choose(["a", "b"]) == "b"
    s.on_timeout("a")
    s.on_timeout("a")
    assert s.snapshot()["a"] == {"srtt": 2.0, "rto": 2.0}  # capped at max_rto
    s.on_rtt("slow", 5.0)
    s.on_timeout("slow")  # a server slower than any timeout: its SRTT is not lowered
    assert s.snapshot()["slow"] == {"srtt": 5.0, "rto": 2.0}


def test_choose_takes_the_lowest_srtt_and_breaks_ties_at_random() -> None:
    s = selector()
    for addr in ("a", "b", "c"):
        s.on_rtt(addr, 0.05)
    s.on_rtt("c", 0.001)
    assert s.choose(["a", "b", "c"]) == "c"
    assert {s.choose(["a", "b"]) for _ in range(40)} == {"a", "b"}


def test_the_table_keeps_the_most_recently_used_servers() -> None:
    s = selector(max_servers=2)
    s.on_rtt("a", 0.1)
    s.on_rtt("b", 0.1)
    s.timeout("a")  # a used again: b is now the oldest
    s.on_rtt("c", 0.1)
    assert sorted(s.snapshot()) == ["a", "c"]
    assert s.timeout("b") == 0.4  # b starts again from nothing
