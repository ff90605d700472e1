"""Who gets a resolution, with an injected clock: places and jostling, client and zone budgets."""

from __future__ import annotations

import pytest

from dnsserver.resolver.admission import (
    CAPACITY,
    CLIENT,
    ZONE,
    Admission,
    AdmissionConfig,
    Admitted,
    Ticket,
)

EXAMPLE = (b"example", b"test")
OTHER = (b"other", b"test")


def config(**over: float) -> AdmissionConfig:
    base: dict[str, float] = {"client_rate": 0, "zone_rate": 0}
    return AdmissionConfig(**(base | over))  # type: ignore[arg-type]


def admitted(got: Admitted | str) -> Ticket:
    assert isinstance(got, Admitted), got
    return got.ticket


def test_the_defaults_are_unbound_s_places_and_jostle_timeout() -> None:
    c = AdmissionConfig()
    assert (c.max_resolutions, c.jostle_timeout) == (1024, 0.2)
    assert (c.client_rate, c.client_burst, c.zone_rate, c.zone_burst) == (200, 200, 300, 300)


def test_a_full_table_sheds_new_queries_while_every_query_in_it_is_young() -> None:
    a = Admission(config(max_resolutions=2, jostle_timeout=0.25))
    first = admitted(a.admit("192.0.2.1", EXAMPLE, 10.0))
    admitted(a.admit("192.0.2.5", EXAMPLE, 10.125))
    assert len(a) == 2
    assert a.admit("192.0.2.2", OTHER, 10.25) == CAPACITY  # the oldest is 0.25 s old
    assert len(a) == 2 and a.holds(first)


def test_a_query_older_than_the_jostle_timeout_gives_its_place_to_a_new_one() -> None:
    a = Admission(config(max_resolutions=2, jostle_timeout=0.25))
    first = admitted(a.admit("192.0.2.1", EXAMPLE, 10.0))
    second = admitted(a.admit("192.0.2.5", EXAMPLE, 10.125))
    got = a.admit("192.0.2.2", OTHER, 10.375)
    assert isinstance(got, Admitted) and got.jostled is first
    assert not a.holds(first) and a.holds(second) and a.holds(got.ticket)
    assert (got.ticket.client, got.ticket.started) == ("192.0.2.2", 10.375)
    # the next one finds the second exactly 0.25 s old: shed; later, the second goes too
    assert a.admit("192.0.2.3", OTHER, 10.375) == CAPACITY
    again = a.admit("192.0.2.3", OTHER, 10.5)
    assert isinstance(again, Admitted) and again.jostled is second
    a.done(first)  # the jostled query finishing later changes nothing
    assert len(a) == 2


def test_done_frees_a_place_and_an_empty_table_jostles_no_one() -> None:
    a = Admission(config(max_resolutions=1))
    t = admitted(a.admit("192.0.2.1", None, 0.0))
    a.done(t)
    assert len(a) == 0 and not a.holds(t)
    got = a.admit("192.0.2.1", None, 0.0)
    assert isinstance(got, Admitted) and got.jostled is None
    assert got.ticket.number != t.number and got.ticket.handle is None


