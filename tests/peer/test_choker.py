"""Choker: tit-for-tat rankings, the optimistic unchoke's rotation, changes only, a clock run."""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peer.choker import Candidate, Choker, Ranked, Round, rate_text


def cand(peer: str, down: float = 0.0, up: float = 0.0, interested: bool = True) -> Candidate[str]:
    return Candidate(peer, interested, down, up)


def choker(
    seed: int = 1, *, slots: int = 4, interval: float = 10.0, optimistic_interval: float = 30.0
) -> Choker[str]:
    return Choker(
        slots=slots,
        interval=interval,
        optimistic_interval=optimistic_interval,
        rng=random.Random(seed),
    )


def regular(r: Round[str]) -> list[str]:
    return [u.peer for u in r.unchoked]


def optimistic(r: Round[str]) -> str | None:
    return None if r.optimistic is None else r.optimistic.peer


# Rates distinct, so the ranking alone decides; at most one peer is left for the optimistic slot.
RANKINGS = [
    pytest.param(
        [cand("a", 10), cand("b", 50), cand("c", 30), cand("d", 20), cand("e", 40)],
        ["b", "e", "c", "d"],
        "a",
        id="five-interested",
    ),
    pytest.param(
        [cand("a", 900, interested=False), cand("b", 5), cand("c", 7), cand("d", 1), cand("e", 3)],
        ["c", "b", "e", "d"],
        None,
        id="the-fastest-is-not-interested",
    ),
    pytest.param(
        [cand("a", 0), cand("b", 0.5)],
        ["b"],
        "a",
        id="a-peer-sending-nothing-is-unchoked-only-optimistically",
    ),
    pytest.param(
        [cand("a", 0, 0, True), cand("b", 0), cand("c", 0.1)],
        ["c"],
        "a",  # (a or b: the seeded rng's choice)
        id="a-free-rider-never-holds-a-regular-slot",
    ),
    pytest.param(
        [cand("a", 1, 999), cand("b", 2, 0), cand("c", 3, 0), cand("d", 4, 0), cand("e", 5, 0)],
        ["e", "d", "c", "b"],
        "a",
        id="the-upload-rate-does-not-count-while-downloading",
    ),
    pytest.param(
        [cand("a", 3, interested=False), cand("b", 2, interested=False)],
        [],
        None,
        id="nobody-interested",
    ),
    pytest.param([], [], None, id="no-peers"),
]


@pytest.mark.parametrize(("candidates", "unchoked", "optimist"), RANKINGS)
def test_the_interested_peers_sending_fastest_hold_the_slots(
    candidates: list[Candidate[str]], unchoked: list[str], optimist: str | None
) -> None:
    r = choker().round(0.0, candidates, seeding=False)
    assert regular(r) == unchoked
    assert optimistic(r) == optimist
    assert r.optimistic_new == (optimist is not None)
    everyone = [c.peer for c in candidates]
    assert r.choked == tuple(p for p in everyone if p not in unchoked and p != optimist)
    assert r.newly_unchoked == tuple(unchoked) + ((optimist,) if optimist else ())
    assert r.newly_choked == ()
    rates = {c.peer: c.download_rate for c in candidates}
    assert [u.rate for u in r.unchoked] == [rates[p] for p in unchoked]


def test_a_seeder_serves_in_turn_whatever_the_rates() -> None:
    peers = [cand("a", 900, 10), cand("b", 800, 40), cand("c", 0, 30), cand("d", 0, 20)]
    peers += [cand("e", 700, 50), cand("f", 0, 5, interested=False)]
    c = choker(slots=2)
    r = c.round(0.0, peers, seeding=True)
    assert r.seeding
    sent = {"a": 10, "b": 40, "c": 30, "d": 20, "e": 50}
    assert len(r.unchoked) == 2 and all(u.rate == sent[u.peer] for u in r.unchoked)
    served = set(regular(r))
    r = c.round(10.0, peers, seeding=True)  # the three that waited come first
    assert set(regular(r)).isdisjoint(served)
    served |= set(regular(r))
    r = c.round(20.0, peers, seeding=True)
    assert served | set(regular(r)) == set("abcde")  # the last that waited, then the longest ago
    # no memory of the bytes sent: ranked by them, "least served first", the seeds in the
    # same rounds would have chosen the same two peers every time
    chosen = {p for s in range(12) for p in regular(choker(s, slots=2).round(0.0, peers, True))}
    assert chosen == set("abcde")
    r2 = choker(slots=2).round(0.0, peers, seeding=False)
    assert r2.unchoked == (Ranked("a", 900), Ranked("b", 800))
    assert not r2.seeding


