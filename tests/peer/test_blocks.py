"""Pieces and 16 KiB blocks: sizes at the edges, and which blocks a peer may send us."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peer.blocks import BLOCK, Block, BlockGrid


def test_block_is_16_kib() -> None:
    assert BLOCK == 16384


def test_last_piece_and_last_block_are_short() -> None:
    lay = BlockGrid(3, 32768, 70000)
    assert [lay.piece_size(i) for i in range(3)] == [32768, 32768, 4464]
    assert [lay.blocks_in(i) for i in range(3)] == [2, 2, 1]
    assert lay.block_at(0, 1) == Block(0, 16384, 16384)
    assert lay.block_at(2, 0) == Block(2, 0, 4464)
    assert lay.last_piece == 4464


def test_exact_multiple_has_full_last_piece() -> None:
    lay = BlockGrid(2, 32768, 65536)
    assert lay.piece_size(1) == 32768 and lay.blocks_in(1) == 2
    assert lay.block_at(1, 1) == Block(1, 16384, 16384)


def test_last_block_one_byte() -> None:
    lay = BlockGrid(2, 32768, 32769)
    assert lay.blocks_in(1) == 1 and lay.block_at(1, 0) == Block(1, 0, 1)
    assert lay.number(Block(1, 0, 1)) == 0


def test_piece_not_a_multiple_of_the_block() -> None:
    lay = BlockGrid(1, 40000, 40000)
    assert [lay.block_at(0, n) for n in range(lay.blocks_in(0))] == [
        Block(0, 0, 16384),
        Block(0, 16384, 16384),
        Block(0, 32768, 7232),
    ]


def test_custom_block_size() -> None:
    lay = BlockGrid(1, 100, 100, block=30)
    assert lay.blocks_in(0) == 4 and lay.block_at(0, 3) == Block(0, 90, 10)


def test_piece_count_must_match() -> None:
    BlockGrid(1, 16384, 16384)
    with pytest.raises(ValueError, match=r"^16385 bytes in pieces of 16384 make 2 pieces, not 1$"):
        BlockGrid(1, 16384, 16385)
    with pytest.raises(ValueError, match="make 1 pieces, not 2"):
        BlockGrid(2, 16384, 16384)


@pytest.mark.parametrize(
    ("pieces", "length", "total", "block"), [(1, 0, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0)]
)
def test_sizes_must_be_positive(pieces: int, length: int, total: int, block: int) -> None:
    with pytest.raises(
        ValueError, match=r"^piece length, total length and block size must be positive$"
    ):
        BlockGrid(pieces, length, total, block)


def test_smallest_layout() -> None:
    lay = BlockGrid(1, 1, 1, 1)
    assert lay.number(Block(0, 0, 1)) == 0


@pytest.mark.parametrize(
    "block",
    [
        Block(-1, 0, 16384),  # index before the first piece
        Block(3, 0, 16384),  # index past the last piece
        Block(0, -16384, 16384),  # begin before the piece
        Block(0, 1, 16384),  # begin off the 16 KiB grid
        Block(0, 16383, 16384),
        Block(0, 0, 16383),  # wrong length
        Block(0, 0, 16385),
        Block(0, 32768, 0),  # at the piece's end
        Block(0, 49152, 16384),  # past the piece's end
        Block(2, 0, 16384),  # the last piece's block is short (4464)
        Block(2, 0, 4465),
        Block(2, 16384, 4464 - 16384),  # the second block of a one-block piece
    ],
)
def test_blocks_we_never_ask_for(block: Block) -> None:
    assert BlockGrid(3, 32768, 70000).number(block) is None


def test_blocks_we_ask_for() -> None:
    lay = BlockGrid(3, 32768, 70000)
    assert lay.number(Block(0, 0, 16384)) == 0
    assert lay.number(Block(1, 16384, 16384)) == 1
    assert lay.number(Block(2, 0, 4464)) == 0


@given(st.integers(1, 5000), st.integers(1, 40), st.integers(1, 20), st.integers(0, 4999))
def test_blocks_tile_every_piece(length: int, pieces: int, block: int, cut: int) -> None:
    total = length * pieces - cut % length
    lay = BlockGrid(pieces, length, total, block)
    offset = 0
    for index in range(pieces):
        begin = 0
        for n in range(lay.blocks_in(index)):
            b = lay.block_at(index, n)
            assert b.begin == begin and 0 < b.length <= block
            assert lay.number(b) == n
            begin += b.length
        assert begin == lay.piece_size(index)
        offset += begin
    assert offset == total
