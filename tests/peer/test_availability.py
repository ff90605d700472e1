"""Availability counts from bitfields, haves and have-all, and the rarest piece a peer can give."""

from __future__ import annotations

import random

import pytest

from peer.availability import Availability, PickerError


def check(av: Availability[str]) -> None:
    """The counts match the peers, and every pooled piece sits in the bucket of its count."""
    for index in range(av.num_pieces):
        held = sum(1 for st in av.peers.values() if not st.all and st.have[index])
        assert av.counts[index] == held
        if av.slot[index] >= 0:
            assert av.buckets[held][av.slot[index]] == index
    assert av.seeds == sum(1 for st in av.peers.values() if st.all)
    pooled = sorted(i for bucket in av.buckets for i in bucket)
    assert pooled == [i for i in range(av.num_pieces) if av.slot[i] >= 0]
    assert av.pooled == len(pooled)
    for st in av.peers.values():
        assert st.lacking == sum(1 for i in st.pieces() if not av.done[i])


def test_counts_follow_bitfields_haves_and_seeds() -> None:
    av: Availability[str] = Availability(5)
    av.bitfield("a", [0, 2, 2])
    av.bitfield("b", [2, 4])
    av.have("b", 0)
    av.have("b", 0)  # repeated: no change
    av.have_all("s")
    av.have("s", 1)  # from a seed: no change
    assert [av.of(i) for i in range(5)] == [3, 1, 3, 1, 2]
    assert av.counts == [2, 0, 2, 0, 1] and av.seeds == 1
    check(av)
    av.forget("b")
    assert [av.of(i) for i in range(5)] == [2, 1, 2, 1, 1]
    av.forget("s")
    assert av.counts == [1, 0, 1, 0, 0] and av.seeds == 0
    check(av)
    assert set(av.peers) == {"a"}


def test_have_from_unknown_peer_registers_it() -> None:
    av: Availability[str] = Availability(3)
    av.have("a", 2)
    assert av.holds("a", 2) and not av.holds("a", 1) and not av.holds("x", 2)
    check(av)


def test_bitfield_replaces_what_the_peer_said() -> None:
    av: Availability[str] = Availability(4)
    av.bitfield("a", [0, 1])
    assert av.peers["a"].all is False  # a flag, not merely something falsy
    av.bitfield("a", [1, 3])
    assert av.counts == [0, 1, 0, 1]
    av.have_all("a")
    assert av.counts == [0, 0, 0, 0] and av.seeds == 1 and av.peers["a"].all is True
    av.bitfield("a", [2])
    assert av.counts == [0, 0, 1, 0] and av.seeds == 0 and av.peers["a"].all is False
    av.have_all("a")
    av.have_all("a")  # twice: still one seed
    assert av.seeds == 1
    av.bitfield("a", [])  # BEP 6 have-none
    assert av.counts == [0, 0, 0, 0] and av.seeds == 0 and av.peers["a"].lacking == 0
    check(av)


@pytest.mark.parametrize("index", [-1, 4])
def test_index_outside_the_torrent_is_the_peers_fault(index: int) -> None:
    av: Availability[str] = Availability(4)
    with pytest.raises(
        PickerError,
        match=rf"^peer 'a' says it has piece {index}, but the torrent's pieces are 0..3$",
    ) as err:
        av.have("a", index)
    assert err.value.reason == str(err.value)
    av.bitfield("a", [1])
    with pytest.raises(PickerError, match=rf"^peer 'a' says it has piece {index}, but"):
        av.bitfield("a", [0, index])
    assert av.counts == [0, 1, 0, 0]  # a refused bitfield changes nothing


def test_edges_of_the_index_range_are_accepted() -> None:
    av: Availability[str] = Availability(4)
    av.have("a", 0)
    av.have("a", 3)
    assert av.counts == [1, 0, 0, 1]


def test_interest() -> None:
    av: Availability[str] = Availability(3)
    assert not av.interesting("nobody")
    av.bitfield("a", [1])
    av.have_all("s")
    av.bitfield("n", [])
    assert av.interesting("a") and av.interesting("s") and not av.interesting("n")
    av.withdraw(1)
    av.completed(1)
    assert not av.interesting("a") and av.interesting("s")
    av.have("n", 1)  # a piece we have already: still nothing for us
    assert not av.interesting("n") and av.peers["n"].lacking == 0
    av.have("n", 0)
    assert av.interesting("n")
    for i in (0, 2):
        av.withdraw(i)
        av.completed(i)
    assert not av.interesting("s")
    check(av)