def test_turns_count_from_when_we_began_seeding_and_forget_peers_that_left() -> None:
    c = choker(slots=1)
    both, idle_b = [cand("a", 5), cand("b", 4)], [cand("a", 5), cand("b", interested=False)]
    assert regular(c.round(0.0, idle_b, False)) == ["a"]
    assert regular(c.round(10.0, both, True)) == ["a"]  # no turns yet: it keeps its slot
    assert regular(c.round(20.0, both, True)) == ["b"]  # a had the last turn
    assert regular(c.round(30.0, both, True)) == ["a"]
    assert regular(c.round(40.0, idle_b, False)) == ["a"]  # downloading again: rates rank
    # seeding again: the turns of before (b at 20 s, a at 30 s) are gone; a keeps its slot
    assert regular(c.round(50.0, both, True)) == ["a"]
    assert regular(c.round(60.0, both, True)) == ["b"]
    assert regular(c.round(70.0, both, True)) == ["a"]
    assert regular(c.round(80.0, [cand("b", interested=False)], True)) == []  # a left
    # a comes back with no turn: before b (its own last turn, at 70 s, is forgotten)
    assert regular(c.round(90.0, both, True)) == ["a"]


def test_while_downloading_rate_ties_go_to_the_peer_that_gave_us_more() -> None:
    peers = [
        Candidate("stranger", True, 0.5, 0.0, 0),
        Candidate("partner", True, 0.5, 0.0, 5000),
        Candidate("rider", True, 0.0, 0.0, 0),
    ]
    r = choker(slots=1).round(0.0, peers, seeding=False)
    assert regular(r) == ["partner"]  # equal rates: the one that sent us more in all
    assert optimistic(r) in ("stranger", "rider")


def test_a_seeder_turns_to_the_peers_that_waited_at_each_round() -> None:
    c = choker(slots=2)
    peers = [cand(p) for p in "abcd"]
    r = c.round(0.0, peers, True)
    first, opt = regular(r), optimistic(r)
    r = c.round(10.0, peers, True)
    assert set(regular(r)).isdisjoint(first)  # the two that waited (one was optimistic)
    assert opt in regular(r)
    assert set(r.newly_choked) == set(first) - {optimistic(r)}
    # equal rates: a slot stays with a peer unchoked already (no needless choke)
    for seed in range(8):
        c = choker(seed, slots=1)
        three = [cand("a"), cand("b"), cand("c")]
        r = c.round(0.0, three, True)
        before = {*regular(r), optimistic(r)}
        assert set(regular(c.round(10.0, three, True))) <= before


def test_ties_are_broken_by_the_seeded_rng_not_by_the_listing_order() -> None:
    peers = [cand(p, 100) for p in "abcdefgh"]
    results = {}
    for seed in range(6):
        r1 = choker(seed, slots=3).round(0.0, peers, seeding=False)
        r2 = choker(seed, slots=3).round(0.0, peers, seeding=False)
        assert (r1.unchoked, r1.optimistic) == (r2.unchoked, r2.optimistic)
        results[seed] = (tuple(regular(r1)), optimistic(r1))
    assert results[0] == (("e", "b", "f"), "h")  # golden: random.Random's shuffle and choice
    assert results[1] == (("d", "g", "b"), "e")
    assert len({unchoked for unchoked, _ in results.values()}) > 1


def test_ties_go_to_the_peers_unchoked_already() -> None:
    c = choker(slots=2)
    first = c.round(0.0, [cand("a", 5), cand("b", 5), cand("c", 9), cand("d", 1)], False)
    assert regular(first) == ["c", "a"] or regular(first) == ["c", "b"]
    holder = regular(first)[1]
    for t in (10.0, 20.0):  # c slows down to the others' rate: it keeps its slot, so does holder
        r = c.round(t, [cand("a", 5), cand("b", 5), cand("c", 5), cand("d", 1)], False)
        assert set(regular(r)) == {"c", holder}
        assert r.newly_choked == r.newly_unchoked == ()


