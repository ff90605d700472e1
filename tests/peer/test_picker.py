"""The piece picker, step by step: the order of picks, endgame, releases, late blocks, blame."""

from __future__ import annotations

import random

import pytest

from peer.blocks import Block
from peer.picker import (
    ENDGAME_COPIES,
    LATE_MEMORY,
    RANDOM_FIRST,
    Arrival,
    Blame,
    Choice,
    Picker,
    PickerError,
    Received,
)

K = 16384


def make(pieces: int = 4, blocks: int = 2, random_first: int = 0, **kw: int) -> Picker[str]:
    """`pieces` pieces of `blocks` full blocks each."""
    return Picker(
        pieces,
        blocks * K,
        pieces * blocks * K,
        rng=random.Random(0),
        random_first=random_first,
        **kw,
    )


def deliver(pk: Picker[str], peer: str, blocks: list[Block]) -> list[Received[str]]:
    return [pk.received(peer, b) for b in blocks]


def whole(pk: Picker[str], peer: str, index: int) -> None:
    """Fetch every block of a piece from one peer (it must be the only candidate)."""
    got = pk.pick(peer, pk.layout.blocks_in(index), 0.0)
    assert {b.index for b in got} == {index}
    assert deliver(pk, peer, got)[-1].piece_complete


def test_constants() -> None:
    assert (RANDOM_FIRST, ENDGAME_COPIES, LATE_MEMORY) == (4, 2, 1024)


def test_endgame_copies_at_least_one() -> None:
    make(endgame_copies=1)
    with pytest.raises(ValueError, match=r"^endgame_copies must be at least 1$"):
        make(endgame_copies=0)


def test_blocks_of_a_torrent_with_a_short_end() -> None:
    pk: Picker[str] = Picker(2, 2 * K, 3 * K + 5, rng=random.Random(0), random_first=0)
    pk.peer_have_all("s")
    got = pk.pick("s", 10, 0.0)
    assert sorted(got, key=lambda b: (b.index, b.begin)) == [
        Block(0, 0, K),
        Block(0, K, K),
        Block(1, 0, K),
        Block(1, K, 5),
    ]


def test_unknown_or_empty_peer_gets_nothing() -> None:
    pk = make()
    assert pk.pick("x", 5, 0.0) == []
    pk.peer_bitfield("x", [])
    assert pk.pick("x", 5, 0.0) == [] and pk.drain_choices() == []
    assert pk.peers == 1


def test_a_peer_is_asked_only_for_what_it_has() -> None:
    pk = make(pieces=6)
    pk.peer_bitfield("a", [4])
    assert pk.pick("a", 10, 0.0) == [Block(4, 0, K), Block(4, K, K)]
    pk.peer_have("a", 1)
    assert pk.pick("a", 10, 0.0) == [Block(1, 0, K), Block(1, K, K)]
    assert pk.pick("a", 10, 0.0) == []


def test_count_is_respected_and_blocks_go_lowest_first() -> None:
    pk = make(pieces=1, blocks=4)
    pk.peer_have_all("s")
    assert pk.pick("s", 0, 0.0) == []
    assert pk.pick("s", 1, 0.0) == [Block(0, 0, K)]
    assert pk.pick("s", 2, 0.0) == [Block(0, K, K), Block(0, 2 * K, K)]
    assert pk.outstanding("s") == 3 and pk.outstanding("x") == 0


def test_random_first_then_rarest_with_the_counts() -> None:
    pk = make(pieces=8, blocks=1, random_first=2)
    pk.peer_have_all("s")
    pk.peer_bitfield("a", [0, 1, 2, 3, 4, 5, 6])  # piece 7 is the rarest: only the seed
    pk.peer_bitfield("b", [0, 1, 2, 3, 4, 5])  # piece 6: two peers
    first = pk.pick("s", 2, 0.0)
    assert [c.reason for c in pk.drain_choices()] == ["random-first", "random-first"]
    deliver(pk, "s", first)
    pk.verified(first[0].index)
    assert pk.complete == 1
    third = pk.pick("s", 1, 0.0)
    assert pk.drain_choices()[0].reason == "random-first"  # still fewer than 2 complete
    pk.verified(first[1].index)
    assert pk.complete == 2
    deliver(pk, "s", third)
    pk.verified(third[0].index)
    remaining = {7, 6} - {b.index for b in first + third}
    nxt = pk.pick("s", 1, 0.0)
    (choice,) = pk.drain_choices()
    assert choice.reason == "rarest" and choice.index == nxt[0].index
    assert choice.index == min(remaining, key=pk.availability)
    assert choice.availability == pk.availability(choice.index) and choice.peers == 3


