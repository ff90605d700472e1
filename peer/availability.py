"""Who has which piece: availability counts from bitfields and haves, and the rarest piece.

The course notes' "rarest chunk first" needs, for every piece, how many of our neighbours
have it. Peers tell us with a bitfield after the handshake, a have for each piece they
complete, or BEP 6 have-all / have-none. The counts are kept up to date in O(1) per have:

- A have-all peer (a seed) adds one to every piece. It is counted once in `seeds` rather than
  in every piece's count, so a seed joining or leaving costs O(1), and it changes nobody's
  rank.
- The pieces nobody has started yet (the pool) sit in buckets by count: `buckets[c]` lists the
  pool's pieces that `c` peers other than the seeds have, in no order, and `slot[i]` is piece
  i's position in its bucket (-1 outside the pool). A have moves a piece to the next bucket by
  swapping the bucket's last entry into its place: O(1).

The rarest piece a peer can give us is then found by walking the buckets from the lowest
count: a seed can give any piece, so the first non-empty bucket answers; another peer is
searched bucket by bucket, from a random position in each (ties are broken at random), for a
piece it has. Bucket 0 is skipped for such a peer: a piece it has is counted at least once.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Hashable, Iterable, Iterator
from typing import Generic, TypeVar

P = TypeVar("P", bound=Hashable)


class PickerError(Exception):
    """A value a remote peer sent that does not fit this torrent (the peer's fault): the shell
    closes that connection. `reason` says which value and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Holdings:
    """What one peer has."""

    __slots__ = ("all", "have", "lacking")

    def __init__(self, num_pieces: int) -> None:
        self.all = False  # BEP 6 have-all: counted in Availability.seeds, `have` stays empty
        self.have = bytearray(num_pieces)  # 1 per piece it has (a bytearray: C-speed search)
        self.lacking = 0  # pieces in `have` that we have not completed

    def pieces(self) -> Iterator[int]:
        """The pieces in `have`, in order."""
        index = self.have.find(1)
        while index >= 0:
            yield index
            index = self.have.find(1, index + 1)


class Availability(Generic[P]):
    """Availability of every piece among the connected peers, and the pool of pieces not yet
    started, by availability. The picker withdraws a piece from the pool when it starts or
    completes it and restores it when an attempt is dropped."""

    def __init__(self, num_pieces: int) -> None:
        self.num_pieces = num_pieces
        self.counts = [0] * num_pieces  # peers, seeds apart, that have each piece
        self.seeds = 0
        self.done = bytearray(num_pieces)  # 1: we have the piece, verified
        self.buckets: list[list[int]] = [list(range(num_pieces))]
        self.slot = list(range(num_pieces))
        self.pooled = num_pieces  # pieces in the buckets
        self.peers: dict[P, Holdings] = {}

    def of(self, index: int) -> int:
        """How many connected peers have the piece."""
        return self.counts[index] + self.seeds

    def holds(self, peer: P, index: int) -> bool:
        st = self.peers.get(peer)
        return st is not None and (st.all or st.have[index] == 1)

    def interesting(self, peer: P) -> bool:
        """Whether the peer has a piece we have not completed."""
        st = self.peers.get(peer)
        if st is None:
            return False
        if st.all:
            return self.done.count(0) > 0
        return st.lacking > 0

    # ---- what peers say -----------------------------------------------------------------------

    def bitfield(self, peer: P, indexes: Iterable[int]) -> None:
        """The peer has exactly these pieces (a bitfield, or BEP 6 have-none with none)."""
        wanted = sorted(set(indexes))
        for index in wanted:
            self._check(peer, index)
        st = self._reset(peer)
        for index in wanted:
            self._gain(st, index)

    def have_all(self, peer: P) -> None:
        st = self._reset(peer)
        st.all = True
        self.seeds += 1

    def have(self, peer: P, index: int) -> None:
        """One more piece at the peer; a repeated have, or one from a seed, changes nothing."""
        self._check(peer, index)
        st = self.peers.get(peer)
        if st is None:
            st = self.peers[peer] = Holdings(self.num_pieces)
        if not st.all and not st.have[index]:
            self._gain(st, index)

    def forget(self, peer: P) -> None:
        """The peer left: its pieces count no more."""
        self._reset(peer)
        del self.peers[peer]

    # ---- our side -----------------------------------------------------------------------------

    def withdraw(self, index: int) -> None:
        """Take a pooled piece out of the buckets (started or completed)."""
        bucket = self.buckets[self.counts[index]]
        slot, last = self.slot[index], bucket.pop()
        if last != index:
            bucket[slot] = last
            self.slot[last] = slot
        self.slot[index] = -1
        self.pooled -= 1

    def restore(self, index: int) -> None:
        """Put a piece back in the pool (its attempt was dropped)."""
        count = self.counts[index]
        while len(self.buckets) <= count:
            self.buckets.append([])
        self.slot[index] = len(self.buckets[count])
        self.buckets[count].append(index)
        self.pooled += 1

    def completed(self, index: int) -> None:
        """We have the piece now (already withdrawn): peers holding it lack one piece less."""
        self.done[index] = True
        for st in self.peers.values():
            if st.have[index]:
                st.lacking -= 1

    def random_piece(self, peer: P, rng: random.Random) -> int | None:
        """A pooled piece the peer has, drawn uniformly."""
        st = self.peers.get(peer)
        if st is None or not self.pooled:
            return None
        if st.all:
            n = rng.randrange(self.pooled)
            return next(itertools.islice(itertools.chain.from_iterable(self.buckets), n, None))
        mine = [i for i in st.pieces() if self.slot[i] >= 0]
        return rng.choice(mine) if mine else None

    def rarest_piece(self, peer: P, rng: random.Random) -> int | None:
        """A pooled piece the peer has that the fewest peers have, ties broken at random."""
        st = self.peers.get(peer)
        if st is None:
            return None
        for bucket in itertools.islice(self.buckets, 0 if st.all else 1, None):
            n = len(bucket)
            if not n:
                continue
            start = rng.randrange(n)
            for k in itertools.chain(range(start, n), range(start)):
                if st.all or st.have[bucket[k]]:
                    return bucket[k]
        return None

    # ---- internals ----------------------------------------------------------------------------

    def _check(self, peer: P, index: int) -> None:
        if not 0 <= index < self.num_pieces:
            raise PickerError(
                f"peer {peer!r} says it has piece {index}, but the torrent's pieces are "
                f"0..{self.num_pieces - 1}"
            )

    def _reset(self, peer: P) -> Holdings:
        """The peer's entry, holding nothing."""
        st = self.peers.get(peer)
        if st is None:
            st = self.peers[peer] = Holdings(self.num_pieces)
        elif st.all:
            st.all = False
            self.seeds -= 1
        else:
            for index in st.pieces():
                st.have[index] = 0
                self._move(index, -1)
            st.lacking = 0
        return st

    def _gain(self, st: Holdings, index: int) -> None:
        st.have[index] = 1
        if not self.done[index]:
            st.lacking += 1
        self._move(index, 1)

    def _move(self, index: int, delta: int) -> None:
        """A piece's count changes by one; a pooled piece changes bucket."""
        if self.slot[index] >= 0:
            self.withdraw(index)
            self.counts[index] += delta
            self.restore(index)
        else:
            self.counts[index] += delta