def test_the_optimistic_peer_is_an_interested_peer_the_ranking_left_choked() -> None:
    peers = [cand("a", 9), cand("b", 8), cand("x", 0, interested=False), cand("c", 1)]
    for seed in range(20):
        r = choker(seed, slots=2).round(0.0, peers, seeding=False)
        assert regular(r) == ["a", "b"]
        assert optimistic(r) == "c"  # never x, the uninterested one
        assert r.choked == ("x",)


def test_the_optimistic_peer_rotates_at_exactly_the_interval() -> None:
    c = choker(3, slots=1)
    peers = [cand("top", 100)] + [cand(f"p{i}", 0) for i in range(5)]
    first = c.round(0.0, peers, False)
    o = optimistic(first)
    assert o is not None and first.optimistic_new
    for t in (10.0, 20.0, 29.999):
        r = c.round(t, peers, False)
        assert optimistic(r) == o and not r.optimistic_new
        assert r.newly_unchoked == r.newly_choked == ()
    r = c.round(30.0, peers, False)
    assert optimistic(r) not in (None, o)  # "another peer"
    assert r.optimistic_new
    assert r.newly_unchoked == (optimistic(r),) and r.newly_choked == (o,)
    assert "(new)" in r.describe()
    for t in (40.0, 59.999):
        assert optimistic(c.round(t, peers, False)) == optimistic(r)
    assert optimistic(c.round(60.0, peers, False)) != optimistic(r)


def test_the_rotation_is_counted_from_the_first_round_not_from_each_replacement() -> None:
    c = choker(5, slots=1)
    peers = [cand("top", 100), cand("p", 0), cand("q", 0), cand("r", 0)]
    o = optimistic(c.round(0.0, peers, False))
    assert o is not None
    c.left(o)
    peers = [p for p in peers if p.peer != o]
    r = c.round(15.0, peers, False)  # a replacement, chosen off the schedule
    assert r.optimistic_new and optimistic(r) not in (None, o)
    assert optimistic(c.round(29.999, peers, False)) == optimistic(r)
    assert optimistic(c.round(30.0, peers, False)) != optimistic(r)  # the schedule: 0, 30, 60


def test_with_no_other_candidate_the_optimistic_peer_stays_at_its_rotation() -> None:
    c = choker(slots=1)
    peers = [cand("top", 100), cand("only", 1)]
    assert optimistic(c.round(0.0, peers, False)) == "only"
    r = c.round(30.0, peers, False)
    assert optimistic(r) == "only" and not r.optimistic_new
    assert r.describe() == "unchoked 1 by download rate: top 0 KB/s; optimistic only; choked 0"


def test_an_optimistic_peer_that_ranks_into_the_slots_holds_one_and_another_is_chosen() -> None:
    c = choker(slots=1)
    r = c.round(0.0, [cand("a", 100), cand("b", 0)], False)
    assert (regular(r), optimistic(r)) == (["a"], "b")
    # b now sends faster than a: it takes the regular slot, a becomes the optimistic one at once.
    r = c.round(10.0, [cand("a", 100), cand("b", 500)], False)
    assert r.unchoked == (Ranked("b", 500),)
    assert optimistic(r) == "a" and r.optimistic_new
    assert r.newly_unchoked == r.newly_choked == ()  # both were unchoked and still are


def test_an_optimistic_peer_that_loses_interest_is_replaced_at_the_next_round() -> None:
    c = choker(slots=1)
    c.round(0.0, [cand("a", 100), cand("b", 0)], False)
    r = c.round(10.0, [cand("a", 100), cand("b", 0, interested=False), cand("c", 0)], False)
    assert optimistic(r) == "c" and r.optimistic_new
    assert r.newly_choked == ("b",) and r.newly_unchoked == ("c",)