def test_choice_records_peer_and_text() -> None:
    pk = make(pieces=3, blocks=1)
    pk.peer_have_all("s")
    pk.peer_bitfield("a", [0, 1])
    pk.peer_bitfield("b", [0])
    assert pk.pick("s", 1, 0.0) == [Block(2, 0, K)]
    assert pk.drain_choices() == [
        Choice(index=2, peer="s", reason="rarest", availability=1, peers=3)
    ]
    assert pk.drain_choices() == []
    assert pk.pick("a", 1, 0.0) == [Block(1, 0, K)]
    (c,) = pk.drain_choices()
    assert c.describe() == "piece 1 chosen: rarest, held by 2 of 3 peers"


def test_random_first_while_fewer_than_four_complete() -> None:
    pk: Picker[str] = Picker(8, K, 8 * K, rng=random.Random(5))
    pk.peer_have_all("s")
    for n in range(5):
        got = pk.pick("s", 1, 0.0)
        (c,) = pk.drain_choices()
        assert c.reason == ("random-first" if n < 4 else "rarest")
        deliver(pk, "s", got)
        pk.verified(got[0].index)


def test_resumed_pieces_count_towards_random_first() -> None:
    pk = make(pieces=4, blocks=1, random_first=1)
    pk.have(0)
    pk.have(0)  # twice: counted once
    assert pk.complete == 1 and pk.wanted == 3
    pk.peer_have_all("s")
    pk.pick("s", 1, 0.0)
    assert pk.drain_choices()[0].reason == "rarest"


def test_resumed_piece_is_never_requested() -> None:
    pk = make(pieces=3, blocks=1)
    pk.have(1)
    pk.peer_have_all("s")
    assert sorted(b.index for b in pk.pick("s", 5, 0.0)) == [0, 2]


@pytest.mark.parametrize("index", [-1, 4])
def test_have_out_of_range(index: int) -> None:
    with pytest.raises(ValueError, match=rf"^piece {index} out of range 0..3$"):
        make().have(index)


def test_have_of_a_piece_being_downloaded() -> None:
    pk = make()
    pk.peer_have_all("s")
    (b,) = pk.pick("s", 1, 0.0)
    with pytest.raises(ValueError, match=f"^piece {b.index} is being downloaded$"):
        pk.have(b.index)


def test_started_pieces_are_finished_first() -> None:
    pk = make(pieces=5, blocks=4)
    pk.peer_have_all("a")
    pk.peer_have_all("b")
    first = pk.pick("a", 1, 0.0)
    assert len(pk.drain_choices()) == 1
    got = pk.pick("b", 3, 0.0)
    index = first[0].index
    assert got == [Block(index, K, K), Block(index, 2 * K, K), Block(index, 3 * K, K)]
    assert pk.drain_choices() == []  # no new piece
    more = pk.pick("b", 2, 0.0)
    assert len({b.index for b in more}) == 1 and more[0].index != index


def test_a_started_piece_is_offered_only_to_peers_that_have_it() -> None:
    pk = make(pieces=2, blocks=2)
    pk.peer_bitfield("a", [0])
    pk.peer_bitfield("b", [1])
    assert pk.pick("a", 1, 0.0) == [Block(0, 0, K)]
    assert pk.pick("b", 1, 0.0) == [Block(1, 0, K)]


def test_interest_and_availability() -> None:
    pk = make(pieces=2, blocks=1)
    assert not pk.interesting("a")
    pk.peer_bitfield("a", [1])
    pk.peer_have_all("s")
    assert pk.interesting("a") and pk.availability(1) == 2 and pk.availability(0) == 1
    whole(pk, "a", 1)
    pk.verified(1)
    assert not pk.interesting("a") and pk.interesting("s")


# ---- receiving ----------------------------------------------------------------------------------


