"""The picker driven by simulated swarms: a 20,000-piece download, and a hypothesis state machine
over every call in any order, checking the picker's promises after each step."""

from __future__ import annotations

import collections
import random

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from peer.blocks import Block
from peer.picker import Arrival, Picker
from tests.peer.test_availability import check as check_availability


def test_twenty_thousand_pieces_each_block_requested_once_outside_endgame() -> None:
    pieces, length = 20_000, 32768
    total = pieces * length - 1000  # a short last piece and a short last block
    pk: Picker[str] = Picker(pieces, length, total, rng=random.Random(1))
    rng = random.Random(7)
    pk.peer_have_all("seed")
    peers = ["seed", "p0", "p1", "p2", "p3"]
    for p in peers[1:]:
        pk.peer_bitfield(p, [i for i in range(pieces) if rng.random() < 0.4])
    queues: dict[str, collections.deque[Block]] = {p: collections.deque() for p in peers}
    asked: collections.Counter[Block] = collections.Counter()
    copies = rounds = 0
    while pk.wanted:
        rounds += 1
        assert rounds < 10_000
        for p in peers:
            for b in pk.pick(p, 8 - pk.outstanding(p), float(rounds)):
                if asked[b]:
                    assert pk.endgame
                    copies += 1
                asked[b] += 1
                queues[p].append(b)
            for _ in range(min(4 if p == "seed" else 1 + rounds % 3, len(queues[p]))):
                b = queues[p].popleft()
                r = pk.received(p, b)
                assert r.arrival is Arrival.NEW
                for other, cancelled in r.cancels:
                    queues[other].remove(cancelled)
                if r.piece_complete:
                    pk.verified(b.index)
    expected = {pk.layout.block_at(i, n) for i in range(pieces) for n in range(2)}
    assert set(asked) == expected and len(expected) == 2 * pieces
    assert sum(asked.values()) - copies == len(expected)  # once each, but endgame copies
    assert copies <= len(peers) * 8
    reasons = collections.Counter(c.reason for c in pk.drain_choices())
    assert reasons["random-first"] + reasons["rarest"] == pieces
    assert reasons["random-first"] >= 4


K = 4  # tiny blocks: 5 pieces of 2 blocks, the last piece 5 bytes (blocks of 4 and 1)
PEERS = ["p0", "p1", "p2", "p3"]
PIECES = 5


class PickerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.pk: Picker[str] = Picker(PIECES, 8, 37, rng=random.Random(0), random_first=1, block=K)
        self.now = 0.0
        self.holds: dict[str, set[int] | None] = {}  # None: have-all
        self.asked: dict[str, set[Block]] = {p: set() for p in PEERS}
        self.late: dict[str, set[Block]] = {p: set() for p in PEERS}
        self.whole: set[int] = set()  # pieces received whole, to verify or fail

    def _has(self, peer: str, index: int) -> bool:
        held = self.holds.get(peer, set())
        return held is None or index in held

    @rule(peer=st.sampled_from(PEERS), pieces=st.sets(st.integers(0, PIECES - 1)))
    def bitfield(self, peer: str, pieces: set[int]) -> None:
        self.pk.peer_bitfield(peer, pieces)
        self.holds[peer] = set(pieces)

    @rule(peer=st.sampled_from(PEERS), index=st.integers(0, PIECES - 1))
    def have(self, peer: str, index: int) -> None:
        self.pk.peer_have(peer, index)
        held = self.holds.setdefault(peer, set())
        if held is not None:
            held.add(index)

    @rule(peer=st.sampled_from(PEERS))
    def have_all(self, peer: str) -> None:
        self.pk.peer_have_all(peer)
        self.holds[peer] = None

    @rule(peer=st.sampled_from(PEERS), count=st.integers(0, 5), dt=st.floats(0, 3))
    def pick(self, peer: str, count: int, dt: float) -> None:
        self.now += dt
        got = self.pk.pick(peer, count, self.now)
        assert len(got) <= count
        for b in got:
            assert self._has(peer, b.index)
            assert b not in self.asked[peer]  # never twice with the same peer
            if any(b in self.asked[p] for p in PEERS if p != peer):
                assert self.pk.endgame  # copies only in endgame
            self.asked[peer].add(b)
            self.late[peer].discard(b)
        assert len(set(got)) == len(got)

    @rule(peer=st.sampled_from(PEERS), data=st.data(), good=st.booleans())
    def deliver(self, peer: str, data: st.DataObject, good: bool) -> None:
        choices = sorted(self.asked[peer] | self.late[peer], key=lambda b: (b.index, b.begin))
        if not choices:
            return
        b = data.draw(st.sampled_from(choices))
        r = self.pk.received(peer, b)
        assert r.arrival is not Arrival.UNREQUESTED
        if b in self.asked[peer]:
            self.asked[peer].discard(b)
        else:
            self.late[peer].discard(b)
        for other, cancelled in r.cancels:
            assert other != peer and cancelled == b
            self.asked[other].remove(b)
            self.late[other].add(b)
        if r.piece_complete:
            assert r.arrival is Arrival.NEW
            self.whole.add(b.index)

    @rule(data=st.data(), good=st.booleans())
    @precondition(lambda self: bool(self.whole))
    def hash_checked(self, data: st.DataObject, good: bool) -> None:
        index = data.draw(st.sampled_from(sorted(self.whole)))
        self.whole.discard(index)
        if good:
            self.pk.verified(index)
        else:
            blame = self.pk.failed(index)
            assert (blame.culprit is None) == (len(blame.contributors) > 1)

    @rule(dt=st.floats(0, 5), timeout=st.floats(0.5, 4))
    def expire(self, dt: float, timeout: float) -> None:
        self.now += dt
        for peer, b in self.pk.expired(self.now, timeout):
            self.asked[peer].remove(b)
            self.late[peer].add(b)

    @rule(peer=st.sampled_from(PEERS), data=st.data())
    def reject(self, peer: str, data: st.DataObject) -> None:
        choices = sorted(self.asked[peer], key=lambda b: (b.index, b.begin))
        if choices:
            b = data.draw(st.sampled_from(choices))
            assert self.pk.rejected(peer, b)
            self.asked[peer].remove(b)

    @rule(peer=st.sampled_from(PEERS))
    def choke(self, peer: str) -> None:
        assert set(self.pk.choked(peer)) == self.asked[peer]
        self.late[peer] |= self.asked[peer]
        self.asked[peer] = set()

    @rule(peer=st.sampled_from(PEERS))
    def leave(self, peer: str) -> None:
        assert set(self.pk.peer_left(peer)) == self.asked[peer]  # exactly its requests
        self.asked[peer] = set()
        self.late[peer] = set()
        self.holds.pop(peer, None)

    @invariant()
    def availability_counts_the_peers(self) -> None:
        for index in range(PIECES):
            n = sum(1 for p in self.holds if self._has(p, index))
            assert self.pk.availability(index) == n
        assert self.pk.peers == len(self.holds)
        check_availability(self.pk.avail)  # type: ignore[arg-type]

    @invariant()
    def requests_agree(self) -> None:
        pk = self.pk
        for peer in PEERS:
            assert pk.outstanding(peer) == len(self.asked[peer])
        for index, piece in pk._active.items():
            numbers = range(pk.layout.blocks_in(index))
            for n in numbers:
                b = pk.layout.block_at(index, n)
                holders = piece.holders.get(n, [])
                assert sorted(holders) == sorted(p for p in PEERS if b in self.asked[p])
                states = [piece.sources[n] is not None, bool(holders), n in piece.todo]
                assert states.count(True) == 1
            assert (index in pk._open) == bool(piece.todo)
            assert piece.got == sum(s is not None for s in piece.sources)
            if piece.solo:
                assert {s for s in piece.sources if s is not None} <= {piece.owner}
                assert {p for h in piece.holders.values() for p in h} <= {piece.owner}
        pooled = {i for i in range(PIECES) if pk.avail.slot[i] >= 0}
        done = {i for i in range(PIECES) if pk.avail.done[i]}
        assert pooled | done | set(pk._active) == set(range(PIECES))
        assert len(pooled) + len(done) + len(pk._active) == PIECES
        assert pk.complete == len(done)

    def teardown(self) -> None:
        """Every block of every missing piece is still picked: a seed alone finishes."""
        pk = self.pk
        for peer in PEERS:
            pk.peer_left(peer)
        for index in sorted(self.whole):
            pk.verified(index)
        pk.peer_have_all("seed")
        for _ in range(3 * PIECES):
            for b in pk.pick("seed", 4, self.now):
                r = pk.received("seed", b)
                assert r.arrival is Arrival.NEW
                if r.piece_complete:
                    pk.verified(b.index)
        assert pk.wanted == 0 and not pk.endgame


TestPickerMachine = PickerMachine.TestCase
TestPickerMachine.settings = settings(max_examples=300, stateful_step_count=40)