def test_an_optimistic_peer_that_leaves_is_replaced_at_the_next_round() -> None:
    c = choker(slots=1)
    assert optimistic(c.round(0.0, [cand("a", 100), cand("b", 0)], False)) == "b"
    assert c.left("b") is True  # it held the optimistic slot
    assert c.admit("c")  # the optimistic slot is free: a newcomer takes it at once
    assert c.left("c") is True
    assert c.left("c") is False  # once
    r = c.round(10.0, [cand("a", 100), cand("d", 0)], False)
    assert optimistic(r) == "d" and r.optimistic_new
    assert r.newly_unchoked == ("d",) and r.newly_choked == ()


def test_slots_one() -> None:
    r = choker(slots=1).round(0.0, [cand("a", 1), cand("b", 3), cand("c", 2)], False)
    assert regular(r) == ["b"]
    assert optimistic(r) in ("a", "c")
    assert len(r.choked) == 1


def test_slots_zero_leaves_only_the_optimistic_unchoke() -> None:
    c = choker(slots=0)
    r = c.round(0.0, [cand("a", 1000), cand("b", 3)], False)
    assert r.unchoked == ()
    assert optimistic(r) in ("a", "b")
    assert r.describe().startswith("unchoked 0 by download rate; optimistic ")
    c2 = choker(slots=0)
    assert c2.admit("z")  # no regular slot, but the optimistic one is free
    assert not c2.admit("y")


def test_only_changes_are_reported() -> None:
    c = choker(slots=2)
    r = c.round(0.0, [cand("a", 9), cand("b", 8), cand("c", 7)], False)
    assert r.newly_unchoked == ("a", "b", "c") and r.newly_choked == ()
    r = c.round(10.0, [cand("a", 9), cand("b", 8), cand("c", 7)], False)
    assert r.newly_unchoked == () and r.newly_choked == ()
    r = c.round(20.0, [cand("a", 1), cand("b", 8), cand("c", 7), cand("d", 9)], False)
    assert regular(r) == ["d", "b"]
    assert optimistic(r) in ("a", "c")
    assert r.newly_unchoked == ("d",)
    lost = "a" if optimistic(r) == "c" else "c"
    assert r.newly_choked == (lost,)
    assert r.choked == (lost,)


def test_peers_no_longer_listed_are_forgotten_without_a_choke() -> None:
    c = choker(slots=2)
    c.round(0.0, [cand("a", 9), cand("b", 8)], False)
    r = c.round(10.0, [cand("b", 8), cand("c", 1)], False)  # a's connection is gone
    assert r.newly_choked == ()
    assert regular(r) == ["b", "c"] and r.newly_unchoked == ("c",)


def test_admit_gives_a_free_regular_slot_at_once() -> None:
    c = choker(slots=2)
    c.round(0.0, [cand("a", 9), cand("u", 1, interested=False)], False)
    assert c.admit("u")  # one regular slot was free
    assert not c.admit("u")  # unchoked already: nothing to send
    assert c.admit("n") is True  # then the optimistic slot
    assert c.admit("m") is False  # then it waits for the next round
    assert not c.admit("a")
    r = c.round(10.0, [cand("a", 9), cand("u", 1), cand("n", 0), cand("m", 0)], False)
    assert regular(r) == ["a", "u"]
    assert optimistic(r) == "n" and not r.optimistic_new  # n keeps the slot admit gave it
    assert r.newly_unchoked == r.newly_choked == ()
    assert r.choked == ("m",)


def test_admit_uses_a_slot_freed_by_a_peer_that_left() -> None:
    c = choker(slots=1)
    c.round(0.0, [cand("a", 9), cand("b", 1)], False)
    assert c.admit("n") is False  # both slots taken
    assert c.left("a") is True  # a regular slot
    assert c.admit("n")
    assert c.left("nobody") is False  # unknown peers are ignored
    r = c.round(10.0, [cand("b", 1), cand("n", 5)], False)
    assert regular(r) == ["n"] and optimistic(r) == "b"
    assert r.newly_unchoked == r.newly_choked == ()


def test_admit_gives_a_regular_slot_only_when_the_shell_says_it_may() -> None:
    c = choker(slots=1)
    assert c.admit("rider", regular=False)  # the optimistic slot was free
    assert not c.admit("other", regular=False)  # a regular slot is, but not for it
    assert c.admit("trader")  # (regular=True by default)
    r = c.round(0.0, [cand("rider"), cand("other"), cand("trader", 5)], False)
    assert regular(r) == ["trader"] and optimistic(r) in ("rider", "other")