def test_received_block_tells_when_the_piece_is_whole() -> None:
    pk = make(pieces=1, blocks=2)
    pk.peer_have_all("s")
    b0, b1 = pk.pick("s", 2, 0.0)
    assert pk.received("s", b1) == Received(arrival=Arrival.NEW, cancels=(), piece_complete=False)
    assert pk.received("s", b0) == Received(arrival=Arrival.NEW, cancels=(), piece_complete=True)
    assert pk.outstanding("s") == 0
    pk.verified(0)
    assert pk.complete == 1 and pk.wanted == 0 and not pk.endgame


@pytest.mark.parametrize(
    "block", [Block(0, 0, K), Block(0, K, K), Block(1, 0, K), Block(0, 1, K), Block(9, 0, K)]
)
def test_unrequested_block(block: Block) -> None:
    pk = make(pieces=2, blocks=2)
    pk.peer_have_all("s")
    pk.peer_have_all("t")
    assert pk.received("s", Block(0, 0, K)).arrival is Arrival.UNREQUESTED  # no requests yet
    pk.pick("t", 1, 0.0)  # Block(?, 0, K) asked of t, not s
    assert pk.received("s", block).arrival is Arrival.UNREQUESTED
    assert pk.received("nobody", block).arrival is Arrival.UNREQUESTED


def test_a_block_answered_twice_is_unrequested_the_second_time() -> None:
    pk = make(pieces=1, blocks=2)
    pk.peer_have_all("s")
    b0, _ = pk.pick("s", 2, 0.0)
    assert pk.received("s", b0).arrival is Arrival.NEW
    assert pk.received("s", b0).arrival is Arrival.UNREQUESTED


def test_verify_needs_a_whole_piece() -> None:
    pk = make(pieces=2, blocks=2)
    pk.peer_have_all("s")
    b0, _ = pk.pick("s", 2, 0.0)
    deliver(pk, "s", [b0])
    for call in (pk.verified, pk.failed):
        with pytest.raises(ValueError, match=f"^piece {b0.index} has not been received whole$"):
            call(b0.index)
        with pytest.raises(ValueError, match=f"^piece {1 - b0.index} has not been received"):
            call(1 - b0.index)  # not even started


# ---- endgame --------------------------------------------------------------------------------


def endgame_setup() -> Picker[str]:
    """One piece of two blocks, both outstanding with 'a'; 'b' and 'c' have it too."""
    pk = make(pieces=1, blocks=2)
    for p in "abc":
        pk.peer_have_all(p)
    assert not pk.endgame
    assert pk.pick("a", 2, 0.0) == [Block(0, 0, K), Block(0, K, K)]
    pk.drain_choices()
    assert pk.endgame
    return pk


def test_endgame_copies_are_bounded_and_never_to_the_same_peer() -> None:
    pk = endgame_setup()
    assert pk.pick("a", 5, 1.0) == []
    assert pk.pick("b", 1, 1.0) == [Block(0, 0, K)]
    assert pk.drain_choices() == [
        Choice(index=0, peer="b", reason="endgame", availability=3, peers=3)
    ]
    assert pk.pick("b", 5, 1.0) == [Block(0, K, K)]
    assert pk.pick("c", 5, 1.0) == []  # two copies each already
    assert pk.drain_choices()[0].reason == "endgame"
    assert pk.outstanding("a") == pk.outstanding("b") == 2


def test_endgame_with_three_copies() -> None:
    pk = make(pieces=1, blocks=1, endgame_copies=3)
    for p in "abcd":
        pk.peer_have_all(p)
    pk.pick("a", 1, 0.0)
    assert pk.pick("b", 1, 0.0) == pk.pick("c", 1, 0.0) == [Block(0, 0, K)]
    assert pk.pick("d", 1, 0.0) == []


def test_no_endgame_copies_with_one_copy() -> None:
    pk = make(pieces=1, blocks=1, endgame_copies=1)
    pk.peer_have_all("a")
    pk.peer_have_all("b")
    pk.pick("a", 1, 0.0)
    assert pk.endgame and pk.pick("b", 1, 0.0) == []


