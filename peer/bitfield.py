"""Which pieces a peer has: the BEP 3 bitfield, as bytes on the wire and as a set of indexes.

BEP 3 'peer messages': the first byte covers pieces 0-7 from the high bit to the low bit, the
next one 8-15, and so on; the spare bits after the last piece are zero. A bitfield that arrives
in a `bitfield` message is the remote peer's claim, so `from_bytes` is strict: a wrong length
or a set spare bit is the peer's fault (WireError) and the connection is closed, as libtorrent
and aria2 do. An index outside 0..n-1 is refused the same way: it comes from a `have`,
`request` or `suggest` message whose sender does not know the torrent.

A torrent has up to a few hundred thousand pieces, and a peer holds one bitfield per
connection: the bits live in one bytearray (n/8 bytes, 12.5 KB for 100,000 pieces, not a list
of 100,000 bools), the count of set bits is kept as bits are added (the picker and the
progress line read it all the time), and iteration walks bytes, with a table of the set bits
of each byte value (nothing to do for an empty byte, or a full one when looking for gaps).
"""

from __future__ import annotations

from collections.abc import Iterator

from peer.wire import WireError

# _SET_BITS[b]: the offsets (0 = high bit) of the bits set in byte value b, in order.
_SET_BITS: tuple[tuple[int, ...], ...] = tuple(
    tuple(off for off in range(8) if b & (0x80 >> off)) for b in range(256)
)


class Bitfield:
    """The pieces of an n-piece torrent that one peer has; `add` only (pieces are never lost)."""

    __slots__ = ("_bits", "_count", "size")

    def __init__(self, size: int) -> None:
        """An empty bitfield for `size` pieces (see also `empty`, `full`, `from_bytes`)."""
        if size < 0:
            raise ValueError(f"a torrent cannot have {size} pieces")
        self.size = size
        self._bits = bytearray((size + 7) // 8)
        self._count = 0

    @classmethod
    def empty(cls, size: int) -> Bitfield:
        return cls(size)

    @classmethod
    def full(cls, size: int) -> Bitfield:
        """Every piece: a seeder's bitfield, or a peer that sent `have all` (BEP 6)."""
        bf = cls(size)
        bits = bf._bits
        bits[:] = b"\xff" * len(bits)
        spare = len(bits) * 8 - size
        if spare:
            bits[-1] = (0xFF << spare) & 0xFF
        bf._count = size
        return bf

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Bitfield:
        """The payload of a `bitfield` message for a `size`-piece torrent, checked strictly."""
        bf = cls(size)
        if len(data) != len(bf._bits):
            raise WireError(
                f"bitfield of {len(data)} bytes for {size} pieces: must be {len(bf._bits)}"
            )
        spare = len(data) * 8 - size
        if spare and data[-1] & ((1 << spare) - 1):
            raise WireError(f"bitfield for {size} pieces has spare bits set after the last piece")
        bf._bits[:] = data
        bf._count = int.from_bytes(data).bit_count()
        return bf

    def to_bytes(self) -> bytes:
        """The payload of our `bitfield` message."""
        return bytes(self._bits)

    def _check(self, index: int) -> None:
        if not 0 <= index < self.size:
            raise WireError(f"piece index {index} out of range: the torrent has {self.size} pieces")

    def add(self, index: int) -> bool:
        """Mark piece `index` as had; True if it was not before (a repeated `have` is no news)."""
        self._check(index)
        byte, mask = index >> 3, 0x80 >> (index & 7)
        if self._bits[byte] & mask:
            return False
        self._bits[byte] |= mask
        self._count += 1
        return True

    def __contains__(self, index: int) -> bool:
        self._check(index)
        return bool(self._bits[index >> 3] & (0x80 >> (index & 7)))

    @property
    def count(self) -> int:
        """How many pieces are had."""
        return self._count

    @property
    def complete(self) -> bool:
        """Every piece is had: a seeder."""
        return self._count == self.size

    def __iter__(self) -> Iterator[int]:
        """The indexes of the pieces had, in increasing order."""
        for i, b in enumerate(self._bits):
            if b:
                base = i * 8
                for off in _SET_BITS[b]:
                    yield base + off

    def missing(self) -> Iterator[int]:
        """The indexes of the pieces not had, in increasing order."""
        size = self.size
        for i, b in enumerate(self._bits):
            for off in _SET_BITS[b ^ 0xFF]:  # none for a full byte
                if i * 8 + off >= size:
                    return  # the spare bits of the last byte
                yield i * 8 + off

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bitfield):
            return NotImplemented
        return self.size == other.size and self._bits == other._bits

    def __repr__(self) -> str:
        return f"Bitfield(size={self.size}, count={self._count})"
