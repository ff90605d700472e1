"""One swarm: its peers, with compact (BEP 23 / BEP 7) peer strings kept ready for replies.

Each address family keeps two PeerLists (seeders, leechers). A PeerList is a bytearray of
packed addresses (6 bytes IPv4, 18 bytes IPv6) plus the parallel list of owners, so that a
reply is a slice of ready bytes and removal is O(1) (the last entry moves into the hole).
New peers are inserted at a uniformly random position (the inside-out Fisher-Yates step), so
the list is always in random order and a window at a random offset is a random subset.
"""

from __future__ import annotations

import random

KEY_BYTES = 16  # of a client's `key` kept per peer: enough to be unguessable, bounded memory


class Peer:
    """One peer of one swarm. __slots__ keep it at ~72 bytes (1 M peers fit in < 500 MB)."""

    __slots__ = ("addr", "key", "peer_id", "seeding", "seen", "slot")

    def __init__(self, peer_id: bytes, addr: bytes, seeding: bool, seen: float, key: bytes) -> None:
        self.peer_id = peer_id
        self.addr = addr  # packed IP + big-endian port: 6 or 18 bytes
        self.seeding = seeding
        self.seen = seen
        self.slot = -1  # index in its PeerList
        self.key = key  # the client's `key` (at most KEY_BYTES of it): proves a move of address


class PeerList:
    """Packed addresses of one kind of peer (seeder/leecher) of one family, in random order."""

    __slots__ = ("buf", "owners", "width")

    def __init__(self, width: int) -> None:
        self.width = width
        self.buf = bytearray()
        self.owners: list[Peer] = []

    def __len__(self) -> int:
        return len(self.owners)

    def add(self, peer: Peer, rng: random.Random) -> None:
        owners, w = self.owners, self.width
        n = len(owners)
        j = int(rng.random() * (n + 1)) if n else 0  # random() is C-level; randrange is not
        if j == n:
            owners.append(peer)
            self.buf += peer.addr
        else:  # move the occupant of slot j to the end, put the new peer at j
            moved = owners[j]
            owners.append(moved)
            moved.slot = n
            self.buf += moved.addr
            owners[j] = peer
            self.buf[j * w : j * w + w] = peer.addr
        peer.slot = j

    def remove(self, peer: Peer) -> None:
        owners, w = self.owners, self.width
        i, last = peer.slot, len(owners) - 1
        if i != last:
            moved = owners[last]
            owners[i] = moved
            moved.slot = i
            self.buf[i * w : i * w + w] = moved.addr
        owners.pop()
        del self.buf[last * w :]

    def readdress(self, peer: Peer, addr: bytes) -> None:
        """The peer announced a new port (or IP) of the same family."""
        peer.addr = addr
        w = self.width
        self.buf[peer.slot * w : peer.slot * w + w] = addr

    def window(self, rng: random.Random, k: int, skip: Peer | None) -> list[tuple[int, int]]:
        """A random run of up to k >= 0 entries of this list (circularly), never containing `skip`.

        Returned as (start, count) pieces (each may wrap around the end; see `take`). Every
        entry other than `skip` is equally likely to be in it (probability k / others).
        """
        n = len(self.owners)
        if skip is not None and 0 <= skip.slot < n and self.owners[skip.slot] is skip:
            # The others, in circular order starting right after `skip`: j -> slot+1+j mod n.
            others = n - 1
            k = min(k, others)
            if k <= 0:
                return []
            base = skip.slot + 1
            r = int(rng.random() * others)
            if r + k <= others:
                return [((base + r) % n, k)]
            return [((base + r) % n, others - r), (base % n, r + k - others)]
        k = min(k, n)
        return [(int(rng.random() * n) if n > k else 0, k)]

    def pick(
        self, rng: random.Random, k: int, skip: Peer | None, out: list[bytes | bytearray]
    ) -> int:
        """The packed addresses of `window(rng, k, skip)`, appended to `out` as slices of the
        buffer (no bytes copies; the reply is joined once); returns how many peers.

        The compact-reply hot path: the same computation and the same draws from `rng` as
        window() followed by take(), in one call (tests check they agree).
        """
        owners = self.owners
        n = len(owners)
        buf, w = self.buf, self.width
        runs: tuple[tuple[int, int], ...]
        if skip is not None and 0 <= skip.slot < n and owners[skip.slot] is skip:
            others = n - 1
            if k > others:
                k = others
            if k <= 0:
                return 0
            base = skip.slot + 1
            r = int(rng.random() * others)
            if r + k <= others:
                runs = (((base + r) % n, k),)
            else:
                runs = (((base + r) % n, others - r), (base % n, r + k - others))
        else:
            if k > n:
                k = n
            runs = ((int(rng.random() * n) if n > k else 0, k),)
        for start, count in runs:
            end = start + count
            if end <= n:
                out.append(buf[start * w : end * w])
            else:
                out.append(buf[start * w :])
                out.append(buf[: (end - n) * w])
        return k

    def take(self, start: int, count: int) -> bytes:
        w, buf = self.width, self.buf
        end = start + count
        n = len(self.owners)
        if end <= n:
            return bytes(buf[start * w : end * w])
        return bytes(buf[start * w :]) + bytes(buf[: (end - n) * w])

    def peers(self, start: int, count: int) -> list[Peer]:
        n = len(self.owners)
        end = start + count
        if end <= n:
            return self.owners[start:end]
        return self.owners[start:] + self.owners[: end - n]