def test_endgame_copies_only_from_peers_that_have_the_piece() -> None:
    pk = make(pieces=2, blocks=1)
    pk.peer_have_all("a")
    pk.peer_bitfield("b", [1])
    pk.pick("a", 2, 0.0)
    assert pk.endgame
    assert pk.pick("b", 2, 0.0) == [Block(1, 0, K)]


def test_arrival_in_endgame_cancels_the_other_copies() -> None:
    pk = endgame_setup()
    pk.pick("b", 2, 1.0)
    r = pk.received("b", Block(0, K, K))
    assert r == Received(
        arrival=Arrival.NEW, cancels=(("a", Block(0, K, K)),), piece_complete=False
    )
    assert pk.outstanding("a") == 1 and pk.outstanding("b") == 1
    # the cancelled copy may still come: dropped, not a protocol error
    assert pk.received("a", Block(0, K, K)) == Received(arrival=Arrival.DUPLICATE)
    assert pk.received("a", Block(0, K, K)).arrival is Arrival.UNREQUESTED  # only once
    r = pk.received("a", Block(0, 0, K))
    assert r.cancels == (("b", Block(0, 0, K)),) and r.piece_complete
    assert pk.rejected("b", Block(0, 0, K))  # BEP 6 answers a cancel with a reject: fine
    pk.verified(0)
    assert pk.received("b", Block(0, 0, K)).arrival is Arrival.UNREQUESTED


def test_late_copy_after_verification_is_a_duplicate() -> None:
    pk = endgame_setup()
    pk.pick("b", 2, 1.0)
    deliver(pk, "a", [Block(0, 0, K), Block(0, K, K)])
    pk.verified(0)
    assert pk.received("b", Block(0, 0, K)).arrival is Arrival.DUPLICATE


def test_endgame_ends_when_a_block_is_released() -> None:
    pk = endgame_setup()
    assert pk.choked("a") == [Block(0, 0, K), Block(0, K, K)]
    assert not pk.endgame
    assert pk.pick("b", 5, 1.0) == [Block(0, 0, K), Block(0, K, K)]
    assert pk.drain_choices() == []  # started already: no choice to report


def test_no_endgame_while_a_piece_nobody_has_is_missing() -> None:
    pk = make(pieces=2, blocks=1)
    pk.peer_bitfield("a", [0])
    pk.peer_bitfield("b", [0])
    pk.pick("a", 1, 0.0)
    assert not pk.endgame and pk.pick("b", 1, 0.0) == []


# ---- releases -------------------------------------------------------------------------------


def test_expired_at_exactly_the_timeout() -> None:
    pk = make(pieces=1, blocks=3)
    pk.peer_have_all("a")
    pk.peer_have_all("b")
    pk.pick("a", 1, 10.0)
    pk.pick("a", 1, 12.0)
    assert pk.expired(14.9, 5.0) == []
    assert pk.expired(15.0, 5.0) == [("a", Block(0, 0, K))]
    assert pk.outstanding("a") == 1
    assert pk.pick("b", 2, 15.0) == [Block(0, 0, K), Block(0, 2 * K, K)]
    assert pk.expired(16.9, 5.0) == []
    assert pk.expired(17.0, 5.0) == [("a", Block(0, K, K))]


def test_late_block_after_expiry_is_accepted_when_still_missing() -> None:
    pk = make(pieces=1, blocks=2)
    pk.peer_have_all("a")
    pk.peer_have_all("b")
    pk.pick("a", 2, 0.0)
    assert len(pk.expired(9.0, 1.0)) == 2
    assert not pk.endgame
    # block 0 nobody asked again: taken straight from the pool of the piece
    assert pk.received("a", Block(0, 0, K)) == Received(arrival=Arrival.NEW)
    # block 1 given to b meanwhile: the late copy wins, b gets a cancel
    assert pk.pick("b", 5, 9.0) == [Block(0, K, K)]
    assert pk.received("a", Block(0, K, K)) == Received(
        arrival=Arrival.NEW, cancels=(("b", Block(0, K, K)),), piece_complete=True
    )
    assert pk.outstanding("b") == 0
    assert pk.received("b", Block(0, K, K)).arrival is Arrival.DUPLICATE