def test_refill_admits_the_waiting_peers_in_the_order_a_round_ranks_them() -> None:
    c = choker(slots=1)
    waiting = [
        cand("idle", 0),
        cand("fast", 5),
        cand("slow", 1),
        cand("bored", 9, interested=False),
    ]
    assert c.refill(0.0, waiting, False) == [
        "fast",
        "slow",
    ]  # the regular slot, then the optimistic
    assert c.refill(0.0, [cand("late", 7)], False) == []  # every slot taken
    c.left("fast")
    assert c.refill(0.0, [cand("late", 7), cand("idle", 0)], False) == ["late"]


def test_refill_gives_a_peer_that_sends_nothing_only_the_optimistic_slot() -> None:
    c = choker(slots=2)
    got = c.refill(0.0, [cand("rider"), cand("other")], False)
    assert len(got) == 1 and got[0] in ("rider", "other")  # the optimistic slot; no regular
    assert c.refill(0.0, [cand("x"), cand("y")], False) == []  # the optimistic slot is taken
    assert c.refill(0.0, [cand("trader", 0.1)], False) == ["trader"]  # a regular one is free


def test_refill_while_seeding_serves_the_longest_waiting_first_at_any_rate() -> None:
    for seed in range(8):
        c = choker(seed, slots=1)
        peers = [cand("a", 9, 900), cand("b"), cand("c", 5, 50)]
        r = c.round(0.0, peers, True)
        served, opt = regular(r)[0], optimistic(r)
        waited = ({"a", "b", "c"} - {served, opt}).pop()
        assert c.left(served)  # it lost interest: its slot is free
        # the peer that never had a turn before the one served at 0 s, whatever the rates
        assert c.refill(5.0, [cand(served, 0, 900), cand(waited, 0, 0)], True) == [waited]
        # at 10 s the optimistic peer, which never held a regular slot, has the longest wait;
        # the refilled peer's turn began at 5 s
        assert regular(c.round(10.0, peers, True)) == [opt]
        assert regular(c.round(20.0, peers, True)) == [served]  # its turn (0 s) is the oldest


def test_a_seed_fills_every_slot_even_with_peers_at_rate_zero() -> None:
    r = choker(slots=2).round(0.0, [cand("a"), cand("b"), cand("c")], True)
    assert len(r.unchoked) == 2 and r.optimistic is not None


def test_before_the_first_round_admit_fills_the_slots() -> None:
    c = choker(slots=1)
    assert c.admit("a") and c.admit("b") and not c.admit("c")
    r = c.round(0.0, [cand("a", 1), cand("b", 2), cand("c", 0)], False)
    assert regular(r) == ["b"]
    # b, unchoked by admit, stays so; the first round is a rotation, so the optimistic slot goes
    # to a peer other than b (who now holds the regular slot): c, by this seed.
    assert r.optimistic == Ranked("c", 0.0) and r.optimistic_new
    assert r.newly_unchoked == ("c",)
    assert r.newly_choked == ("a",)


def test_due_at_the_first_call_then_every_interval() -> None:
    c = choker(interval=10.0)
    assert c.next_round is None
    assert c.due(123.0)
    c.round(123.0, [], False)
    assert c.next_round == 133.0
    assert not c.due(123.0) and not c.due(132.999)
    assert c.due(133.0) and c.due(500.0)
    c.round(134.5, [], False)  # a late round: the next one is an interval after it
    assert not c.due(144.499) and c.due(144.5)


def test_round_runs_whenever_called_without_moving_the_rotation() -> None:
    c = choker(slots=0, optimistic_interval=30.0)
    peers = [cand(p, 0) for p in "abcdef"]
    o = optimistic(c.round(0.0, peers, False))
    for t in (1.0, 2.0, 3.0):
        assert optimistic(c.round(t, peers, False)) == o
    assert c.next_round == 13.0


