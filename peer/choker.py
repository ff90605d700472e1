"""Who we upload to: tit-for-tat choking, with an optimistic unchoke, as the course notes give it.

The notes: "send chunks at the highest rate to 4 neighbor peers currently sending us our
missing chunks at a higher rate; other peers are choked; re-evaluate top 4 peers every 10
seconds; every 30 seconds: randomly select another peer, start sending chunks (optimistically
unchoke this peer); newly chosen peer may join top 4". BEP 3 describes mainline BitTorrent's
version, which counted the optimistic peer as one of the four; here, as in the notes, it is a
fifth. The rules this module follows, one round at a time:

- While we download, a round ranks the interested peers by `download_rate` (how fast they send
  to us), highest first: tit-for-tat. Once we seed there is nothing to receive, and a round
  serves them in turn: the peer that held a regular slot of ours longest ago since we began
  seeding (or never) first, libtorrent's round robin for seeds. The peers served in the last
  round make way for those that waited, so a seed's upload is spread evenly over every
  downloader instead of going for good to the first four that took it fastest (which would
  favour a free-rider that happened to be among them: it gets the seed's share like anyone,
  and tit-for-tat leaves it only optimistic unchokes from the other downloaders). The turn
  counts from when we began seeding, not from the bytes we sent each peer: a peer that has
  just finished sent most to the peers it traded with and almost nothing to a free-rider, so
  "least served first" would put every free-rider first at every peer that finishes, and in
  the file-distribution experiment the free-riders then caught up with the traders. The first
  `slots` (4) are unchoked: the regular slots.
- While we download, a regular slot goes only to a peer "currently sending us our missing
  chunks", as the notes put it: one whose download rate is above 0 (it sent us something in
  the rate meter's window). A peer that sends us nothing, a free-rider or a newcomer, can be
  unchoked only optimistically; once it sends, it ranks. Filling every slot with whoever is
  interested would hand a free-rider, which is interested in everything all the time, every
  slot the traders leave free; in the file-distribution experiment free-riders then kept up
  with the peers that uploaded. Capacity is not lost by it: our upload is paced per torrent,
  not per slot, so one unchoked peer with requests in flight can take all of it. A seed fills
  every slot (it has nothing to receive from anyone).
- Ties go, while we download, to the peer that has sent us more bytes in all (`downloaded`):
  in a large swarm most neighbours send us nothing at a given moment, so rates tie at 0 and,
  without a memory of who gave, a free-rider would win those slots as often as a peer that
  uploaded to us a minute ago. Then to a peer that is unchoked already (fewer choke/unchoke
  messages, and a choke throws away the requests the peer has queued), then to the injected
  `rng`'s shuffle: deterministic for a seeded rng, and not biased by the order the shell
  lists peers in.
- One more peer is unchoked optimistically: chosen at random among the interested peers the
  ranking left choked. It is replaced at the first round that comes `optimistic_interval`
  (30 s) or more after the last rotation (the first round is one), by another peer when there
  is one. Between rotations it keeps its place as long as it stays interested and choked by the
  ranking. If it ranks into the regular slots, it simply holds a regular slot from then on, and
  another peer is chosen as the optimistic one at once; if it leaves (`left`) or loses
  interest, a replacement is chosen at the next round. A replacement keeps the rotation's
  schedule (it may have less than 30 s), as mainline's rotation did.
- Uninterested peers are choked and hold no slot. Mainline also unchoked uninterested peers
  that upload faster than the slowest of the four, so that they could start as soon as they
  became interested; we do not: it costs messages to peers that want nothing, and interest is
  declared while choked anyway. What stands in for it is `admit`.
- Between rounds, a peer that connects interested or becomes interested is `admit`ted: if a
  regular slot is free (fewer interested peers than slots at the last round, or a peer left)
  and it may hold one (`regular`: it sends us data, or we seed) it takes it at once, else if
  no peer holds the optimistic slot it takes that one; otherwise it waits for the next round
  (at most `interval`). `refill` admits the waiting peers so, in the order a round ranks
  them. A newcomer, with nothing yet to trade, is the
  peer the optimistic slot exists for. A peer that leaves or loses interest between rounds
  gives its slot up at once (`left`), and the shell admits a waiting peer into it, best rate
  first, as libtorrent re-runs its unchoking when an unchoked peer goes: a slot held for up to
  `interval` by a peer that wants nothing is upload capacity thrown away (a seed that serves
  N downloaders in turn would idle between each group and the next).

`round` returns a `Round`: the decisions with the rates that drove them, and only what changed
since the last round (the shell sends `choke`/`unchoke` for those alone). Peers the shell no
longer lists are forgotten silently: their connections are gone, there is nothing to send.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

P = TypeVar("P", bound=Hashable)  # the shell's key for a peer: opaque; str() of it is logged


@dataclass(frozen=True, slots=True)
class Candidate(Generic[P]):
    """A connected peer as a round sees it; rates in bytes per second (see peer.rate)."""

    peer: P
    interested: bool  # they are interested in our pieces
    download_rate: float  # how fast they send to us
    upload_rate: float  # how fast we send to them
    downloaded: int = 0  # bytes they have sent us, ever


@dataclass(frozen=True, slots=True)
class Ranked(Generic[P]):
    """An unchoked peer and the rate it was ranked by."""

    peer: P
    rate: float


def rate_text(rate: float) -> str:
    """A rate for the log: `812 KB/s`, or `187.5 MB/s` from 1 MB/s on (decimal units)."""
    if rate < 1e6:
        return f"{rate / 1e3:.0f} KB/s"
    return f"{rate / 1e6:.1f} MB/s"


@dataclass(frozen=True, slots=True, kw_only=True)
class Round(Generic[P]):
    """One round's decisions. Peer tuples follow the order of the round's candidates, except
    `unchoked` (in rank order) and `newly_unchoked` (the regular ones in rank order, then the
    optimistic one)."""

    now: float
    seeding: bool  # served in turn (we seed), or ranked by download rate
    unchoked: tuple[Ranked[P], ...]  # the regular slots
    optimistic: Ranked[P] | None
    optimistic_new: bool  # the optimistic peer was chosen in this round
    choked: tuple[P, ...]  # every other candidate, interested or not
    newly_unchoked: tuple[P, ...]  # send `unchoke` to these
    newly_choked: tuple[P, ...]  # send `choke` to these

    def describe(self) -> str:
        """One line for the log, e.g. `unchoked 2 by download rate: 10.0.0.2 812 KB/s,
        10.0.0.3 40 KB/s; optimistic 10.0.0.9 (new); choked 3` (a seed: `unchoked 2 in turn:
        ...`, with the rates we send at)."""
        kind = "in turn" if self.seeding else "by download rate"
        text = f"unchoked {len(self.unchoked)} {kind}"
        if self.unchoked:
            text += ": " + ", ".join(f"{r.peer} {rate_text(r.rate)}" for r in self.unchoked)
        if self.optimistic is None:
            text += "; no optimistic"
        else:
            text += f"; optimistic {self.optimistic.peer}"
            if self.optimistic_new:
                text += " (new)"
        return f"{text}; choked {len(self.choked)}"


class Choker(Generic[P]):
    """The choking decisions of one torrent; the shell calls `round` whenever `due` says so."""

    __slots__ = (
        "_next_optimistic",
        "_next_round",
        "_optimistic",
        "_regular",
        "_rng",
        "_turns",
        "interval",
        "optimistic_interval",
        "slots",
    )

    def __init__(
        self,
        *,
        slots: int = 4,
        interval: float = 10.0,
        optimistic_interval: float = 30.0,
        rng: random.Random,
    ) -> None:
        if slots < 0:
            raise ValueError(f"choker slots must be 0 or more, not {slots}")
        if not interval > 0:
            raise ValueError(f"the choking interval must be more than 0 s, not {interval}")
        if not optimistic_interval > 0:
            raise ValueError(
                f"the optimistic unchoke interval must be more than 0 s, not {optimistic_interval}"
            )
        self.slots = slots
        self.interval = interval
        self.optimistic_interval = optimistic_interval
        self._rng = rng
        self._regular: set[P] = set()  # peers in the regular slots
        self._optimistic: P | None = None
        self._turns: dict[P, float] = {}  # while seeding: when each peer last held a slot
        self._next_round: float | None = None  # None: no round yet, the first call is one
        self._next_optimistic: float | None = None

    @property
    def next_round(self) -> float | None:
        """When the next round is due (the shell's timer); None before the first round."""
        return self._next_round

    def due(self, now: float) -> bool:
        """Whether a round is due: at the first call, then `interval` after the last round."""
        return self._next_round is None or now >= self._next_round

    def left(self, peer: P) -> bool:
        """The peer's connection is gone, or it lost interest in what we have: its slot is free
        (for `admit` or the next round). Whether it held one (a peer still connected is then
        choked, and the shell `admit`s one that waits)."""
        held = peer in self._regular or peer == self._optimistic
        self._regular.discard(peer)
        if self._optimistic == peer:
            self._optimistic = None
        return held

    def admit(self, peer: P, *, regular: bool = True) -> bool:
        """A peer connected interested, or became interested, between rounds: whether to
        unchoke it now (a free regular slot if `regular`, which the shell says when the peer
        sends us data or we seed; or a free optimistic one). False also when it is unchoked
        already: there is nothing to send."""
        if peer in self._regular or peer == self._optimistic:
            return False
        if regular and len(self._regular) < self.slots:
            self._regular.add(peer)
            return True
        if self._optimistic is None:
            self._optimistic = peer
            return True
        return False

    def refill(self, now: float, waiting: Iterable[Candidate[P]], seeding: bool) -> list[P]:
        """Between rounds a peer became interested, or a slot was given up: `admit` the peers
        that wait for one (the shell lists those it chokes) in the order a round would rank
        them, while slots are free. The peers to unchoke, in that order."""
        out = []
        for c in self._ranked(waiting, seeding, set()):
            if not self.admit(c.peer, regular=seeding or c.download_rate > 0):
                break
            if seeding and c.peer in self._regular:
                self._turns[c.peer] = now
            out.append(c.peer)
        return out

    def _ranked(
        self, candidates: Iterable[Candidate[P]], seeding: bool, before: set[P]
    ) -> list[Candidate[P]]:
        """The interested candidates, best first (see the module docstring); `before`: the
        peers unchoked now, who win a tie."""
        interested = [c for c in candidates if c.interested]
        self._rng.shuffle(interested)  # the last tie-break: random, but seeded
        if seeding:  # round robin: the longest waiting (or never served) first
            turns = self._turns
            interested.sort(key=lambda c: (turns.get(c.peer, -math.inf), c.peer not in before))
        else:  # tit-for-tat: the fastest senders first, then those that gave us most
            interested.sort(key=lambda c: (-c.download_rate, -c.downloaded, c.peer not in before))
        return interested

    def round(self, now: float, candidates: Iterable[Candidate[P]], seeding: bool) -> Round[P]:
        """Rank the candidates (every connected peer), choose the optimistic peer, and say what
        changed since the last round. Runs whenever called; `due` says when it should be."""
        listed = tuple(candidates)
        if len({c.peer for c in listed}) != len(listed):
            raise ValueError("a peer is listed twice among the choker's candidates")
        before = set(self._regular)
        if self._optimistic is not None:
            before.add(self._optimistic)

        def rate(c: Candidate[P]) -> float:
            return c.upload_rate if seeding else c.download_rate

        interested = self._ranked(listed, seeding, before)
        # while downloading, only peers that send us data rank for the regular slots
        ranked = interested if seeding else [c for c in interested if c.download_rate > 0]
        top = ranked[: self.slots]
        rest = [c for c in interested if c not in top]

        rotate = self._next_optimistic is None or now >= self._next_optimistic
        if rotate:
            self._next_optimistic = now + self.optimistic_interval
        previous = self._optimistic
        kept = [c for c in rest if c.peer == previous]
        others = [c for c in rest if c.peer != previous]
        chosen: Candidate[P] | None = None
        if kept and not (rotate and others):
            chosen = kept[0]
        elif others:
            chosen = self._rng.choice(others)

        regular = [Ranked(c.peer, rate(c)) for c in top]
        optimistic = None if chosen is None else Ranked(chosen.peer, rate(chosen))
        after = [r.peer for r in regular] + ([] if chosen is None else [chosen.peer])
        unchoked = set(after)
        self._regular = {r.peer for r in regular}
        if seeding:
            turns = {c.peer: self._turns[c.peer] for c in listed if c.peer in self._turns}
            self._turns = turns | dict.fromkeys(self._regular, now)
        else:
            self._turns = {}  # turns count from when we begin seeding
        self._optimistic = None if chosen is None else chosen.peer
        self._next_round = now + self.interval
        return Round(
            now=now,
            seeding=seeding,
            unchoked=tuple(regular),
            optimistic=optimistic,
            optimistic_new=chosen is not None and chosen.peer != previous,
            choked=tuple(c.peer for c in listed if c.peer not in unchoked),
            newly_unchoked=tuple(p for p in after if p not in before),
            newly_choked=tuple(
                c.peer for c in listed if c.peer in before and c.peer not in unchoked
            ),
        )