def test_late_block_that_empties_the_todo_of_a_piece() -> None:
    pk = make(pieces=2, blocks=1)
    pk.peer_have_all("a")
    (first,) = pk.pick("a", 1, 0.0)
    pk.expired(5.0, 1.0)
    assert not pk.endgame
    assert pk.received("a", first).piece_complete
    assert pk.pick("a", 1, 5.0) == [Block(1 - first.index, 0, K)]
    assert pk.endgame  # the other piece outstanding, nothing left to ask


def test_late_memory_is_bounded() -> None:
    blocks = LATE_MEMORY + 1
    pk = make(pieces=1, blocks=blocks)
    pk.peer_have_all("a")
    pk.pick("a", blocks, 0.0)
    pk.expired(1.0, 1.0)
    assert pk.received("a", Block(0, 0, K)).arrival is Arrival.UNREQUESTED  # forgotten
    assert pk.received("a", Block(0, K, K)).arrival is Arrival.NEW  # the oldest remembered
    last = Block(0, LATE_MEMORY * K, K)
    assert pk.received("a", last).arrival is Arrival.NEW


def test_late_memory_keeps_exactly_its_size() -> None:
    pk = make(pieces=1, blocks=LATE_MEMORY)
    pk.peer_have_all("a")
    pk.pick("a", LATE_MEMORY, 0.0)
    pk.choked("a")
    assert pk.received("a", Block(0, 0, K)).arrival is Arrival.NEW


def test_rejected() -> None:
    pk = make(pieces=1, blocks=2)
    pk.peer_have_all("a")
    assert not pk.rejected("nobody", Block(0, 0, K))
    b0, _ = pk.pick("a", 2, 0.0)
    assert not pk.rejected("a", Block(0, 0, 5))  # never asked
    assert pk.rejected("a", b0)
    assert not pk.rejected("a", b0)  # not twice
    assert pk.outstanding("a") == 1
    assert pk.received("a", b0).arrival is Arrival.UNREQUESTED  # a rejected block is not late
    assert pk.pick("a", 5, 0.0) == [b0]


def test_choked_releases_everything_and_keeps_it_as_late() -> None:
    pk = make(pieces=1, blocks=2)
    pk.peer_have_all("a")
    assert pk.choked("a") == [] and pk.choked("nobody") == []
    b0, b1 = pk.pick("a", 2, 0.0)
    assert pk.choked("a") == [b0, b1] and pk.outstanding("a") == 0
    assert pk.received("a", b1).arrival is Arrival.NEW  # was in flight
    assert pk.pick("a", 5, 0.0) == [b0]


def test_peer_left_releases_exactly_its_requests() -> None:
    pk = make(pieces=2, blocks=2)
    pk.peer_have_all("a")
    pk.peer_bitfield("b", [0, 1])
    got_a = pk.pick("a", 3, 0.0)
    got_b = pk.pick("b", 1, 0.0)
    assert pk.peer_left("a") == got_a
    assert pk.peers == 1 and pk.availability(0) == 1 and pk.outstanding("a") == 0
    assert pk.outstanding("b") == 1
    assert sorted(pk.pick("b", 5, 0.0), key=lambda b: (b.index, b.begin)) == sorted(
        got_a, key=lambda b: (b.index, b.begin)
    )
    assert got_b[0] not in got_a
    assert pk.peer_left("a") == []
    assert pk.received("a", got_a[0]).arrival is Arrival.UNREQUESTED


def test_peer_left_without_availability() -> None:
    pk = make()
    assert pk.peer_left("x") == []
    pk.peer_bitfield("x", [1])
    pk.peer_left("x")
    assert pk.availability(1) == 0 and pk.peers == 0


def test_remote_index_error_reaches_the_shell() -> None:
    pk = make()
    with pytest.raises(PickerError, match="piece 4"):
        pk.peer_have("a", 4)
    with pytest.raises(PickerError, match="piece 7"):
        pk.peer_bitfield("a", [7])


# ---- blame ----------------------------------------------------------------------------------


def test_one_contributor_is_the_culprit() -> None:
    pk = make(pieces=1, blocks=2)
    pk.peer_have_all("a")
    pk.peer_have_all("b")
    whole(pk, "a", 0)
    assert pk.failed(0) == Blame(index=0, culprit="a", contributors=("a",), retry_with=None)
    assert pk.complete == 0 and not pk.endgame
    # not solo: both peers may share the next attempt
    assert pk.pick("a", 1, 0.0) == [Block(0, 0, K)]
    assert pk.pick("b", 1, 0.0) == [Block(0, K, K)]


