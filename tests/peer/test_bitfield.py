"""The BEP 3 bitfield: bit order, strict parsing (length, spare bits), ranges, iteration."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minternet.framing import FramingError
from peer.bitfield import Bitfield
from peer.wire import WireError


def test_first_byte_covers_pieces_0_to_7_from_the_high_bit() -> None:
    bf = Bitfield.from_bytes(10, bytes([0b1010_0000, 0b0100_0000]))
    assert list(bf) == [0, 2, 9]
    assert bf.count == 3
    assert [i in bf for i in range(10)] == [i in (0, 2, 9) for i in range(10)]
    assert list(bf.missing()) == [1, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize(
    ("index", "wire"),
    [(0, "8000"), (1, "4000"), (7, "0100"), (8, "0080"), (9, "0040")],
)
def test_add_sets_the_bit_bep3_names(index: int, wire: str) -> None:
    bf = Bitfield.empty(10)
    assert bf.add(index) is True
    assert bf.to_bytes() == bytes.fromhex(wire)
    assert list(bf) == [index]
    assert [i in bf for i in range(10)] == [i == index for i in range(10)]
    assert bf.count == 1


def test_add_twice_is_no_news_and_counts_once() -> None:
    bf = Bitfield(3)
    assert bf.add(1) is True
    assert bf.add(1) is False
    assert bf.count == 1
    assert bf.to_bytes() == b"\x40"
    assert bf.add(0) is True
    assert bf.count == 2


@pytest.mark.parametrize(("size", "nbytes"), [(1, 1), (8, 1), (9, 2), (16, 2), (17, 3)])
def test_from_bytes_needs_exactly_ceil_size_over_8_bytes(size: int, nbytes: int) -> None:
    assert Bitfield.from_bytes(size, bytes(nbytes)).count == 0
    assert len(Bitfield(size).to_bytes()) == nbytes
    with pytest.raises(
        WireError, match=f"^bitfield of {nbytes - 1} bytes for {size} pieces: must be {nbytes}$"
    ):
        Bitfield.from_bytes(size, bytes(nbytes - 1))
    with pytest.raises(
        WireError, match=f"^bitfield of {nbytes + 1} bytes for {size} pieces: must be {nbytes}$"
    ):
        Bitfield.from_bytes(size, bytes(nbytes + 1))


def test_no_pieces_no_bytes() -> None:
    bf = Bitfield.from_bytes(0, b"")
    assert bf.to_bytes() == b""
    assert bf.complete
    assert list(bf) == [] and list(bf.missing()) == []


@pytest.mark.parametrize(
    ("size", "last"),
    [(9, 0x40), (9, 0x01), (15, 0x01), (10, 0x20), (12, 0x08)],
)
def test_a_spare_bit_set_is_refused(size: int, last: int) -> None:
    with pytest.raises(WireError, match=f"^bitfield for {size} pieces has spare bits set"):
        Bitfield.from_bytes(size, b"\xff" + bytes([last]))


@pytest.mark.parametrize(("size", "last"), [(9, 0x80), (15, 0xFE), (16, 0xFF), (12, 0xF0)])
def test_every_real_bit_set_is_accepted(size: int, last: int) -> None:
    bf = Bitfield.from_bytes(size, b"\xff" + bytes([last]))
    assert bf.count == size
    assert bf.complete
    assert bf == Bitfield.full(size)


def test_wire_errors_are_framing_errors_with_a_reason() -> None:
    with pytest.raises(FramingError) as info:
        Bitfield.from_bytes(9, b"\xff")
    assert info.value.reason == "bitfield of 1 bytes for 9 pieces: must be 2"


@pytest.mark.parametrize(
    ("size", "wire"),
    [(0, ""), (1, "80"), (7, "fe"), (8, "ff"), (9, "ff80"), (15, "fffe"), (16, "ffff")],
)
def test_full(size: int, wire: str) -> None:
    bf = Bitfield.full(size)
    assert bf.to_bytes() == bytes.fromhex(wire)
    assert bf.count == size
    assert bf.complete
    assert list(bf) == list(range(size))
    assert list(bf.missing()) == []


@pytest.mark.parametrize("size", [1, 7, 8, 9, 17])
def test_empty(size: int) -> None:
    bf = Bitfield.empty(size)
    assert bf.to_bytes() == bytes((size + 7) // 8)
    assert bf.count == 0
    assert not bf.complete
    assert list(bf) == []
    assert list(bf.missing()) == list(range(size))


def test_complete_once_the_last_piece_is_added() -> None:
    bf = Bitfield(9)
    for i in range(8):
        bf.add(i)
    assert not bf.complete
    assert list(bf.missing()) == [8]
    bf.add(8)
    assert bf.complete
    assert list(bf.missing()) == []


@pytest.mark.parametrize("index", [-1, 10, 11, -11])
def test_an_index_out_of_range_is_refused(index: int) -> None:
    bf = Bitfield.full(10)
    with pytest.raises(
        WireError, match=f"^piece index {index} out of range: the torrent has 10 pieces$"
    ):
        bf.add(index)
    with pytest.raises(WireError, match=f"^piece index {index} out of range"):
        _ = index in bf


def test_the_last_index_is_in_range() -> None:
    bf = Bitfield(10)
    assert 9 not in bf
    assert 0 not in bf
    assert bf.add(9) and 9 in bf
    assert bf.add(0) and 0 in bf


def test_a_negative_size_is_our_bug() -> None:
    with pytest.raises(ValueError, match="cannot have -1 pieces"):
        Bitfield(-1)


def test_equality_compares_size_and_bits() -> None:
    a, b = Bitfield(9), Bitfield(9)
    assert a == b
    a.add(3)
    assert a != b
    b.add(3)
    assert a == b
    assert Bitfield(9) != Bitfield(10)  # same bytes, different torrents
    assert Bitfield(8) != b"\x00"
    assert repr(a) == "Bitfield(size=9, count=1)"


def test_iteration_skips_empty_and_full_bytes() -> None:
    bf = Bitfield(100_000)
    for i in (5, 8_000, 99_999):
        bf.add(i)
    assert list(bf) == [5, 8_000, 99_999]
    full = Bitfield.full(100_000)
    assert sum(1 for _ in full) == 100_000
    assert list(full.missing()) == []
    assert Bitfield.from_bytes(100_000, full.to_bytes()).count == 100_000


@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_a_set_of_pieces_round_trips(case: tuple[int, set[int]]) -> None:
    size, have = case
    bf = Bitfield(size)
    for i in have:
        bf.add(i)
    assert list(bf) == sorted(have)
    assert list(bf.missing()) == sorted(set(range(size)) - have)
    assert bf.count == len(have)
    assert bf.complete == (len(have) == size)
    again = Bitfield.from_bytes(size, bf.to_bytes())
    assert again == bf
    assert again.count == len(have)
    assert list(again) == sorted(have)
