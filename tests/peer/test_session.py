"""One peer connection's rules: bitfields that only add, the Fast Extension's messages only when
both sides speak it, requests inside their piece and for pieces we have, pieces only for requests
(late ones accepted), chokes with and without the Fast Extension, and the queue's bound."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peer.bitfield import Bitfield
from peer.session import (
    MAX_QUEUE,
    Block,
    Choked,
    Dropped,
    Has,
    InterestChanged,
    PeerSession,
    Rejected,
    Unchoked,
)
from peer.wire import (
    AllowedFast,
    BitfieldMsg,
    Cancel,
    Choke,
    Extended,
    Have,
    HaveAll,
    HaveNone,
    Interested,
    KeepAlive,
    NotInterested,
    Piece,
    Port,
    Reject,
    Request,
    Suggest,
    Unchoke,
    WireError,
)

PIECES = 10
PIECE = 32768  # two 16 KiB blocks; the last piece is 1000 bytes


def size(index: int) -> int:
    return 1000 if index == PIECES - 1 else PIECE


def session(*, fast: bool = False, have: tuple[int, ...] = (0, 1, 9)) -> PeerSession:
    ours = Bitfield(PIECES)
    for i in have:
        ours.add(i)
    return PeerSession(ours, size, fast=fast)


def unchoked(s: PeerSession) -> PeerSession:
    assert s.receive(Unchoke()) == ([Unchoked()], [])
    return s


# -- what the other peer has ---------------------------------------------------------------------


def test_a_bitfield_first_then_haves() -> None:
    s = session()
    assert s.receive(BitfieldMsg(bytes([0b10100000, 0b01000000]))) == ([Has((0, 2, 9))], [])
    assert s.receive(Have(5)) == ([Has((5,))], [])
    assert s.receive(Have(5)) == ([], [])  # known already: nothing new
    assert list(s.theirs) == [0, 2, 5, 9]


def test_an_empty_bitfield_says_nothing() -> None:
    s = session()
    assert s.receive(BitfieldMsg(bytes(2))) == ([], [])
    assert s.receive(Have(1)) == ([Has((1,))], [])


@pytest.mark.parametrize("before", [KeepAlive(), Extended(0, b"d1:md1:xi1eee"), Port(6881)])
def test_a_bitfield_may_follow_keepalives_an_extension_handshake_and_a_port(
    before: object,
) -> None:
    s = session()
    assert s.receive(before) == ([], [])
    assert s.receive(before) == ([], [])
    assert s.receive(BitfieldMsg(bytes([0x80, 0]))) == ([Has((0,))], [])


def test_a_later_bitfield_adds_what_it_adds() -> None:
    # aria2 1.36 sends a bitfield again in place of a run of haves
    s = session(fast=True)
    assert s.receive(HaveNone()) == ([], [])
    assert s.receive(Have(1)) == ([Has((1,))], [])
    assert s.receive(BitfieldMsg(bytes([0b01100000, 0b01000000]))) == ([Has((2, 9))], [])
    assert s.receive(BitfieldMsg(bytes([0b01000000, 0]))) == ([], [])  # nothing is ever lost
    assert list(s.theirs) == [1, 2, 9]
    assert s.receive(HaveNone()) == ([], [])
    assert s.receive(HaveAll()) == ([Has((0, 3, 4, 5, 6, 7, 8))], [])
    assert s.theirs.complete
    assert s.receive(HaveAll()) == ([], [])


def test_have_all_and_have_none_with_the_fast_extension() -> None:
    s = session(fast=True)
    assert s.receive(HaveAll()) == ([Has(tuple(range(PIECES)))], [])
    assert s.theirs.complete
    t = session(fast=True)
    assert t.receive(HaveNone()) == ([], [])
    assert t.theirs.count == 0
    assert t.receive(Have(3)) == ([Has((3,))], [])


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (HaveAll(), "^have-all without the Fast Extension$"),
        (HaveNone(), "^have-none without the Fast Extension$"),
        (Suggest(1), "^suggest without the Fast Extension$"),
        (AllowedFast(1), "^allowed-fast without the Fast Extension$"),
        (Reject(0, 0, 16384), "^reject without the Fast Extension$"),
    ],
)
def test_fast_messages_need_the_fast_extension(msg: object, message: str) -> None:
    with pytest.raises(WireError, match=message):
        session().receive(msg)


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (Suggest(10), "^suggest of piece 10: no such piece$"),
        (AllowedFast(10), "^allowed-fast of piece 10: no such piece$"),
        (Have(10), "10"),
        (BitfieldMsg(bytes(1)), "."),
        (BitfieldMsg(bytes([0, 0x01])), "."),
    ],
)
def test_indexes_and_bitfields_out_of_range(msg: object, message: str) -> None:
    with pytest.raises(WireError, match=message):
        session(fast=True).receive(msg)


def test_hints_are_accepted_and_change_nothing() -> None:
    s = session(fast=True)
    assert s.receive(Suggest(0)) == ([], [])
    assert s.receive(AllowedFast(9)) == ([], [])
    assert s.theirs.count == 0


def test_a_message_that_is_not_one_is_our_bug() -> None:
    with pytest.raises(TypeError, match="not a peer message"):
        session().receive(object())


# -- flags ---------------------------------------------------------------------------------------


def test_interest_and_choking_events_only_on_change() -> None:
    s = session()
    assert s.receive(NotInterested()) == ([], [])
    assert s.receive(Interested()) == ([InterestChanged(True)], [])
    assert s.receive(Interested()) == ([], [])
    assert s.receive(NotInterested()) == ([InterestChanged(False)], [])
    assert s.receive(Choke()) == ([], [])  # choked from the start
    assert s.receive(Unchoke()) == ([Unchoked()], [])
    assert s.peer_choking is False
    assert s.receive(Unchoke()) == ([], [])
    assert s.receive(Choke()) == ([Choked()], [])
    assert s.peer_choking and not s.peer_interested


def test_our_flags_send_only_changes() -> None:
    s = session()
    assert s.choke() == []
    assert s.unchoke() == [Unchoke()]
    assert s.am_choking is False
    assert s.unchoke() == []
    assert s.interested(False) == []
    assert s.interested(True) == [Interested()]
    assert s.interested(True) == []
    assert s.interested(False) == [NotInterested()]
    assert s.choke() == [Choke()]
    assert s.am_choking and not s.am_interested


# -- its requests --------------------------------------------------------------------------------


def test_requests_queue_in_order_while_unchoked() -> None:
    s = session()
    s.unchoke()
    assert s.receive(Request(0, 16384, 16384)) == ([], [])
    assert s.receive(Request(9, 0, 1000)) == ([], [])
    assert s.next_upload() == (0, 16384, 16384)
    assert s.next_upload() == (9, 0, 1000)
    assert s.next_upload() is None


@pytest.mark.parametrize("fast", [False, True])
def test_a_block_taken_but_not_sent_before_a_choke_is_rejected_to_a_fast_peer(fast: bool) -> None:
    s = session(fast=fast)
    s.unchoke()
    s.receive(Request(0, 0, 16384))
    s.receive(Request(0, 16384, 16384))
    ref = s.next_upload()  # the shell reads and paces it; meanwhile, we choke
    assert s.choke() == [Choke()] + ([Reject(0, 16384, 16384)] if fast else [])
    assert ref is not None
    assert s.withdrawn(ref) == ([Reject(0, 0, 16384)] if fast else [])


@pytest.mark.parametrize("fast", [False, True])
def test_requests_while_we_choke_are_ignored_or_rejected(fast: bool) -> None:
    s = session(fast=fast)
    assert s.receive(Request(0, 0, 16384)) == ([], [Reject(0, 0, 16384)] if fast else [])
    assert s.next_upload() is None


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Request(2, 0, 16384), r"^request for piece 2, which we do not have$"),
        (Request(0, 16385, 16384), r"^request past the end of piece 0 \(16385\+16384 > 32768\)$"),
        (Request(9, 0, 1001), r"^request past the end of piece 9 \(0\+1001 > 1000\)$"),
        (Request(10, 0, 1), "10"),
    ],
)
def test_requests_that_break_the_rules(request_: Request, message: str) -> None:
    s = session()
    s.unchoke()
    with pytest.raises(WireError, match=message):
        s.receive(request_)


def test_a_request_up_to_the_piece_end_is_fine() -> None:
    s = session()
    s.unchoke()
    assert s.receive(Request(0, 16384, 16384)) == ([], [])
    assert s.receive(Request(9, 999, 1)) == ([], [])
    assert list(s.queue) == [(0, 16384, 16384), (9, 999, 1)]


@pytest.mark.parametrize("fast", [False, True])
def test_the_queue_is_bounded(fast: bool) -> None:
    s = session(fast=fast)
    s.unchoke()
    for n in range(MAX_QUEUE):
        assert s.receive(Request(0, n % 2 * 16384, 16384)) == ([], [])
    extra = Request(1, 0, 16384)
    assert s.receive(extra) == ([], [Reject(1, 0, 16384)] if fast else [])
    assert len(s.queue) == MAX_QUEUE == 256
    s.next_upload()
    assert s.receive(extra) == ([], [])
    assert s.queue[-1] == (1, 0, 16384)


@pytest.mark.parametrize("fast", [False, True])
def test_its_cancel(fast: bool) -> None:
    s = session(fast=fast)
    s.unchoke()
    s.receive(Request(0, 0, 16384))
    s.receive(Request(1, 0, 16384))
    assert s.receive(Cancel(0, 0, 16384)) == ([], [Reject(0, 0, 16384)] if fast else [])
    assert s.receive(Cancel(0, 0, 16384)) == ([], [])  # gone already
    assert s.receive(Cancel(7, 0, 5)) == ([], [])  # never queued (served, say)
    assert list(s.queue) == [(1, 0, 16384)]


@pytest.mark.parametrize("fast", [False, True])
def test_choking_it_drops_its_queue(fast: bool) -> None:
    s = session(fast=fast)
    s.unchoke()
    s.receive(Request(0, 0, 16384))
    s.receive(Request(9, 0, 1000))
    rejects = [Reject(0, 0, 16384), Reject(9, 0, 1000)] if fast else []
    assert s.choke() == [Choke(), *rejects]
    assert s.next_upload() is None


# -- our requests --------------------------------------------------------------------------------


def test_a_piece_answers_our_request_once() -> None:
    s = unchoked(session())
    assert s.request(3, 0, 16384) == [Request(3, 0, 16384)]
    data = bytes(16384)
    assert s.receive(Piece(3, 0, data)) == ([Block(3, 0, data)], [])
    assert not s.requested
    with pytest.raises(WireError, match=r"^piece 3 at 0 \(16384 bytes\) was never requested$"):
        s.receive(Piece(3, 0, data))


def test_a_piece_of_another_length_is_not_the_one_requested() -> None:
    s = unchoked(session())
    s.request(3, 0, 16384)
    with pytest.raises(WireError, match=r"piece 3 at 0 \(100 bytes\) was never requested"):
        s.receive(Piece(3, 0, bytes(100)))


def test_we_request_only_when_unchoked_and_once() -> None:
    s = session()
    with pytest.raises(ValueError, match="peer choked us: cannot request piece 3 at 0"):
        s.request(3, 0, 16384)
    unchoked(s)
    s.request(3, 0, 16384)
    with pytest.raises(ValueError, match="piece 3 at 0 is already requested from this peer"):
        s.request(3, 0, 16384)


def test_a_cancelled_block_may_still_come_late_once() -> None:
    s = unchoked(session())
    s.request(3, 16384, 16384)
    assert s.cancel(3, 16384, 16384) == [Cancel(3, 16384, 16384)]
    assert s.cancel(3, 16384, 16384) == []  # not outstanding any more
    assert s.cancel(4, 0, 16384) == []
    data = b"x" * 16384
    assert s.receive(Piece(3, 16384, data)) == ([Block(3, 16384, data, late=True)], [])
    with pytest.raises(WireError, match="never requested"):
        s.receive(Piece(3, 16384, data))


def test_asking_again_after_a_cancel_makes_it_a_request_again() -> None:
    s = unchoked(session())
    s.request(3, 0, 16384)
    s.cancel(3, 0, 16384)
    s.request(3, 0, 16384)
    data = bytes(16384)
    assert s.receive(Piece(3, 0, data)) == ([Block(3, 0, data)], [])
    with pytest.raises(WireError, match="never requested"):
        s.receive(Piece(3, 0, data))


def test_a_choke_without_the_fast_extension_drops_our_requests() -> None:
    s = unchoked(session())
    s.request(4, 16384, 16384)
    s.request(4, 0, 16384)
    assert s.receive(Choke()) == ([Choked(), Dropped(((4, 0, 16384), (4, 16384, 16384)))], [])
    assert not s.requested
    data = bytes(16384)
    assert s.receive(Piece(4, 0, data)) == ([Block(4, 0, data, late=True)], [])  # crossed


def test_a_choke_with_the_fast_extension_keeps_them_until_rejected() -> None:
    s = unchoked(session(fast=True))
    s.request(4, 0, 16384)
    s.request(5, 0, 16384)
    assert s.receive(Choke()) == ([Choked()], [])
    assert s.requested == {(4, 0, 16384), (5, 0, 16384)}
    assert s.receive(Reject(4, 0, 16384)) == ([Rejected((4, 0, 16384))], [])
    with pytest.raises(WireError, match=r"^reject of piece 4 at 0: not requested$"):
        s.receive(Reject(4, 0, 16384))
    data = bytes(16384)
    assert s.receive(Piece(5, 0, data)) == ([Block(5, 0, data)], [])  # still ours


def test_a_cancel_answered_with_a_reject() -> None:
    # BEP 6: a cancelled request is answered with its piece or a reject (endgame cancels)
    s = unchoked(session(fast=True))
    s.request(4, 0, 16384)
    s.cancel(4, 0, 16384)
    assert s.receive(Reject(4, 0, 16384)) == ([], [])  # nothing to tell the picker: released
    with pytest.raises(WireError, match=r"^reject of piece 4 at 0: not requested$"):
        s.receive(Reject(4, 0, 16384))  # once only
    with pytest.raises(WireError, match="never requested"):
        s.receive(Piece(4, 0, bytes(16384)))  # and then no piece either


def test_late_memory_is_bounded() -> None:
    s = unchoked(session())
    for n in range(600):
        s.request(n % 8, n * 8, 8)
        s.cancel(n % 8, n * 8, 8)
    assert len(s._late) == 512
    with pytest.raises(WireError, match="never requested"):
        s.receive(Piece(0, 0, bytes(8)))  # the oldest is forgotten
    assert s.receive(Piece(7, 599 * 8, bytes(8)))[0] == [Block(7, 599 * 8, bytes(8), late=True)]


def test_have_announces_a_verified_piece() -> None:
    assert session().have(4) == [Have(4)]


# -- anything -----------------------------------------------------------------------------------

MESSAGES = st.one_of(
    st.builds(KeepAlive),
    st.builds(Choke),
    st.builds(Unchoke),
    st.builds(Interested),
    st.builds(NotInterested),
    st.builds(Have, st.integers(0, 11)),
    st.builds(BitfieldMsg, st.binary(min_size=1, max_size=3)),
    st.builds(Request, st.integers(0, 10), st.sampled_from([0, 999, 16384]), st.just(16384)),
    st.builds(Piece, st.integers(0, 10), st.sampled_from([0, 16384]), st.just(bytes(16384))),
    st.builds(Cancel, st.integers(0, 10), st.sampled_from([0, 16384]), st.just(16384)),
    st.builds(HaveAll),
    st.builds(HaveNone),
    st.builds(Suggest, st.integers(0, 11)),
    st.builds(AllowedFast, st.integers(0, 11)),
    st.builds(Reject, st.integers(0, 10), st.sampled_from([0, 16384]), st.just(16384)),
)


@settings(max_examples=300)
@given(st.lists(MESSAGES, max_size=20), st.booleans(), st.data())
def test_any_message_stream_is_followed_or_refused_with_a_wire_error(
    messages: list[object], fast: bool, data: st.DataObject
) -> None:
    s = session(fast=fast)
    for msg in messages:
        if data.draw(st.booleans()):  # our own decisions in between
            s.unchoke() if s.am_choking else s.choke()
        if not s.peer_choking and data.draw(st.booleans()):
            index = data.draw(st.integers(0, PIECES - 1))
            if (index, 0, 16384) not in s.requested:
                s.request(index, 0, 16384)
        try:
            s.receive(msg)
        except WireError as e:
            assert e.reason
            return
        assert len(s.queue) <= MAX_QUEUE
        assert all(i in s.ours for i, _, _ in s.queue)
        assert not (s.am_choking and s.queue)