def test_several_contributors_nobody_blamed_retry_with_the_biggest() -> None:
    pk = make(pieces=1, blocks=3)
    for p in "abc":
        pk.peer_have_all(p)
    a = pk.pick("a", 1, 0.0)
    b = pk.pick("b", 2, 0.0)
    deliver(pk, "b", b)
    assert deliver(pk, "a", a)[0].piece_complete
    assert pk.failed(0) == Blame(index=0, culprit=None, contributors=("a", "b"), retry_with="b")
    assert pk.pick("a", 3, 0.0) == [] and pk.pick("c", 3, 0.0) == []  # reserved for b
    assert not pk.endgame
    got = pk.pick("b", 3, 0.0)
    assert got == [Block(0, 0, K), Block(0, K, K), Block(0, 2 * K, K)]
    assert pk.pick("c", 3, 0.0) == []  # solo: no endgame copies either
    deliver(pk, "b", got)
    assert pk.failed(0) == Blame(index=0, culprit="b", contributors=("b",), retry_with=None)


def test_tie_goes_to_the_contributor_of_the_lowest_block() -> None:
    pk = make(pieces=1, blocks=2)
    for p in "ab":
        pk.peer_have_all(p)
    b = pk.pick("b", 1, 0.0)
    a = pk.pick("a", 1, 0.0)
    deliver(pk, "a", a)
    deliver(pk, "b", b)
    assert pk.failed(0).retry_with == "b" and b == [Block(0, 0, K)]


def test_retry_goes_to_any_single_peer_when_the_contributor_left() -> None:
    pk = make(pieces=1, blocks=2)
    for p in "abc":
        pk.peer_have_all(p)
    a = pk.pick("a", 1, 0.0)
    b = pk.pick("b", 1, 0.0)
    deliver(pk, "a", a)
    deliver(pk, "b", b)
    pk.peer_left("a")
    assert pk.failed(0) == Blame(index=0, culprit=None, contributors=("a", "b"), retry_with=None)
    first = pk.pick("c", 1, 0.0)
    assert first == [Block(0, 0, K)] and pk.drain_choices()[-1].peer == "c"
    assert pk.pick("b", 2, 0.0) == []  # c owns this attempt
    assert pk.pick("c", 2, 0.0) == [Block(0, K, K)]


def test_retry_not_reserved_for_a_contributor_without_the_piece() -> None:
    pk = make(pieces=1, blocks=2)
    pk.peer_have_all("a")
    pk.peer_bitfield("b", [0])
    a = pk.pick("a", 1, 0.0)
    b = pk.pick("b", 1, 0.0)
    deliver(pk, "a", a)
    deliver(pk, "b", b)
    pk.peer_bitfield("a", [])  # now says it has nothing
    assert pk.failed(0).retry_with is None


def two_way_failure() -> Picker[str]:
    """Piece 0 of 2 blocks failed after one block from a and one from b: reserved for a."""
    pk = make(pieces=1, blocks=2)
    for p in "abc":
        pk.peer_have_all(p)
    a = pk.pick("a", 1, 0.0)
    b = pk.pick("b", 1, 0.0)
    deliver(pk, "a", a)
    deliver(pk, "b", b)
    assert pk.failed(0).retry_with == "a"
    return pk


def test_reservation_idle_for_the_timeout_opens_to_any_single_peer() -> None:
    pk = two_way_failure()
    assert pk.expired(100.0, 10.0) == []  # idle from now
    assert pk.expired(109.9, 10.0) == [] and pk.pick("c", 2, 110.0) == []
    pk.expired(110.0, 10.0)
    assert pk.pick("c", 1, 110.0) == [Block(0, 0, K)]
    assert pk.drain_choices()[-1].reason == "rarest"
    assert pk.pick("a", 2, 110.0) == []  # c owns it now