def test_withdraw_and_restore_keep_the_buckets() -> None:
    av: Availability[str] = Availability(6)
    av.bitfield("a", [0, 1, 2])
    av.withdraw(1)
    av.withdraw(5)
    assert av.pooled == 4 and av.slot[1] == -1 and av.slot[5] == -1
    av.have("b", 1)  # counted while out of the pool
    av.restore(1)
    assert av.counts[1] == 2 and 1 in av.buckets[2]
    check(av)
    av.withdraw(0)  # the last of bucket 1 is not 0: a swap
    check(av)


def test_rarest_for_a_seed_is_in_the_lowest_bucket() -> None:
    av: Availability[str] = Availability(4)
    av.have_all("s")
    av.bitfield("a", [0, 1, 2])
    av.bitfield("b", [0, 2, 3])
    # counts: 0 -> 2, 1 -> 1, 2 -> 2, 3 -> 1; nothing at 0
    picks = {av.rarest_piece("s", random.Random(seed)) for seed in range(40)}
    assert picks == {1, 3}
    av.bitfield("b", [0, 1, 2, 3])
    assert av.rarest_piece("s", random.Random(0)) == 3  # count 1 alone
    av.bitfield("a", [])
    assert av.counts == [1, 1, 1, 1]
    assert {av.rarest_piece("s", random.Random(seed)) for seed in range(40)} == {0, 1, 2, 3}


def test_rarest_for_a_seed_includes_pieces_no_one_else_has() -> None:
    av: Availability[str] = Availability(3)
    av.have_all("s")
    av.bitfield("a", [0, 1])
    assert av.rarest_piece("s", random.Random(1)) == 2


def test_rarest_for_a_partial_peer_is_among_its_pieces() -> None:
    av: Availability[str] = Availability(6)
    av.bitfield("a", [0, 1, 2, 3])
    av.bitfield("b", [2, 3, 4])
    av.bitfield("c", [3, 4, 5])
    # counts: 1 1 2 3 2 1
    assert {av.rarest_piece("a", random.Random(s)) for s in range(40)} == {0, 1}
    assert {av.rarest_piece("b", random.Random(s)) for s in range(40)} == {2, 4}
    assert av.rarest_piece("c", random.Random(0)) == 5
    av.withdraw(5)
    assert av.rarest_piece("c", random.Random(0)) == 4
    av.withdraw(4)
    assert av.rarest_piece("c", random.Random(0)) == 3
    av.withdraw(3)
    assert av.rarest_piece("c", random.Random(0)) is None
    assert av.rarest_piece("nobody", random.Random(0)) is None


def test_rarest_scans_the_whole_bucket_from_a_random_start() -> None:
    av: Availability[str] = Availability(10)
    av.bitfield("x", range(10))
    av.bitfield("a", [0])  # bucket 1 holds 1..9 (only x), piece 0 is in bucket 2
    av.bitfield("a", [9])  # piece 9 -> bucket 2, 0 back to bucket 1
    assert {av.rarest_piece("a", random.Random(s)) for s in range(30)} == {9}
    av.have("a", 4)
    assert {av.rarest_piece("a", random.Random(s)) for s in range(30)} == {4, 9}


def test_random_piece() -> None:
    av: Availability[str] = Availability(5)
    assert av.random_piece("s", random.Random(0)) is None  # unknown peer
    av.have_all("s")
    av.bitfield("a", [1, 3])
    av.bitfield("b", [3])
    assert {av.random_piece("s", random.Random(k)) for k in range(60)} == {0, 1, 2, 3, 4}
    assert {av.random_piece("a", random.Random(k)) for k in range(40)} == {1, 3}
    av.withdraw(3)
    assert {av.random_piece("a", random.Random(k)) for k in range(10)} == {1}
    assert av.random_piece("b", random.Random(0)) is None
    for i in (0, 1, 2, 4):
        av.withdraw(i)
    assert av.random_piece("s", random.Random(0)) is None


def test_random_piece_for_a_seed_is_uniform_over_the_buckets() -> None:
    av: Availability[str] = Availability(3)
    av.have_all("s")
    av.bitfield("a", [2])
    seen = [av.random_piece("s", random.Random(k)) for k in range(300)]
    assert all(60 < seen.count(i) < 140 for i in range(3))


def test_a_partial_peer_skips_the_pieces_nobody_but_seeds_has() -> None:
    """Bucket 0 cannot hold a piece of a peer without have-all: it is not searched, so the
    first random draw is the start in bucket 1 (a twin generator predicts the choice)."""
    av: Availability[str] = Availability(4)
    av.bitfield("a", [0, 1, 2])  # bucket 0: [3], bucket 1: [0, 1, 2]
    assert av.buckets[:2] == [[3], [0, 1, 2]]
    for seed in range(20):
        twin = random.Random(seed)
        assert av.rarest_piece("a", random.Random(seed)) == twin.randrange(3)
