"""How a torrent's pieces map onto its files, and which block requests are in range.

BEP 3: the content of a multi-file torrent is its files concatenated in the order the info
dictionary lists them, cut into pieces of `piece length` bytes; the last piece is shorter when
the total is not a multiple of it. So a piece (or a 16 KiB block inside one) may cross file
boundaries, and a file smaller than a piece may lie wholly inside one. A file of length zero
occupies no bytes: no span ever names it, and it touches no piece (the storage layer still
creates it).

`Layout.spans` answers "which bytes of which files are these bytes of the torrent", as a list of
`Span(file_index, offset, length)` in torrent order. `Layout.check_block` is the test a request
from a remote peer must pass before we read anything for it: a request past the end of its
piece, or larger than a block, is a protocol error on their side (the shell closes the
connection); it raises `BlockError` whose `reason` says which field is wrong and why.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

# BEP 3: "All current implementations use 2^14 (16 kiB), and close connections which request an
# amount greater than that." Every client we interoperate with (libtorrent, aria2, Transmission)
# asks for 16 KiB blocks, and a larger request is a peer trying to make us read more per message.
MAX_BLOCK = 16384


class LayoutError(Exception):
    """A layout that cannot be built (the torrent's fault) or a range outside it; see `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BlockError(LayoutError):
    """A piece or block outside the torrent: from a remote request, the remote peer's fault."""


@dataclass(frozen=True, slots=True)
class Span:
    """`length` (> 0) bytes at `offset` in file number `file_index` (its place in the torrent)."""

    file_index: int
    offset: int
    length: int


class Layout:
    """The files of a torrent (path segments, length) in torrent order, cut into pieces."""

    def __init__(self, files: Sequence[tuple[tuple[str, ...], int]], piece_length: int) -> None:
        if piece_length <= 0:
            raise LayoutError(f"piece length must be positive, not {piece_length}")
        for i, (_, length) in enumerate(files):
            if length < 0:
                raise LayoutError(f"file {i} has a negative length ({length})")
        self.files = tuple(files)
        self.piece_length = piece_length
        lengths = [length for _, length in self.files]
        self._ends = list(itertools.accumulate(lengths))  # where each file ends in the torrent
        self._starts = [0, *self._ends[:-1]]  # where each file starts
        self.total = sum(lengths)
        if self.total == 0:
            raise LayoutError("the torrent holds no data (no files, or only empty ones)")
        self.num_pieces = -(-self.total // piece_length)  # ceiling division

    def piece_size(self, index: int) -> int:
        """The length of piece `index`: `piece_length`, except for a shorter last piece."""
        if not 0 <= index < self.num_pieces:
            raise BlockError(
                f"piece index {index} is out of range (the torrent has {self.num_pieces} pieces)"
            )
        return min(self.piece_length, self.total - index * self.piece_length)

    def _check_range(self, index: int, begin: int, length: int) -> None:
        size = self.piece_size(index)
        if not 0 <= begin < size:
            raise BlockError(f"block begin {begin} is outside piece {index} ({size} bytes)")
        if length <= 0:
            raise BlockError(f"block length {length} is not positive")
        if begin + length > size:
            raise BlockError(
                f"block {begin}+{length} ends past the end of piece {index} ({size} bytes)"
            )

    def check_block(self, index: int, begin: int, length: int) -> None:
        """Raise BlockError unless (index, begin, length) is a block a peer may request of us:
        inside one piece, 1..MAX_BLOCK bytes long."""
        self._check_range(index, begin, length)
        if length > MAX_BLOCK:
            raise BlockError(f"block length {length} is larger than {MAX_BLOCK} bytes")

    def spans(self, index: int, begin: int = 0, length: int | None = None) -> list[Span]:
        """Where the bytes [begin, begin + length) of piece `index` lie in the files, in order.

        `length` None means to the end of the piece. Zero-length files are skipped. Raises
        BlockError for a piece or range outside the torrent (no size limit: a whole piece is fine).
        """
        if length is None:
            length = self.piece_size(index) - begin
        self._check_range(index, begin, length)
        pos = index * self.piece_length + begin
        end = pos + length
        out: list[Span] = []
        i = bisect.bisect_right(self._ends, pos)  # the first file that ends after pos
        while pos < end:
            take = min(end, self._ends[i]) - pos
            if take:
                out.append(Span(i, pos - self._starts[i], take))
                pos += take
            i += 1
        return out

    def piece_range_of_file(self, file_index: int) -> range:
        """The pieces that hold bytes of file `file_index`; empty for a zero-length file."""
        if not 0 <= file_index < len(self.files):
            raise LayoutError(
                f"file index {file_index} is out of range (the torrent has {len(self.files)} files)"
            )
        start, end = self._starts[file_index], self._ends[file_index]
        first = start // self.piece_length
        if start == end:
            return range(first, first)
        return range(first, (end - 1) // self.piece_length + 1)
