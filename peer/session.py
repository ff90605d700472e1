"""One connection to another peer, after the handshakes: the four flags of BEP 3, what the other
side has, its requests to us and ours to it, and the rules each message must keep (sans-I/O).

The shell feeds every decoded message to `receive`, which returns what happened (events for
the picker and the choker) and the messages to send back (rejects, under the Fast Extension).
The shell's own decisions go through `choke`, `unchoke`, `interested`, `request`, `cancel`,
`have` and `served`, which keep the flags and the queues true and return the messages to send.

The rules (a broken one is the other peer's fault: WireError, and the shell closes):

- BEP 3 and BEP 6 send a bitfield, have-all or have-none only first, but aria2 1.36 sends a
  bitfield again later, in place of a run of haves: every one is taken, for the pieces it adds
  (what a peer has only grows), and a have-none after anything is nothing; have-all, have-none,
  suggest, reject and allowed-fast only when both sides set the Fast Extension bit.
- Indexes are checked against the torrent (Bitfield raises for one out of range); a request
  must lie inside its piece (`block_size` says a piece's length) and ask for at most
  MAX_REQUEST bytes (the decoder checked that), and must be for a piece we have.
- A piece must answer a request of ours. One that answers a request we cancelled, or that
  the other side's choke dropped, is late, not wrong (the messages crossed): it comes back as
  a Block with `late=True` and the picker decides whether it is still wanted.
- A reject must name a request of ours that is still outstanding, or one we cancelled (BEP 6:
  the other side answers a cancel with the piece or a reject).

Choking, with and without the Fast Extension (BEP 6): without it a choke drops every request
in both directions at once (ours come back as Dropped; theirs are forgotten); with it nothing
is dropped implicitly: the side that discards a request says so with a reject. So when we
choke a fast peer we reject what it had queued, and a cancel of a fast peer's queued request
is answered with a reject too. Requests that arrive while we choke are ignored (rejected,
fast). At most MAX_QUEUE of its requests wait for us; more are ignored (rejected, fast).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from peer.bitfield import Bitfield
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
    Message,
    NotInterested,
    Piece,
    Port,
    Reject,
    Request,
    Suggest,
    Unchoke,
    Unknown,
    WireError,
)

__all__ = [
    "MAX_QUEUE",
    "Block",
    "Choked",
    "Dropped",
    "Has",
    "InterestChanged",
    "PeerSession",
    "Rejected",
    "Unchoked",
]

# Requests of one peer that may wait for us (libtorrent allows 500, aria2 and Transmission
# pipeline a few dozen): enough to keep a fast link busy, a bound on what a stranger can queue.
MAX_QUEUE = 256

BlockRef = tuple[int, int, int]  # index, begin, length


@dataclass(frozen=True, slots=True)
class Block:
    """A block of data arrived: `late` when its request had been cancelled or dropped."""

    index: int
    begin: int
    data: bytes
    late: bool = False


@dataclass(frozen=True, slots=True)
class Has:
    """The other peer has these pieces (from a bitfield, a have-all or a have)."""

    indexes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Choked:
    """The other peer choked us."""


@dataclass(frozen=True, slots=True)
class Unchoked:
    """The other peer unchoked us: we may request."""


@dataclass(frozen=True, slots=True)
class InterestChanged:
    """The other peer is now interested in our pieces (or no longer)."""

    interested: bool


@dataclass(frozen=True, slots=True)
class Dropped:
    """Our requests that the other peer's choke dropped (no Fast Extension): ask elsewhere."""

    blocks: tuple[BlockRef, ...]


@dataclass(frozen=True, slots=True)
class Rejected:
    """The other peer rejected one of our requests (Fast Extension): ask elsewhere."""

    block: BlockRef


Event = Block | Has | Choked | Unchoked | InterestChanged | Dropped | Rejected

# How the messages whose rules are broken are named in a WireError's reason.
_NAMES: dict[type, str] = {
    BitfieldMsg: "bitfield",
    HaveAll: "have-all",
    HaveNone: "have-none",
    Suggest: "suggest",
    AllowedFast: "allowed-fast",
    Reject: "reject",
}