def test_a_simulated_two_minutes() -> None:
    c = Choker[str](slots=4, interval=10.0, optimistic_interval=30.0, rng=random.Random(7))
    rounds: list[float] = []
    rotations: list[float] = []
    leaders: list[str] = []
    previous: str | None = None
    for step in range(0, 1201):  # an injected clock ticking every 0.1 s up to 120.0
        now = step / 10
        # Four peers send to us, at rates whose order changes every 10 s; four others send
        # nothing: the optimistic unchoke rotates among those, and never ranks into the slots.
        peers = [cand(f"10.0.0.{i}", down=1000 * (1 + (i + step // 100) % 4)) for i in range(4)]
        peers += [cand(f"10.0.0.{i}") for i in range(4, 8)]
        if c.due(now):
            r = c.round(now, peers, seeding=False)
            rounds.append(now)
            leaders.append(r.unchoked[0].peer)
            if r.optimistic_new:
                rotations.append(now)
                assert r.newly_unchoked[-1] == optimistic(r) != previous
                assert r.newly_choked == (() if previous is None else (previous,))
                previous = optimistic(r)
            elif now:
                assert r.newly_unchoked == r.newly_choked == ()  # the same four, reordered
            assert [u.rate for u in r.unchoked] == [4000, 3000, 2000, 1000]
            assert {u.peer for u in r.unchoked} == {f"10.0.0.{i}" for i in range(4)}
            assert len(r.choked) == 3
    assert rounds == [10.0 * k for k in range(13)]
    assert leaders[:5] == ["10.0.0.3", "10.0.0.2", "10.0.0.1", "10.0.0.0", "10.0.0.3"]
    assert rotations == [0.0, 30.0, 60.0, 90.0, 120.0]


def test_describe() -> None:
    c = choker(slots=2)
    r = c.round(
        0.0,
        [
            cand("10.0.0.2", 812_000),
            cand("10.0.0.3", 1_520_000),
            cand("10.0.0.9", 0),
            cand("10.0.0.4", 5, interested=False),
        ],
        False,
    )
    assert r.describe() == (
        "unchoked 2 by download rate: 10.0.0.3 1.5 MB/s, 10.0.0.2 812 KB/s; "
        "optimistic 10.0.0.9 (new); choked 1"
    )
    r = c.round(10.0, [cand("10.0.0.2", 0, 2000)], True)
    assert r.now == 10.0  # the round's own time, in the record the log and events read
    assert r.describe() == ("unchoked 1 in turn: 10.0.0.2 2 KB/s; no optimistic; choked 0")
    assert choker().round(0.0, [], True).describe() == (
        "unchoked 0 in turn; no optimistic; choked 0"
    )


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (0.0, "0 KB/s"),
        (1499.0, "1 KB/s"),
        (1500.0, "2 KB/s"),
        (812_345.0, "812 KB/s"),
        (999_499.0, "999 KB/s"),
        (1_000_000.0, "1.0 MB/s"),
        (1_150_001.0, "1.2 MB/s"),
        (1_149_999.0, "1.1 MB/s"),
        (187_500_000.0, "187.5 MB/s"),
    ],
)
def test_rate_text(rate: float, text: str) -> None:
    assert rate_text(rate) == text


def test_a_peer_listed_twice_is_a_bug_in_the_caller() -> None:
    with pytest.raises(ValueError, match=r"^a peer is listed twice among the choker's candidates$"):
        choker().round(0.0, [cand("a", 1), cand("b", 1), cand("a", 2)], False)


@pytest.mark.parametrize("slots", [0, 1, 4, 100])
def test_slot_counts_of_zero_and_more_are_accepted(slots: int) -> None:
    assert choker(slots=slots).slots == slots


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="choker slots must be 0 or more, not -1"):
        choker(slots=-1)
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match=f"choking interval must be more than 0 s, not {bad}"):
            choker(interval=bad)
        with pytest.raises(
            ValueError, match=f"optimistic unchoke interval must be more than 0 s, not {bad}"
        ):
            choker(optimistic_interval=bad)
    c = choker(interval=0.001, optimistic_interval=0.001)
    assert (c.interval, c.optimistic_interval) == (0.001, 0.001)


