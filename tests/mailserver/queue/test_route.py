"""Route selection from an MX answer (RFC 5321 §5.1, RFC 7505)."""

from __future__ import annotations

import random

import dns.rcode
from hypothesis import given
from hypothesis import strategies as st

from mailserver.queue.route import MAX_HOSTS, Hosts, Later, Refuse, route


def rng(seed: int = 1) -> random.Random:
    return random.Random(seed)


def test_hosts_come_by_preference_lowest_first() -> None:
    mx = [(20, "backup.hamburger.edu."), (10, "Mail.Hamburger.EDU."), (30, "last.example.")]
    assert route("hamburger.edu", dns.rcode.NOERROR, mx, rng=rng()) == Hosts(
        ("mail.hamburger.edu", "backup.hamburger.edu", "last.example")
    )


def test_equal_preferences_are_shuffled_by_the_given_rng() -> None:
    mx = [(10, f"mx{i}.x.") for i in range(6)] + [(5, "first.x.")]
    orders = {route("x", 0, mx, rng=rng(seed)).hosts for seed in range(40)}  # type: ignore[union-attr]
    assert all(
        o[0] == "first.x" and sorted(o[1:]) == [f"mx{i}.x" for i in range(6)] for o in orders
    )
    assert len(orders) > 10  # not one fixed order
    seeded = route("x", 0, mx, rng=rng(7))
    assert seeded == route("x", 0, mx, rng=rng(7))  # the rng alone decides


def test_no_mx_record_means_the_domain_itself() -> None:
    assert route("Bob.Example.", dns.rcode.NOERROR, [], rng=rng()) == Hosts(
        ("bob.example",), implicit=True
    )


def test_null_mx_bounces_with_5_1_10() -> None:
    assert route("nomail.example", 0, [(0, ".")], rng=rng()) == Refuse(
        "5.1.10", "nomail.example accepts no mail (null MX, RFC 7505)"
    )


def test_a_null_mx_beside_real_hosts_is_skipped() -> None:
    assert route("x", 0, [(0, "."), (10, "mx.x.")], rng=rng()) == Hosts(("mx.x",))


def test_nxdomain_bounces_and_other_failures_defer() -> None:
    assert route("gone.example", dns.rcode.NXDOMAIN, [], rng=rng()) == Refuse(
        "5.1.2", "gone.example: no such domain (NXDOMAIN)"
    )
    assert route("x.example", dns.rcode.SERVFAIL, [], rng=rng()) == Later(
        "4.4.3", "x.example MX lookup failed: SERVFAIL"
    )
    assert route("x.example", dns.rcode.REFUSED, [(10, "mx.x.")], rng=rng()) == Later(
        "4.4.3", "x.example MX lookup failed: REFUSED"
    )
    assert route("x.example", 99, [], rng=rng()) == Later("4.4.3", "x.example MX lookup failed: 99")
    assert route("x.example.", None, [], rng=rng()) == Later(
        "4.4.3", "no answer from the resolver for x.example MX"
    )


def test_hosts_at_or_above_our_own_preference_are_dropped() -> None:
    mx = [(10, "relay.x."), (20, "Mail.Crepes.FR."), (20, "peer.x."), (30, "far.x.")]
    assert route("x", 0, mx, rng=rng(), local_names={"mail.crepes.fr."}) == Hosts(("relay.x",))


def test_our_own_name_as_the_best_mx_is_a_loop() -> None:
    mx = [(10, "mail.crepes.fr."), (20, "backup.x.")]
    assert route("crepes.fr", 0, mx, rng=rng(), local_names=["mail.crepes.fr"]) == Refuse(
        "5.4.6", "mail for crepes.fr loops back to this server (MX)"
    )


def test_a_host_listed_twice_is_tried_once_at_its_best_preference() -> None:
    mx = [(20, "a.x."), (10, "a.x."), (10, "A.x"), (20, "b.x.")]
    assert route("x", 0, mx, rng=rng()) == Hosts(("a.x", "b.x"))


def test_at_most_max_hosts_are_kept() -> None:
    mx = [(i, f"h{i:02}.x.") for i in range(50)]
    hosts = route("x", 0, mx, rng=rng()).hosts  # type: ignore[union-attr]
    assert hosts == tuple(f"h{i:02}.x" for i in range(MAX_HOSTS))
    assert route("x", 0, mx, rng=rng(), max_hosts=2) == Hosts(("h00.x", "h01.x"))


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["a.x.", "B.x.", "c.x", ".", "d.x."])),
        max_size=8,
    ),
    st.integers(0, 2**32),
)
def test_any_answer_gives_hosts_in_preference_order_each_once(
    mx: list[tuple[int, str]], seed: int
) -> None:
    r = route("x", 0, mx, rng=rng(seed))
    names = {n.rstrip(".").lower() for _, n in mx if n != "."}
    if not mx:
        assert r == Hosts(("x",), implicit=True)
    elif not names:
        assert isinstance(r, Refuse) and r.status == "5.1.10"
    else:
        assert isinstance(r, Hosts) and not r.implicit
        assert sorted(r.hosts) == sorted(names)
        best = {n: min(p for p, m in mx if m.rstrip(".").lower() == n) for n in names}
        assert [best[h] for h in r.hosts] == sorted(best[h] for h in r.hosts)


def test_only_the_trailing_dot_is_stripped_from_a_name() -> None:
    assert route("MAIL.BOX.", dns.rcode.NOERROR, [], rng=rng()) == Hosts(("mail.box",), True)
    mx = [(10, "MX.BOX."), (20, "mx.x")]
    assert route("box", dns.rcode.NOERROR, mx, rng=rng()) == Hosts(("mx.box", "mx.x"))
