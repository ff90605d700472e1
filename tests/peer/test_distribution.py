"""peer.distribution: the notes' bounds, and the experiment's report."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peer.distribution import (
    CLIENT_SERVER,
    MAX_HOSTS,
    P2P,
    ChurnPlan,
    Finish,
    Held,
    Result,
    Verdict,
    check,
    churn_plan,
    client_server_bound,
    csv_lines,
    free_rider_medians,
    free_rider_progress,
    free_rider_verdict,
    held_at_first_finish,
    median,
    p2p_bound,
    parse_rate,
    parse_sizes,
    rarest_availability,
    spread,
    table,
)

MiB = 1 << 20
F = 16 * MiB


def test_the_client_server_bound_is_n_copies_from_the_server_or_one_at_the_slowest_host() -> None:
    assert client_server_bound(32, F, 4 * MiB, 8 * MiB) == 128.0  # N*F/u_s
    assert client_server_bound(1, F, 4 * MiB, 8 * MiB) == 4.0
    assert client_server_bound(1, F, 32 * MiB, 8 * MiB) == 2.0  # F/d_min: the host is slower


def test_the_p2p_bound_takes_the_largest_of_its_three_terms() -> None:
    # N*F/(u_s + sum u_i): 32 * 16 MiB over 36 MiB/s
    assert p2p_bound(32, F, 4 * MiB, 8 * MiB, [MiB] * 32) == pytest.approx(512 / 36)
    assert p2p_bound(1, F, 4 * MiB, 8 * MiB, [MiB]) == 4.0  # F/u_s: one copy from the server
    assert p2p_bound(4, F, 64 * MiB, 4 * MiB, [MiB] * 4) == 4.0  # F/d_min
    # free-riders (upload 0) add nothing to the swarm's capacity
    assert p2p_bound(8, F, 4 * MiB, 8 * MiB, [MiB] * 4 + [0] * 4) == 16.0
    assert p2p_bound(8, F, 4 * MiB, 8 * MiB, [0] * 8) == client_server_bound(8, F, 4 * MiB, 8 * MiB)


@given(
    st.integers(1, 64),
    st.integers(1, 1 << 30),
    st.integers(1, 1 << 26),
    st.integers(1, 1 << 26),
    st.integers(0, 1 << 26),
)
def test_p2p_is_never_slower_than_client_server_and_both_need_one_copy(
    n: int, size: int, us: int, d: int, u: int
) -> None:
    cs = client_server_bound(n, size, us, d)
    p2p = p2p_bound(n, size, us, d, [u] * n)
    assert p2p <= cs * (1 + 1e-12)
    assert p2p >= max(size / us, size / d) * (1 - 1e-12)


@pytest.mark.parametrize(
    ("text", "rate"), [("4MiB/s", 4 * MiB), ("4MiB", 4 * MiB), (" 512KiB/s ", 512 << 10)]
)
def test_rates_take_binary_units_and_an_optional_per_second(text: str, rate: int) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["0", "0/s", "4MB/s", "/s", "-1MiB/s", "4MiB/h"])
def test_a_rate_that_is_not_one_is_refused(text: str) -> None:
    size = text.removesuffix("/s")  # the size is what the message names
    with pytest.raises(ValueError, match=f"invalid size '{re.escape(size)}': write a positive"):
        parse_rate(text)


def test_sizes_are_sorted_without_repeats() -> None:
    assert parse_sizes("32,1,4,4, 2") == [1, 2, 4, 32]
    assert parse_sizes(str(MAX_HOSTS)) == [MAX_HOSTS]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,,2", "whole numbers"),
        ("1.5", "whole numbers"),
        ("-1", "whole numbers"),
        ("0", "sizes run from 1 to 250"),
        (str(MAX_HOSTS + 1), "a swarm of 251 downloaders"),
    ],
)
def test_sizes_out_of_range_or_not_numbers_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_sizes(text)


def test_a_result_reports_its_ratio_and_rounds_its_json() -> None:
    r = Result(4, P2P, 5.12345, 4.00049)
    assert r.ratio == pytest.approx(5.12345 / 4.00049)
    assert r.as_json() == {"n": 4, "mode": "p2p", "measured_s": 5.123, "bound_s": 4.0}
    assert Result(1, P2P, 1.0, 2.12351).as_json()["bound_s"] == 2.124


def test_the_table_has_a_line_per_n_and_a_dash_for_a_mode_not_run() -> None:
    results = [
        Result(1, CLIENT_SERVER, 4.1, 4.0),
        Result(1, P2P, 4.2, 4.0),
        Result(2, P2P, 6.0, 4.0),
    ]
    assert table(results) == [
        "   N  client-server    bound  ratio       P2P    bound  ratio",
        "   1         4.10 s   4.00 s   1.02    4.20 s   4.00 s   1.05",
        "   2              -        -      -    6.00 s   4.00 s   1.50",
    ]


def test_the_csv_has_a_header_and_a_row_per_run() -> None:
    lines = csv_lines([Result(8, CLIENT_SERVER, 33.0, 32.0), Result(8, P2P, 10.5, 8.0)])
    assert lines == [
        "n,mode,measured_s,bound_s,ratio",
        "8,client-server,33.000,32.000,1.031",
        "8,p2p,10.500,8.000,1.312",
    ]


def sweep(cs_ratio: float = 1.1, p2p_ratio: float = 1.3) -> list[Result]:
    out = []
    for n in (1, 4, 32):
        cs = client_server_bound(n, F, 4 * MiB, 8 * MiB)
        p2p = p2p_bound(n, F, 4 * MiB, 8 * MiB, [MiB] * n)
        out += [Result(n, CLIENT_SERVER, cs * cs_ratio, cs), Result(n, P2P, p2p * p2p_ratio, p2p)]
    return out


def test_the_flattening_limits_are_under_3x_and_6x_to_10x_inclusive() -> None:
    def sweep_of(p2p4: float, p2p32: float, cs4: float, cs32: float) -> list[Result]:
        return [
            Result(4, P2P, p2p4, p2p4),
            Result(32, P2P, p2p32, p2p32),
            Result(4, CLIENT_SERVER, cs4, cs4),
            Result(32, CLIENT_SERVER, cs32, cs32),
        ]

    assert check(sweep_of(5.0, 14.0, 16.0, 160.0), F)[-1].met  # client-server exactly 10x
    assert not check(sweep_of(5.0, 15.0, 16.0, 128.0), F)[-1].met  # P2P exactly 3x


def test_a_sweep_that_meets_every_target() -> None:
    verdicts = check(sweep(), F)
    assert [v.met for v in verdicts] == [True] * 4
    assert [v.text for v in verdicts] == [
        "p2p within 1.5x of its bound at every N: worst 1.30x at N=1",
        "client-server within 1.2x of its bound at every N: worst 1.10x at N=1",
        "no time under 0.9x its bound: lowest 1.10x (client-server, N=1)",
        "P2P flattens: N=32 takes 1.8x N=4's time (under 3x), client-server 8.0x (about 8x)",
    ]


def test_each_target_missed_is_said() -> None:
    verdicts = check(sweep(cs_ratio=1.21, p2p_ratio=1.51), F)
    assert [v.met for v in verdicts[:3]] == [False, False, True]
    low = check([Result(2, P2P, 0.89, 1.0)], F)
    assert low == [
        Verdict(True, "p2p within 1.5x of its bound at every N: worst 0.89x at N=2"),
        Verdict(False, "no time under 0.9x its bound: lowest 0.89x (p2p, N=2)"),
    ]


def test_the_limits_are_inclusive_and_a_small_file_may_take_longer() -> None:
    exactly = [Result(1, P2P, 1.5, 1.0), Result(1, CLIENT_SERVER, 1.2, 1.0)]
    assert all(v.met for v in check(exactly, F))
    small = [Result(1, CLIENT_SERVER, 1.25, 1.0)]
    assert check(small, 8 * MiB)[0].met
    assert not check(small, 8 * MiB + 1)[0].met
    assert check(small, 8 * MiB)[0].text.startswith("client-server within 1.25x")
    assert check([Result(1, P2P, 0.9, 1.0)], F)[-1].met


def test_the_curve_that_does_not_flatten_or_a_client_server_that_does_not_grow() -> None:
    results = sweep()
    flat = check(results, F)[-1]
    assert flat.met
    steep = [
        Result(r.n, r.mode, r.measured_s * (2 if (r.n, r.mode) == (32, P2P) else 1), r.bound_s)
        for r in results
    ]
    assert not check(steep, F)[-1].met  # P2P at 32: 3.6x its time at 4
    for factor in (0.74, 1.26):  # client-server 5.9x, 10.1x
        odd = [
            Result(
                r.n,
                r.mode,
                r.measured_s * (factor if (r.n, r.mode) == (32, CLIENT_SERVER) else 1),
                r.bound_s,
            )
            for r in results
        ]
        assert not check(odd, F)[-1].met
    edge = [
        Result(
            r.n,
            r.mode,
            r.measured_s * (0.75 if (r.n, r.mode) == (32, CLIENT_SERVER) else 1),
            r.bound_s,
        )
        for r in results
    ]
    assert check(edge, F)[-1].met  # exactly 6x
    assert len(check([r for r in results if r.n != 4], F)) == 3  # no N=4: nothing to compare
    assert len(check([r for r in results if r.mode == P2P], F)) == 2


def test_nothing_to_check() -> None:
    assert check([], F) == []


def finish(name: str, rider: bool, t: float | None) -> Finish:
    return Finish(name, rider, t)


def test_free_riders_that_finish_after_every_contributor() -> None:
    v = free_rider_verdict(
        [finish("a", False, 5.0), finish("b", False, 6.5), finish("r", True, 6.6)]
    )
    assert v == Verdict(
        True, "free-riders finish last: the first at 6.60 s, the last contributor at 6.50 s"
    )


def test_a_free_rider_that_beats_a_contributor_or_ties() -> None:
    assert not free_rider_verdict([finish("a", False, 6.5), finish("r", True, 6.0)]).met
    assert not free_rider_verdict([finish("a", False, 6.5), finish("r", True, 6.5)]).met
    v = free_rider_verdict(
        [finish("a", False, 1.0), finish("b", False, 9.0), finish("r", True, 5.0),
         finish("s", True, 10.0)]
    )  # fmt: skip
    assert not v.met and "the first at 5.00 s, the last contributor at 9.00 s" in v.text


def test_free_riders_need_both_kinds_and_every_finish() -> None:
    assert free_rider_verdict([finish("a", False, 1.0)]) == Verdict(
        False, "free-riders: the run needs both free-riders and contributors"
    )
    assert not free_rider_verdict([finish("r", True, 1.0)]).met
    v = free_rider_verdict(
        [finish("a", False, None), finish("b", False, 3.0), finish("r", True, 9.0)]
    )
    assert v == Verdict(False, "free-riders: 1 downloaders never finished")


def test_the_medians_of_free_riders_and_contributors() -> None:
    later = [finish("a", False, 1.0), finish("b", False, 9.0), finish("c", False, 4.0)]
    later += [finish("r", True, 5.0), finish("s", True, 3.5), finish("x", False, None)]
    assert free_rider_medians(later) == Verdict(
        True, "free-riders' median finish 4.25 s, contributors' 4.00 s"
    )
    tie = [finish("a", False, 2.0), finish("r", True, 2.0)]
    assert not free_rider_medians(tie).met
    assert free_rider_medians([finish("a", False, 2.0)]) == Verdict(
        False, "free-riders: no finish to compare"
    )
    assert not free_rider_medians([finish("r", True, 2.0), finish("a", False, None)]).met


def test_the_pieces_each_kind_held_when_the_first_contributor_finished() -> None:
    # a finishes first at 3.0 s with 3 pieces; b had 2 by then, c 1 (its second came at 3.5 s);
    # the free-riders r and s had 1 and 0: a tie at the moment itself counts as held
    finishes = [finish("a", False, 3.0), finish("b", False, 5.0), finish("c", False, 4.0)]
    finishes += [finish("r", True, 2.5), finish("s", True, 6.0), finish("z", False, None)]
    gains = [(0.5, "a", 0), (1.0, "a", 1), (3.0, "a", 2), (1.0, "b", 0), (2.0, "b", 1)]
    gains += [(0.2, "c", 0), (3.5, "c", 1), (2.9, "r", 0), (3.1, "r", 1), (4.0, "s", 0)]
    gains += [(2.0, "z", 0), (2.0, "z", 1), (0.1, "stranger", 0)]
    v = free_rider_progress(finishes, gains)
    assert v == Verdict(
        True,
        "when the first contributor finished (3.00 s), the free-riders held a median of 0.5 "
        "pieces, the contributors 2",
    )
    assert held_at_first_finish(finishes, gains) == Held(3.0, 0.5, 2.0)
    # equal counts are not a sign of tit-for-tat
    even = [(1.0, "a", 0), (1.0, "r", 0)]
    assert not free_rider_progress([finish("a", False, 1.0), finish("r", True, 9.0)], even).met
    # a free-rider's early finish is not the contributors' first
    early = [finish("a", False, 4.0), finish("r", True, 1.0)]
    v = free_rider_progress(early, [(0.5, "r", 0), (1.0, "r", 1), (4.0, "a", 0)])
    assert not v.met and "(4.00 s)" in v.text and "median of 2 pieces, the contributors 1" in v.text


def test_progress_needs_both_kinds_and_a_finished_contributor() -> None:
    nothing = Verdict(False, "free-riders: no contributor finished to compare at")
    assert free_rider_progress([finish("a", False, 1.0)], []) == nothing
    assert free_rider_progress([finish("r", True, 1.0)], []) == nothing
    assert free_rider_progress([finish("a", False, None), finish("r", True, 1.0)], []) == nothing
    assert held_at_first_finish([finish("a", False, 1.0)], []) is None
    assert held_at_first_finish([finish("r", True, 1.0)], []) is None
    assert held_at_first_finish([finish("a", False, None), finish("r", True, 1.0)], []) is None
    # nobody gained anything: zero each, not a missing value
    assert held_at_first_finish([finish("a", False, 1.0), finish("r", True, 2.0)], []) == Held(
        1.0, 0, 0
    )


def test_median() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert median([7.0]) == 7.0


def test_spread_gives_first_median_and_last() -> None:
    assert spread([5.03, 4.1, 4.52]) == "3 finished: 4.10 / 4.52 / 5.03 s (first / median / last)"
    assert spread([2.0, 1.0]) == "2 finished: 1.00 / 1.50 / 2.00 s (first / median / last)"
    assert spread([]) == "none finished"


def test_the_rarest_piece_gains_copies_as_peers_verify_it() -> None:
    gains = [(1.0, "a", 0), (2.0, "b", 1), (3.0, "a", 1), (4.0, "b", 0)]
    assert rarest_availability(2, gains) == [(0.0, 1), (2.0, 2), (4.0, 3)]
    # the last two events at one instant: one point, after both
    assert rarest_availability(1, [(1.0, "a", 0), (1.0, "b", 0)]) == [(0.0, 1), (1.0, 3)]


def test_a_peer_that_gains_and_leaves_at_one_instant_gained_first() -> None:
    points = rarest_availability(1, [(2.0, "a", 0), (1.0, "b", 0)], [(2.0, "a")])
    assert points == [(0.0, 1), (1.0, 2)]  # a's copy came and went at 2.0: nothing shows


def test_a_peer_that_leaves_takes_its_copies_away() -> None:
    gains = [(1.0, "a", 0), (1.0, "a", 1), (2.0, "b", 0), (2.0, "b", 1), (2.5, "a", 0)]
    points = rarest_availability(2, gains, [(3.0, "a"), (5.0, "b")], seeds=2)
    assert points == [(0.0, 2), (1.0, 3), (2.0, 4), (3.0, 3), (5.0, 2)]


def test_gains_count_before_a_loss_at_the_same_time_and_repeats_count_once() -> None:
    gains = [(1.0, "a", 0), (1.0, "a", 0), (1.0, "b", 0), (9.0, "c", 5), (9.0, "c", -1)]
    assert rarest_availability(1, gains, [(1.0, "a")]) == [(0.0, 1), (1.0, 2)]


def test_a_loss_takes_every_piece_of_its_peer_once() -> None:
    gains = [(1.0, "a", 0), (1.0, "a", 1), (1.0, "b", 0), (1.0, "b", 1)]
    points = rarest_availability(2, gains, [(2.0, "a"), (3.0, "a"), (4.0, "z")])
    assert points == [(0.0, 1), (1.0, 3), (2.0, 2)]


def test_no_pieces() -> None:
    assert rarest_availability(0, [], seeds=3) == [(0.0, 3)]
    assert rarest_availability(0, [(1.0, "a", 0)], [(2.0, "a")], seeds=3) == [(0.0, 3)]


def test_events_are_taken_in_time_order() -> None:
    gains = [(4.0, "b", 0), (1.0, "a", 0)]
    assert rarest_availability(1, gains, [(2.0, "a")]) == [(0.0, 1), (1.0, 2), (2.0, 1), (4.0, 2)]


def test_a_churn_plan_moves_a_quarter_and_lets_half_of_the_rest_leave_when_done() -> None:
    plan = churn_plan(32, 14.0, random.Random(3))
    assert len(plan.leave_at) == 8 and len(plan.join_at) == 8
    assert all(0 <= k < 32 for k in plan.leave_at)
    assert sorted(plan.join_at) == list(range(32, 40))
    assert all(0.1 * 14 <= t <= 0.6 * 14 for t in plan.leave_at.values())
    assert all(0.05 * 14 <= t <= 0.5 * 14 for t in plan.join_at.values())
    assert not plan.selfish & set(plan.leave_at)
    assert len(plan.selfish) == 12  # half of the 24 others
    assert plan.stayers == sorted(set(range(40)) - set(plan.leave_at))
    assert churn_plan(32, 14.0, random.Random(3)) == plan  # the rng decides, nothing else


def test_a_churn_plan_moves_at_least_one() -> None:
    plan = churn_plan(2, 10.0, random.Random(1))
    assert len(plan.leave_at) == 1 and list(plan.join_at) == [2]
    assert len(plan.stayers) == 2 and not plan.selfish  # half of 1, rounded down
    assert len(churn_plan(7, 10.0, random.Random(1)).selfish) == 3  # 1 moves; half of 6
    selfish = {churn_plan(16, 10.0, random.Random(s)).selfish for s in range(10)}
    assert len(selfish) > 1  # who is chosen is random


def test_stayers_without_churn() -> None:
    assert ChurnPlan(3, frozenset({1})).stayers == [0, 1, 2]