peer_names = st.sampled_from([f"p{i}" for i in range(10)])
candidate_lists = st.lists(
    st.builds(
        cand,
        peer_names,
        st.sampled_from([0.0, 1.0, 2.0, 50.0]),
        st.sampled_from([0.0, 3.0, 9.0]),
        st.booleans(),
    ),
    unique_by=lambda c: c.peer,
    max_size=10,
)
events = st.lists(
    st.one_of(
        st.tuples(st.just("round"), st.integers(0, 40), candidate_lists, st.booleans()),
        st.tuples(st.just("left"), peer_names),
        st.tuples(st.just("admit"), peer_names),
    ),
    max_size=25,
)


@given(st.integers(0, 5), st.integers(0, 5), events)
def test_every_round_keeps_the_rules(seed: int, slots: int, script: list[tuple[Any, ...]]) -> None:
    c: Choker[str] = Choker(
        slots=slots, interval=10.0, optimistic_interval=30.0, rng=random.Random(seed)
    )
    unchoked: set[str] = set()  # what the shell believes, from the messages it was told to send
    turns: dict[str, float] = {}  # while seeding: when each peer last held a regular slot
    now = 0.0
    for event in script:
        if event[0] == "left":
            c.left(event[1])
            unchoked.discard(event[1])
        elif event[0] == "admit":
            if c.admit(event[1]):
                assert event[1] not in unchoked
                unchoked.add(event[1])
        else:
            _, step, peers, seeding = event
            now += step
            r = c.round(now, peers, seeding)
            listed = {p.peer for p in peers}
            unchoked &= listed  # the shell forgets peers that left
            unchoked -= set(r.newly_choked)
            assert not unchoked & set(r.newly_unchoked)
            unchoked |= set(r.newly_unchoked)
            regular_peers = [u.peer for u in r.unchoked]
            now_unchoked = set(regular_peers) | ({r.optimistic.peer} if r.optimistic else set())
            assert unchoked == now_unchoked  # changes-only output adds up to the decisions
            assert set(r.choked) == listed - now_unchoked
            assert len(regular_peers) <= c.slots
            # a seed serves in turn, the oldest turn first (negated: higher ranks first)
            by = {
                p.peer: (-turns.get(p.peer, -math.inf) if seeding else p.download_rate)
                for p in peers
            }
            shown = {p.peer: (p.upload_rate if seeding else p.download_rate) for p in peers}
            wanting = {p.peer for p in peers if p.interested}
            assert now_unchoked <= wanting
            sending = {p.peer for p in peers if p.interested and (seeding or p.download_rate > 0)}
            assert len(regular_peers) == min(c.slots, len(sending))
            assert set(regular_peers) <= sending
            worst = min((by[p] for p in regular_peers), default=math.inf)
            assert all(by[p] <= worst for p in wanting - set(regular_peers))
            assert [by[u.peer] for u in r.unchoked] == sorted(
                (by[p] for p in regular_peers), reverse=True
            )
            assert all(u.rate == shown[u.peer] for u in r.unchoked)
            if r.optimistic is not None:
                assert r.optimistic.peer not in regular_peers
                assert r.optimistic.rate == shown[r.optimistic.peer]
            else:
                assert wanting <= set(regular_peers)
            if seeding:
                turns = {p: t for p, t in turns.items() if p in listed}
                turns.update(dict.fromkeys(regular_peers, now))
            else:
                turns = {}


def test_the_defaults_are_the_notes_four_slots_ten_and_thirty_seconds() -> None:
    c: Choker[str] = Choker(rng=random.Random(0))
    assert (c.slots, c.interval, c.optimistic_interval) == (4, 10.0, 30.0)


def test_the_records_are_frozen_and_slotted() -> None:
    r = choker().round(0.0, [cand("a", 1)], False)
    for record, field in ((cand("a"), "peer"), (Ranked("a", 1.0), "peer"), (r, "now")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, field, "b")
        assert not hasattr(record, "__dict__")
    with pytest.raises(TypeError):
        Round(0.0, False, (), None, False, (), (), ())  # type: ignore[misc]  # keywords only


def test_a_slot_refilled_while_downloading_is_no_turn_once_we_seed() -> None:
    for seed in range(8):
        c = choker(seed, slots=1)
        assert c.refill(5.0, [cand("x", 3)], False) == ["x"]  # a regular slot, by rate
        # we finished: no peer has had a turn yet, and x, unchoked already, keeps its slot
        assert regular(c.round(10.0, [cand("x"), cand("y")], True)) == ["x"]