# What cancelled or dropped requests we still accept a late piece for (a bound: a peer cannot
# make us remember more than this many).
_LATE_MEMORY = 512


class PeerSession:
    """The state of one connection. `ours` is our own bitfield (shared with the torrent: it
    grows as pieces are verified); `piece_size(index)` is the length of piece `index`; `fast`:
    both sides set the Fast Extension bit in their handshakes."""

    def __init__(self, ours: Bitfield, piece_size: Callable[[int], int], *, fast: bool) -> None:
        self.ours = ours
        self.piece_size = piece_size
        self.fast = fast
        self.theirs = Bitfield(ours.size)
        self.am_choking = True
        self.am_interested = False
        self.peer_choking = True
        self.peer_interested = False
        self.queue: deque[BlockRef] = deque()  # its requests, waiting for us, in order
        self.requested: set[BlockRef] = set()  # ours, outstanding with it
        self._late: dict[BlockRef, None] = {}  # ours, cancelled or dropped, oldest first

    # -- receiving ------------------------------------------------------------------------

    def receive(self, msg: object) -> tuple[list[Event], list[Message]]:
        """What `msg` from the other peer means, and what to send back. WireError when it
        breaks a rule (see the module docstring)."""
        if isinstance(msg, (KeepAlive, Unknown, Port, Extended)):
            return [], []  # keep-alive; ignored; no DHT; no extension handshake was sent
        if isinstance(msg, (BitfieldMsg, HaveAll, HaveNone)):
            return self._claims(msg), []
        if isinstance(msg, Have):
            return self._add([msg.index]), []
        if isinstance(msg, Request):
            return [], self._their_request(msg)
        if isinstance(msg, Piece):
            return [self._piece(msg)], []
        if isinstance(msg, Cancel):
            return [], self._their_cancel((msg.index, msg.begin, msg.length))
        if isinstance(msg, Choke):
            return self._choked(), []
        if isinstance(msg, Unchoke):
            if not self.peer_choking:
                return [], []
            self.peer_choking = False
            return [Unchoked()], []
        if isinstance(msg, (Interested, NotInterested)):
            interested = isinstance(msg, Interested)
            if interested == self.peer_interested:
                return [], []
            self.peer_interested = interested
            return [InterestChanged(interested)], []
        if isinstance(msg, (Suggest, AllowedFast)):
            self._need_fast(msg)  # a hint we do not act on, once its index is known good
            if not 0 <= msg.index < self.ours.size:
                raise WireError(f"{_NAMES[type(msg)]} of piece {msg.index}: no such piece")
            return [], []
        if isinstance(msg, Reject):
            return self._rejected(msg), []
        raise TypeError(f"not a peer message: {msg!r}")

    def _need_fast(self, msg: object) -> None:
        if not self.fast:
            raise WireError(f"{_NAMES[type(msg)]} without the Fast Extension")

    def _claims(self, msg: BitfieldMsg | HaveAll | HaveNone) -> list[Event]:
        if not isinstance(msg, BitfieldMsg):
            self._need_fast(msg)
        if isinstance(msg, HaveNone):
            return []
        if isinstance(msg, HaveAll):
            return self._add(range(self.ours.size))
        return self._add(list(Bitfield.from_bytes(self.ours.size, msg.data)))

    def _add(self, indexes: range | list[int]) -> list[Event]:
        new = tuple(i for i in indexes if self.theirs.add(i))
        return [Has(new)] if new else []

    def _their_request(self, msg: Request) -> list[Message]:
        ref = (msg.index, msg.begin, msg.length)
        if msg.index not in self.ours:  # (raises for an index out of range)
            raise WireError(f"request for piece {msg.index}, which we do not have")
        if msg.begin + msg.length > self.piece_size(msg.index):
            raise WireError(
                f"request past the end of piece {msg.index} "
                f"({msg.begin}+{msg.length} > {self.piece_size(msg.index)})"
            )
        if self.am_choking or len(self.queue) >= MAX_QUEUE:
            return [Reject(*ref)] if self.fast else []
        self.queue.append(ref)
        return []

    def _their_cancel(self, ref: BlockRef) -> list[Message]:
        try:
            self.queue.remove(ref)
        except ValueError:
            return []  # served already, or never queued: nothing to do
        return [Reject(*ref)] if self.fast else []

    def _piece(self, msg: Piece) -> Block:
        ref = (msg.index, msg.begin, len(msg.block))
        if ref in self.requested:
            self.requested.discard(ref)
            return Block(msg.index, msg.begin, msg.block)
        if ref in self._late:
            del self._late[ref]
            return Block(msg.index, msg.begin, msg.block, late=True)
        raise WireError(
            f"piece {msg.index} at {msg.begin} ({len(msg.block)} bytes) was never requested"
        )

    def _choked(self) -> list[Event]:
        if self.peer_choking:
            return []
        self.peer_choking = True
        if self.fast or not self.requested:
            return [Choked()]
        dropped = tuple(sorted(self.requested))
        self._forget(dropped)
        return [Choked(), Dropped(dropped)]

    def _rejected(self, msg: Reject) -> list[Event]:
        self._need_fast(msg)
        ref = (msg.index, msg.begin, msg.length)
        if ref in self._late:  # BEP 6: a cancel is answered with the piece or a reject
            del self._late[ref]
            return []
        if ref not in self.requested:
            raise WireError(f"reject of piece {msg.index} at {msg.begin}: not requested")
        self.requested.discard(ref)
        return [Rejected(ref)]

    def _forget(self, refs: tuple[BlockRef, ...] | list[BlockRef]) -> None:
        """Move outstanding requests to the late ones (a piece for them is not an error)."""
        for ref in refs:
            self.requested.discard(ref)
            self._late[ref] = None
        while len(self._late) > _LATE_MEMORY:
            del self._late[next(iter(self._late))]

    # -- our decisions ---------------------------------------------------------------------

    def choke(self) -> list[Message]:
        """Choke it: its queued requests are dropped (rejected one by one, fast)."""
        if self.am_choking:
            return []
        self.am_choking = True
        out: list[Message] = [Choke()]
        if self.fast:
            out += [Reject(*ref) for ref in self.queue]
        self.queue.clear()
        return out

    def unchoke(self) -> list[Message]:
        if not self.am_choking:
            return []
        self.am_choking = False
        return [Unchoke()]

    def interested(self, want: bool) -> list[Message]:
        """Say whether we want something it has (the shell asks the picker)."""
        if want == self.am_interested:
            return []
        self.am_interested = want
        return [Interested() if want else NotInterested()]

    def request(self, index: int, begin: int, length: int) -> list[Message]:
        """Ask it for a block. ValueError when it choked us or the block is already asked:
        the picker gives blocks only for an unchoked peer, once each."""
        ref = (index, begin, length)
        if self.peer_choking:
            raise ValueError(f"peer choked us: cannot request piece {index} at {begin}")
        if ref in self.requested:
            raise ValueError(f"piece {index} at {begin} is already requested from this peer")
        self._late.pop(ref, None)
        self.requested.add(ref)
        return [Request(index, begin, length)]

    def cancel(self, index: int, begin: int, length: int) -> list[Message]:
        """Withdraw a request (endgame, a timeout); its piece may still come, late."""
        ref = (index, begin, length)
        if ref not in self.requested:
            return []
        self._forget([ref])
        return [Cancel(index, begin, length)]

    def have(self, index: int) -> list[Message]:
        """We verified piece `index` (the shell adds it to `ours` first)."""
        return [Have(index)]

    def next_upload(self) -> BlockRef | None:
        """Its oldest queued request, taken from the queue (the shell reads and sends it)."""
        return self.queue.popleft() if self.queue else None

    def withdrawn(self, ref: BlockRef) -> list[Message]:
        """A block `next_upload` gave the shell that it will not send after all: we choked the
        peer while the block was read or paced. A fast peer is told (reject), as for the queue
        at the choke; without it the peer would wait for the block until its request timed out."""
        return [Reject(*ref)] if self.fast else []
