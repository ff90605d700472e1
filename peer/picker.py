"""The piece picker: which blocks to request from which peer, and who to blame for a bad piece.

Sans-I/O: the shell reports what peers have and send (`peer_bitfield`, `peer_have`,
`received`, `rejected`, `choked`, `peer_left`) and asks what to request (`pick`); time comes in
as `now`, randomness from the `random.Random` given. Peers are opaque hashable keys.

The rules, in the order `pick(peer, count, now)` applies them (course notes, "BitTorrent:
requesting, sending file chunks"; BEP 3):

1. Only pieces the peer has (its bitfield and haves, or BEP 6 have-all) are asked of it.
2. Started pieces first: blocks not yet requested from anyone, of pieces already under way,
   oldest first. A piece is worth something (to us and to the peers we upload to) only once it
   is whole and verified, so finishing one beats starting another.
3. Random first: while fewer than `random_first` pieces are complete, a new piece is drawn at
   random among those the peer has. A newcomer needs a whole piece soon to have something to
   trade, and the rarest piece is often the slowest to get (one peer holds it).
4. Rarest first: afterwards, the new piece is the one the fewest connected peers have
   (availability, from bitfields and haves), ties broken at random, so rare pieces spread
   before their holders leave.
5. Endgame: once every block still missing is requested from someone, a peer may also be given
   blocks outstanding with other peers (never one it already has outstanding), at most
   `endgame_copies` holders per block, so the last blocks do not wait on the slowest peer.
   When a copy arrives, `received` names the other holders to send a cancel to.

Every new piece is recorded as a `Choice` (rarest-first decisions with their availability, for
-v and the JSON events); `drain_choices()` hands them over.

Requests are released (the block goes back to step 2 for anyone) when they time out
(`expired`), are rejected (BEP 6), are dropped by a choke (without BEP 6), or their peer leaves.
A released block that still arrives later from that peer is accepted if still missing.

Blame (`failed`, after a SHA-1 mismatch): the piece is fetched again. If one peer delivered
all its blocks, that peer is the culprit. If several did, nobody is blamed yet, and the piece is
put in solo mode: every later attempt comes entirely from one peer, so the next failure names
its culprit. The first attempt is reserved for the contributor that sent the most blocks (ties:
the one that sent the lowest-numbered block) if it is still connected; otherwise, or if that
peer leaves or leaves the piece idle (no request outstanding) for a request timeout, the piece
goes to the first peer that picks it, under the same solo rule. A solo attempt whose owner
leaves is dropped (its blocks are fetched again) so that data from two peers never mixes.
A piece leaves solo mode when it verifies or when a failure names its culprit.

Costs: a `have` moves one piece between availability buckets (O(1)); picking blocks of started
pieces costs O(started pieces); a new piece costs O(buckets) for a peer that has everything
and at worst a scan of the missing pieces held by peers for one that has part.
"""

from __future__ import annotations

import collections
import heapq
import random
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from peer.availability import Availability, PickerError
from peer.blocks import BLOCK, Block, BlockGrid

__all__ = ["Arrival", "Blame", "Block", "Choice", "Picker", "PickerError", "Received"]

P = TypeVar("P", bound=Hashable)

RANDOM_FIRST = 4  # libtorrent's and the original client's choice: a few pieces to trade with
# Endgame: the first request plus one copy. More copies only multiply the upload that peers
# waste on data we cancel; a copy stuck with a slow peer is released by the request timeout.
ENDGAME_COPIES = 2
# Requests released per peer (timed out, cancelled, choked) whose late arrival is still accepted
# rather than treated as unrequested: a few times the deepest pipeline a fast peer gets (a
# 180 MiB/s peer with a 1 s round trip holds ~250 16 KiB requests), while bounding memory.
LATE_MEMORY = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice(Generic[P]):
    """A piece chosen for a peer: why, and how many of the `peers` connected peers held it."""

    index: int
    peer: P
    reason: str  # "random-first" | "rarest" | "endgame"
    availability: int
    peers: int

    def describe(self) -> str:
        return (
            f"piece {self.index} chosen: {self.reason}, "
            f"held by {self.availability} of {self.peers} peers"
        )


class Arrival(Enum):
    NEW = "new"  # a missing block: store it
    DUPLICATE = "duplicate"  # one we asked for but already have (endgame, a late copy): drop it
    UNREQUESTED = "unrequested"  # never asked of this peer (BEP 3 violation): close the connection