class Swarm:
    """The peers of one info-hash, by peer_id, and the completed-download count."""

    __slots__ = ("completed", "leechers4", "leechers6", "peers", "seeders4", "seeders6")

    def __init__(self) -> None:
        self.peers: dict[bytes, Peer] = {}
        self.seeders4 = PeerList(6)
        self.leechers4 = PeerList(6)
        self.seeders6: PeerList | None = None  # created on the first IPv6 peer
        self.leechers6: PeerList | None = None
        self.completed = 0

    @property
    def seeders(self) -> int:
        s6 = self.seeders6
        return len(self.seeders4.owners) + (len(s6.owners) if s6 is not None else 0)

    @property
    def leechers(self) -> int:
        l6 = self.leechers6
        return len(self.leechers4.owners) + (len(l6.owners) if l6 is not None else 0)

    def counts(self) -> tuple[int, int]:
        """(leechers, seeders) of both families: one call on the reply hot path."""
        if self.seeders6 is None or self.leechers6 is None:
            return len(self.leechers4.owners), len(self.seeders4.owners)
        return (
            len(self.leechers4.owners) + len(self.leechers6.owners),
            len(self.seeders4.owners) + len(self.seeders6.owners),
        )

    def list_for(self, peer: Peer) -> PeerList:
        if len(peer.addr) == 6:
            return self.seeders4 if peer.seeding else self.leechers4
        if self.seeders6 is None or self.leechers6 is None:
            self.seeders6, self.leechers6 = PeerList(18), PeerList(18)
        return self.seeders6 if peer.seeding else self.leechers6

    def add(self, peer: Peer, rng: random.Random) -> None:
        self.peers[peer.peer_id] = peer
        self.list_for(peer).add(peer, rng)

    def remove(self, peer: Peer) -> None:
        self.list_for(peer).remove(peer)
        del self.peers[peer.peer_id]

    def update(self, peer: Peer, addr: bytes, seeding: bool, rng: random.Random) -> None:
        """Apply a re-announce that changed the peer's address or seeding state."""
        if seeding == peer.seeding and len(addr) == len(peer.addr):
            self.list_for(peer).readdress(peer, addr)
            return
        self.list_for(peer).remove(peer)
        peer.addr, peer.seeding = addr, seeding
        self.list_for(peer).add(peer, rng)

    def select(
        self,
        seeders: PeerList | None,
        leechers: PeerList | None,
        me: Peer | None,
        k: int,
        rng: random.Random,
    ) -> list[tuple[PeerList, int, int]]:
        """Windows (list, start, count) totalling up to k peers of one family, never `me`.

        A seeder gets leechers first (seeders have nothing to give a seeder); a leecher gets
        seeders and leechers in proportion to their numbers.
        """
        ns = len(seeders.owners) if seeders is not None else 0
        nl = len(leechers.owners) if leechers is not None else 0
        if k <= 0 or ns + nl == 0:
            return []
        out: list[tuple[PeerList, int, int]] = []
        want_l = _leechers_wanted(ns, nl, me, k)
        if leechers is not None and nl:
            for start, count in leechers.window(rng, want_l, me):
                out.append((leechers, start, count))
                k -= count
        if seeders is not None and ns and k > 0:
            for start, count in seeders.window(rng, k, me):
                out.append((seeders, start, count))
        return out

    def compact(
        self,
        seeders: PeerList | None,
        leechers: PeerList | None,
        me: Peer | None,
        k: int,
        rng: random.Random,
    ) -> list[bytes | bytearray]:
        """The packed addresses of select(...)'s windows, as buffer slices to join into a
        reply (the same peers, order and draws from `rng` as select + take)."""
        ns = len(seeders.owners) if seeders is not None else 0
        nl = len(leechers.owners) if leechers is not None else 0
        out: list[bytes | bytearray] = []
        if k <= 0 or ns + nl == 0:
            return out
        want_l = _leechers_wanted(ns, nl, me, k)
        if leechers is not None and nl:
            k -= leechers.pick(rng, want_l, me, out)
        if seeders is not None and ns and k > 0:
            seeders.pick(rng, k, me, out)
        return out


def _leechers_wanted(seeders: int, leechers: int, me: Peer | None, k: int) -> int:
    """How many of k peers to draw from the leechers (the rest come from the seeders).

    A seeder gets leechers first (seeders have nothing to give it); a leecher gets seeders and
    leechers in proportion to their numbers; a small swarm is given whole.
    """
    if (me is not None and me.seeding) or seeders + leechers <= k:
        return k
    return k - (k * seeders) // (seeders + leechers)