def test_busy_owner_is_not_idle() -> None:
    pk = two_way_failure()
    got = pk.pick("a", 1, 0.0)
    pk.expired(1.0, 100.0)
    pk.expired(500.0, 1000.0)  # a's request is outstanding: busy
    deliver(pk, "a", got)
    pk.expired(501.0, 1000.0)  # idle from 501
    pk.expired(1500.0, 1000.0)
    assert pk.pick("c", 1, 1500.0) == []
    pk.expired(1501.0, 1000.0)
    assert pk.pick("c", 1, 1501.0) == [Block(0, 0, K)]  # the attempt was dropped: start over


def test_owner_that_left_drops_the_attempt() -> None:
    pk = two_way_failure()
    got = pk.pick("a", 1, 0.0)
    deliver(pk, "a", got)
    assert pk.peer_left("a") == []
    assert pk.pick("b", 5, 0.0) == [Block(0, 0, K), Block(0, K, K)]  # from scratch, b alone
    assert pk.pick("c", 5, 0.0) == []


def test_whole_solo_piece_is_not_dropped() -> None:
    pk = two_way_failure()
    deliver(pk, "a", pk.pick("a", 2, 0.0))
    pk.expired(0.0, 1.0)
    pk.expired(10.0, 1.0)  # whole, waiting for its hash: never idle
    pk.peer_left("a")
    assert pk.failed(0).culprit == "a"


def test_late_block_from_a_non_owner_of_a_solo_piece() -> None:
    pk = make(pieces=1, blocks=2)
    for p in "ab":
        pk.peer_have_all(p)
    a = pk.pick("a", 1, 0.0)
    b = pk.pick("b", 1, 0.0)
    deliver(pk, "a", a)
    deliver(pk, "b", b)
    pk.failed(0)  # reserved for a
    got = pk.pick("a", 2, 1.0)
    assert pk.pick("b", 2, 1.0) == []
    pk.peer_have_all("c")
    pk.expired(5.0, 4.0)  # a's requests released
    assert pk.received("a", got[0]).arrival is Arrival.NEW  # the owner's late block: kept
    pk.choked("a")


def test_verified_solo_piece_completes() -> None:
    pk = two_way_failure()
    deliver(pk, "a", pk.pick("a", 2, 0.0))
    pk.verified(0)
    assert pk.complete == 1 and pk.expired(100.0, 1.0) == []


def test_block_size_is_the_pickers() -> None:
    pk: Picker[str] = Picker(2, 8, 13, rng=random.Random(0), random_first=0, block=4)
    pk.peer_have_all("s")
    got = pk.pick("s", 9, 0.0)
    assert sorted(got, key=lambda b: (b.index, b.begin)) == [
        Block(0, 0, 4),
        Block(0, 4, 4),
        Block(1, 0, 4),
        Block(1, 4, 1),
    ]


def test_a_short_last_piece_has_fewer_blocks() -> None:
    pk: Picker[str] = Picker(2, 2 * K, 2 * K + 5, rng=random.Random(0), random_first=0)
    pk.peer_bitfield("s", [1])
    assert pk.pick("s", 9, 0.0) == [Block(1, 0, 5)]
    assert pk.received("s", Block(1, 0, 5)).piece_complete


def test_a_block_asked_again_is_no_longer_late() -> None:
    pk = make(pieces=1, blocks=2)
    pk.peer_have_all("a")
    b0, _ = pk.pick("a", 2, 0.0)
    pk.choked("a")
    assert pk.pick("a", 1, 1.0) == [b0]
    assert pk.received("a", b0).arrival is Arrival.NEW
    assert pk.received("a", b0).arrival is Arrival.UNREQUESTED


def test_endgame_copies_time_out_too() -> None:
    pk = endgame_setup()
    pk.pick("b", 1, 5.0)
    assert pk.expired(5.0, 5.0) == [("a", Block(0, 0, K)), ("a", Block(0, K, K))]
    assert pk.expired(10.0, 5.0) == [("b", Block(0, 0, K))]


def test_a_solo_piece_that_names_its_culprit_is_shared_again() -> None:
    pk = two_way_failure()
    deliver(pk, "a", pk.pick("a", 2, 0.0))
    assert pk.failed(0).culprit == "a"
    assert pk.pick("b", 1, 0.0) == [Block(0, 0, K)]
    assert pk.pick("c", 1, 0.0) == [Block(0, K, K)]