@dataclass(frozen=True, slots=True, kw_only=True)
class Received(Generic[P]):
    """What a piece message from a peer means. `cancels`: other peers that have the same block
    outstanding (send each a cancel). `piece_complete`: every block of the piece is now here,
    hash it and call `verified` or `failed`."""

    arrival: Arrival
    cancels: tuple[tuple[P, Block], ...] = ()
    piece_complete: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Blame(Generic[P]):
    """Who sent a piece that failed its hash check (see the module's blame rules).

    `culprit`: the one peer that sent every block (give it a strike), or None when several did
    (`contributors`, in block order). `retry_with`: the contributor the next attempt is
    reserved for, or None (any single peer)."""

    index: int
    culprit: P | None
    contributors: tuple[P, ...]
    retry_with: P | None


class _Requests:
    __slots__ = ("late", "requests")

    def __init__(self) -> None:
        self.requests: dict[Block, float] = {}  # outstanding, oldest first, with when asked
        self.late: dict[Block, None] = {}  # released requests (oldest first), LATE_MEMORY at most


class _Piece(Generic[P]):
    __slots__ = ("got", "holders", "index", "owner", "solo", "sources", "todo")

    def __init__(self, index: int, nblocks: int, solo: bool, owner: P | None) -> None:
        self.index = index
        self.todo = list(range(nblocks))  # heap of block numbers requested from nobody
        self.holders: dict[int, list[P]] = {}  # block number -> peers it is outstanding with
        self.sources: list[P | None] = [None] * nblocks  # who sent each received block
        self.got = 0
        self.solo = solo
        self.owner = owner  # solo mode: the one peer this attempt comes from


