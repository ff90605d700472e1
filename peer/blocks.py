"""How a torrent's bytes divide into pieces and 16 KiB blocks: the unit the picker requests.

BEP 3: the content is cut into pieces of `piece length` bytes (the last one may be shorter),
each checked against its SHA-1; a piece is fetched in blocks of 16 KiB (2**14), the request
size every client uses and the largest many of them serve (larger requests get the connection
closed). Block n of a piece starts at n * block; only the piece's last block may be shorter, so
with the usual power-of-two piece lengths every block is 16 KiB except the last block of the
last piece.

A `Block` is what goes on the wire in request, piece, cancel and reject messages. `BlockGrid`
answers the geometry questions, and `number()` is the check that a (index, begin, length)
triple a peer sent is exactly one of the blocks we would have asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK = 16384  # BEP 3: 2**14; the request size clients serve (many close on anything larger)


@dataclass(frozen=True, slots=True)
class Block:
    """One request's worth of a piece: `length` bytes at offset `begin` of piece `index`."""

    index: int
    begin: int
    length: int


class BlockGrid:
    """The geometry of one torrent: piece sizes and the blocks of each piece.

    The arguments come from a torrent already checked by the metainfo core, so a mismatch is the
    caller's error (ValueError), never a remote peer's.
    """

    __slots__ = ("block", "last_piece", "num_pieces", "piece_length")

    def __init__(
        self, num_pieces: int, piece_length: int, total_length: int, block: int = BLOCK
    ) -> None:
        if piece_length < 1 or block < 1 or total_length < 1:
            raise ValueError("piece length, total length and block size must be positive")
        if num_pieces != -(-total_length // piece_length):
            raise ValueError(
                f"{total_length} bytes in pieces of {piece_length} make "
                f"{-(-total_length // piece_length)} pieces, not {num_pieces}"
            )
        self.num_pieces = num_pieces
        self.piece_length = piece_length
        self.block = block
        self.last_piece = total_length - (num_pieces - 1) * piece_length  # its size: 1..length

    def piece_size(self, index: int) -> int:
        return self.last_piece if index == self.num_pieces - 1 else self.piece_length

    def blocks_in(self, index: int) -> int:
        return -(-self.piece_size(index) // self.block)

    def block_at(self, index: int, n: int) -> Block:
        """Block number n of piece `index` (0 <= n < blocks_in(index))."""
        begin = n * self.block
        return Block(index, begin, min(self.block, self.piece_size(index) - begin))

    def number(self, block: Block) -> int | None:
        """The block number of `block` if it is exactly one of the blocks we request, else None.

        A peer's piece message that does not match one of these was never asked for: a begin
        off the 16 KiB grid, a wrong length, an index or offset past the end.
        """
        if not 0 <= block.index < self.num_pieces or block.begin < 0:
            return None
        n = block.begin // self.block
        if n >= self.blocks_in(block.index) or self.block_at(block.index, n) != block:
            return None
        return n
