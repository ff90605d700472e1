"""Layout: pieces and blocks mapped onto files, the pieces each file touches, requests checked."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peer.layout import MAX_BLOCK, BlockError, Layout, LayoutError, Span


def make(lengths: list[int], piece_length: int) -> Layout:
    return Layout([((f"f{i}",), n) for i, n in enumerate(lengths)], piece_length)


def test_a_single_file_with_a_short_last_piece() -> None:
    layout = make([10], 4)
    assert (layout.total, layout.num_pieces, layout.piece_length) == (10, 3, 4)
    assert [layout.piece_size(i) for i in range(3)] == [4, 4, 2]
    assert layout.spans(0) == [Span(0, 0, 4)]
    assert layout.spans(2) == [Span(0, 8, 2)]
    assert layout.spans(1, 1, 2) == [Span(0, 5, 2)]
    assert layout.spans(1, 3) == [Span(0, 7, 1)]  # to the end of the piece
    assert layout.piece_range_of_file(0) == range(0, 3)
    assert layout.files == ((("f0",), 10),)


def test_a_total_of_exactly_whole_pieces_has_no_short_piece() -> None:
    layout = make([8], 4)
    assert layout.num_pieces == 2
    assert [layout.piece_size(i) for i in range(2)] == [4, 4]
    assert layout.spans(1) == [Span(0, 4, 4)]


def test_a_total_one_byte_past_whole_pieces_has_a_one_byte_piece() -> None:
    layout = make([9], 4)
    assert layout.num_pieces == 3
    assert layout.piece_size(2) == 1
    assert layout.spans(2) == [Span(0, 8, 1)]


def test_files_smaller_than_a_piece_share_it() -> None:
    layout = make([3, 2, 4, 1], 8)  # total 10: pieces [0, 8) and [8, 10)
    assert layout.num_pieces == 2
    assert layout.spans(0) == [Span(0, 0, 3), Span(1, 0, 2), Span(2, 0, 3)]
    assert layout.spans(1) == [Span(2, 3, 1), Span(3, 0, 1)]
    assert layout.spans(0, 2, 4) == [Span(0, 2, 1), Span(1, 0, 2), Span(2, 0, 1)]
    assert layout.spans(0, 3, 2) == [Span(1, 0, 2)]  # exactly the second file
    assert [layout.piece_range_of_file(i) for i in range(4)] == [
        range(0, 1),
        range(0, 1),
        range(0, 2),
        range(1, 2),
    ]


def test_files_of_exactly_a_piece_each() -> None:
    layout = make([4, 4, 4], 4)
    assert layout.num_pieces == 3
    assert [layout.spans(i) for i in range(3)] == [[Span(i, 0, 4)] for i in range(3)]
    assert [layout.piece_range_of_file(i) for i in range(3)] == [range(i, i + 1) for i in range(3)]


def test_a_file_larger_than_a_piece_between_two_small_ones() -> None:
    layout = make([2, 9, 1], 4)  # file 1 is bytes [2, 11), file 2 is [11, 12)
    assert layout.spans(0) == [Span(0, 0, 2), Span(1, 0, 2)]
    assert layout.spans(1) == [Span(1, 2, 4)]
    assert layout.spans(2) == [Span(1, 6, 3), Span(2, 0, 1)]
    assert layout.piece_range_of_file(1) == range(0, 3)
    assert layout.piece_range_of_file(2) == range(2, 3)


def test_zero_length_files_at_the_start_middle_and_end_are_skipped() -> None:
    layout = make([0, 0, 3, 0, 5, 0, 0], 4)  # real files 2 [0, 3) and 4 [3, 8)
    assert layout.total == 8 and layout.num_pieces == 2
    assert layout.spans(0) == [Span(2, 0, 3), Span(4, 0, 1)]
    assert layout.spans(1) == [Span(4, 1, 4)]
    assert layout.spans(0, 3, 1) == [Span(4, 0, 1)]  # a block that starts on the empty file 3
    assert layout.spans(0, 2, 1) == [Span(2, 2, 1)]
    assert [layout.piece_range_of_file(i) for i in range(7)] == [
        range(0, 0),
        range(0, 0),
        range(0, 1),
        range(0, 0),  # empty, sitting at byte 3 (in piece 0), but touching no piece
        range(0, 2),
        range(2, 2),  # at the very end: byte 8, one past the last piece
        range(2, 2),
    ]


def test_an_empty_file_on_a_piece_boundary_touches_no_piece() -> None:
    layout = make([4, 0, 4], 4)
    assert layout.piece_range_of_file(1) == range(1, 1)
    assert layout.spans(0) == [Span(0, 0, 4)]
    assert layout.spans(1) == [Span(2, 0, 4)]


def test_blocks_at_the_edges_of_a_piece() -> None:
    layout = make([40000, 30000], 32768)  # pieces of 32768, 32768 and 4464 bytes
    assert layout.piece_size(2) == 70000 - 65536 == 4464
    layout.check_block(0, 0, MAX_BLOCK)
    layout.check_block(0, 16384, MAX_BLOCK)  # ends exactly at the piece end
    layout.check_block(2, 4463, 1)  # the last byte of the torrent
    layout.check_block(2, 0, 4464)
    assert layout.spans(1, 16384, MAX_BLOCK) == [Span(1, 49152 - 40000, MAX_BLOCK)]
    assert layout.spans(1, 0, MAX_BLOCK) == [Span(0, 32768, 7232), Span(1, 0, 9152)]


def test_a_block_one_past_the_piece_end_is_refused() -> None:
    layout = make([40000, 30000], 32768)
    with pytest.raises(BlockError, match=r"block 16385\+16384 ends past the end of piece 0"):
        layout.check_block(0, 16385, MAX_BLOCK)
    with pytest.raises(BlockError, match=r"block 4463\+2 ends past the end of piece 2 \(4464 "):
        layout.check_block(2, 4463, 2)
    with pytest.raises(BlockError, match=r"block 0\+4465 ends past the end of piece 2"):
        layout.spans(2, 0, 4465)


def test_a_block_one_byte_larger_than_the_limit_is_refused() -> None:
    layout = make([100000], 65536)
    layout.check_block(0, 0, 16384)
    with pytest.raises(BlockError, match="block length 16385 is larger than 16384 bytes"):
        layout.check_block(0, 0, 16385)
    assert layout.spans(0, 0, 65536) == [Span(0, 0, 65536)]  # spans have no block limit


@pytest.mark.parametrize("index", [-1, 3, 4, 2**32 - 1])
def test_a_piece_index_out_of_range_is_refused(index: int) -> None:
    layout = make([10], 4)
    match = rf"piece index {index} is out of range \(the torrent has 3 pieces\)"
    with pytest.raises(BlockError, match=match):
        layout.piece_size(index)
    with pytest.raises(BlockError, match=match):
        layout.spans(index)
    with pytest.raises(BlockError, match=match):
        layout.check_block(index, 0, 1)


@pytest.mark.parametrize("begin", [-1, 4, 5])
def test_a_begin_outside_the_piece_is_refused(begin: int) -> None:
    layout = make([10], 4)
    match = rf"block begin {begin} is outside piece 1 \(4 bytes\)"
    with pytest.raises(BlockError, match=match):
        layout.check_block(1, begin, 1)
    with pytest.raises(BlockError, match=match):
        layout.spans(1, begin)


def test_a_begin_outside_the_short_last_piece_is_refused() -> None:
    layout = make([10], 4)
    layout.check_block(2, 1, 1)
    with pytest.raises(BlockError, match=r"block begin 2 is outside piece 2 \(2 bytes\)"):
        layout.check_block(2, 2, 1)


@pytest.mark.parametrize("length", [0, -1])
def test_an_empty_or_negative_block_is_refused(length: int) -> None:
    layout = make([10], 4)
    with pytest.raises(BlockError, match=f"block length {length} is not positive"):
        layout.check_block(0, 0, length)
    with pytest.raises(BlockError, match=f"block length {length} is not positive"):
        layout.spans(0, 0, length)


def test_block_errors_are_layout_errors_with_a_reason() -> None:
    layout = make([10], 4)
    with pytest.raises(LayoutError) as caught:
        layout.check_block(0, 0, 5)
    assert isinstance(caught.value, BlockError)
    assert caught.value.reason == "block 0+5 ends past the end of piece 0 (4 bytes)"
    assert str(caught.value) == caught.value.reason


@pytest.mark.parametrize("file_index", [-1, 2])
def test_a_file_index_out_of_range_is_refused(file_index: int) -> None:
    layout = make([3, 4], 4)
    with pytest.raises(
        LayoutError, match=rf"file index {file_index} is out of range \(the torrent has 2 files\)"
    ):
        layout.piece_range_of_file(file_index)


@pytest.mark.parametrize("piece_length", [0, -1])
def test_a_piece_length_must_be_positive(piece_length: int) -> None:
    with pytest.raises(LayoutError, match=f"piece length must be positive, not {piece_length}"):
        make([10], piece_length)


def test_a_file_of_negative_length_is_refused() -> None:
    with pytest.raises(LayoutError, match=r"file 1 has a negative length \(-1\)"):
        make([5, -1, 3], 4)


@pytest.mark.parametrize("lengths", [[], [0], [0, 0, 0]])
def test_a_torrent_of_no_bytes_is_refused(lengths: list[int]) -> None:
    with pytest.raises(
        LayoutError, match=r"^the torrent holds no data \(no files, or only empty ones\)$"
    ):
        make(lengths, 4)


def test_a_one_byte_torrent_and_a_piece_length_of_one() -> None:
    assert make([1], 4).num_pieces == 1
    layout = make([0, 2, 0, 1], 1)
    assert layout.num_pieces == 3
    assert [layout.spans(i) for i in range(3)] == [
        [Span(1, 0, 1)],
        [Span(1, 1, 1)],
        [Span(3, 0, 1)],
    ]
    assert layout.piece_range_of_file(3) == range(2, 3)


lengths_strategy = st.lists(
    st.one_of(st.just(0), st.integers(1, 40), st.integers(1, 3000)), min_size=1, max_size=12
).filter(lambda lengths: sum(lengths) > 0)


def absolute(layout: Layout, lengths: list[int], span: Span) -> tuple[int, int]:
    """The span as [start, end) in the torrent, from the file lengths computed the long way."""
    start = sum(lengths[: span.file_index]) + span.offset
    assert span.offset >= 0 and span.offset + span.length <= lengths[span.file_index]
    return start, start + span.length


@given(lengths_strategy, st.integers(1, 700))
def test_the_spans_of_every_piece_cover_the_torrent_exactly_once_in_order(
    lengths: list[int], piece_length: int
) -> None:
    layout = make(lengths, piece_length)
    pos = 0
    for index in range(layout.num_pieces):
        assert pos == index * piece_length
        for span in layout.spans(index):
            assert span.length > 0
            assert absolute(layout, lengths, span) == (pos, pos + span.length)
            pos += span.length
        assert pos == index * piece_length + layout.piece_size(index)
    assert pos == layout.total == sum(lengths)
    # Each file's bytes lie in the pieces piece_range_of_file names, and nowhere else.
    for i, n in enumerate(lengths):
        touched = sorted(
            {
                index
                for index in range(layout.num_pieces)
                for s in layout.spans(index)
                if s.file_index == i
            }
        )
        assert list(layout.piece_range_of_file(i)) == touched
        assert (n == 0) == (touched == [])


@given(lengths_strategy, st.integers(1, 700), st.data())
def test_the_spans_of_a_block_are_its_bytes(
    lengths: list[int], piece_length: int, data: st.DataObject
) -> None:
    layout = make(lengths, piece_length)
    index = data.draw(st.integers(0, layout.num_pieces - 1))
    size = layout.piece_size(index)
    begin = data.draw(st.integers(0, size - 1))
    length = data.draw(st.integers(1, size - begin))
    pos = index * piece_length + begin
    for span in layout.spans(index, begin, length):
        assert span.length > 0
        start, end = absolute(layout, lengths, span)
        assert start == pos
        pos = end
    assert pos == index * piece_length + begin + length


small_or_huge = st.one_of(st.integers(-2, 3000), st.integers(-(2**33), 2**33))


@given(lengths_strategy, st.integers(1, 700), small_or_huge, small_or_huge, small_or_huge)
def test_check_block_accepts_exactly_the_blocks_inside_a_piece_and_raises_only_block_error(
    lengths: list[int], piece_length: int, index: int, begin: int, length: int
) -> None:
    layout = make(lengths, piece_length)
    valid = (
        0 <= index < layout.num_pieces
        and begin >= 0
        and 0 < length <= MAX_BLOCK
        and begin + length <= layout.piece_size(index)
    )
    if valid:
        layout.check_block(index, begin, length)
        assert sum(s.length for s in layout.spans(index, begin, length)) == length
    else:
        with pytest.raises(BlockError):
            layout.check_block(index, begin, length)


def test_spans_of_every_file_together_rebuild_the_content() -> None:
    # The use the storage layer makes of it: write each piece's bytes into per-file buffers.
    lengths = [0, 5, 0, 11, 3, 0, 17, 0]
    content = bytes(range(sum(lengths)))
    layout = make(lengths, 6)
    files = [bytearray(n) for n in lengths]
    for index in range(layout.num_pieces):
        piece = memoryview(content)[index * 6 : index * 6 + layout.piece_size(index)]
        at = 0
        for span in layout.spans(index):
            files[span.file_index][span.offset : span.offset + span.length] = piece[
                at : at + span.length
            ]
            at += span.length
    assert b"".join(files) == content


def test_a_span_is_frozen_and_slotted() -> None:
    span = Span(1, 2, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        span.length = 4  # type: ignore[misc]
    assert not hasattr(span, "__dict__")