class Picker(Generic[P]):
    """Block requests for one torrent (see the module docstring for the rules).

    A piece is in the pool (`avail`'s buckets: not started), active (`_active`: started, not
    yet verified) or complete (`avail.done`). Each block of an active piece is exactly one of:
    received (`sources`), outstanding with one or more peers (`holders`), or requested from
    nobody (`todo`); `_open` lists the active pieces with a non-empty `todo`.
    """

    def __init__(
        self,
        num_pieces: int,
        piece_length: int,
        total_length: int,
        *,
        rng: random.Random,
        random_first: int = RANDOM_FIRST,
        block: int = BLOCK,
        endgame_copies: int = ENDGAME_COPIES,
    ) -> None:
        if endgame_copies < 1:
            raise ValueError("endgame_copies must be at least 1")
        self.layout = BlockGrid(num_pieces, piece_length, total_length, block)
        self.avail: Availability[P] = Availability(num_pieces)
        self.rng = rng
        self.random_first = random_first
        self.endgame_copies = endgame_copies
        self.complete = 0
        self._solo: set[int] = set()  # pieces whose attempts come from one peer each
        self._active: dict[int, _Piece[P]] = {}
        self._open: dict[int, _Piece[P]] = {}  # oldest first
        self._idle: dict[int, float | None] = {}  # active solo pieces -> idle since (None: busy)
        self._conns: dict[P, _Requests] = {}
        self._choices: list[Choice[P]] = []

    # ---- what we have -------------------------------------------------------------------------

    @property
    def wanted(self) -> int:
        """Pieces not yet complete (verified)."""
        return self.layout.num_pieces - self.complete

    @property
    def endgame(self) -> bool:
        """Every missing block is outstanding with someone (and some block is missing).

        A missing piece that no connected peer has stays in the pool and keeps endgame off.
        """
        return not self.avail.pooled and not self._open and bool(self._active)

    def have(self, index: int) -> None:
        """A piece verified outside the picker (resume: data found on disk at start)."""
        if not 0 <= index < self.layout.num_pieces:
            raise ValueError(f"piece {index} out of range 0..{self.layout.num_pieces - 1}")
        if index in self._active:
            raise ValueError(f"piece {index} is being downloaded")
        if not self.avail.done[index]:
            self.avail.withdraw(index)
            self._complete(index)

    def verified(self, index: int) -> None:
        """The piece's SHA-1 matched: it is complete."""
        self._finish(index)
        self._complete(index)

    def failed(self, index: int) -> Blame[P]:
        """The piece's SHA-1 did not match: it goes back to the pool; says whom to blame."""
        piece = self._finish(index)
        counts = collections.Counter(piece.sources)  # in order of first block
        contributors = tuple(p for p in counts if p is not None)  # all are: the piece is whole
        self.avail.restore(index)
        if len(contributors) == 1:
            self._solo.discard(index)
            return Blame(
                index=index, culprit=contributors[0], contributors=contributors, retry_with=None
            )
        self._solo.add(index)
        best = max(contributors, key=counts.__getitem__)  # max keeps the first of equals
        retry = best if self.avail.holds(best, index) else None
        if retry is not None:
            self._start(index, retry)
        return Blame(index=index, culprit=None, contributors=contributors, retry_with=retry)

    # ---- what peers have ----------------------------------------------------------------------

    @property
    def peers(self) -> int:
        """Peers that told us what they have."""
        return len(self.avail.peers)

    def availability(self, index: int) -> int:
        """How many connected peers have piece `index`."""
        return self.avail.of(index)

    def interesting(self, peer: P) -> bool:
        """Whether the peer has a piece we lack (send interested / not interested)."""
        return self.avail.interesting(peer)

    def peer_bitfield(self, peer: P, indexes: Iterable[int]) -> None:
        """The peer's bitfield (or BEP 6 have-none: no indexes); replaces what it said before.
        Raises PickerError for an index past the torrent's pieces."""
        self.avail.bitfield(peer, indexes)

    def peer_have_all(self, peer: P) -> None:
        """BEP 6 have-all: the peer is a seed."""
        self.avail.have_all(peer)

    def peer_have(self, peer: P, index: int) -> None:
        """A have message. Raises PickerError for an index past the torrent's pieces."""
        self.avail.have(peer, index)

    def peer_left(self, peer: P) -> list[Block]:
        """The peer disconnected: forget what it has; its outstanding requests go to others.

        Returns the released requests. A solo attempt it owned is dropped (module docstring).
        """
        conn = self._conns.pop(peer, None)
        released = list(conn.requests) if conn is not None else []
        for block in released:
            self._unhold(peer, block)
        for index in list(self._idle):
            piece = self._active[index]
            if piece.owner == peer and piece.got < len(piece.sources):
                self._abandon(piece)
        if peer in self.avail.peers:
            self.avail.forget(peer)
        return released

    # ---- requests -----------------------------------------------------------------------------

    def outstanding(self, peer: P) -> int:
        """Requests sent to the peer and not yet answered or released."""
        conn = self._conns.get(peer)
        return len(conn.requests) if conn is not None else 0

    def drain_choices(self) -> list[Choice[P]]:
        """The pieces chosen since the last call, in order."""
        choices, self._choices = self._choices, []
        return choices

    def pick(self, peer: P, count: int, now: float) -> list[Block]:
        """Up to `count` blocks to request now from `peer`, which unchokes us."""
        out: list[Block] = []
        for piece in list(self._open.values()):
            if piece.owner in (None, peer) and self.avail.holds(peer, piece.index):
                self._take(piece, peer, count - len(out), now, out)
            if len(out) == count:
                return out
        while len(out) < count:
            if self.complete < self.random_first:
                new, reason = self.avail.random_piece(peer, self.rng), "random-first"
            else:
                new, reason = self.avail.rarest_piece(peer, self.rng), "rarest"
            if new is None:
                break
            self._note(new, peer, reason)
            self._take(self._start(new, peer), peer, count - len(out), now, out)
        if self.endgame:
            self._endgame(peer, count, now, out)
        return out

    def received(self, peer: P, block: Block) -> Received[P]:
        """A piece message (one block) from `peer`."""
        conn = self._conns.get(peer)
        n = self.layout.number(block)
        if conn is None or n is None:
            return Received(arrival=Arrival.UNREQUESTED)
        if block in conn.requests:
            del conn.requests[block]
        elif block in conn.late:  # released (timed out, cancelled, choked): still welcome
            del conn.late[block]
        else:
            return Received(arrival=Arrival.UNREQUESTED)
        # An outstanding request's block is a missing block of an active piece that may come
        # from this peer, so only a late block can be a duplicate here.
        piece = self._active.get(block.index)
        if piece is None or piece.sources[n] is not None or piece.owner not in (None, peer):
            return Received(arrival=Arrival.DUPLICATE)
        holders = piece.holders.pop(n, None)
        if holders is None:  # a late block that nobody was asked for again yet
            piece.todo.remove(n)
            heapq.heapify(piece.todo)
            if not piece.todo:
                del self._open[block.index]
            holders = []
        cancels = []
        for other in holders:
            if other != peer:
                self._drop(other, block)
                cancels.append((other, block))
        piece.sources[n] = peer
        piece.got += 1
        return Received(
            arrival=Arrival.NEW,
            cancels=tuple(cancels),
            piece_complete=piece.got == len(piece.sources),
        )

    def rejected(self, peer: P, block: Block) -> bool:
        """A BEP 6 reject: the peer will not send the block. False if we never asked for it
        (a protocol error: close the connection). A reject of a cancelled request is normal."""
        conn = self._conns.get(peer)
        if conn is None:
            return False
        if block in conn.requests:
            del conn.requests[block]
            self._unhold(peer, block)
            return True
        if block in conn.late:
            del conn.late[block]
            return True
        return False

    def choked(self, peer: P) -> list[Block]:
        """The peer choked us without BEP 6: it dropped our requests (BEP 3). Returns them.

        With BEP 6 a choke keeps requests; each one refused comes as a reject instead."""
        conn = self._conns.get(peer)
        released = list(conn.requests) if conn is not None else []
        for block in released:
            self._drop(peer, block)
            self._unhold(peer, block)
        return released

    def expired(self, now: float, timeout: float) -> list[tuple[P, Block]]:
        """Release requests asked `timeout` seconds ago or more (send a cancel for each): other
        peers may then be given them. `now` must never decrease between calls (requests are
        kept in the order they were made). Also hands a solo piece whose owner has left it
        idle for `timeout` to any single peer."""
        released = []
        for peer, conn in self._conns.items():
            for block, asked in conn.requests.items():
                if now - asked < timeout:
                    break
                released.append((peer, block))
        for peer, block in released:
            self._drop(peer, block)
            self._unhold(peer, block)
        for index, since in list(self._idle.items()):
            piece = self._active[index]
            if piece.holders or piece.got == len(piece.sources):
                self._idle[index] = None
            elif since is None:
                self._idle[index] = now
            elif now - since >= timeout:
                self._abandon(piece)
        return released

    # ---- internals ----------------------------------------------------------------------------

    def _finish(self, index: int) -> _Piece[P]:
        """Take a whole (all blocks received) piece out of the active ones."""
        piece = self._active.get(index)
        if piece is None or piece.got < len(piece.sources):
            raise ValueError(f"piece {index} has not been received whole")
        del self._active[index]
        self._idle.pop(index, None)
        return piece

    def _complete(self, index: int) -> None:
        self.complete += 1
        self.avail.completed(index)

    def _start(self, index: int, owner: P) -> _Piece[P]:
        """Take a pooled piece out of the pool; a solo one is owned by `owner`."""
        self.avail.withdraw(index)
        solo = index in self._solo
        piece = _Piece(index, self.layout.blocks_in(index), solo, owner if solo else None)
        self._active[index] = piece
        self._open[index] = piece
        if solo:
            self._idle[index] = None
        return piece

    def _abandon(self, piece: _Piece[P]) -> None:
        """Drop a solo attempt (owner gone or idle) with what it received: back to the pool,
        still solo. Its owner holds no request of it (they were released first)."""
        del self._active[piece.index]
        del self._open[piece.index]
        del self._idle[piece.index]
        self.avail.restore(piece.index)  # still in _solo: a piece leaves it by verified/failed

    def _note(self, index: int, peer: P, reason: str) -> None:
        self._choices.append(
            Choice(
                index=index,
                peer=peer,
                reason=reason,
                availability=self.avail.of(index),
                peers=len(self.avail.peers),
            )
        )

    def _take(self, piece: _Piece[P], peer: P, n: int, now: float, out: list[Block]) -> None:
        """Request up to n blocks of the piece that nobody has been asked for, lowest first."""
        for _ in range(min(n, len(piece.todo))):
            self._ask(piece, heapq.heappop(piece.todo), peer, now, out)
        if not piece.todo:
            del self._open[piece.index]

    def _ask(self, piece: _Piece[P], number: int, peer: P, now: float, out: list[Block]) -> None:
        block = self.layout.block_at(piece.index, number)
        piece.holders.setdefault(number, []).append(peer)
        conn = self._conns.get(peer)
        if conn is None:
            conn = self._conns[peer] = _Requests()
        conn.requests[block] = now
        conn.late.pop(block, None)
        out.append(block)

    def _endgame(self, peer: P, count: int, now: float, out: list[Block]) -> None:
        """Copies of blocks outstanding with other peers (never of solo pieces: one source)."""
        for piece in self._active.values():
            if piece.solo or not self.avail.holds(peer, piece.index):
                continue
            before = len(out)
            for number, holders in piece.holders.items():
                if len(out) >= count:
                    break
                if len(holders) < self.endgame_copies and peer not in holders:
                    self._ask(piece, number, peer, now, out)
            if len(out) > before:
                self._note(piece.index, peer, "endgame")

    def _drop(self, peer: P, block: Block) -> None:
        """The peer's request is released but may still be answered: remember it as late."""
        conn = self._conns[peer]
        del conn.requests[block]
        conn.late[block] = None
        if len(conn.late) > LATE_MEMORY:
            del conn.late[next(iter(conn.late))]

    def _unhold(self, peer: P, block: Block) -> None:
        """Remove one peer from a block's holders; a block nobody holds goes back to `todo`."""
        piece = self._active[block.index]
        number = block.begin // self.layout.block
        holders = piece.holders[number]
        holders.remove(peer)
        if not holders:
            del piece.holders[number]
            heapq.heappush(piece.todo, number)
            self._open[piece.index] = piece