def test_a_client_s_budget_is_its_own() -> None:
    a = Admission(config(client_rate=8, client_burst=3))
    assert [isinstance(a.admit("192.0.2.1", None, 5.0), Admitted) for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert a.admit("192.0.2.1", None, 5.0) == CLIENT
    assert isinstance(a.admit("192.0.2.2", None, 5.0), Admitted)  # another client: served
    assert a.admit("192.0.2.1", None, 5.0625) == CLIENT  # half a token
    assert isinstance(a.admit("192.0.2.1", None, 5.125), Admitted)  # one token in 1/8 s


def test_a_zone_s_budget_holds_against_many_clients_and_spares_other_zones() -> None:
    a = Admission(config(zone_rate=5, zone_burst=2))
    assert isinstance(a.admit("192.0.2.1", EXAMPLE, 0.0), Admitted)
    assert isinstance(a.admit("192.0.2.2", EXAMPLE, 0.0), Admitted)
    assert a.admit("192.0.2.3", EXAMPLE, 0.0) == ZONE
    assert isinstance(a.admit("192.0.2.3", OTHER, 0.0), Admitted)
    assert isinstance(a.admit("192.0.2.3", None, 0.0), Admitted)  # the root: never limited
    assert isinstance(a.admit("192.0.2.4", EXAMPLE, 0.2), Admitted)


def test_a_shed_query_spends_no_budget_it_did_not_get() -> None:
    a = Admission(
        config(max_resolutions=1, client_rate=1, client_burst=1, zone_rate=1, zone_burst=1)
    )
    admitted(a.admit("192.0.2.9", OTHER, 0.0))
    assert a.admit("192.0.2.1", EXAMPLE, 0.0) == CAPACITY  # full: no token taken
    b = Admission(config(client_rate=1, client_burst=1, zone_rate=1, zone_burst=1))
    admitted(b.admit("192.0.2.9", OTHER, 0.0))
    assert b.admit("192.0.2.9", EXAMPLE, 0.0) == CLIENT  # the client's budget: the zone's kept
    assert isinstance(b.admit("192.0.2.1", EXAMPLE, 0.0), Admitted)


def test_no_client_holds_more_than_half_the_places() -> None:
    a = Admission(config(max_resolutions=5))
    mine = [admitted(a.admit("192.0.2.1", None, 0.0)) for _ in range(2)]
    assert a.admit("192.0.2.1", None, 0.0) == CLIENT
    assert a.held == {"192.0.2.1": 2}
    others = [admitted(a.admit(f"192.0.2.{i}", None, 0.0)) for i in (2, 3, 3)]
    assert a.held == {"192.0.2.1": 2, "192.0.2.2": 1, "192.0.2.3": 2}
    a.done(mine[0])
    a.done(mine[0])  # twice: counted once
    assert a.held == {"192.0.2.1": 1, "192.0.2.2": 1, "192.0.2.3": 2}
    a.done(others[0])
    assert a.held == {"192.0.2.1": 1, "192.0.2.3": 2}
    assert isinstance(a.admit("192.0.2.1", None, 0.0), Admitted)
    assert a.admit("192.0.2.1", None, 0.0) == CLIENT
    admitted(a.admit("192.0.2.5", None, 0.5))
    jostler = a.admit("192.0.2.4", None, 1.0)  # full: the oldest (192.0.2.1's) gives way
    assert isinstance(jostler, Admitted) and jostler.jostled is mine[1]
    assert a.held == {"192.0.2.1": 1, "192.0.2.3": 2, "192.0.2.5": 1, "192.0.2.4": 1}
    assert Admission(config(max_resolutions=1)).per_client == 1


def test_budgets_of_zero_are_off() -> None:
    a = Admission(config(max_resolutions=10_000))
    for i in range(5000):
        assert isinstance(a.admit(f"192.0.{i % 2}.1", EXAMPLE, 0.0), Admitted), i


def test_a_flood_of_new_names_cannot_starve_another_client_or_another_zone() -> None:
    # one client floods example.test at 10,000 queries a second for 10 s, each resolution
    # taking 0.5 s; another asks 20 a second, alternately in example.test and other.test
    a = Admission(AdmissionConfig(max_resolutions=64))
    held: list[tuple[float, Ticket]] = []
    served = shed = 0
    for step in range(100_000):
        now = step / 10_000
        while held and held[0][0] <= now:
            a.done(held.pop(0)[1])
        got = a.admit("198.51.100.7", EXAMPLE, now)
        if isinstance(got, Admitted):
            held.append((now + 0.5, got.ticket))
        if step % 500 == 0:
            zone = EXAMPLE if step % 1000 else OTHER
            legit = a.admit("192.0.2.1", zone, now)
            if isinstance(legit, Admitted):
                served += 1
                held.append((now + 0.5, legit.ticket))
            else:
                shed += 1
    assert (served, shed) == (200, 0)
    assert len(a) <= 64


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"max_resolutions": 0}, r"^max_resolutions must be at least 1$"),
        ({"jostle_timeout": -0.1}, r"^jostle_timeout must not be negative$"),
        ({"jostle_timeout": float("nan")}, r"^jostle_timeout must not be negative$"),
        ({"client_rate": -1}, r"^admission rates and bursts must not be negative$"),
        ({"client_burst": -1}, r"^admission rates and bursts must not be negative$"),
        ({"zone_rate": -1}, r"^admission rates and bursts must not be negative$"),
        ({"zone_burst": float("nan")}, r"^admission rates and bursts must not be negative$"),
    ],
)
def test_bad_settings_are_refused_saying_what_is_wrong(
    over: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        AdmissionConfig(**over)  # type: ignore[arg-type]


def test_settings_at_the_edges_are_accepted() -> None:
    c = AdmissionConfig(max_resolutions=1, jostle_timeout=0, client_rate=0, zone_burst=0)
    assert (c.max_resolutions, c.jostle_timeout, c.client_rate, c.zone_burst) == (1, 0, 0, 0)


def test_would_shed_says_what_admit_would_and_takes_nothing() -> None:
    a = Admission(
        AdmissionConfig(
            max_resolutions=4, jostle_timeout=0.25, client_rate=1, client_burst=2, zone_rate=1,
            zone_burst=1,
        )
    )  # fmt: skip
    assert a.would_shed("192.0.2.1", EXAMPLE, 0.0) is None
    assert a.would_shed("192.0.2.1", EXAMPLE, 0.0) is None  # nothing was taken
    admitted(a.admit("192.0.2.1", EXAMPLE, 0.0))
    assert a.would_shed("192.0.2.2", EXAMPLE, 0.0) == ZONE
    assert a.would_shed("192.0.2.2", OTHER, 0.0) is None
    admitted(a.admit("192.0.2.1", OTHER, 0.0))
    assert a.would_shed("192.0.2.1", None, 0.0) == CLIENT  # its two places: half of four
    assert a.would_shed("192.0.2.3", None, 0.0) is None
    admitted(a.admit("192.0.2.3", None, 0.0))
    admitted(a.admit("192.0.2.4", None, 0.0))
    assert a.would_shed("192.0.2.5", None, 0.25) == CAPACITY  # full, the oldest just 0.25 s
    assert a.would_shed("192.0.2.5", None, 0.5) is None  # it may jostle the oldest now
    late = Admission(config(max_resolutions=2, jostle_timeout=0.25))
    admitted(late.admit("192.0.2.1", None, 100.0))
    assert late.would_shed("192.0.2.1", None, 100.0) == CLIENT  # its one place of two, tokens
    assert late.would_shed("192.0.2.2", None, 100.0) is None
    admitted(late.admit("192.0.2.2", None, 100.0))
    assert late.would_shed("192.0.2.3", None, 100.25) == CAPACITY
    assert late.would_shed("192.0.2.3", None, 100.5) is None
    fresh = Admission(config(client_rate=1, client_burst=1))
    admitted(fresh.admit("192.0.2.1", None, 0.0))
    assert fresh.would_shed("192.0.2.1", None, 0.5) == CLIENT  # half a token
    assert fresh.would_shed("192.0.2.1", None, 1.0) is None
